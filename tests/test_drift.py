"""`wesley drift --dsn`: a live database against the schema, every object kind, Markdown and
JSON; exit 0 when equal, 5 (DRIFT) naming every difference when not."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from tests.helpers import cli
from wesley.db.apply import apply_script
from wesley.sdl import parse_sdl
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls

SCHEMA = """
enum Role { OWNER MEMBER }

type Org @wes_table {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  name: String! @wes_unique
  plan: String @wes_default(value: "free") @wes_check(expr: "plan <> ''")
}

type Member @wes_table @wes_tenant(by: "orgId") @wes_index(columns: ["orgId", "email"]) {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  orgId: ID! @wes_fk(ref: "Org.id", onDelete: CASCADE)
  email: String!
  role: Role! @wes_default(value: "MEMBER")
  note: String
}
"""

# one change per object kind, and the line drift must print for it
CASES: list[tuple[str, str, list[str]]] = [
    ("extra_table", "CREATE TABLE audit (id int)", ["extra table audit (1 columns)"]),
    ("missing_table", "DROP TABLE member", ["missing table member (5 columns)"]),
    ("extra_column", "ALTER TABLE org ADD COLUMN x int", ["extra column org.x (integer)"]),
    (
        "missing_column",
        "ALTER TABLE member DROP COLUMN note",
        ["missing column member.note (text)"],
    ),
    (
        "type",
        "ALTER TABLE member ALTER COLUMN note TYPE varchar(10)",
        ["changed type of member.note: expected text, found varchar(10)"],
    ),
    (
        "nullable",
        "ALTER TABLE member ALTER COLUMN note SET NOT NULL",
        ["changed nullable of member.note: expected NULL, found NOT NULL"],
    ),
    (
        "default",
        "ALTER TABLE org ALTER COLUMN plan SET DEFAULT 'pro'",
        ["changed default of org.plan: expected 'free', found 'pro'"],
    ),
    (
        "enum",
        "ALTER TYPE role ADD VALUE 'GUEST'",
        ["changed enum of public.role: expected OWNER, MEMBER, found OWNER, MEMBER, GUEST"],
    ),
    (
        "unique",
        "ALTER TABLE org DROP CONSTRAINT org_name_key",
        ["missing unique org.org_name_key ((name))"],
    ),
    (
        "check",
        "ALTER TABLE org DROP CONSTRAINT org_plan_check, "
        "ADD CONSTRAINT org_plan_check CHECK (plan <> 'x')",
        ["changed check of org.org_plan_check: expected plan <> '', found plan <> 'x'"],
    ),
    (
        "foreign_key",
        "ALTER TABLE member DROP CONSTRAINT member_org_id_fkey, ADD CONSTRAINT "
        "member_org_id_fkey FOREIGN KEY (org_id) REFERENCES org (id)",
        [
            "changed foreign_key of member.member_org_id_fkey: expected (org_id) -> org(id) "
            "ON DELETE CASCADE ON UPDATE NO ACTION, found (org_id) -> org(id) ON DELETE NO "
            "ACTION ON UPDATE NO ACTION"
        ],
    ),
    (
        "index",
        "DROP INDEX member_org_id_email_idx; CREATE INDEX by_hand ON member (email)",
        [
            "missing index member.member_org_id_email_idx (USING btree (org_id, email))",
            "extra index member.by_hand (USING btree (email))",
        ],
    ),
    (
        "primary_key",
        "ALTER TABLE org DROP CONSTRAINT org_pkey CASCADE",
        [
            "missing primary_key org ((id))",
            "missing foreign_key member.member_org_id_fkey (...)",
        ],
    ),
    (
        "rls",
        "ALTER TABLE member NO FORCE ROW LEVEL SECURITY",
        ["changed rls of member: expected enabled, forced, found enabled"],
    ),
    (
        "policy",
        "DROP POLICY member_tenant ON member",
        ["missing policy member.member_tenant (...)"],
    ),
    (
        "comment",
        "COMMENT ON COLUMN member.email IS 'wesley:uid=col:member.mail'",
        [
            "changed comment of member.email: expected uid col:member.email, found uid "
            "col:member.mail"
        ],
    ),
]


def _build(dsn: str) -> None:
    ir = parse_sdl(SCHEMA).ir
    with psycopg.connect(dsn, autocommit=True) as conn:
        apply_script(conn, postgres(ir)[0].text, "schema.sql")
        apply_script(conn, rls(ir)[0].text, "rls.sql")


def _line_matches(got: str, want: str) -> bool:
    return got == want or (want.endswith("(...)") and got.startswith(want[:-5]))


def test_equal_database_exits_0(pg_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    Path("schema.graphql").write_text(SCHEMA)
    _build(pg_dsn)
    r = cli(capsys, "drift", "--dsn", pg_dsn, "--schema", "schema.graphql", "--report", "d.md")
    assert r.code == 0, r.stdout + r.stderr
    assert "No drift" in r.stdout and "No drift" in Path("d.md").read_text()
    r = cli(capsys, "--json", "drift", "--dsn", pg_dsn, "--schema", "schema.graphql")
    assert r.code == 0 and r.json()["equal"] is True and r.json()["drift"] == []


@pytest.mark.parametrize(("sql", "lines"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_kind_of_drift_is_named(
    sql: str, lines: list[str], pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("schema.graphql").write_text(SCHEMA)
    _build(pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.encode())
    r = cli(capsys, "--json", "drift", "--dsn", pg_dsn, "--schema", "schema.graphql")
    assert r.code == 5, r.stdout + r.stderr
    err = r.json()["error"]
    assert err["code"] == "DRIFT"
    got = [d["text"] for d in err["details"]["drift"]]
    assert len(got) == len(lines), got
    for want in lines:
        assert any(_line_matches(g, want) for g in got), (want, got)
    r = cli(capsys, "drift", "--dsn", pg_dsn, "--schema", "schema.graphql")
    assert r.code == 5 and "error[DRIFT]" in r.stderr
    assert "| change | kind | object | schema | database |" in r.stdout


def test_against_the_last_deploy(pg_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    Path("schema.graphql").write_text(SCHEMA)
    _build(pg_dsn)
    r = cli(capsys, "drift", "--dsn", pg_dsn, "--deployed")
    assert r.code == 2 and "error[NOTHING_DEPLOYED]" in r.stderr
    assert cli(capsys, "baseline", "--dsn", pg_dsn, "--schema", "schema.graphql").code == 0
    # the schema moves on; the database is still what was deployed
    Path("schema.graphql").write_text(SCHEMA.replace("note: String", "note: String!"))
    assert cli(capsys, "drift", "--dsn", pg_dsn, "--deployed").code == 0
    r = cli(capsys, "drift", "--dsn", pg_dsn, "--schema", "schema.graphql")
    assert r.code == 5 and "changed nullable of member.note" in r.stderr


def test_deploy_reports_drift_from_the_last_deploy_before_running(
    pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("schema.graphql").write_text(SCHEMA)
    _build(pg_dsn)
    assert cli(capsys, "baseline", "--dsn", pg_dsn, "--schema", "schema.graphql").code == 0
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE INDEX by_hand ON member (email)")
    Path("schema.graphql").write_text(SCHEMA.replace("note: String", "note: String\n  x: Int"))
    r = cli(
        capsys, "--json", "deploy", "--dsn", pg_dsn, "--env", "dev", "--schema", "schema.graphql",
        "--force",
    )  # fmt: skip
    assert r.code == 0, r.stdout + r.stderr
    assert r.json()["drift"] == ["extra index member.by_hand (USING btree (email))"]
    line = "drift before deploy (from .wesley/deployed.json): extra index member.by_hand"
    assert line in r.stderr
    # reported before the first step ran
    assert r.stderr.index(line) < r.stderr.index("x")
    with psycopg.connect(pg_dsn) as conn:  # and the deploy went on: the new column is there
        assert conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'member' "
            "AND column_name = 'x'"
        ).fetchone()


def test_rehearse_reports_drift_of_a_given_shadow(
    pg_dsn: str, pg_bin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("old.graphql").write_text(SCHEMA)
    Path("schema.graphql").write_text(SCHEMA.replace("note: String", "note: String\n  x: Int"))
    _build(pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE org ALTER COLUMN plan SET DEFAULT 'pro'")
    r = cli(
        capsys, "--json", "rehearse", "--dsn", pg_dsn, "--from", "old.graphql",
        "--schema", "schema.graphql",
    )  # fmt: skip
    # the drift is still there after the plan, so the rehearsal fails (DRIFT_AFTER_PLAN);
    # the note said why before anything ran
    assert r.code == 13 and r.json()["error"]["code"] == "DRIFT_AFTER_PLAN"
    notes = r.json()["error"]["details"]["realm"]["notes"]
    assert any(
        "pre-existing drift in the shadow database" in n
        and "changed default of org.plan: expected 'free', found 'pro'" in n
        for n in notes
    ), notes


def test_grants_missing_and_extra(pg_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    role = f"wes_reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role}".encode())
    try:
        schema = SCHEMA.replace(
            "type Org @wes_table {", f'type Org @wes_table @wes_grant(roles: ["{role}"]) {{'
        ).replace("  email: String!", f'  email: String! @wes_grant(roles: ["{role}"])')
        Path("schema.graphql").write_text(schema)
        ir = parse_sdl(schema).ir
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            apply_script(conn, postgres(ir)[0].text, "schema.sql")
            apply_script(conn, rls(ir)[0].text, "rls.sql")
        assert cli(capsys, "drift", "--dsn", pg_dsn, "--schema", "schema.graphql").code == 0
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f"REVOKE DELETE ON org FROM {role}".encode())
            conn.execute(f"GRANT SELECT ON member TO {role}".encode())
        r = cli(capsys, "--json", "drift", "--dsn", pg_dsn, "--schema", "schema.graphql")
        assert r.code == 5
        got = sorted(d["text"] for d in r.json()["error"]["details"]["drift"])
        assert got == [
            f"changed grant of org: expected {role}: DELETE, INSERT, SELECT, UPDATE, "
            f"found {role}: INSERT, SELECT, UPDATE",
            f"extra grant member ({role}: SELECT)",
        ]
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}".encode())
            conn.execute(f"DROP ROLE {role}".encode())
