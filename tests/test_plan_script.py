"""`wesley plan --sql`: the plan as one psql script. Applied with psql to a database holding
the old schema and rows, it gives the new schema (a replan is empty); run again, every guard
says done; every step carries its lock_timeout and statement_timeout."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.helpers import cli
from tests.test_plan_pairs import PAIRS, Pair, ir, seed
from tests.traffic import NEW_SDL, build_items, new_ir, old_ir, replan
from wesley.db.apply import apply_script
from wesley.db.cluster import find_pg_bindir
from wesley.db.introspect import introspect
from wesley.plan.build import build_plan
from wesley.plan.script import plan_script
from wesley.plan.timeouts import Timeouts
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls


def psql(dsn: str, script: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(find_pg_bindir() / "psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-f",
            str(script),
            dsn,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_traffic_migration_as_a_psql_script(
    pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    build_items(pg_dsn, 3_000)
    Path("wesley.toml").write_text("[timeouts]\nlock_timeout_ms = 700\n", encoding="utf-8")
    Path("new.graphql").write_text(NEW_SDL, encoding="utf-8")
    result = cli(
        capsys,
        "plan",
        "--from-db",
        pg_dsn,
        "--schema",
        "new.graphql",
        "--sql",
        "plan.sql",
        "--batch-size",
        "500",
        "--statement-timeout",
        "4000",
    )
    assert result.code == 0, result.stderr
    text = Path("plan.sql").read_text(encoding="utf-8")
    plan = build_plan(old_ir(), new_ir(), batch_size=500)
    # every step, under its limits: the flag and wesley.toml both count
    assert text.count("SET lock_timeout = '700ms';") == len(plan.steps)
    assert text.count("SET statement_timeout = ") == len(plan.steps)
    assert "SET statement_timeout = '4000ms';\nALTER TABLE item ADD COLUMN token uuid;" in text
    assert "SET statement_timeout = '3600000ms';\nALTER TABLE item VALIDATE" in text
    assert len(re.findall(r"^DO \$wesley\$", text, re.M)) == 2  # price and token backfills
    first = psql(pg_dsn, Path("plan.sql"))
    assert first.returncode == 0, first.stderr
    assert replan(pg_dsn, new_ir()) == []
    with psycopg.connect(pg_dsn) as conn:
        nulls = conn.execute(
            "SELECT count(*) FROM item WHERE token IS NULL OR price IS NULL"
        ).fetchone()
    assert nulls == (0,)
    again = psql(pg_dsn, Path("plan.sql"))  # every guard says done
    assert again.returncode == 0, again.stderr


SCRIPT_PAIRS = [
    p
    for p in PAIRS
    if p.id
    in {
        "remove-enum-value-rebuilds-the-type",
        "tighten-with-default-backfills-the-nulls",
        "add-unique",
        "enable-tenant-rls",
        "create-table",
        "change-primary-key",
    }
]


@pytest.mark.parametrize("pair", SCRIPT_PAIRS, ids=lambda p: p.id)
def test_pairs_as_psql_scripts(pair: Pair, pg_dsn: str, tmp_path: Path) -> None:
    old, new = ir(pair.old, pair.old_options), ir(pair.new, pair.new_options)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        apply_script(conn, postgres(old)[0].text, "old schema.sql")
        apply_script(conn, rls(old)[0].text, "old rls.sql")
        seed(conn, old)
        if pair.prepare:
            conn.execute(pair.prepare.encode())
    plan = build_plan(old, new, allow_destructive=pair.destructive, batch_size=2)
    script = tmp_path / "plan.sql"
    script.write_text(plan_script(plan, Timeouts()), encoding="utf-8")
    for _ in range(2):  # the second run: guards say done
        done = psql(pg_dsn, script)
        assert done.returncode == 0, done.stderr
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            assert build_plan(introspect(conn), new, allow_destructive=True).steps == []
