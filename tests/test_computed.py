"""`@wes_computed`: values triggers maintain (an expression over the row, a count of referring
rows), proven on PostgreSQL: rows inserted, updated, moved and deleted read back the right
values; the pgTAP suite inserts and reads back; the plan adds them to existing tables with a
batched backfill and re-plans empty."""

from __future__ import annotations

import psycopg
import pytest

from tests.plan_apply import apply_plan
from tests.schemas_refined import COMPUTED_SDL as SDL
from wesley.db.apply import apply_script
from wesley.db.introspect import introspect
from wesley.db.pgtap import run_suite
from wesley.errors import WesleyError
from wesley.ir import IR
from wesley.plan.build import build_plan
from wesley.sdl import parse_sdl
from wesley.targets.pgtap import pgtap
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls


def _ir(extra: str = "", sdl: str = SDL) -> IR:
    return parse_sdl(sdl.replace("EXTRA", extra), "blog.graphql").ir


def _build(conn: psycopg.Connection[tuple[object, ...]], ir: IR) -> None:
    apply_script(conn, postgres(ir)[0].text, "schema.sql")
    apply_script(conn, rls(ir)[0].text, "rls.sql")


def test_values_follow_the_rows(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        _build(conn, _ir())
        org = conn.execute("INSERT INTO org (name) VALUES ('o') RETURNING id").fetchone()
        assert org is not None
        conn.execute(f"SET app.tenant_id = '{org[0]}'")
        a, b = (
            conn.execute(
                "INSERT INTO post (org_id, title, slug, comment_count) "
                "VALUES (%s, %s, 'ignored', 99) RETURNING id",
                (org[0], title),
            ).fetchone()
            for title in ("Hello World", "Other")
        )
        assert a is not None and b is not None
        row = conn.execute(
            "SELECT slug, comment_count, touched IS NOT NULL FROM post WHERE id = %s", a
        ).fetchone()
        assert row == ("hello-world", 0, True)  # the application's values are overruled
        for _ in range(3):
            conn.execute("INSERT INTO comment (post_id) VALUES (%s)", a)
        conn.execute("INSERT INTO comment (post_id) VALUES (%s)", b)
        counts: dict[object, object] = dict(
            conn.execute("SELECT title, comment_count FROM post").fetchall()
        )
        assert counts == {"Hello World": 3, "Other": 1}
        conn.execute(
            "UPDATE comment SET post_id = %s WHERE id = (SELECT id FROM comment WHERE post_id = "
            "%s LIMIT 1)",
            (b[0], a[0]),
        )
        conn.execute(
            "DELETE FROM comment WHERE post_id = %s AND body IS NULL AND id = "
            "(SELECT id FROM comment WHERE post_id = %s LIMIT 1)",
            (b[0], b[0]),
        )
        conn.execute("UPDATE post SET title = 'New Title' WHERE id = %s", a)
        got = conn.execute("SELECT slug, comment_count FROM post ORDER BY title").fetchall()
        assert got == [("new-title", 2), ("other", 1)]
        real = conn.execute(
            "SELECT p.comment_count, (SELECT count(*) FROM comment c WHERE c.post_id = p.id) "
            "FROM post p"
        ).fetchall()
        assert all(x == y for x, y in real)


def test_pgtap_inserts_and_reads_back(pg_dsn: str) -> None:
    ir = _ir()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        _build(conn, ir)
        result = run_suite(conn, pgtap(ir)[0].text)
    assert result.failed == 0, result.failures
    assert result.skipped == 0
    lines = result.tap.splitlines()
    for needle in (
        "post.slug is computed on insert",
        "post.touched is computed on insert",
        "post.comment_count starts at 0",
        "post.comment_count counts the rows inserted",
        "post.comment_count counts the rows deleted",
    ):
        assert any(needle in ln and ln.startswith("ok") for ln in lines), needle


def test_pgtap_fails_without_the_triggers(pg_dsn: str) -> None:
    ir = _ir()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        _build(conn, ir)
        conn.execute("DROP TRIGGER post_comment_count_count ON comment")
        conn.execute("DROP TRIGGER post_slug_compute ON post")
        result = run_suite(conn, pgtap(ir)[0].text)
    failed = " ".join(ln for ln in result.tap.splitlines() if ln.startswith("not ok"))
    assert "post.slug is computed on insert" in failed
    assert "post.comment_count counts the rows inserted" in failed


def test_introspection_reads_them_back_and_replans_empty(pg_dsn: str) -> None:
    ir = _ir()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        _build(conn, ir)
        have = introspect(conn)
    post = have.table("post")
    assert post is not None
    slug, count = post.column("slug"), post.column("comment_count")
    assert slug is not None and slug.computed is not None and slug.computed.kind == "expr"
    assert count is not None and count.computed is not None
    assert (count.computed.table, count.computed.column) == ("comment", "post_id")
    plan = build_plan(have, ir)
    assert plan.steps == [], [s.sql for s in plan.steps]


def test_adding_computed_columns_to_existing_tables(pg_dsn: str) -> None:
    plain = SDL.replace(" @wes_computed(expr: \"lower(replace(title, ' ', '-'))\")", "")
    plain = plain.replace(' @computed(expr: "now()")', "").replace(
        ' @wes_computed(count: "Comment.postId")', " @wes_default(value: 0)"
    )
    old, new = _ir(sdl=plain), _ir()
    assert old.table("post").column("slug").computed is None  # type: ignore[union-attr]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        _build(conn, old)
        org = conn.execute("INSERT INTO org (name) VALUES ('o') RETURNING id").fetchone()
        assert org is not None
        for i in range(5):
            post = conn.execute(
                "INSERT INTO post (org_id, title, slug) VALUES (%s, %s, 'x') RETURNING id",
                (org[0], f"Post {i}"),
            ).fetchone()
            for _ in range(i):
                conn.execute("INSERT INTO comment (post_id) VALUES (%s)", post)
        plan = build_plan(
            introspect(conn), new, batch_size=2, server_version=conn.info.server_version
        )
        assert not plan.destructive and not plan.blocked
        ops = [s.op for s in plan.steps]
        assert "create_trigger" in ops and "backfill" in ops
        apply_plan(conn, plan, observe=True)  # locks as predicted, step by step
        rows = conn.execute("SELECT title, slug, comment_count FROM post ORDER BY title").fetchall()
        assert rows == [(f"Post {i}", f"post-{i}", i) for i in range(5)]
        assert build_plan(introspect(conn), new).steps == []
        # and taking it away drops the triggers: values stay as they are
        back = build_plan(introspect(conn), old)
        assert {s.op for s in back.steps} >= {"drop_trigger"}
        apply_plan(conn, back)
        conn.execute("INSERT INTO comment (post_id) SELECT id FROM post LIMIT 1")
        assert build_plan(introspect(conn), old).steps == []


@pytest.mark.parametrize(
    ("extra", "code", "needle"),
    [
        ('x: Int @wes_computed(expr: "1", count: "Comment.postId")', "INVALID_ARGUMENT", "one of"),
        ("x: Int @wes_computed", "INVALID_ARGUMENT", "one of"),
        ('x: Int @wes_computed(count: "Comment.nope")', "UNKNOWN_COLUMN", "Comment.nope"),
        ('x: Int @wes_computed(count: "Comment.body")', "INVALID_ARGUMENT", "not a foreign key"),
        ('x: String @wes_computed(count: "Comment.postId")', "INVALID_ARGUMENT", "Int or BigInt"),
        ('x: Int @wes_computed(expr: "nope + 1")', "UNKNOWN_COLUMN", "nope"),
        ('x: Int @wes_computed(expr: "(SELECT 1)")', "INVALID_EXPRESSION", "subquery"),
        (
            'x: DateTime @wes_computed(expr: "now()") @wes_updatedAt',
            "INVALID_ARGUMENT",
            "@wes_updatedAt",
        ),
    ],
)
def test_bad_arguments_are_coded_errors(extra: str, code: str, needle: str) -> None:
    with pytest.raises(WesleyError) as info:
        _ir(extra)
    assert info.value.code == code, info.value.message
    assert needle in info.value.message
    assert info.value.location is not None
