"""rls.sql applies, re-applies, and isolates tenants for a non-superuser session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from tests.helpers import REPO, UPSTREAM
from wesley.db.apply import apply_script
from wesley.ir import IR
from wesley.sdl import parse_sdl
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls

TEMPLATE = REPO / "src" / "wesley" / "templates" / "schema.graphql"
A, B = str(uuid.uuid4()), str(uuid.uuid4())


def build(ir: IR, conn: psycopg.Connection[tuple[object, ...]]) -> None:
    apply_script(conn, postgres(ir)[0].text, "schema.sql")
    script = rls(ir)[0].text
    apply_script(conn, script, "rls.sql")
    apply_script(conn, script, "rls.sql (again)")  # re-applying is harmless


@contextmanager
def as_app(conn: psycopg.Connection[tuple[object, ...]], **settings: str) -> Iterator[None]:
    """A non-superuser session: RLS applies to it (a superuser bypasses RLS)."""
    conn.execute("SET ROLE wesley_app")
    for key, value in settings.items():
        conn.execute("SELECT set_config(%s, %s, false)", (key.replace("__", "."), value))
    try:
        yield
    finally:
        conn.execute("RESET ROLE")
        for key in settings:
            conn.execute("SELECT set_config(%s, '', false)", (key.replace("__", "."),))


def grant_app(conn: psycopg.Connection[tuple[object, ...]], tables: list[str]) -> None:
    conn.execute("DROP ROLE IF EXISTS wesley_app")
    conn.execute("CREATE ROLE wesley_app NOLOGIN NOSUPERUSER NOBYPASSRLS")
    for t in tables:
        conn.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON "{t}" TO wesley_app')


@pytest.fixture
def tenant_db(pg_dsn: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    ir = parse_sdl(TEMPLATE.read_text(encoding="utf-8")).ir
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        build(ir, conn)
        grant_app(conn, ["org", "member"])
        for org in (A, B):
            conn.execute("INSERT INTO org (id, name) VALUES (%s, %s)", (org, f"org {org}"))
            conn.execute(
                "INSERT INTO member (org_id, email) VALUES (%s, %s)", (org, f"m@{org}.test")
            )
        yield conn
        conn.execute("RESET ROLE")
        conn.execute("DROP OWNED BY wesley_app")
        conn.execute("DROP ROLE wesley_app")


def test_tenant_sees_only_its_rows(tenant_db: psycopg.Connection[tuple[object, ...]]) -> None:
    with as_app(tenant_db, app__tenant_id=A):
        rows = tenant_db.execute("SELECT org_id::text FROM member").fetchall()
    assert rows == [(A,)]


def test_no_tenant_sees_nothing(tenant_db: psycopg.Connection[tuple[object, ...]]) -> None:
    with as_app(tenant_db):
        assert tenant_db.execute("SELECT count(*) FROM member").fetchone() == (0,)


def test_tenant_cannot_write_other_tenants_rows(
    tenant_db: psycopg.Connection[tuple[object, ...]],
) -> None:
    with as_app(tenant_db, app__tenant_id=A):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            tenant_db.execute("INSERT INTO member (org_id, email) VALUES (%s, 'x@b.test')", (B,))
        cur = tenant_db.execute("UPDATE member SET email = 'hacked@b.test' WHERE org_id = %s", (B,))
        assert cur.rowcount == 0
        cur = tenant_db.execute("DELETE FROM member WHERE org_id = %s", (B,))
        assert cur.rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            tenant_db.execute("UPDATE member SET org_id = %s WHERE org_id = %s", (B, A))
        tenant_db.execute("INSERT INTO member (org_id, email) VALUES (%s, 'new@a.test')", (A,))
    # as the superuser again: B's row is untouched, A's insert happened
    assert tenant_db.execute("SELECT email FROM member WHERE org_id = %s", (B,)).fetchall() == [
        (f"m@{B}.test",)
    ]
    assert tenant_db.execute("SELECT count(*) FROM member WHERE org_id = %s", (A,)).fetchone() == (
        2,
    )


def test_upstream_auth_uid_policies(pg_dsn: str) -> None:
    """schema.graphql's Post uses Supabase's auth.uid(): the shim makes it work on plain PG."""
    ir = parse_sdl((UPSTREAM / "schema.graphql").read_text(encoding="utf-8")).ir
    u1, u2 = str(uuid.uuid4()), str(uuid.uuid4())
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        build(ir, conn)
        grant_app(conn, ["user", "post"])
        for u in (u1, u2):
            conn.execute(
                'INSERT INTO "user" (id, email, password_hash) VALUES (%s, %s, %s)',
                (u, f"{u}@x.test", "x" * 60),
            )
        conn.execute("INSERT INTO post (user_id, title) VALUES (%s, 'by u2')", (u2,))
        with as_app(conn, request__jwt__claim__sub=u1):
            conn.execute("INSERT INTO post (user_id, title) VALUES (%s, 'mine')", (u1,))
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("INSERT INTO post (user_id, title) VALUES (%s, 'forged')", (u2,))
            assert conn.execute("SELECT count(*) FROM post").fetchone() == (2,)  # select: true
            cur = conn.execute("DELETE FROM post WHERE user_id = %s", (u2,))
            assert cur.rowcount == 0
        conn.execute("DROP OWNED BY wesley_app")
        conn.execute("DROP ROLE wesley_app")


@pytest.mark.parametrize("path", [TEMPLATE, UPSTREAM / "schema.graphql"], ids=lambda p: p.name)
def test_policies_in_the_database_equal_the_ir(path: object, pg_dsn: str) -> None:
    from pathlib import Path

    from tests.schema_compare import assert_database_matches
    from wesley.db.introspect import introspect

    assert isinstance(path, Path)
    ir = parse_sdl(path.read_text(encoding="utf-8")).ir
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        build(ir, conn)
        assert_database_matches(ir, introspect(conn), policies=True)


def test_tables_without_rls_get_nothing() -> None:
    ir = parse_sdl((UPSTREAM / "ecommerce.graphql").read_text(encoding="utf-8")).ir
    text = rls(ir)[0].text
    assert "POLICY" not in text and "ROW LEVEL SECURITY" not in text
