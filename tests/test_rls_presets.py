"""RLS presets (`@wes_rls(preset:)`) and the upstream policy keywords (`select: "tenant"`):
what each lets a user, an admin and an anonymous session do on PostgreSQL, the generated
pgTAP probes passing (and failing when a policy is broken), coded errors, plans."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.helpers import REPO, cli
from wesley.db.apply import apply_script
from wesley.db.pgtap import TapResult, run_suite
from wesley.errors import WesleyError
from wesley.ir import IR, ir_hash
from wesley.plan.build import build_plan
from wesley.sdl import parse_sdl
from wesley.sdl.registry import canonical_name
from wesley.targets.pgtap import pgtap
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls

FIXTURES = REPO / "tests" / "fixtures" / "upstream"

PARENTS = """
type Org @wes_table { id: ID! @wes_pk  name: String! }
type User @wes_table { id: ID! @wes_pk }
type Membership @wes_table @wes_pk(columns: ["userId", "orgId"]) {
  userId: ID! @wes_fk(ref: "User.id")
  orgId: ID! @wes_fk(ref: "Org.id")
}
"""
PRESETS = {
    "owner": 'type T @wes_table @wes_rls(preset: "owner", options: {column: "authorId"}) '
    '{ id: ID! @wes_pk authorId: ID! @wes_fk(ref: "User.id") body: String! }',
    "tenant": 'type T @wes_table @wes_rls(preset: "tenant", options: {column: "orgId"}) '
    '{ id: ID! @wes_pk orgId: ID! @wes_fk(ref: "Org.id") }',
    "public-read": 'type T @wes_table @wes_rls(preset: "public-read", options: '
    '{owner_column: "authorId"}) { id: ID! @wes_pk authorId: ID! }',
    "authenticated": 'type T @wes_table @wes_rls(preset: "authenticated", roles: '
    '["authenticated"]) { id: ID! @wes_pk }',
    "admin-only": 'type T @wes_table @wes_rls(preset: "admin-only", options: '
    '{adminRoles: ["wesley_test_admins"]}) { id: ID! @wes_pk }',
    "soft-delete": 'type T @wes_table @wes_tenant(by: "orgId") @wes_rls(preset: "soft-delete") '
    '{ id: ID! @wes_pk orgId: ID! @wes_fk(ref: "Org.id") deletedAt: DateTime }',
    "time-window": 'type T @wes_table @wes_rls(preset: "time-window", options: '
    '{start: "startsAt", end: "endsAt"}) { id: ID! @wes_pk startsAt: DateTime! endsAt: DateTime }',
    "hierarchical": 'type T @wes_table @wes_rls(preset: "hierarchical", options: '
    '{column: "orgId"}) { id: ID! @wes_pk orgId: ID! @wes_fk(ref: "Org.id") }',
    "keywords": 'type T @wes_table @wes_tenant(by: "orgId") @wes_owner(column: "createdBy") '
    '@wes_rls(select: "owner_or_admin", insert: "tenant_and_owner", update: "owner_only", '
    'delete: "never") { id: ID! @wes_pk orgId: ID! @wes_fk(ref: "Org.id") '
    'createdBy: ID! @wes_fk(ref: "User.id") }',
}
ADMINISH = {"admin-only", "keywords"}


def ir_of(text: str) -> IR:
    return parse_sdl(PARENTS + text).ir


def build(ir: IR, conn: psycopg.Connection[tuple[object, ...]]) -> None:
    conn.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wesley_test_admins')"
        " THEN CREATE ROLE wesley_test_admins NOLOGIN; END IF; END $$"
    )
    apply_script(conn, postgres(ir)[0].text, "schema.sql")
    apply_script(conn, rls(ir)[0].text, "rls.sql")


def suite(ir: IR, dsn: str, sabotage: str | None = None) -> TapResult:
    with psycopg.connect(dsn, autocommit=True) as conn:
        build(ir, conn)
        if sabotage:
            conn.execute(sabotage.encode())
        return run_suite(conn, pgtap(ir)[0].text)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_probes_of_each_preset_pass_as_two_users_an_admin_and_anonymous(
    preset: str, pg_dsn: str
) -> None:
    ir = ir_of(PRESETS[preset])
    result = suite(ir, pg_dsn)
    assert result.ok, result.failures
    probes = [ln for ln in result.tap.splitlines() if ln.startswith("ok") and "RLS t (" in ln]
    assert any("user A SELECT row of B" in ln for ln in probes)
    assert any("anonymous" in ln for ln in probes)
    assert any(" admin " in ln for ln in probes) == (preset in ADMINISH)
    # the wrong user (A, looking at B's row) sees nothing, except where reading is public
    wrong = next(ln for ln in probes if "user A SELECT row of B" in ln)
    public = preset in ("public-read", "authenticated", "time-window")
    assert wrong.endswith("allowed" if public else "not seen"), wrong


# (preset, statement the sabotage runs, the probe that must fail)
SABOTAGE = [
    ("owner", "ALTER POLICY t_owner ON t USING (true)", "user A SELECT row of B"),
    ("tenant", "ALTER POLICY t_tenant ON t USING (true)", "user A SELECT row of B"),
    ("public-read", "DROP POLICY t_public_read ON t", "user A SELECT row of B"),
    ("authenticated", "ALTER POLICY t_authenticated ON t USING (true)", "anonymous SELECT"),
    ("admin-only", "ALTER POLICY t_admin ON t TO PUBLIC", "user A SELECT row of A"),
    ("soft-delete", "DROP POLICY t_soft_delete_select ON t", "SELECT deleted row of A"),
    ("soft-delete", "DROP POLICY t_soft_delete_delete ON t", "DELETE row of A"),
    ("time-window", "DROP POLICY t_time_window_select ON t", "SELECT expired row of A"),
    ("hierarchical", "ALTER POLICY t_members ON t USING (true)", "user A SELECT row of B"),
    ("keywords", "DROP POLICY t_select_admin ON t", "admin SELECT row of A"),
    ("keywords", "ALTER POLICY t_tenant ON t USING (true)", "admin SELECT row of B"),
]


@pytest.mark.parametrize(("preset", "sabotage", "failing"), SABOTAGE)
def test_a_broken_policy_fails_its_probe(
    preset: str, sabotage: str, failing: str, pg_dsn: str
) -> None:
    result = suite(ir_of(PRESETS[preset]), pg_dsn, sabotage)
    assert not result.ok
    assert any(failing in f for f in result.failures), result.failures


@pytest.fixture
def app(pg_dsn: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE ROLE wesley_app NOLOGIN NOSUPERUSER NOBYPASSRLS")
        yield conn
        conn.execute("RESET ROLE")
        conn.execute("DROP OWNED BY wesley_app")
        conn.execute("DROP ROLE wesley_app")


def _as(conn: psycopg.Connection[tuple[object, ...]], sql: str, **settings: str) -> object:
    conn.execute("SET ROLE wesley_app")
    try:
        for key, value in settings.items():
            conn.execute("SELECT set_config(%s, %s, false)", (f"app.{key}", value))
        row = conn.execute(sql).fetchone()
        return row[0] if row else None
    finally:
        conn.execute("RESET ROLE")
        for key in settings:
            conn.execute("SELECT set_config(%s, '', false)", (f"app.{key}",))


def test_hierarchical_shows_rows_to_members_of_their_parent_only(
    app: psycopg.Connection[tuple[object, ...]],
) -> None:
    ir = ir_of(PRESETS["hierarchical"])
    build(ir, app)
    org_a, org_b, alice, bob = (str(uuid.uuid4()) for _ in range(4))
    for org in (org_a, org_b):
        app.execute("INSERT INTO org (id, name) VALUES (%s, 'x')", (org,))
        app.execute("INSERT INTO t (id, org_id) VALUES (gen_random_uuid(), %s)", (org,))
    for user, org in ((alice, org_a), (bob, org_b)):
        app.execute('INSERT INTO "user" (id) VALUES (%s)', (user,))
        app.execute("INSERT INTO membership (user_id, org_id) VALUES (%s, %s)", (user, org))
    app.execute("GRANT SELECT ON t, membership TO wesley_app")
    seen = "SELECT string_agg(org_id::text, ',') FROM t"
    assert _as(app, seen, user_id=alice) == org_a
    assert _as(app, seen, user_id=bob) == org_b
    assert _as(app, seen) is None  # no user: nothing
    # a new membership shows the other parent's rows at once
    app.execute("INSERT INTO membership (user_id, org_id) VALUES (%s, %s)", (alice, org_b))
    assert _as(app, "SELECT count(*) FROM t", user_id=alice) == 2


def test_soft_deleted_rows_are_hidden_and_never_deleted(
    app: psycopg.Connection[tuple[object, ...]],
) -> None:
    ir = ir_of(PRESETS["soft-delete"])
    build(ir, app)
    org = str(uuid.uuid4())
    app.execute("INSERT INTO org (id, name) VALUES (%s, 'x')", (org,))
    app.execute("INSERT INTO t (id, org_id) VALUES (gen_random_uuid(), %s)", (org,))
    app.execute(
        "INSERT INTO t (id, org_id, deleted_at) VALUES (gen_random_uuid(), %s, now())", (org,)
    )
    app.execute("GRANT SELECT, UPDATE, DELETE ON t TO wesley_app")
    assert _as(app, "SELECT count(*) FROM t", tenant_id=org) == 1
    # soft-deleting works (the row leaves the view), deleting for real does nothing
    assert (
        _as(
            app,
            "WITH u AS (UPDATE t SET deleted_at = now() RETURNING 1) SELECT count(*) FROM u",
            tenant_id=org,
        )
        == 1
    )
    assert _as(app, "SELECT count(*) FROM t", tenant_id=org) == 0
    assert (
        _as(app, "WITH d AS (DELETE FROM t RETURNING 1) SELECT count(*) FROM d", tenant_id=org) == 0
    )
    assert app.execute("SELECT count(*) FROM t").fetchone() == (2,)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('@wes_rls(preset: "nope")', "UNKNOWN_PRESET"),
        ('@wes_rls(preset: "owner", options: {colour: "x"})', "INVALID_PRESET_OPTION"),
        ('@wes_rls(preset: "owner", options: "x")', "INVALID_PRESET_OPTION"),
        ('@wes_rls(preset: "owner", options: {column: "nope"})', "UNKNOWN_COLUMN"),
        ('@wes_rls(preset: "owner")', "UNKNOWN_COLUMN"),  # no owner_id to default to
        ('@wes_rls(preset: "tenant")', "TENANT_FIELD_MISSING"),
        ('@wes_rls(preset: "soft-delete", options: {column: "body"})', "INVALID_PRESET_OPTION"),
        (
            '@wes_rls(preset: "time-window", options: {start: "body", end: "body"})',
            "INVALID_PRESET_OPTION",
        ),
        ('@wes_rls(preset: "admin-only", options: {adminRoles: [1]})', "INVALID_PRESET_OPTION"),
        (
            '@wes_rls(preset: "hierarchical", options: {column: "orgId", membership: "Nope"})',
            "MEMBERSHIP_TABLE_MISSING",
        ),
        ('@wes_rls(select: "tenant")', "TENANT_FIELD_MISSING"),
        ('@wes_rls(update: "owner_only")', "OWNER_COLUMN_MISSING"),
        ('@wes_rls(select: "tenant_or_whatever")', "UNKNOWN_COLUMN"),
        ('@wes_rls(using: "owner_only")', "UNKNOWN_POLICY_KEYWORD"),
    ],
)
def test_bad_preset_arguments_are_coded_errors_at_the_directive(text: str, code: str) -> None:
    sdl = PARENTS + f"type T @wes_table {text} {{ id: ID! @wes_pk orgId: ID! body: String! }}"
    with pytest.raises(WesleyError) as err:
        parse_sdl(sdl, "s.graphql")
    assert err.value.code == code, err.value
    assert err.value.location is not None and err.value.location.line == 8  # the type's line
    assert err.value.hint


def test_keywords_and_upstream_option_names_map_to_the_same_rules() -> None:
    by_keyword = ir_of(
        'type T @wes_table @wes_owner(column: "authorId") @wes_rls(select: "owner_only", '
        'insert: "owner_only", update: "owner_only", delete: "owner_only") '
        "{ id: ID! @wes_pk authorId: ID! }"
    ).table("t")
    by_preset = ir_of(PRESETS["public-read"].replace("public-read", "owner")).table("t")
    assert by_keyword is not None and by_preset is not None
    rules = {(p.command, p.using, p.check) for p in by_keyword.policies}
    owner = next(p for p in by_preset.policies if p.name == "t_owner")
    assert {(c, owner.using) for c in ("SELECT", "DELETE")} <= {(c, u) for c, u, _ in rules}


def test_adding_a_preset_is_a_planned_lock_explained_change() -> None:
    v1 = ir_of(PRESETS["soft-delete"].replace(' @wes_rls(preset: "soft-delete")', ""))
    v2 = ir_of(PRESETS["soft-delete"])
    assert ir_hash(v1) != ir_hash(v2)
    plan = build_plan(v1, v2)
    created = [s for s in plan.steps if s.op == "create_policy"]
    assert {s.why for s in created} >= {
        "policy t_soft_delete_select (SELECT)",
        "policy t_soft_delete_delete (DELETE)",
    }
    for step in created:
        assert step.phase == "switch"
        assert [(lk.relation, lk.mode) for lk in step.locks] == [("t", "ACCESS EXCLUSIVE")]
    assert not [s for s in build_plan(v2, v2).steps]


def test_presets_round_trip_through_the_database(pg_dsn: str) -> None:
    """What PostgreSQL stores of every preset's policies is what the IR says: the plan from
    the built database is empty."""
    text = "\n".join(t.replace("type T ", f"type T{i} ") for i, t in enumerate(PRESETS.values()))
    ir = ir_of(text)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        build(ir, conn)
        from wesley.db.introspect import introspect

        live = introspect(conn)
    assert [s.sql for s in build_plan(live, ir).steps if s.op != "ensure_helpers"] == []


def test_upstream_multi_tenant_probes_pass(pg_dsn: str) -> None:
    if canonical_name("email") is None:
        pytest.skip("@email (issue 15b's refinements) is not in the registry yet")
    ir = parse_sdl((FIXTURES / "multi-tenant.graphql").read_text(encoding="utf-8")).ir
    result = suite(ir, pg_dsn)
    assert result.ok, result.failures
    assert sum("RLS api_key (keywords)" in ln for ln in result.tap.splitlines()) == 25


def test_upstream_multi_tenant_rehearses_to_pass(capsys: pytest.CaptureFixture[str]) -> None:
    if canonical_name("email") is None:
        pytest.skip("@email (issue 15b's refinements) is not in the registry yet")
    result = cli(
        capsys,
        "rehearse",
        "--schema",
        str(FIXTURES / "multi-tenant.graphql"),
        "--fresh",
        "--json",
    )
    assert result.code == 0, result.stdout[-3000:] + result.stderr
    realm = json.loads(result.stdout)["realm"]
    assert realm["verdict"] == "PASS" and realm["replan_empty"] is True


@pytest.mark.parametrize("preset", ["owner", "soft-delete", "hierarchical", "keywords"])
def test_probes_pass_run_by_the_tables_owner_that_is_no_superuser(preset: str, pg_dsn: str) -> None:
    """FORCE row-level security applies to the tables' owner: the probe rows are inserted
    under each side's own settings, so the rules let them in."""
    ir = ir_of(PRESETS[preset])
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        db = conn.info.dbname
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgtap")
        conn.execute("CREATE ROLE wesley_owner_runner NOSUPERUSER CREATEROLE NOBYPASSRLS")
        conn.execute(f'GRANT CREATE ON DATABASE "{db}" TO wesley_owner_runner')
        conn.execute("GRANT CREATE ON SCHEMA public TO wesley_owner_runner")
        # the probe grants the admin roles to its admin: PostgreSQL >= 16 lets a role that is
        # no superuser grant only roles it has ADMIN OPTION on
        conn.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') "
            "THEN CREATE ROLE service_role NOLOGIN; END IF; END $$"
        )
        conn.execute("GRANT service_role TO wesley_owner_runner WITH ADMIN OPTION")
        conn.execute("SET ROLE wesley_owner_runner")
        try:
            apply_script(conn, postgres(ir)[0].text, "schema.sql")
            apply_script(conn, rls(ir)[0].text, "rls.sql")
            result = run_suite(conn, pgtap(ir)[0].text)
        finally:
            conn.execute("RESET ROLE")
            conn.execute("DROP OWNED BY wesley_owner_runner CASCADE")
            conn.execute("DROP ROLE wesley_owner_runner")
    assert result.ok, result.failures
