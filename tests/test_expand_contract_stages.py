"""The stages of a two-version migration one by one, on PostgreSQL: --abort gives everything
back without losing a write, a narrowing type stops on a row that does not fit and takes its
check back, --complete and --abort refuse at the wrong moment, a sequence default moves with
its column; and what the user sees of it (`@wes_cast` errors, plan --json, --explain)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.helpers import cli
from tests.traffic import replan
from wesley.db.apply import apply_script
from wesley.db.executor import ExecOptions, Executor, StepFailed
from wesley.db.facts import gather
from wesley.db.introspect import introspect
from wesley.errors import WesleyError
from wesley.ir import IR, ir_hash
from wesley.plan.build import build_plan
from wesley.plan.models import Plan
from wesley.sdl import ParseOptions, parse_sdl
from wesley.targets.postgres import postgres

OLD = "type Ticket @wes_table { id: Int! @wes_pk  code: String  title: String! }"
NEW = """type Ticket @wes_table {
  id: Int! @wes_pk
  code: Int @wes_cast(using: "NULLIF(trim(code), '')::integer")
  title: String!
}"""


def _build(dsn: str, sdl: str, *seed: str, options: ParseOptions | None = None) -> IR:
    old = parse_sdl(sdl, options=options).ir
    with psycopg.connect(dsn, autocommit=True) as conn:
        apply_script(conn, postgres(old)[0].text, "old schema.sql")
        for sql in seed:
            conn.execute(sql.encode())
    return old


def _plan(dsn: str, new: IR) -> Plan:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return build_plan(introspect(conn), new, server_version=conn.info.server_version)


def _run(dsn: str, plan: Plan, new: IR, stage: str, **opts: Any) -> None:
    with Executor(dsn, plan, ir_hash(new), ExecOptions(mode="deploy", **opts)) as ex:
        ex.run(stage)  # type: ignore[arg-type]


def _one(dsn: str, sql: str, search_path: str = "public") -> Any:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {search_path}")
        row = conn.execute(sql.encode()).fetchone()
    return row[0] if row else None


def _statuses(dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT mode, status FROM wesley.migration_runs ORDER BY run_id")
        return [(str(m), str(s)) for m, s in rows]


def test_abort_gives_everything_back_and_keeps_the_new_versions_writes(pg_dsn: str) -> None:
    _build(pg_dsn, OLD, "INSERT INTO ticket SELECT g, ' ' || g, 't' FROM generate_series(1, 300) g")
    new = parse_sdl(NEW).ir
    plan = _plan(pg_dsn, new)
    assert plan.compat is not None and plan.abort
    _run(pg_dsn, plan, new, "start")
    path = plan.compat.new_search_path
    # the new version writes an integer; the old version reads it as its text
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {path}")
        conn.execute("INSERT INTO ticket (id, code, title) VALUES (1001, 77, 'new')")
        conn.execute("UPDATE ticket SET code = 5 WHERE id = 7")
    assert _one(pg_dsn, "SELECT code FROM ticket WHERE id = 1001") == "77"
    assert _one(pg_dsn, "SELECT code FROM ticket WHERE id = 7") == "5"
    # an update of another column by the new version leaves the old spelling alone
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {path}")
        conn.execute("UPDATE ticket SET title = 'x' WHERE id = 8")
    assert _one(pg_dsn, "SELECT code FROM ticket WHERE id = 8") == " 8"
    _run(pg_dsn, plan, new, "abort")
    # nothing of the migration is left, and nothing written is lost
    assert (
        _one(
            pg_dsn,
            "SELECT to_regnamespace(%s) IS NULL".replace("%s", repr(plan.compat.version_schema)),
        )
        is True
    )
    assert (
        _one(
            pg_dsn,
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'ticket'::regclass AND "
            "attname LIKE '\\_wes%' AND NOT attisdropped",
        )
        == 0
    )
    assert _one(pg_dsn, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'ticket'::regclass") == 0
    assert _one(pg_dsn, "SELECT code FROM ticket WHERE id = 1001") == "77"
    assert _one(pg_dsn, "SELECT count(*) FROM ticket") == 301
    old_again = parse_sdl(OLD).ir
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert build_plan(introspect(conn), old_again).steps == []
    assert _statuses(pg_dsn) == [("deploy", "aborted"), ("deploy --abort", "applied")]
    # the same plan deploys again from the start, and completes
    _run(pg_dsn, plan, new, "start")
    _run(pg_dsn, plan, new, "complete")
    assert replan(pg_dsn, new) == []
    assert _one(pg_dsn, "SELECT code FROM ticket WHERE id = 1001") == 77
    assert _one(pg_dsn, "SELECT code FROM ticket WHERE id = 8") == 8
    assert [s for _, s in _statuses(pg_dsn)] == ["aborted", "applied", "completed", "applied"]


def test_complete_and_abort_refuse_at_the_wrong_moment(pg_dsn: str) -> None:
    _build(pg_dsn, OLD, "INSERT INTO ticket SELECT g, ' ' || g, 't' FROM generate_series(1, 50) g")
    new = parse_sdl(NEW).ir
    plan = _plan(pg_dsn, new)
    with pytest.raises(WesleyError) as early:
        _run(pg_dsn, plan, new, "complete")
    assert early.value.code == "NOT_EXPANDED"
    _run(pg_dsn, plan, new, "start")
    # the contract begins, then stops (its swap cannot get its lock): --abort is refused
    with psycopg.connect(pg_dsn) as blocker:
        blocker.execute("SELECT * FROM ticket LIMIT 1")  # holds ACCESS SHARE
        first = next(s for s in plan.steps if s.phase == "contract")
        assert first.op == "swap_column"
        with pytest.raises(StepFailed) as stopped:
            _run(pg_dsn, plan, new, "complete", timeouts=_short())
        assert stopped.value.code == "LOCK_TIMEOUT"
    assert _one(pg_dsn, "SELECT count(*) FROM ticket") == 50  # nothing half-done
    _run(pg_dsn, plan, new, "complete")  # continues where it stopped
    with pytest.raises(WesleyError) as late:
        _run(pg_dsn, plan, new, "abort")
    assert late.value.code == "ABORT_REFUSED"
    assert replan(pg_dsn, new) == []


def _short() -> Any:
    from wesley.plan.timeouts import Timeouts

    return Timeouts(lock_ms=100, retries=1, backoff_ms=10)


def test_a_row_that_does_not_fit_a_narrower_type_stops_the_expand(pg_dsn: str) -> None:
    old_sdl = "type Ticket @wes_table { id: Int! @wes_pk  title: String! }"
    new_sdl = "scalar Short\ntype Ticket @wes_table { id: Int! @wes_pk  title: Short! }"
    _build(
        pg_dsn,
        old_sdl,
        "INSERT INTO ticket SELECT g, 't' || g FROM generate_series(1, 100) g",
        f"UPDATE ticket SET title = '{'x' * 30}' WHERE id = 50",
    )
    new = parse_sdl(new_sdl, options=ParseOptions(scalars={"Short": "varchar(20)"})).ir
    plan = _plan(pg_dsn, new)
    fits = next(s for s in plan.steps if s.op == "add_fit_check")
    assert fits.phase == "expand" and "char_length(title) <= 20" in fits.sql
    # proven before the shadow column or the trigger exist
    order = [s.op for s in plan.steps]
    assert (
        order.index("validate_fit_check")
        < order.index("add_column")
        < order.index("create_trigger")
    )
    with pytest.raises(StepFailed) as stopped:
        _run(pg_dsn, plan, new, "start")
    assert stopped.value.code == "VALIDATION_FAILED"
    assert "do not fit varchar(20)" in stopped.value.hint
    # the check was taken back: the old version's long values are written again
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"UPDATE ticket SET title = '{'y' * 30}' WHERE id = 51")
        conn.execute("UPDATE ticket SET title = left(title, 20)")
    _run(pg_dsn, plan, new, "start", resume=True)
    # from now on the old version cannot write what the new type would not hold (the sync
    # trigger's conversion says so before the check does)
    with (
        psycopg.connect(pg_dsn, autocommit=True) as conn,
        pytest.raises((psycopg.errors.StringDataRightTruncation, psycopg.errors.CheckViolation)),
    ):
        conn.execute(f"UPDATE ticket SET title = '{'z' * 21}' WHERE id = 1")
    assert _one(pg_dsn, "SELECT title FROM ticket WHERE id = 1") == "t1"
    _run(pg_dsn, plan, new, "complete")
    assert replan(pg_dsn, new) == []
    assert (
        _one(
            pg_dsn,
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'ticket'::regclass AND attname = 'title'",
        )
        == "character varying(20)"
    )


def test_a_sequence_default_moves_with_its_column(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE item (id serial PRIMARY KEY, qty integer NOT NULL)")
        conn.execute("INSERT INTO item (qty) SELECT g FROM generate_series(1, 100) g")
    new = parse_sdl(
        "type Item @wes_table { id: BigInt! @wes_pk @wes_default(expr: \"nextval('item_id_seq')\")"
        "  qty: Int! }"
    ).ir
    plan = _plan(pg_dsn, new)
    assert any(s.op == "move_sequence" for s in plan.steps)
    _run(pg_dsn, plan, new, "start")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO item (qty) VALUES (-1)")  # the old version
        conn.execute(f"SET search_path TO {plan.compat.new_search_path}")  # type: ignore[union-attr]
        conn.execute("INSERT INTO item (qty) VALUES (-2)")  # the new version
    _run(pg_dsn, plan, new, "complete")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO item (qty) VALUES (-3)")
        ids = [r[0] for r in conn.execute("SELECT id FROM item WHERE qty < 0 ORDER BY qty DESC")]
        owner = conn.execute("SELECT pg_get_serial_sequence('item', 'id')").fetchone()
    assert len(set(ids)) == 3 and all(i > 100 for i in ids), ids
    assert owner == ("public.item_id_seq",)  # the sequence survived the old column's drop
    assert replan(pg_dsn, new) == []


def test_identity_columns_and_policies_on_the_column_are_refused(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE item (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY)")
        old = introspect(conn)
        new = parse_sdl("type Item @wes_table { id: BigInt! @wes_pk }").ir
        plan = build_plan(old, new, data=gather(conn, old, new))
    assert [r.change for r in plan.blocked] == ["alter_column_type"]
    assert "identity" in plan.blocked[0].risk
    old_sdl = 'type A @wes_table @wes_rls(select: "n > 0") { id: Int! @wes_pk  n: Int }'
    new_sdl = 'type A @wes_table @wes_rls(select: "n > 0") { id: Int! @wes_pk  n: BigInt }'
    blocked = build_plan(parse_sdl(old_sdl).ir, parse_sdl(new_sdl).ir).blocked
    assert blocked and "policy" in blocked[0].risk


def test_a_column_rename_renames_derived_names_without_rebuilding_an_index() -> None:
    old = parse_sdl(
        "type A @wes_table { id: Int! @wes_pk  email: String! @wes_unique @wes_index }"
    ).ir
    new = parse_sdl(
        "type A @wes_table { id: Int! @wes_pk  "
        'mail: String! @wes_unique @wes_index @wes_renamedFrom(name: "email") }'
    ).ir
    plan = build_plan(old, new)
    assert plan.destructive == [] and plan.two_stage
    ops = [(s.phase, s.op, s.sql) for s in plan.steps]
    assert not any(op in ("create_index", "drop_constraint", "drop_index") for _, op, _ in ops), ops
    renames = [sql for phase, op, sql in ops if op.startswith("rename_")]
    assert renames == [
        "ALTER TABLE a RENAME COLUMN email TO mail",
        "ALTER TABLE a RENAME CONSTRAINT a_email_key TO a_mail_key",
        "ALTER INDEX a_email_idx RENAME TO a_mail_idx",
    ]
    assert all(phase == "contract" for phase, op, _ in ops if op.startswith("rename_"))
    view = next(s for s in plan.steps if s.op == "create_view")
    assert "email AS mail" in view.sql and "security_invoker" in view.sql


def test_cast_directive_errors_and_an_unused_cast_is_said() -> None:
    bad = [
        ('@wes_cast(using: "id + 1")', "reads id"),
        ('@wes_cast(using: "code; DROP TABLE a")', "contains ';'"),
        ("@wes_cast", "needs using: or reverse:"),
        ('@wes_cast(reverse: "(SELECT 1)")', "subquery"),
    ]
    for directive, says in bad:
        with pytest.raises(WesleyError) as err:
            parse_sdl(f"type A @wes_table {{ id: Int! @wes_pk  code: Int {directive} }}")
        assert err.value.code == "INVALID_CAST" and says in err.value.message, err.value.message
    same = parse_sdl(
        'type A @wes_table { id: Int! @wes_pk  code: Int @wes_cast(using: "code") }'
    ).ir
    plan = build_plan(same, same)
    assert plan.steps == [] and "not used" in plan.notes[0]


def test_plan_json_and_explain_say_how_each_version_connects(
    capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    (tmp_path / "old.graphql").write_text(OLD)
    (tmp_path / "new.graphql").write_text(NEW)
    args = [
        "plan",
        "--from",
        str(tmp_path / "old.graphql"),
        "--schema",
        str(tmp_path / "new.graphql"),
    ]
    doc = cli(capsys, *args, "--json")
    assert doc.code == 0, doc.stderr
    compat = doc.json()["plan"]["compat"]
    schema = compat["version_schema"]
    assert compat["old_search_path"] == "public"
    assert compat["new_search_path"] == f"{schema}, public"
    assert [v["name"] for v in compat["views"]] == ["ticket"]
    text = cli(capsys, *args, "--explain").stdout
    assert "old application version: keeps search_path = public" in text
    assert f"new application version: SET search_path = {schema}, public" in text
    assert "deploy --complete" in text and "deploy --abort" in text
    assert "abort (`wesley deploy --abort`" in text


def test_rehearse_runs_both_versions_abort_and_complete(
    pg_dsn: str, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    (tmp_path / "old.graphql").write_text(OLD)
    (tmp_path / "new.graphql").write_text(
        NEW.replace("title: String!", 'heading: String! @wes_renamedFrom(name: "title")')
    )
    assert cli(capsys, "transform", "--schema", str(tmp_path / "new.graphql"), "--quiet").code == 0
    args = ["rehearse", "--from", str(tmp_path / "old.graphql"), "--schema"]
    result = cli(
        capsys, *args, str(tmp_path / "new.graphql"), "--seed-rows", "30", "--dsn", pg_dsn, "--json"
    )
    assert result.code == 0, result.stdout + result.stderr
    realm = result.json()["realm"]
    assert realm["verdict"] == "PASS" and realm["replan_empty"] is True
    stages = realm["stages"]
    versions = {v["version"]: v for v in stages["versions"]}
    assert versions["old"]["search_path"] == "public"
    assert versions["new"]["search_path"].endswith(", public")
    for v in versions.values():
        assert v["tests"]["planned"] == v["tests"]["passed"] > 0, v["tests"]["tap"]
    assert "ticket.heading is text" in versions["new"]["tests"]["tap"]
    assert stages["abort"] and all(s["status"] in ("applied", "skipped") for s in stages["abort"])
    assert stages["abort_restored"] is True and stages["again"]
    # the realm's steps are the plan's: the first expand and the contract, each applied
    saved = json.loads(Path(".wesley/plan.json").read_text())
    assert [s["id"] for s in realm["steps"]] == [s["id"] for s in saved["steps"]]
    assert {s["status"] for s in realm["steps"]} <= {"applied", "skipped"}  # a guard may say done
    assert [s["id"] for s in realm["steps"] if s["status"] == "applied"]
    # HOLMES and WATSON take the two-stage bundle as any other
    assert cli(capsys, "holmes", "investigate").code == 0
    verified = cli(capsys, "holmes", "verify")
    assert verified.code == 0, verified.stdout + verified.stderr


def test_an_expand_that_stopped_resumes(pg_dsn: str) -> None:
    _build(pg_dsn, OLD, "INSERT INTO ticket SELECT g, ' ' || g, 't' FROM generate_series(1, 80) g")
    new = parse_sdl(NEW).ir
    plan = _plan(pg_dsn, new)
    with psycopg.connect(pg_dsn) as writer:
        writer.execute("LOCK TABLE ticket IN ROW EXCLUSIVE MODE")  # an open write transaction
        with pytest.raises(StepFailed) as stopped:
            _run(pg_dsn, plan, new, "start", timeouts=_short())
        assert stopped.value.code == "LOCK_TIMEOUT" and "add_column" in stopped.value.step
    with pytest.raises(WesleyError) as again:
        _run(pg_dsn, plan, new, "start")
    assert again.value.code == "RUN_INTERRUPTED"
    _run(pg_dsn, plan, new, "start", resume=True)
    _run(pg_dsn, plan, new, "complete")
    assert replan(pg_dsn, new) == []
    assert [s for _, s in _statuses(pg_dsn)] == [
        "superseded",
        "refused",
        "completed",
        "applied",
    ]


def test_row_level_security_holds_through_the_new_versions_views(pg_dsn: str) -> None:
    old_sdl = (
        'type Note @wes_table @wes_tenant(by: "orgId") { id: Int! @wes_pk  orgId: ID!  '
        "body: String }"
    )
    new_sdl = (
        'type Note @wes_table @wes_tenant(by: "orgId") { id: Int! @wes_pk  orgId: ID!  '
        'text: String @wes_renamedFrom(name: "body") }'
    )
    a, b = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"
    old = _build(
        pg_dsn,
        old_sdl,
        f"INSERT INTO note SELECT g, CASE WHEN g % 2 = 0 THEN '{a}' ELSE '{b}' END::uuid, 'x' "
        "FROM generate_series(1, 20) g",
    )
    from wesley.targets.rls import rls

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        apply_script(conn, rls(old)[0].text, "old rls.sql")
        conn.execute("DROP ROLE IF EXISTS wesley_test_app")
        conn.execute("CREATE ROLE wesley_test_app NOLOGIN")
        conn.execute("GRANT USAGE ON SCHEMA wesley TO wesley_test_app")
        conn.execute("GRANT SELECT, INSERT, UPDATE ON note TO wesley_test_app")
    new = parse_sdl(new_sdl).ir
    plan = _plan(pg_dsn, new)
    _run(pg_dsn, plan, new, "start")
    assert plan.compat is not None
    try:
        with psycopg.connect(pg_dsn) as conn:
            conn.execute("SET ROLE wesley_test_app")
            conn.execute(f"SET app.tenant_id = '{a}'")
            conn.execute(f"SET search_path TO {plan.compat.new_search_path}")
            seen = conn.execute("SELECT count(*), count(text) FROM note").fetchone()
            assert seen == (10, 10)  # tenant A's rows only, through the view
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"INSERT INTO note (id, org_id, text) VALUES (99, '{b}', 'y')")
            conn.rollback()
            conn.execute("SET ROLE wesley_test_app")
            conn.execute(f"SET app.tenant_id = '{a}'")
            conn.execute(f"SET search_path TO {plan.compat.new_search_path}")
            conn.execute(f"INSERT INTO note (id, org_id, text) VALUES (98, '{a}', 'mine')")
            conn.commit()
        assert _one(pg_dsn, "SELECT body FROM note WHERE id = 98") == "mine"
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("DROP OWNED BY wesley_test_app")
            conn.execute("DROP ROLE wesley_test_app")


def test_plan_from_a_database_in_flight_says_so(
    pg_dsn: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _build(pg_dsn, OLD, "INSERT INTO ticket VALUES (1, '1', 't')")
    new = parse_sdl(NEW).ir
    plan = _plan(pg_dsn, new)
    (tmp_path / "new.graphql").write_text(NEW)
    args = ["plan", "--from-db", pg_dsn, "--schema", str(tmp_path / "new.graphql")]
    assert "W_MIGRATION_IN_FLIGHT" not in cli(capsys, *args).stderr
    _run(pg_dsn, plan, new, "start")
    said = cli(capsys, *args)
    assert "W_MIGRATION_IN_FLIGHT" in said.stderr and "--complete" in said.stderr, said.stderr
