"""`pgtap` target → `tests.sql`: a pgTAP suite that proves the database is what the schema
says: every table and column (type, nullability, default), keys, foreign keys, uniques,
indexes, checks, policies, grants, and behavioural RLS probes for tenant tables (as tenant A,
rows of tenant B are invisible and cannot be inserted, updated or moved).

The suite runs in one transaction and rolls back, so it leaves nothing behind (its probe
rows and probe role included). The plan count is computed from the assertions emitted.
"""

from __future__ import annotations

from wesley.ir import IR, Check, Table
from wesley.refinements import bad_value, is_text
from wesley.samples import Infeasible, RowPlan, sample_literal, tenant_values
from wesley.sdl.expressions import column_refs
from wesley.sdl.policies import rule_policies
from wesley.sqltext import STANDARD_STRINGS, quote_ident, quote_literal
from wesley.targets.base import Artifact, TextBuilder
from wesley.targets.pgtap_rpc import rpc_suite
from wesley.targets.rls_probes import PROBE_SETUP as PROBE_SETUP
from wesley.targets.rls_probes import rule_probe, rule_probe_prelude
from wesley.targets.sqlnames import format_type

SCHEMA = "public"
PROBE_ROLE = "wesley_rls_probe"
PROBE_POLICY = "wesley_rls_probe_open"
PROBE_ASSERTIONS = 6
PROBE_SALT = 700_000  # probe rows must not collide with rows already in the database


def _name(text: str) -> str:
    return f"{quote_literal(text)}::name"


def _names(items: list[str]) -> str:
    return "ARRAY[" + ", ".join(quote_literal(i) for i in items) + "]::name[]"


def _desc(text: str) -> str:
    return quote_literal(text)


class Suite:
    def __init__(self) -> None:
        self.b = TextBuilder()
        self.count = 0

    def test(self, call: str) -> None:
        self.count += 1
        self.b.line(f"SELECT {call};")


def _structure(s: Suite, table: Table) -> None:
    t = table.name
    st = f"{_name(SCHEMA)}, {_name(t)}"
    s.test(f"has_table({st}, {_desc(f'table {t} exists')})")
    for col in table.columns:
        with s.b.block(col.uid):
            c = f"{st}, {_name(col.name)}"
            where = f"{t}.{col.name}"
            s.test(f"has_column({c}, {_desc(f'{where} exists')})")
            ftype = format_type(col)
            s.test(f"col_type_is({c}, {quote_literal(ftype)}, {_desc(f'{where} is {ftype}')})")
            if col.nullable:
                s.test(f"col_is_null({c}, {_desc(f'{where} is nullable')})")
            else:
                s.test(f"col_not_null({c}, {_desc(f'{where} is NOT NULL')})")
            if col.generated is not None:
                # PostgreSQL keeps a generation expression where a default would be
                s.test(f"col_has_default({c}, {_desc(f'{where} has its generation expression')})")
            elif col.default is not None:
                s.test(f"col_has_default({c}, {_desc(f'{where} has a default')})")
            else:
                s.test(f"col_hasnt_default({c}, {_desc(f'{where} has no default')})")
    if table.primary_key:
        pk = ", ".join(table.primary_key)
        s.test(
            f"col_is_pk({st}, {_names(table.primary_key)}, {_desc(f'{t} primary key is ({pk})')})"
        )
    for fk in table.foreign_keys:
        s.test(
            f"fk_ok({st}, {_names(fk.columns)}, {_name(SCHEMA)}, {_name(fk.ref_table)}, "
            f"{_names(fk.ref_columns)}, {_desc(f'{fk.name}: {t} -> {fk.ref_table}')})"
        )
    for u in table.uniques:
        s.test(f"col_is_unique({st}, {_names(u.columns)}, {_desc(f'unique {u.name} holds')})")
    for ix in table.indexes:
        s.test(
            f"has_index({st}, {_name(ix.name)}, {_names(ix.columns)}, "
            f"{_desc(f'index {ix.name} exists')})"
        )
        if ix.unique:
            s.test(f"index_is_unique({st}, {_name(ix.name)}, {_desc(f'{ix.name} is unique')})")
    for ck in table.checks:
        s.test(_check_test(table, ck))


def _refinements(s: Suite, table: Table, ir: IR) -> None:
    """Each refinement's CHECK rejects a bad value (SQLSTATE 23514). The rows go into a
    temporary copy of the table with its CHECK constraints (LIKE ... INCLUDING CONSTRAINTS:
    the very expressions the database holds), so neither foreign keys nor row-level security
    stand in the way; a valid row is accepted first, so a rejection is the check's doing."""
    refined = [(c, r) for c in table.columns for r in c.refinements if r.check]
    generated = [c for c in table.columns if c.generated]
    if not refined and not generated:
        return
    t = table.name
    copy = quote_ident(f"wesley_refine_{t}"[:63])
    s.b.line(
        f"CREATE TEMP TABLE {copy} (LIKE {quote_ident(SCHEMA)}.{quote_ident(t)} "
        "INCLUDING CONSTRAINTS INCLUDING DEFAULTS INCLUDING GENERATED) ON COMMIT DROP;"
    )
    good = RowPlan(ir).good_values(table)

    def insert(values: dict[str, str]) -> str:
        cols = list(values)
        return (
            f"INSERT INTO pg_temp.{copy} ({', '.join(quote_ident(c) for c in cols)}) "
            f"VALUES ({', '.join(values[c] for c in cols)})"
        )

    s.test(f"lives_ok({quote_literal(insert(good))}, {_desc(f'{t}: a valid row is accepted')})")
    for col in generated:
        with s.b.block(col.uid):
            c = quote_ident(col.name)
            s.test(
                f"is((SELECT {c} FROM pg_temp.{copy} LIMIT 1), (SELECT {col.generated} FROM "
                f"pg_temp.{copy} LIMIT 1), {_desc(f'{t}.{col.name} is computed on insert')})"
            )
            s.test(
                f"ok((SELECT attgenerated = 's' FROM pg_attribute WHERE attrelid = "
                f"{quote_literal(quote_ident(t))}::regclass AND attname = {quote_literal(col.name)}"
                f"), {_desc(f'{t}.{col.name} is a stored generated column')})"
            )
    for col, r in refined:
        bad = bad_value(col, r)
        with s.b.block(col.uid):
            label = f"{t}.{col.name} @{r.kind}: the database rejects {bad}"
            if bad is None:
                s.test(f"pass({_desc(f'{t}.{col.name} @{r.kind}: no value breaks it')})")
                continue
            s.test(
                f"throws_ok({quote_literal(insert(good | {col.name: bad}))}, '23514', NULL, "
                f"{_desc(label)})"
            )


# a range of its own: RLS rule probes use 800_000 + 1000 a table, RPC calls 1_200_000+
COMPUTED_SALT = 1_500_000


def _computed(s: Suite, table: Table, ir: IR) -> None:
    """Insert rows and read the computed values back: an expression equals itself evaluated
    over the row; a count follows its rows being inserted and deleted."""
    cols = [c for c in table.columns if c.computed is not None]
    if not cols or not table.primary_key:
        return
    t = table.name
    rows = RowPlan(ir, salt=COMPUTED_SALT + 1000 * ir.tables.index(table))
    tenant = None
    tenant_col = table.column(table.tenant_by) if table.tenant_by else None
    if tenant_col is not None:  # a tenant of its own, outside the probe rows' range
        tenant = sample_literal(table.name, tenant_col, ir, 900003)
    try:
        # a value the expression would not give, so a missing trigger shows
        unlike = {
            c.name: quote_literal("not computed")
            for c in cols
            if c.computed is not None and c.computed.kind == "expr" and is_text(c)
        }
        row = rows.row(table, unlike, tenant=tenant)
        parents = list(rows.inserts)
        rows.inserts.clear()
        children: dict[str, list[str]] = {}
        for col in cols:
            c = col.computed
            if c is not None and c.kind == "count" and c.table and c.column:
                child = ir.table(c.table)
                fk = next(
                    f for f in (child.foreign_keys if child else []) if f.columns == [c.column]
                )
                assert child is not None
                for _ in range(2):
                    rows.row(child, {c.column: row[fk.ref_columns[0]]}, tenant=tenant)
                # the row planner adds the referred row (and its parents) again: they exist
                done = {i.split(" (", 1)[0] for i in parents}
                children[col.name] = [i for i in rows.inserts if i.split(" (", 1)[0] not in done]
                rows.inserts.clear()
    except Infeasible as why:
        s.count += 1
        s.b.line(f"SELECT skip({quote_literal(f'computed columns of {t}: {why}')}, 1);")
        return
    key = " AND ".join(f"{quote_ident(k)} = {row[k]}" for k in table.primary_key)
    qt = quote_ident(t)
    setup = ([f"SET LOCAL app.tenant_id = {tenant}"] if tenant else []) + parents
    s.test(f"lives_ok({quote_literal('; '.join(setup))}, {_desc(f'{t}: a row to compute')})")
    for col in cols:
        c = col.computed
        assert c is not None
        qc = quote_ident(col.name)
        with s.b.block(col.uid):
            if c.kind == "expr":
                s.test(
                    f"is((SELECT {qc} FROM {qt} WHERE {key}), (SELECT {c.expr} FROM {qt} WHERE "
                    f"{key}), {_desc(f'{t}.{col.name} is computed on insert')})"
                )
                continue
            s.test(
                f"is((SELECT {qc} FROM {qt} WHERE {key})::bigint, 0::bigint, "
                f"{_desc(f'{t}.{col.name} starts at 0')})"
            )
            inserts = "; ".join(children[col.name])
            s.test(f"lives_ok({quote_literal(inserts)}, {_desc(f'{t}.{col.name}: two rows')})")
            s.test(
                f"is((SELECT {qc} FROM {qt} WHERE {key})::bigint, 2::bigint, "
                f"{_desc(f'{t}.{col.name} counts the rows inserted')})"
            )
            counted = quote_ident(c.table or "")
            ref = quote_ident(c.column or "")
            one = (
                f"DELETE FROM {counted} WHERE ctid = (SELECT ctid FROM {counted} WHERE {ref} = "
                f"(SELECT {quote_ident(_key_of(ir, table, c.column or '', c.table or ''))} "
                f"FROM {qt} WHERE {key}) LIMIT 1)"
            )
            s.b.line(f"{one};")
            s.test(
                f"is((SELECT {qc} FROM {qt} WHERE {key})::bigint, 1::bigint, "
                f"{_desc(f'{t}.{col.name} counts the rows deleted')})"
            )


def _key_of(ir: IR, parent: Table, column: str, child_name: str) -> str:
    child = ir.table(child_name)
    assert child is not None
    fk = next(f for f in child.foreign_keys if f.columns == [column])
    return fk.ref_columns[0]


def _check_test(table: Table, ck: Check) -> str:
    """The check exists under its name and reads the columns PostgreSQL records for it
    (every column its expression names, wherever it was declared: `lo <= hi` on `hi` is a
    check of {hi, lo})."""
    cols = sorted(column_refs(ck.expr))
    rel = f"{quote_literal(quote_ident(table.name))}::regclass"
    have = (
        "(SELECT ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.conrelid"
        ' AND a.attnum = ANY(c.conkey) ORDER BY a.attname COLLATE "C") FROM pg_constraint c'
        " WHERE c.conname = "
        f"{quote_literal(ck.name)} AND c.contype = 'c' AND c.conrelid = {rel})"
    )
    want = "ARRAY[" + ", ".join(quote_literal(c) for c in cols) + "]::text[]"
    shown = "{" + ",".join(cols) + "}"
    return f"is({have}, {want}, {_desc(f'check {ck.name} exists on {shown}')})"


def _policies(s: Suite, table: Table) -> None:
    names = sorted(p.name for p in table.policies)
    if not names:
        return
    st = f"{_name(SCHEMA)}, {_name(table.name)}"
    s.test(
        f"ok((SELECT relrowsecurity FROM pg_class WHERE oid = "
        f"{quote_literal(quote_ident(table.name))}::regclass), "
        f"{_desc(f'{table.name} has row-level security enabled')})"
    )
    s.test(f"policies_are({st}, {_names(names)}, {_desc(f'{table.name} policies')})")
    for p in sorted(table.policies, key=lambda p: p.name):
        pol = f"{st}, {_name(p.name)}"
        cmd = quote_literal(p.command)
        s.test(f"policy_cmd_is({pol}, {cmd}, {_desc(f'{p.name} is FOR {p.command}')})")
        to = ", ".join(p.roles) or "PUBLIC"
        # PUBLIC is no role in pg_roles: an empty list, and any role the policy has fails it
        s.test(f"policy_roles_are({pol}, {_names(p.roles)}, {_desc(f'{p.name} is TO {to}')})")


_ACL_ROWS = (
    "SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE r.rolname END || ':' || {col}"
    "x.privilege_type FROM {source}, aclexplode({acl}) x LEFT JOIN pg_roles r ON r.oid = "
    "x.grantee WHERE {rel} AND x.grantee <> c.relowner AND x.privilege_type IN "
    "('SELECT', 'INSERT', 'UPDATE', 'DELETE')"
)


def _grants(s: Suite, table: Table) -> None:
    """The privileges Wesley manages on the table and its columns, exactly: every non-owner
    role's SELECT/INSERT/UPDATE/DELETE as the ACLs list them (`role:priv`,
    `role:column:priv`). Like table_privs_are, but read from the ACL itself, so PUBLIC's
    grants, role memberships and privileges Wesley leaves alone (TRUNCATE, ...) do not blur
    what the schema granted. Columns the schema does not declare are not looked at."""
    want = sorted(
        [f"{g.role}:{p}" for g in table.grants for p in g.privileges]
        + [f"{g.role}:{c.name}:{p}" for c in table.columns for g in c.grants for p in g.privileges]
    )
    if not want:
        return
    oid = f"{quote_literal(quote_ident(table.name))}::regclass"
    have = (
        _ACL_ROWS.format(col="", source="pg_class c", acl="c.relacl", rel=f"c.oid = {oid}")
        + " UNION "
        + _ACL_ROWS.format(
            col="a.attname || ':' || ",
            source="pg_class c JOIN pg_attribute a ON a.attrelid = c.oid",
            acl="a.attacl",
            # the schema's columns: a two-stage plan's shadow column (which has the new
            # column's grants while both versions run) is not the old version's
            rel=f"c.oid = {oid} AND a.attnum > 0 AND NOT a.attisdropped AND a.attname IN "
            f"({', '.join(quote_literal(c.name) for c in table.columns)})",
        )
    )
    expected = "ARRAY[" + ", ".join(quote_literal(w) for w in want) + "]"
    s.test(
        f"set_eq({quote_literal(have)}, {expected}, "
        f"{_desc(f'{table.name}: privileges granted are the schema grants')})"
    )


def _probe(s: Suite, table: Table, rows: RowPlan) -> None:
    """The RLS probe of one tenant table. `rows` is the suite's one plan of probe rows: its
    values never repeat, and parents already planned by an earlier block are reused, so no
    block inserts a row (or a key) another block inserted."""
    t = table.name
    col = table.tenant_by
    assert col is not None
    try:
        a, b = tenant_values(table, rows)
        rows.row(table, {}, tenant=a)
        setup_a = list(rows.inserts)
        rows.inserts.clear()
        rows.row(table, {}, tenant=b)
        rows.row(table, {col: b}, tenant=b, fresh=True)
        rows.planned[table.name].pop()  # the forged row is never inserted
        forged = rows.inserts.pop()
        setup_b = list(rows.inserts)  # B's row and any parent the forged row needs
        rows.inserts.clear()
    except Infeasible as why:
        rows.inserts.clear()
        s.count += PROBE_ASSERTIONS
        s.b.line(f"SELECT skip({quote_literal(f'RLS probe for {t}: {why}')}, {PROBE_ASSERTIONS});")
        return
    qt, qc = quote_ident(t), quote_ident(col)
    label = f"RLS {t}:"

    def as_tenant(value: str) -> None:
        s.b.line(f"SET LOCAL app.tenant_id = {value};")

    s.b.line(f"-- RLS probe for {t}: tenants {a} and {b}")
    # With other policies beside it, the tenant policy is RESTRICTIVE: the probe checks that
    # one, so for its own rows it opens the table with a permissive policy of its own (the
    # schema's rules, say owner = auth.uid(), would hide the probe's rows); rolled back.
    opened = any(not p.permissive for p in table.policies)
    if opened:
        s.b.line(
            f"CREATE POLICY {PROBE_POLICY} ON {qt} AS PERMISSIVE FOR ALL TO {PROBE_ROLE}, "
            "CURRENT_USER USING (true) WITH CHECK (true);"
        )
    script = []
    for value, inserts in ((a, setup_a), (b, setup_b)):
        script.append(f"SET LOCAL app.tenant_id = {value}")
        script.extend(inserts)
    body = "; ".join(script)
    s.test(f"lives_ok({quote_literal(body)}, {_desc(f'{label} {PROBE_SETUP}')})")
    s.b.line(f"GRANT USAGE ON SCHEMA {quote_ident(SCHEMA)}, wesley TO {PROBE_ROLE};")
    s.b.line(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {qt} TO {PROBE_ROLE};")
    s.b.line(f"SET LOCAL ROLE {PROBE_ROLE};")
    as_tenant(a)
    s.test(
        f"is((SELECT count(*)::int FROM {qt} WHERE {qc} = {b}), 0, "
        f"{_desc(f'{label} tenant A cannot see tenant B rows')})"
    )
    s.test(
        f"ok((SELECT count(*) FROM {qt} WHERE {qc} = {a}) > 0, "
        f"{_desc(f'{label} tenant A sees its own rows')})"
    )
    s.test(
        f"throws_ok({quote_literal(forged)}, '42501', NULL, "
        f"{_desc(f'{label} tenant A cannot insert rows for tenant B')})"
    )
    s.test(
        f"is_empty({quote_literal(f'UPDATE {qt} SET {qc} = {qc} WHERE {qc} = {b} RETURNING 1')}, "
        f"{_desc(f'{label} tenant A cannot update tenant B rows')})"
    )
    s.test(
        f"throws_ok({quote_literal(f'UPDATE {qt} SET {qc} = {b} WHERE {qc} = {a}')}, '42501', "
        f"NULL, {_desc(f'{label} tenant A cannot move its rows to tenant B')})"
    )
    s.b.line("RESET ROLE;")
    if opened:
        s.b.line(f"DROP POLICY {PROBE_POLICY} ON {qt};")


def _probed(ir: IR) -> list[Table]:
    # a table of presets or keywords has the rule probes, which cover tenant isolation too
    ruled = {t.name for t in _rule_probed(ir)}
    return [t for t in ir.tables if t.tenant_by and t.rls and t.rls.enabled and t.name not in ruled]


def _rule_probed(ir: IR) -> list[Table]:
    return [
        t
        for t in ir.tables
        # an owner too: the tenant probe's "A sees its own rows" does not hold there
        if t.rls and (t.rls.preset or t.rls.keywords or t.owner) and rule_policies(t) is not None
    ]


def needs_probe_role(ir: IR) -> bool:
    """Whether the suite creates the probe role (so it must run as a role that may)."""
    return bool(_probed(ir) or _rule_probed(ir)) or bool(ir.functions)


def pgtap(ir: IR) -> list[Artifact]:
    s = Suite()
    for table in ir.tables:
        with s.b.block(table.uid):
            s.b.line(f"-- {table.name} ({table.uid})")
            _structure(s, table)
            _refinements(s, table, ir)
            _computed(s, table, ir)
            _policies(s, table)
            _grants(s, table)
        s.b.line()
    probed = _probed(ir)
    if needs_probe_role(ir):
        s.b.line(f"CREATE ROLE {PROBE_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;")
        # a role with CREATEROLE (not superuser) may SET ROLE only to roles it is a member of
        s.b.line(f"GRANT {PROBE_ROLE} TO CURRENT_USER;")
    rows = RowPlan(ir, salt=PROBE_SALT, share=True)
    for table in probed:
        with s.b.block(table.uid):
            _probe(s, table, rows)
        s.b.line()
    ruled = _rule_probed(ir)
    if ruled:
        rule_probe_prelude(s.b, ir, ruled)
    for i, table in enumerate(ruled):
        with s.b.block(table.uid):
            s.count += rule_probe(s.b, table, ir, i)
        s.b.line()
    for table in ir.tables:
        functions = [f for f in ir.functions if f.table == table.name]
        if functions:
            rpc_suite(s, table, functions, ir)
            s.b.line()
    head = TextBuilder()
    head.line("-- Generated by Wesley: pgTAP suite. Run with pg_prove, or psql -f in a database")
    head.line("-- built from schema.sql and rls.sql. It rolls back: it leaves nothing behind.")
    head.line(STANDARD_STRINGS)
    head.line("BEGIN;")
    head.line(f"SELECT plan({s.count});")
    head.line()
    offset = len(head.lines)
    head.lines.extend(s.b.lines)
    head.spans.extend(
        span.__class__(span.uid, span.start + offset, span.end + offset) for span in s.b.spans
    )
    head.line("SELECT * FROM finish();")
    head.line("ROLLBACK;")
    return [head.artifact("tests.sql", "tests")]


def version_suite(ir: IR, search_path: str, schema: str, views: set[str]) -> str:
    """The suite of one application version while two are live (deploy's expand → switch
    done, --complete not yet): every table and column of `ir` under its name and type as a
    session with `search_path` sees it, and each view of the version schema writable
    (INSERT, UPDATE, DELETE go through to the table). Keys, constraints and indexes live on
    the tables of public; the full suite checks them after --complete."""
    s = Suite()
    for table in ir.tables:
        t = table.name
        with s.b.block(table.uid):
            s.b.line(f"-- {t} ({table.uid}) as the version with search_path {search_path} sees it")
            what = "a view of its version schema" if t in views else "a table"
            s.test(f"has_relation({_name(t)}, {_desc(f'{t} exists ({what})')})")
            for col in table.columns:
                c = f"{_name(t)}, {_name(col.name)}"
                where = f"{t}.{col.name}"
                ftype = format_type(col)
                s.test(f"has_column({c}, {_desc(f'{where} exists')})")
                s.test(f"col_type_is({c}, {quote_literal(ftype)}, {_desc(f'{where} is {ftype}')})")
            if t in views:
                s.test(
                    "ok((SELECT is_insertable_into = 'YES' AND is_updatable = 'YES' FROM "
                    f"information_schema.views WHERE table_schema = {quote_literal(schema)} AND "
                    f"table_name = {quote_literal(t)}), "
                    f"{_desc(f'{t}: writes go through the view to its table')})"
                )
        s.b.line()
    out = TextBuilder()
    out.line("-- Generated by Wesley: one application version's pgTAP suite while two are live.")
    out.line(STANDARD_STRINGS)
    out.line("BEGIN;")
    out.line(f"SET LOCAL search_path = {search_path};")
    out.line(f"SELECT plan({s.count});")
    out.lines.extend(s.b.lines)
    out.line("SELECT * FROM finish();")
    out.line("ROLLBACK;")
    return "\n".join(out.lines) + "\n"
