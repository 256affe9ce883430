"""Hardening (issue 12) of the SQL Wesley sends: literals on a database where
standard_conforming_strings is off (item 2), an index name holding a double quote in the
executor (item 12), and rehearsing as a non-superuser with CREATEROLE (item 13)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.helpers import cli
from tests.lifecycle import ok, wes
from wesley.db.cluster import create_database, drop_database, find_pg_bindir
from wesley.db.session import connect, run_one

# The uid goes into COMMENT ON ... IS '...' and into the comment step's guard. With
# standard_conforming_strings off, `\'` is an escaped quote: the literal ends one quote later
# and `CREATE TABLE pwned ()` runs as SQL.
UID = "x\\'; CREATE TABLE pwned (); --"
# and a backslash in a default would be read as an escape: C:<newline>ew<tab>able
DEFAULT = "C:\\new\\table"
EVIL = """
type A @wes_table @wes_uid(value: "UID") {
  id: ID! @wes_pk
  note: String @wes_default(value: "DEFAULT")
}
""".replace("UID", UID.replace("\\", "\\\\")).replace("DEFAULT", DEFAULT.replace("\\", "\\\\"))


def _dbname(dsn: str) -> str:
    return str(conninfo_to_dict(dsn)["dbname"])


@pytest.fixture
def scs_off(pg_admin_dsn: str, pg_dsn: str) -> str:
    """A database whose sessions start with standard_conforming_strings = off."""
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET standard_conforming_strings = off").format(
                sql.Identifier(_dbname(pg_dsn))
            )
        )
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SHOW standard_conforming_strings").fetchone() == ("off",)
    return pg_dsn


def _relation(dsn: str, name: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


def _stored_values(dsn: str) -> tuple[str | None, str | None]:
    """The table comment and the note column's default, as stored."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        comment = conn.execute("SELECT obj_description('a'::regclass, 'pg_class')").fetchone()
        conn.execute("INSERT INTO a (id) VALUES (gen_random_uuid())")
        note = conn.execute("SELECT note FROM a").fetchone()
    assert comment is not None and note is not None
    return comment[0], note[0]


def _psql(dsn: str, *files: str) -> subprocess.CompletedProcess[str]:
    args = [str(find_pg_bindir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn]
    for f in files:
        args += ["-f", f]
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=60)


def test_generated_sql_applied_with_psql_on_a_database_with_scs_off(scs_off: str) -> None:
    Path("schema.graphql").write_text(EVIL, encoding="utf-8")
    ok("transform", "--quiet")
    schema = Path("out/schema.sql").read_text()
    for name in ("schema.sql", "rls.sql", "tests.sql"):
        first = next(
            line for line in Path("out", name).read_text().splitlines() if not line.startswith("--")
        )
        assert first == "SET standard_conforming_strings = on;", (name, first)
    # the attack is real: the same file without its first statement runs the injected SQL
    Path("unsafe.sql").write_text(schema.replace("SET standard_conforming_strings = on;\n", ""))
    _psql(scs_off, "unsafe.sql")
    assert _relation(scs_off, "pwned"), "the attack did not reproduce"
    with psycopg.connect(scs_off, autocommit=True) as conn:
        conn.execute("DROP TABLE pwned")
        conn.execute("DROP TABLE IF EXISTS a")
    # Wesley's own files: the literal stays a literal
    applied = _psql(scs_off, "out/schema.sql", "out/rls.sql")
    assert applied.returncode == 0, applied.stderr
    assert not _relation(scs_off, "pwned")
    assert _stored_values(scs_off) == (f"wesley:uid={UID}", DEFAULT)


def test_rehearse_on_a_shadow_database_with_scs_off(scs_off: str) -> None:
    Path("schema.graphql").write_text(EVIL, encoding="utf-8")
    result = wes("rehearse", "--fresh", "--dsn", scs_off, "--json")
    assert result.code == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["realm"]["verdict"] == "PASS"
    assert not _relation(scs_off, "pwned"), "a guard or step ran the injected SQL"
    assert _stored_values(scs_off) == (f"wesley:uid={UID}", DEFAULT)
    # the guard that carried the attack: sent as Wesley sends it (a Wesley session, one
    # statement, extended protocol) it is one harmless query; sent the old way (a plain
    # session with the database's setting, simple protocol) it runs the injected statement
    plan = json.loads(Path(".wesley/plan.json").read_text())
    guard = next(s["guard"] for s in plan["steps"] if s["op"] == "comment" and s["column"] is None)
    with connect(scs_off) as conn:
        assert run_one(conn, guard).fetchone() == (True,)
    assert not _relation(scs_off, "pwned")
    with psycopg.connect(scs_off, autocommit=True) as conn:
        conn.execute(guard.encode())
    assert _relation(scs_off, "pwned"), "the old way should have been vulnerable"


def test_one_statement_means_one(scs_off: str) -> None:
    with connect(scs_off) as conn:
        assert conn.execute("SHOW standard_conforming_strings").fetchone() == ("on",)
        with pytest.raises(psycopg.errors.SyntaxError, match="multiple commands"):
            run_one(conn, "SELECT 1; CREATE TABLE pwned ()")
        assert run_one(conn, "SELECT %s::text", ("it's \\ fine",)).fetchone() == ("it's \\ fine",)
    assert not _relation(scs_off, "pwned")


# ---- item 12: an index name with a double quote ------------------------------------------

V1 = "type A @wes_table {\n  id: ID! @wes_pk\n  n: Int\n}\n"
V2 = V1.replace("n: Int", 'n: Int @wes_index(name: "my\\"idx", unique: true)')


def test_index_name_with_a_double_quote_and_an_invalid_leftover(pg_dsn: str) -> None:
    Path("v1.graphql").write_text(V1)
    Path("v2.graphql").write_text(V2)
    ok("rehearse", "--schema", "v1.graphql", "--fresh", "--dsn", pg_dsn, "--quiet")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        # a failed concurrent build (duplicates) leaves an INVALID index of that very name
        conn.execute("INSERT INTO a (id, n) SELECT gen_random_uuid(), 1 FROM generate_series(1, 2)")
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute('CREATE UNIQUE INDEX CONCURRENTLY "my""idx" ON a (n)')
        conn.execute("DELETE FROM a")
        invalid = conn.execute(
            'SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(\'"my""idx"\')'
        ).fetchone()
        assert invalid == (True,)
    result = wes("rehearse", "--schema", "v2.graphql", "--from", "v1.graphql", "--dsn", pg_dsn)
    assert result.code == 0, result.stdout + result.stderr
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        valid = conn.execute(
            "SELECT indisvalid, indisunique FROM pg_index "
            'WHERE indexrelid = to_regclass(\'"my""idx"\')'
        ).fetchone()
    assert valid == (True, True)


# ---- item 13: a non-superuser with CREATEROLE --------------------------------------------

TENANT = """
type Org @wes_table { id: ID! @wes_pk }
type Doc @wes_table @wes_tenant(by: "orgId") {
  id: ID! @wes_pk
  orgId: ID! @wes_fk(ref: "Org.id")
  body: String
}
"""


@pytest.fixture
def own_database(pg_admin_dsn: str) -> Iterator[tuple[str, str, str]]:
    """(admin DSN to it, a role's DSN, the role): a database owned by a new login role without
    SUPERUSER; pgTAP installed by the admin (it is not a trusted extension)."""
    role, name = f"wesley_r_{uuid.uuid4().hex[:10]}", f"wesley_t_{uuid.uuid4().hex[:16]}"
    admin = create_database(pg_admin_dsn, name)
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(name), sql.Identifier(role)
            )
        )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pgtap")
    try:
        yield admin, make_conninfo(admin, user=role), role
    finally:
        drop_database(pg_admin_dsn, name)
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_rehearse_as_a_createrole_non_superuser(
    own_database: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    admin, dsn, role = own_database
    Path("schema.graphql").write_text(TENANT)
    # without CREATEROLE: said before anything is built or applied
    result = cli(capsys, "rehearse", "--fresh", "--dsn", dsn, "--json")
    assert result.code == 13, result.stdout
    error = result.json()["error"]
    assert error["code"] == "PRIVILEGE_MISSING", error
    assert f"role {role} has neither CREATEROLE nor SUPERUSER" in error["message"]
    realm = json.loads(Path(".wesley/realm.json").read_text())
    assert realm["steps"] == []
    assert not _relation(admin, "doc")
    # with CREATEROLE (PostgreSQL 15 does not make it a member of the roles it creates)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} CREATEROLE").format(sql.Identifier(role)))
    result = cli(capsys, "rehearse", "--fresh", "--dsn", dsn, "--json")
    assert result.code == 0, result.stdout
    realm = result.json()["realm"]
    assert realm["verdict"] == "PASS"
    assert any(
        "RLS doc: tenant A cannot see tenant B rows" in line
        for line in realm["tests"]["tap"].splitlines()
    )
    with psycopg.connect(admin, autocommit=True) as conn:  # the probe role was rolled back
        assert conn.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname = 'wesley_rls_probe'"
        ).fetchone() == (0,)
