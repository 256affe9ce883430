"""A live database → IR, from pg_catalog. Used to check generated SQL against what PostgreSQL
really built (the transform tests) and, later, as the planner's `--from-db` old schema.

What the catalog cannot know (GraphQL names, weights, classifications) is filled with
neutral values; uids come back from the `COMMENT ON` Wesley writes. Types and expressions
are normalised with the same functions the SDL side uses, so equal schemas compare equal.
"""

from __future__ import annotations

from typing import Any, Literal

import psycopg

from wesley.ir import (
    IR,
    Check,
    Column,
    Default,
    Enum,
    FkAction,
    ForeignKey,
    Index,
    Policy,
    Rls,
    SourcePos,
    Table,
    Unique,
)
from wesley.sdl.expressions import comparable_expression, normalize_type_name
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
_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum),
       t.typtype = 'e' OR et.typtype = 'e', COALESCE(et.typname, t.typname), a.attndims > 0
         OR t.typcategory = 'A', a.attgenerated = 's'
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
_COMPUTED = """
SELECT obj_description(t.oid, 'pg_trigger'), t.tgname
FROM pg_trigger t WHERE t.tgrelid = %s AND NOT t.tgisinternal ORDER BY t.tgname
"""
_CONSTRAINTS = """
SELECT con.conname, con.contype,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),
       rc.relname,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i),
       con.confdeltype, con.confupdtype, pg_get_constraintdef(con.oid), con.convalidated
FROM pg_constraint con LEFT JOIN pg_class rc ON rc.oid = con.confrelid
WHERE con.conrelid = %s
ORDER BY con.conname
"""
_INDEXES = """
SELECT ic.relname, i.indisunique, am.amname,
       ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o),
       pg_get_expr(i.indpred, i.indrelid), i.indisvalid
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
WHERE i.indrelid = %s
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid
                  AND c.contype IN ('p', 'u'))
ORDER BY ic.relname
"""
_POLICIES = """
SELECT p.polname, p.polcmd, p.polpermissive,
       ARRAY(SELECT r.rolname FROM pg_roles r WHERE r.oid = ANY(p.polroles) ORDER BY r.rolname),
       pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
FROM pg_policy p WHERE p.polrelid = %s ORDER BY p.polname
"""
_COMMANDS: dict[str, Literal["ALL", "SELECT", "INSERT", "UPDATE", "DELETE"]] = {
    "*": "ALL",
    "r": "SELECT",
    "a": "INSERT",
    "w": "UPDATE",
    "d": "DELETE",
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


def _default(expr: str | None) -> Default | None:
    return None if expr is None else Default(kind="expr", sql=comparable_expression(expr))


def _check_expr(definition: str) -> str:
    # pg_get_constraintdef: "CHECK ((a > 0))" possibly followed by "NOT VALID"
    body = definition.removeprefix("CHECK ").removesuffix(" NOT VALID")
    return comparable_expression(body)


def introspect(conn: psycopg.Connection[Any], schema: str = "public") -> IR:
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
        ) in conn.execute(_COLUMNS, (oid,)).fetchall():
            columns.append(
                Column(
                    name=cname,
                    field=cname,
                    uid=_uid(ccomment, f"col:{tname}.{cname}"),
                    type=normalize_type_name(ftype, None, "column type"),
                    graphql_type="",
                    nullable=nullable,
                    array=bool(is_array),
                    enum=base if is_enum else None,
                    # a stored generated column keeps its expression where a default would be
                    default=None if generated else _default(default),
                    generated=comparable_expression(default) if generated else None,
                    source=_NOWHERE,
                )
            )
        # @wes_computed: its trigger's comment says what it maintains
        computed = {}
        for tcomment, tgname in conn.execute(_COMPUTED, (oid,)).fetchall():
            spec = parse_marker(tcomment)
            owner = next((c for c in columns if trigger_name(tname, c.name) == tgname), None)
            if spec is not None and owner is not None:
                if spec.expr:
                    spec = spec.model_copy(update={"expr": comparable_expression(spec.expr)})
                computed[owner.name] = spec
        columns = [
            c.model_copy(update={"computed": computed[c.name]}) if c.name in computed else c
            for c in columns
        ]
        pk: list[str] = []
        fks: list[ForeignKey] = []
        uniques: list[Unique] = []
        checks: list[Check] = []
        for cname, ctype, cols, rtable, rcols, on_del, on_upd, cdef, _valid in conn.execute(
            _CONSTRAINTS, (oid,)
        ).fetchall():
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
            for iname, unique, method, icols, pred, _valid in conn.execute(
                _INDEXES, (oid,)
            ).fetchall()
        ]
        policies = [
            Policy(
                name=pname,
                command=_COMMANDS[cmd],
                permissive=permissive,
                roles=list(roles),
                using=comparable_expression(qual) if qual else None,
                check=comparable_expression(wcheck) if wcheck else None,
            )
            for pname, cmd, permissive, roles, qual, wcheck in conn.execute(
                _POLICIES, (oid,)
            ).fetchall()
        ]
        unique_cols = {u.columns[0] for u in uniques if len(u.columns) == 1}
        columns = [c.model_copy(update={"unique": c.name in unique_cols}) for c in columns]
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
                source=_NOWHERE,
            )
        )
    return IR(tables=tables, enums=enums)
