"""`rehearse --seed-rows N`: set-based seeding (generate_series chunks, not a row per INSERT),
the true row counts reported, and a word when it does nothing."""

from __future__ import annotations

import psycopg

from tests.helpers import UPSTREAM
from tests.lifecycle import ir_of, ok
from wesley.db.apply import apply_script
from wesley.db.seed import seed_rows
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls

BLADE_V1, BLADE_V2 = str(UPSTREAM / "blade-v1.graphql"), str(UPSTREAM / "blade-v2.graphql")


def _counts(dsn: str, tables: list[str]) -> dict[str, int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        out = {}
        for t in tables:
            row = conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()
            assert row is not None
            out[t] = int(row[0])
        return out


def test_seeding_is_set_based_and_counts_true_rows(pg_dsn: str) -> None:
    ir = ir_of(UPSTREAM / "ecommerce-v2.graphql")
    chunks: list[tuple[str, int, int]] = []
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        apply_script(conn, postgres(ir)[0].text)
        apply_script(conn, rls(ir)[0].text)
        seeded = seed_rows(conn, ir, 30_000, lambda t, d, n: chunks.append((t, d, n)))
    names = [t.name for t in ir.tables]
    # every table exactly N rows, children referring to existing parents (the FKs held)
    assert seeded.rows == dict.fromkeys(names, 30_000) == _counts(pg_dsn, names)
    assert seeded.total == 30_000 * len(names) and not seeded.skipped
    assert "seeded 150,000 rows" in seeded.describe()
    # one statement per chunk of thousands of rows, never one per row
    per_table = {t: sum(1 for c in chunks if c[0] == t) for t in names}
    assert all(1 <= n <= 10 for n in per_table.values()), per_table
    assert all(d <= n for _, d, n in chunks) and chunks[-1][1:] == (30_000, 30_000)


def test_a_table_whose_check_rejects_the_rows_is_named(pg_dsn: str) -> None:
    ir = ir_of(UPSTREAM / "schema.graphql")  # user.password_hash: char_length = 60
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        apply_script(conn, postgres(ir)[0].text)
        seeded = seed_rows(conn, ir, 10)
    assert "user_password_hash_check" in seeded.skipped["user"]
    assert seeded.skipped["post"] == "it needs rows of user"
    assert "user not seeded" in seeded.describe()


def test_rehearse_reports_the_seeding_or_why_there_is_none(pg_admin_dsn: str, pg_dsn: str) -> None:
    seeded = ok("rehearse", "--schema", BLADE_V2, "--from", BLADE_V1, "--seed-rows", "2500",
                "--dsn", pg_dsn)  # fmt: skip
    assert "note: seeded 2,500 rows into the old schema (user 2,500)" in seeded.stdout
    assert _counts(pg_dsn, ["user"]) == {"user": 2500}
    first = ok("rehearse", "--schema", BLADE_V2, "--fresh", "--seed-rows", "100", "--json")
    notes = first.json()["realm"]["notes"]
    why = "--seed-rows 100: nothing seeded: there is no old schema"
    assert any(n.startswith(why) for n in notes), notes
