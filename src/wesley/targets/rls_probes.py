"""pgTAP probes for rule-built row-level security (presets and the upstream keywords).

Each probed table gets rows of two users/tenants ("a" and "b"; a soft-deleted and an
expired row of "a" where the preset hides them), then, as user A, as an admin (a role in the
table's admin roles) and as an anonymous session, every row is selected, updated and deleted,
and a row like A's and a row like B's inserted. What each must do is computed from the same
rules the policies are rendered from (`wesley.sdl.policies.expect`): "1" (done), "0" (the row
is not seen) or "denied" (PostgreSQL refuses, 42501). Every statement runs inside
`pg_temp.wesley_try`, which undoes it, so the probes never change what later ones see.
"""

from __future__ import annotations

from wesley.ir import IR, Column, Table
from wesley.sample_checks import meet_checks
from wesley.samples import Infeasible, RowPlan, row_keys, sample_literal
from wesley.sdl.policies import Actor, Row, RulePolicy, expect, rule_policies
from wesley.sqltext import quote_ident, quote_literal
from wesley.targets.base import TextBuilder

USER_ROLE = "wesley_rls_probe"  # the same role as the tenant probes'
ADMIN_ROLE = "wesley_rls_probe_admin"
SALT = 800_000
# the description of a probe's set-up assertion: when it fails, Wesley's generated rows broke
# a constraint (a bug of ours), not the database (wesley.db.pgtap.tap_failure tells them apart)
PROBE_SETUP = "probe set-up: rows for two tenants"
_IN_WINDOW = ("'2000-01-01'", "'2999-01-01'")
_EXPIRED = ("'2000-01-01'", "'2000-06-01'")

TRY_FUNCTION = (
    "CREATE FUNCTION pg_temp.wesley_try(q text) RETURNS text LANGUAGE plpgsql AS $f$ "
    "DECLARE n bigint; BEGIN EXECUTE q; GET DIAGNOSTICS n = ROW_COUNT; "
    # raising undoes the statement: the probe leaves nothing behind for the next one
    "RAISE SQLSTATE 'WSL01' USING MESSAGE = n::text; "
    "EXCEPTION WHEN SQLSTATE 'WSL01' THEN RETURN SQLERRM; "
    "WHEN insufficient_privilege THEN RETURN 'denied'; END $f$;"
)


def _roles(tables: list[Table]) -> tuple[set[str], set[str]]:
    """Roles the user probe and the admin probe must be members of."""
    user: set[str] = set()
    admin: set[str] = set()
    for t in tables:
        assert t.rls is not None
        rls = t.rls
        read = rls.preset.options.get("readRoles") if rls.preset else None
        mine = {*rls.roles, *rls.select_roles, *rls.insert_roles, *rls.update_roles}
        mine |= {*rls.delete_roles, *(read if isinstance(read, list) else [])}
        user |= mine
        admin |= mine | set(rls.admin_roles)
    return user, admin


def rule_probe_prelude(b: TextBuilder, ir: IR, tables: list[Table]) -> None:
    b.line("-- RLS probes of presets and policy keywords")
    b.line(f"CREATE ROLE {ADMIN_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;")
    b.line(f"GRANT {ADMIN_ROLE} TO CURRENT_USER;")
    b.line(f"GRANT USAGE ON SCHEMA public, wesley TO {USER_ROLE}, {ADMIN_ROLE};")
    user, admin = _roles(tables)
    for role in sorted(user):
        b.line(f"GRANT {quote_ident(role)} TO {USER_ROLE};")
    for role in sorted(admin):
        b.line(f"GRANT {quote_ident(role)} TO {ADMIN_ROLE};")
    b.line(TRY_FUNCTION)
    b.line()


def _label(table: Table) -> str:
    assert table.rls is not None
    if table.rls.preset:
        return f"preset {table.rls.preset.name}"
    if table.rls.keywords:
        return "keywords"
    return "owner" + (" and tenant" if table.tenant_by else "")


def _user_column(table: Table, ir: IR) -> tuple[Table, Column] | None:
    if table.owner:
        col = table.column(table.owner.column)
        assert col is not None
        return table, col
    preset = table.rls.preset if table.rls else None
    if preset and preset.name == "hierarchical":
        m = ir.table(str(preset.options["membership"]))
        assert m is not None
        col = m.column(str(preset.options["userColumn"]))
        assert col is not None
        return m, col
    return None


def rule_probe(b: TextBuilder, table: Table, ir: IR, index: int) -> int:
    """Writes the probe of `table`; returns how many assertions it wrote."""
    policies = rule_policies(table)
    rls = table.rls
    assert policies is not None and rls is not None
    t = table.name
    qt = quote_ident(t)
    label = f"RLS {t} ({_label(table)}):"
    base = SALT + 1000 * index

    def lit(owner: Table, col: Column, k: int) -> str:
        return sample_literal(owner.name, col, ir, base + k)

    tenant: dict[str, str] = {}
    if table.tenant_by:
        tc = table.column(table.tenant_by)
        assert tc is not None
        tenant = {"a": lit(table, tc, 1), "b": lit(table, tc, 2)}
    found = _user_column(table, ir)
    if found is not None:
        users = {s: lit(found[0], found[1], k) for s, k in (("a", 3), ("b", 4), ("admin", 5))}
    else:
        users = {s: quote_literal(f"probe-user-{s}") for s in ("a", "b", "admin")}
    preset = rls.preset
    opts = preset.options if preset else {}
    parent: dict[str, str] = {}
    if preset and preset.name == "hierarchical":
        pcol = str(opts["column"])
        if pcol == table.tenant_by:
            parent = dict(tenant)
        else:
            col = table.column(pcol)
            assert col is not None
            parent = {"a": lit(table, col, 6), "b": lit(table, col, 7)}

    def fixed(side: str) -> dict[str, str]:
        f: dict[str, str] = {}
        if tenant:
            f[str(table.tenant_by)] = tenant[side]
        if table.owner:
            f[table.owner.column] = users[side]
        if parent:
            f[str(opts["column"])] = parent[side]
        if preset and preset.name == "time-window":
            f[str(opts["start"])], f[str(opts["end"])] = _IN_WINDOW
        return f

    rows = RowPlan(ir, salt=base)
    probe_rows: list[tuple[str, Row, dict[str, str]]] = []
    # each side's rows are inserted under that side's settings, so that a runner that is the
    # tables' owner (FORCE applies to it) and not a superuser passes the rules too
    script: list[str] = []

    def planned(side: str, make: object) -> dict[str, str]:
        assert callable(make)
        start = len(rows.inserts)
        values: dict[str, str] = make()
        script.append(f"SET LOCAL app.tenant_id = {tenant.get(side, chr(39) * 2)}")
        script.append(f"SET LOCAL app.user_id = {users[side]}")
        script.extend(rows.inserts[start:])
        return values

    try:
        if preset and preset.name == "hierarchical":
            m = ir.table(str(opts["membership"]))
            assert m is not None
            for side in ("a", "b"):
                member = {
                    str(opts["userColumn"]): users[side],
                    str(opts["parentColumn"]): parent[side],
                }
                planned(side, lambda m=m, member=member: rows.row(m, member))
        for side in ("a", "b"):
            values = planned(side, lambda side=side: rows.row(table, fixed(side)))
            probe_rows.append((f"row of {side.upper()}", Row(side), values))
        if preset and preset.name == "soft-delete":
            col = table.column(str(opts["column"]))
            assert col is not None
            gone = {**fixed("a"), col.name: lit(table, col, 8)}
            values = planned("a", lambda: rows.row(table, gone))
            probe_rows.append(("deleted row of A", Row("a", deleted=True), values))
        if preset and preset.name == "time-window":
            old = fixed("a")
            old[str(opts["start"])], old[str(opts["end"])] = _EXPIRED
            values = planned("a", lambda: rows.row(table, old))
            probe_rows.append(("expired row of A", Row("a", in_window=False), values))
    except Infeasible as why:
        b.line(f"SELECT skip({quote_literal(f'{label} {why}')}, 1);")
        return 1
    if not table.primary_key:
        b.line(f"SELECT skip({quote_literal(f'{label} no primary key to probe by')}, 1);")
        return 1
    inserts = _fresh_inserts(table, ir, probe_rows[:2], fixed("a").keys(), base)
    count = 0

    def test(call: str) -> None:
        nonlocal count
        count += 1
        b.line(f"SELECT {call};")

    b.line(f"-- {label} users/tenants A and B")
    test(
        f"lives_ok({quote_literal('; '.join(script))}, "
        f"{quote_literal(f'{label} {PROBE_SETUP} (users A and B)')})"
    )
    granted = [t] + ([str(opts["membership"])] if parent else [])
    b.line(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {qt} TO {USER_ROLE}, {ADMIN_ROLE};")
    for other in granted[1:]:
        b.line(f"GRANT SELECT ON {quote_ident(other)} TO {USER_ROLE}, {ADMIN_ROLE};")
    actors: list[tuple[str, str, Actor, str, str]] = [
        (
            "user A",
            USER_ROLE,
            Actor("a" if tenant else None, "a"),
            tenant.get("a", "''"),
            users["a"],
        ),
        ("anonymous", USER_ROLE, Actor(None, None), "''", "''"),
    ]
    if any(p.admin for p in policies):
        actors.insert(
            1,
            (
                "admin",
                ADMIN_ROLE,
                Actor("a" if tenant else None, "admin", admin=True),
                tenant.get("a", "''"),
                users["admin"],
            ),
        )
    where = {
        id(v): " AND ".join(f"{quote_ident(c)} = {v[c]}" for c in table.primary_key)
        for _, _, v in probe_rows
    }
    pk0 = quote_ident(table.primary_key[0])
    for who, role, actor, tval, uval in actors:
        b.line(f"SET LOCAL ROLE {role};")
        b.line(f"SET LOCAL app.tenant_id = {tval};")
        b.line(f"SET LOCAL app.user_id = {uval};")
        for what, row, values in probe_rows:
            cond = where[id(values)]
            for command, sql in (
                ("SELECT", f"SELECT 1 FROM {qt} WHERE {cond}"),
                ("UPDATE", f"UPDATE {qt} SET {pk0} = {pk0} WHERE {cond}"),
                ("DELETE", f"DELETE FROM {qt} WHERE {cond}"),
            ):
                _assert(test, policies, command, actor, row, sql, f"{label} {who} {command} {what}")
        for side, sql in inserts:
            _assert(
                test,
                policies,
                "INSERT",
                actor,
                Row(side),
                sql,
                f"{label} {who} INSERT a row of {side.upper()}",
            )
        b.line("RESET ROLE;")
    return count


def _assert(
    test: object,
    policies: list[RulePolicy],
    command: str,
    actor: Actor,
    row: Row,
    sql: str,
    desc: str,
) -> None:
    want = expect(policies, command, actor, row)
    shown = {"1": "allowed", "0": "not seen", "denied": "refused"}[want]
    assert callable(test)
    test(
        f"is(pg_temp.wesley_try({quote_literal(sql)}), {quote_literal(want)}, "
        f"{quote_literal(f'{desc}: {shown}')})"
    )


def _fresh_inserts(
    table: Table, ir: IR, rows: list[tuple[str, Row, dict[str, str]]], fixed: object, base: int
) -> list[tuple[str, str]]:
    """INSERTs of a new row like A's and like B's: every key (primary, unique, composite
    unique, unique index) made fresh in a column that is neither a foreign key nor a rule's
    column. None when some key has no such column, or when a fresh row would still repeat a
    key of a probe row (a small domain: a boolean or enum beside A's tenant, say)."""
    fk_cols = {c for fk in table.foreign_keys for c in fk.columns}
    keys = row_keys(table)
    free: set[str] = set()
    for key in keys:
        own = [c for c in key if c not in fk_cols and c not in fixed]  # type: ignore[operator]
        if not own:
            return []
        free.update(own)
    keyed = {c for key in keys for c in key}
    made = [values for _what, _row, values in rows]
    out: list[tuple[str, str]] = []
    for k, (_what, row, values) in enumerate(rows):
        new = dict(values)
        n = base + 100 + k
        for c in table.columns:
            if c.name in free:
                new[c.name] = sample_literal(table.name, c, ir, n, True, len(made))
        meet_checks(table, new, free, n, keyed, len(made))
        if any(all(new.get(c) == other.get(c) for c in key) for key in keys for other in made):
            return []
        made.append(new)
        cols = [c.name for c in table.columns if c.name in new]
        out.append(
            (
                row.side,
                f"INSERT INTO {quote_ident(table.name)} ({', '.join(quote_ident(c) for c in cols)})"
                f" VALUES ({', '.join(new[c] for c in cols)})",
            )
        )
    return out
