"""`wesley plan` as a user runs it, and the acceptance plans of the upstream pairs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import psycopg
import pytest

from tests.helpers import UPSTREAM, cli
from wesley.db.apply import apply_script
from wesley.plan.build import build_plan
from wesley.plan.models import Plan
from wesley.schemas import load
from wesley.sdl import parse_sdl
from wesley.targets.postgres import postgres


def fixture_ir(name: str):  # type: ignore[no-untyped-def]
    return parse_sdl((UPSTREAM / name).read_text(encoding="utf-8")).ir


def check_safe_rewrites(plan: Plan, old_tables: set[str]) -> None:
    """CONCURRENTLY for every new index on an existing table, NOT VALID + VALIDATE for every
    new FK, the CHECK trick for every new NOT NULL column on an existing table."""
    for step in plan.steps:
        if step.op == "create_index" and step.table in old_tables:
            assert "CONCURRENTLY" in step.sql and not step.transactional, step.sql
            assert [(lk.relation, lk.mode) for lk in step.locks] == [
                (step.table, "SHARE UPDATE EXCLUSIVE")
            ]
        if step.op == "add_fk":
            assert step.sql.endswith("NOT VALID")
            fk_name = step.sql.split("ADD CONSTRAINT ")[1].split(" ")[0]
            assert any(s.op == "validate_fk" and fk_name in s.sql for s in plan.steps)
            ref = step.sql.split("REFERENCES ")[1].split(" ")[0].strip('"')
            modes = {lk.relation: lk.mode for lk in step.locks}
            assert modes == {step.table: "SHARE ROW EXCLUSIVE", ref: "SHARE ROW EXCLUSIVE"}
        if step.op == "validate_fk":
            modes = {lk.relation: lk.mode for lk in step.locks}
            assert modes[str(step.table)] == "SHARE UPDATE EXCLUSIVE"
            assert "ROW SHARE" in modes.values()  # the referenced table
        if step.op == "add_column" and step.table in old_tables and "NOT NULL" not in step.sql:
            col = step.column
            new_not_null = any(s.op == "set_not_null" and s.column == col for s in plan.steps)
            if new_not_null:
                ops = [s.op for s in plan.steps if s.column == col and s.table == step.table]
                assert {
                    "add_check",
                    "validate_check",
                    "set_not_null",
                    "drop_not_null_check",
                } <= set(ops)
                set_nn = next(s for s in plan.steps if s.op == "set_not_null" and s.column == col)
                assert not set_nn.scan  # the valid check spares the scan
        assert "SET NOT NULL" not in step.sql or step.op == "set_not_null"


def test_blade_plan() -> None:
    plan = build_plan(fixture_ir("blade-v1.graphql"), fixture_ir("blade-v2.graphql"))
    assert plan.destructive == []
    check_safe_rewrites(plan, {"user"})
    ops = [s.op for s in plan.steps]
    assert ops.count("create_index") == 1
    # createdAt: DateTime! with now(): PostgreSQL >= 11 gives existing rows the stored default,
    # so the column is NOT NULL at once, in one catalog-only step: nothing to validate
    add = next(s for s in plan.steps if s.op == "add_column")
    assert "NOT NULL DEFAULT now()" in add.sql and not add.rewrite and not add.scan
    assert not {"add_check", "validate_check", "set_not_null", "backfill"} & set(ops)
    # before PostgreSQL 11 a default rewrites: the old five-step path stays
    old_pg = build_plan(
        fixture_ir("blade-v1.graphql"), fixture_ir("blade-v2.graphql"), server_version=100000
    )
    assert "set_not_null" in [s.op for s in old_pg.steps]


def test_ecommerce_plan() -> None:
    """price_cents: Int -> BigInt rewrites: a shadow column, not a destructive ALTER TYPE."""
    old, new = fixture_ir("ecommerce.graphql"), fixture_ir("ecommerce-v2.graphql")
    plan = build_plan(old, new)
    assert plan.destructive == [] and plan.two_stage and plan.compat is not None
    check_safe_rewrites(plan, {t.name for t in old.tables})
    assert not any(s.op == "alter_column_type" or s.rewrite for s in plan.steps)
    [shadow] = plan.compat.shadows
    assert (shadow.table, shadow.column, shadow.to_type) == ("product", "price_cents", "bigint")
    swap = next(s for s in plan.steps if s.op == "swap_column")
    assert swap.phase == "contract" and not swap.scan and not swap.rewrite


def test_cli_refuses_destructive_with_exit_5(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old = tmp_path / "old.graphql"
    new = tmp_path / "new.graphql"
    old.write_text("type A @wes_table { id: Int! @wes_pk  note: String  qty: Int }\n")
    new.write_text("type A @wes_table { id: Int! @wes_pk  qty: BigInt }\n")
    args = ["plan", "--schema", str(new), "--from", str(old)]
    result = cli(capsys, *args)
    assert result.code == 5
    assert "drop_column a.note" in result.stderr
    assert "alter_column_type" not in result.stderr  # a type change is not destructive
    doc = cli(capsys, *args, "--json")
    assert doc.code == 5
    error = doc.json()["error"]
    assert error["code"] == "PLAN_DESTRUCTIVE"
    jsonschema.validate(error["details"]["plan"], load("plan.schema.json"))
    ok = cli(capsys, *args, "--allow-destructive", "--explain")
    assert ok.code == 0
    assert "contract:" in ok.stdout and "REWRITE" not in ok.stdout


def test_cli_json_plan_validates_and_is_saved(capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(
        capsys,
        "plan",
        "--json",
        "--schema",
        str(UPSTREAM / "blade-v2.graphql"),
        "--from",
        str(UPSTREAM / "blade-v1.graphql"),
    )
    assert result.code == 0
    plan = result.json()["plan"]
    jsonschema.validate(plan, load("plan.schema.json"))
    assert len(plan["plan_hash"]) == 64
    assert json.loads(Path(".wesley/plan.json").read_text())["plan_hash"] == plan["plan_hash"]


def test_identical_schemas_say_nothing_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    blade = str(UPSTREAM / "blade-v1.graphql")
    result = cli(capsys, "plan", "--schema", blade, "--from", blade)
    assert result.code == 0 and "nothing to do" in result.stdout


def test_no_old_schema_creates_everything(capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(capsys, "plan", "--json", "--schema", str(UPSTREAM / "ecommerce.graphql"))
    assert result.code == 0
    ops = [s["op"] for s in result.json()["plan"]["steps"]]
    assert ops.count("create_table") == 4


def test_last_deploy_is_the_default_old_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "transform", "-q", "--schema", str(UPSTREAM / "blade-v1.graphql")).code == 0
    fresh = cli(capsys, "plan", "--json", "--schema", str(UPSTREAM / "blade-v2.graphql"))
    assert "create_table" in {s["op"] for s in fresh.json()["plan"]["steps"]}  # nothing deployed
    Path(".wesley/deployed.json").write_text(Path(".wesley/snapshot.json").read_text())
    result = cli(capsys, "plan", "--json", "--schema", str(UPSTREAM / "blade-v2.graphql"))
    assert result.code == 0
    ops = {s["op"] for s in result.json()["plan"]["steps"]}
    assert {"add_column", "create_index"} <= ops and "create_table" not in ops


def test_from_db(capsys: pytest.CaptureFixture[str], pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        apply_script(conn, postgres(fixture_ir("blade-v1.graphql"))[0].text)
    result = cli(
        capsys,
        "plan",
        "--json",
        "--from-db",
        pg_dsn,
        "--schema",
        str(UPSTREAM / "blade-v2.graphql"),
    )
    assert result.code == 0, result.stderr
    plan = result.json()["plan"]
    assert plan["server_version"] >= 150000
    # the index is built after the (here: no) backfills
    assert [s["op"] for s in plan["steps"]] == ["add_column", "comment", "create_index"]


TIGHTEN_OLD = "type Event @wes_table { id: Int! @wes_pk  qty: Int  note: String }"
TIGHTEN_NEW = "type Event @wes_table { id: Int! @wes_pk  qty: Int!  note: String }"


def test_from_db_counts_the_nulls_a_tightened_column_holds(
    capsys: pytest.CaptureFixture[str], pg_dsn: str
) -> None:
    Path("new.graphql").write_text(TIGHTEN_NEW, encoding="utf-8")
    Path("old.graphql").write_text(TIGHTEN_OLD, encoding="utf-8")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        apply_script(conn, postgres(parse_sdl(TIGHTEN_OLD).ir)[0].text)
        conn.execute("INSERT INTO event (id, qty) SELECT g, g FROM generate_series(1, 10) g")
        conn.execute("UPDATE event SET qty = NULL WHERE id <= 3")
    args = ("plan", "--schema", "new.graphql")
    # from a file the rows are unknown: refused unless allowed, saying how to find out
    unknown = cli(capsys, *args, "--from", "old.graphql")
    assert unknown.code == 5 and "PLAN_DESTRUCTIVE" in unknown.stderr
    assert "plan --from-db" in unknown.stderr
    # from the database: 3 NULL rows, refused whatever the flags, with the count
    for extra in ((), ("--allow-destructive",)):
        counted = cli(capsys, *args, "--from-db", pg_dsn, "--explain", *extra)
        assert counted.code == 5, counted.stderr
        assert "error[PLAN_BLOCKED]" in counted.stderr
        assert "3 rows of event.qty are NULL" in counted.stderr
        assert "cannot be planned until the data changes" in counted.stdout
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("UPDATE event SET qty = 0 WHERE qty IS NULL")
    clean = cli(capsys, *args, "--from-db", pg_dsn, "--json")
    assert clean.code == 0, clean.stderr
    steps = clean.json()["plan"]["steps"]
    assert [s["op"] for s in steps] == [
        "add_check",
        "validate_check",
        "set_not_null",
        "drop_not_null_check",
    ]
    assert "plan --from-db counted 0 NULL rows" in steps[0]["notes"]


def test_from_db_unreachable_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(
        capsys,
        "plan",
        "--json",
        "--from-db",
        "postgresql://u:sekret@127.0.0.1:1/db",
        "--schema",
        str(UPSTREAM / "blade-v2.graphql"),
    )
    assert result.code == 13
    assert "sekret" not in result.stdout + result.stderr
    assert result.json()["error"]["code"] == "DB_CONNECT_FAILED"


def test_plan_hash_is_deterministic_and_binds_the_statements() -> None:
    old, new = fixture_ir("ecommerce.graphql"), fixture_ir("ecommerce-v2.graphql")
    a = build_plan(old, new, allow_destructive=True)
    assert a.plan_hash == build_plan(old, new, allow_destructive=True).plan_hash
    v1 = fixture_ir("blade-v1.graphql")
    v2 = parse_sdl(
        (UPSTREAM / "blade-v1.graphql")
        .read_text(encoding="utf-8")
        .replace("}", '  token: UUID! @wes_default(expr: "gen_random_uuid()")\n}')
    ).ir
    small, large = build_plan(v1, v2, batch_size=10), build_plan(v1, v2, batch_size=5000)
    assert any(s.backfill for s in small.steps)
    assert small.plan_hash != large.plan_hash


@pytest.mark.parametrize("command", ["plan", "deploy"])
def test_unparsable_dsn_is_a_coded_error(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    flag = (
        ["--from-db", "not a dsn=x y"]
        if command == "plan"
        else ["--dsn", "not a dsn=x y", "--env", "prod"]
    )
    result = cli(capsys, command, "--json", *flag, "--schema", str(UPSTREAM / "blade-v2.graphql"))
    assert result.code == 13, result.stdout + result.stderr
    assert result.json()["error"]["code"] == "DSN_INVALID"
    assert "Traceback" not in result.stdout + result.stderr
