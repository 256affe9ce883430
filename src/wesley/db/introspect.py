"""A live database → IR, from pg_catalog, in a fixed number of catalog queries whatever the
number of tables (enums, tables, functions, then the columns, constraints, indexes, policies,
ACLs and triggers of all of the schema's tables at once, grouped by table here: a query per
table and kind made `plan --from-db` cost ~5 round trips a table). Used to check generated
SQL against what PostgreSQL really built (the transform tests) and as the planner's
`--from-db` old schema.

What the catalog cannot know (GraphQL names, weights, classifications) is filled with
neutral values; uids come back from the `COMMENT ON` Wesley writes. Types and expressions
are normalised with the same functions the SDL side uses, so equal schemas compare equal.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import Any, Literal, cast

import psycopg

from wesley.ir import (
    IR,
    PRIVILEGES,
    Check,
    Column,
    Default,
    Enum,
    FkAction,
    ForeignKey,
    Function,
    Grant,
    Index,
    Policy,
    Rls,
    RpcKind,
    SourcePos,
    Table,
    Unique,
)
from wesley.sdl.expressions import comparable_expression, normalize_type_name
from wesley.sdl.literals import canonical_default
from wesley.targets.computed import parse_marker, trigger_name
from wesley.targets.sqlnames import UID_COMMENT_PREFIX

_NOWHERE = SourcePos(line=0, column=0)
_FK_ACTIONS: dict[str, FkAction] = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}

_TABLES = """
SELECT c.oid, c.relname, obj_description(c.oid, 'pg_class'), c.relrowsecurity,
       c.relforcerowsecurity
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'p')
ORDER BY c.oid
"""
# the comment joined, not col_description() (an SQL function call per column); a default
# (never a column reference) printed without its table, which pg_get_expr would open (and
# lock) per table; a generated column's expression needs it
_COLUMNS = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, 0)
            ELSE pg_get_expr(d.adbin, d.adrelid) END,
       ds.description,
       t.typtype = 'e' OR et.typtype = 'e', COALESCE(et.typname, t.typname), a.attndims > 0
         OR t.typcategory = 'A', a.attgenerated = 's'
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_description ds ON ds.objoid = a.attrelid AND ds.classoid = 'pg_class'::regclass
  AND ds.objsubid = a.attnum
WHERE a.attrelid IN (
  SELECT rel.oid FROM pg_class rel JOIN pg_namespace ns ON ns.oid = rel.relnamespace
  WHERE ns.nspname = %(schema)s AND rel.relkind IN ('r', 'p'))
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""
_COMPUTED = """
SELECT t.tgrelid, obj_description(t.oid, 'pg_trigger'), t.tgname
FROM pg_trigger t
WHERE t.tgrelid IN (
  SELECT rel.oid FROM pg_class rel JOIN pg_namespace ns ON ns.oid = rel.relnamespace
  WHERE ns.nspname = %(schema)s AND rel.relkind IN ('r', 'p'))
  AND NOT t.tgisinternal
ORDER BY t.tgrelid, t.tgname
"""
# the definition of checks only: the other kinds are read from their columns
_CONSTRAINTS = """
SELECT con.conrelid, con.conname, con.contype,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),
       rc.relname,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i),
       con.confdeltype, con.confupdtype,
       CASE WHEN con.contype = 'c' THEN pg_get_constraintdef(con.oid) END, con.convalidated
FROM pg_constraint con LEFT JOIN pg_class rc ON rc.oid = con.confrelid
WHERE con.conrelid IN (
  SELECT rel.oid FROM pg_class rel JOIN pg_namespace ns ON ns.oid = rel.relnamespace
  WHERE ns.nspname = %(schema)s AND rel.relkind IN ('r', 'p'))
ORDER BY con.conrelid, con.conname
"""
_INDEXES = """
SELECT i.indrelid, ic.relname, i.indisunique, am.amname,
       ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o),
       pg_get_expr(i.indpred, i.indrelid), i.indisvalid
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
WHERE i.indrelid IN (
  SELECT rel.oid FROM pg_class rel JOIN pg_namespace ns ON ns.oid = rel.relnamespace
  WHERE ns.nspname = %(schema)s AND rel.relkind IN ('r', 'p'))
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid
                  AND c.contype IN ('p', 'u'))
ORDER BY i.indrelid, ic.relname
"""
_POLICIES = """
SELECT p.polrelid, p.polname, p.polcmd, p.polpermissive,
       ARRAY(SELECT r.rolname FROM pg_roles r WHERE r.oid = ANY(p.polroles) ORDER BY r.rolname),
       pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
FROM pg_policy p
WHERE p.polrelid IN (
  SELECT rel.oid FROM pg_class rel JOIN pg_namespace ns ON ns.oid = rel.relnamespace
  WHERE ns.nspname = %(schema)s AND rel.relkind IN ('r', 'p'))
ORDER BY p.polrelid, p.polname
"""
# privileges Wesley manages (wesley.ir.PRIVILEGES) of every role but the table's owner;
# grantee 0 is PUBLIC
_TABLE_ACL = """
SELECT c.oid, NULL::name, CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE r.rolname END,
       x.privilege_type
FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(c.relacl) x LEFT JOIN pg_roles r ON r.oid = x.grantee
WHERE ns.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND x.grantee <> c.relowner
  AND x.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
UNION
SELECT c.oid, a.attname, CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE r.rolname END,
       x.privilege_type
FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid
CROSS JOIN LATERAL aclexplode(a.attacl) x LEFT JOIN pg_roles r ON r.oid = x.grantee
WHERE ns.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND a.attnum > 0
  AND NOT a.attisdropped AND x.grantee <> c.relowner
  AND x.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
"""
# the columns Wesley's @wes_updatedAt trigger sets (targets/postgres.py: trigger_sql)
_TOUCHED = """
SELECT DISTINCT t.tgrelid, convert_from(
         substring(t.tgargs FROM 1 FOR position('\\000'::bytea IN t.tgargs) - 1), 'UTF8')
FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE t.tgrelid IN (
  SELECT rel.oid FROM pg_class rel JOIN pg_namespace ns ON ns.oid = rel.relnamespace
  WHERE ns.nspname = %(schema)s AND rel.relkind IN ('r', 'p'))
  AND NOT t.tgisinternal AND t.tgnargs = 1
  AND n.nspname = 'wesley' AND p.proname = 'touch_updated_at'
"""
_COMMANDS: dict[str, Literal["ALL", "SELECT", "INSERT", "UPDATE", "DELETE"]] = {
    "*": "ALL",
    "r": "SELECT",
    "a": "INSERT",
    "w": "UPDATE",
    "d": "DELETE",
}
_FUNCTIONS = """
SELECT p.proname, obj_description(p.oid, 'pg_proc'), pg_get_function_arguments(p.oid),
       pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid), p.prosrc,
       l.lanname, p.provolatile, p.prosecdef,
       CASE WHEN p.proacl IS NULL THEN ARRAY['PUBLIC']
       ELSE ARRAY(SELECT DISTINCT COALESCE(r.rolname, 'PUBLIC')
                  FROM aclexplode(p.proacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
                  WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner
                  ORDER BY 1) END
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE n.nspname = %s AND obj_description(p.oid, 'pg_proc') LIKE %s
ORDER BY p.oid
"""
_VOLATILITY: dict[str, Literal["volatile", "stable", "immutable"]] = {
    "v": "volatile",
    "s": "stable",
    "i": "immutable",
}
_ENUMS = """
SELECT t.typname, obj_description(t.oid, 'pg_type'),
       ARRAY(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = %s AND t.typtype = 'e'
ORDER BY t.oid
"""


def _uid(comment: str | None, fallback: str) -> str:
    if comment and comment.startswith(UID_COMMENT_PREFIX):
        return comment[len(UID_COMMENT_PREFIX) :]
    return fallback


# a pglast parse per default otherwise: a schema repeats a handful of (default, type) pairs
_canonical_default = lru_cache(maxsize=8192)(canonical_default)


def _default(expr: str | None, type_sql: str, array: bool) -> Default | None:
    # a constant in the spelling the schema side uses (`'-3'::integer` → `-3`)
    if expr is None:
        return None
    return Default(kind="expr", sql=_canonical_default(expr, type_sql, array))


def _check_expr(definition: str) -> str:
    # pg_get_constraintdef: "CHECK ((a > 0))" possibly followed by "NOT VALID"
    body = definition.removeprefix("CHECK ").removesuffix(" NOT VALID")
    return comparable_expression(body)


def _by_table(conn: psycopg.Connection[Any], query: str, schema: str) -> dict[int, list[Any]]:
    """The rows of `query` for every table of `schema`, grouped by the table's oid (the first
    column), each group in the query's order."""
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in conn.execute(query, {"schema": schema}).fetchall():
        grouped[row[0]].append(row[1:])
    return grouped


def _grants(rows: list[tuple[Any, ...]]) -> dict[str | None, list[Grant]]:
    """ACL rows (column or None, role, privilege) → per column (None: the table) its grants,
    roles sorted, privileges in Wesley's order."""
    held: dict[str | None, dict[str, set[str]]] = {}
    for column, role, privilege in rows:
        held.setdefault(column, {}).setdefault(role, set()).add(privilege)
    return {
        column: [
            Grant(role=role, privileges=[p for p in PRIVILEGES if p in privs])
            for role, privs in sorted(roles.items())
        ]
        for column, roles in held.items()
    }


def introspect(conn: psycopg.Connection[Any], schema: str = "public") -> IR:
    all_columns = _by_table(conn, _COLUMNS, schema)
    all_constraints = _by_table(conn, _CONSTRAINTS, schema)
    all_indexes = _by_table(conn, _INDEXES, schema)
    all_policies = _by_table(conn, _POLICIES, schema)
    all_acls = _by_table(conn, _TABLE_ACL, schema)
    all_touched = _by_table(conn, _TOUCHED, schema)
    all_computed = _by_table(conn, _COMPUTED, schema)
    enums: list[Enum] = []
    for name, comment, labels in conn.execute(_ENUMS, (schema,)).fetchall():
        enums.append(
            Enum(
                name=name,
                type_name=name,
                uid=_uid(comment, f"enum:{name}"),
                values=list(labels),
                source=_NOWHERE,
            )
        )
    tables: list[Table] = []
    for oid, tname, comment, rls_on, rls_force in conn.execute(_TABLES, (schema,)).fetchall():
        rows = all_columns.get(oid, [])
        # @wes_computed: its trigger's comment says what it maintains
        computed = {}
        for tcomment, tgname in all_computed.get(oid, []):
            spec = parse_marker(tcomment)
            if spec is None:
                continue
            owner = next((r[0] for r in rows if trigger_name(tname, r[0]) == tgname), None)
            if owner is not None:
                if spec.expr:
                    spec = spec.model_copy(update={"expr": comparable_expression(spec.expr)})
                computed[owner] = spec
        pk: list[str] = []
        fks: list[ForeignKey] = []
        uniques: list[Unique] = []
        checks: list[Check] = []
        for cname, ctype, cols, rtable, rcols, on_del, on_upd, cdef, _valid in all_constraints.get(
            oid, []
        ):
            if ctype == "p":
                pk = list(cols)
            elif ctype == "u":
                uniques.append(Unique(name=cname, columns=list(cols)))
            elif ctype == "f":
                fks.append(
                    ForeignKey(
                        name=cname,
                        columns=list(cols),
                        ref_table=rtable,
                        ref_columns=list(rcols),
                        on_delete=_FK_ACTIONS[on_del],
                        on_update=_FK_ACTIONS[on_upd],
                    )
                )
            elif ctype == "c":
                col = cols[0] if len(cols) == 1 else None
                checks.append(Check(name=cname, expr=_check_expr(cdef), column=col))
        indexes = [
            Index(
                name=iname,
                columns=list(icols),
                unique=unique,
                using=method,
                where=comparable_expression(pred) if pred else None,
            )
            for iname, unique, method, icols, pred, _valid in all_indexes.get(oid, [])
        ]
        policies = [
            Policy(
                name=pname,
                command=_COMMANDS[cmd],
                permissive=permissive,
                roles=sorted(roles),
                using=comparable_expression(qual) if qual else None,
                check=comparable_expression(wcheck) if wcheck else None,
            )
            for pname, cmd, permissive, roles, qual, wcheck in all_policies.get(oid, [])
        ]
        unique_cols = {u.columns[0] for u in uniques if len(u.columns) == 1}
        grants = _grants(all_acls.get(oid, []))
        touched = {r[0] for r in all_touched.get(oid, [])}
        # each column built once, with all it holds (a copy per added part was a third of
        # the Python time of a large introspection)
        columns = []
        for (
            cname,
            ftype,
            nullable,
            default,
            ccomment,
            is_enum,
            base,
            is_array,
            generated,
        ) in rows:
            ctype = normalize_type_name(ftype, None, "column type")
            columns.append(
                Column(
                    name=cname,
                    field=cname,
                    uid=_uid(ccomment, f"col:{tname}.{cname}"),
                    type=ctype,
                    graphql_type="",
                    nullable=nullable,
                    array=bool(is_array),
                    enum=base if is_enum else None,
                    # a stored generated column keeps its expression where a default would be
                    default=None
                    if generated
                    else _default(default, "text" if is_enum else ctype, bool(is_array)),
                    generated=comparable_expression(default) if generated else None,
                    source=_NOWHERE,
                    unique=cname in unique_cols,
                    grants=grants.get(cname, []),
                    updated_at=cname in touched,
                    computed=computed.get(cname),
                )
            )
        tables.append(
            Table(
                name=tname,
                type_name=tname,
                uid=_uid(comment, f"tbl:{tname}"),
                columns=columns,
                primary_key=pk,
                foreign_keys=fks,
                uniques=uniques,
                indexes=indexes,
                checks=checks,
                rls=Rls(enabled=True, force=rls_force) if rls_on else None,
                policies=policies,
                grants=grants.get(None, []),
                source=_NOWHERE,
            )
        )
    return IR(tables=tables, enums=enums, functions=_functions(conn, schema))


def _functions(conn: psycopg.Connection[Any], schema: str) -> list[Function]:
    """The functions Wesley generated (`@wes_rpc`): those whose comment carries an rpc uid."""
    out: list[Function] = []
    rows = conn.execute(_FUNCTIONS, (schema, UID_COMMENT_PREFIX + "rpc:%")).fetchall()
    for name, comment, args, ident, result, src, lang, vol, secdef, grants in rows:
        uid = _uid(comment, "")
        table, _, kind = uid.removeprefix("rpc:").rpartition(".")
        if kind not in ("create", "get", "update", "delete", "list"):
            continue  # not a uid Wesley writes: not one of its functions
        out.append(
            Function(
                name=name,
                kind=cast(RpcKind, kind),
                table=table,
                uid=uid,
                arguments=args,
                identity=ident,
                returns=result,
                body=src,
                language=lang,
                volatility=_VOLATILITY[vol],
                security_definer=secdef,
                grants=sorted(grants),
                source=_NOWHERE,
            )
        )
    return out
