"""Two PostgreSQL majors: plans predicted for a version, rehearsals recorded per major, and
deploys that need a rehearsal on the target's major.

The per-major tests run once per major this machine has (pg15: the system's server, pg18:
the embedded one); the cross-major ones need both and are skipped without them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import EXTERNAL, SERVERS
from tests.helpers import UPSTREAM
from tests.lifecycle import (
    SIGNERS,
    TOML_KEYS,
    build_old,
    has_run_records,
    ir_of,
    ok,
    runs,
    scratch_database,
    wes,
)
from wesley.db.cluster import server_version_of
from wesley.db.executor import ExecOptions, Executor, StepFailed
from wesley.errors import ExitCode
from wesley.ir import ir_hash
from wesley.plan.build import build_plan
from wesley.plan.locks import classify
from wesley.plan.models import Blocks, LockEntry, Plan, Step, with_hash
from wesley.plan.timeouts import Timeouts

BLADE_V1 = UPSTREAM / "blade-v1.graphql"
BLADE_V2 = UPSTREAM / "blade-v2.graphql"

both_majors = pytest.mark.skipif(
    bool(EXTERNAL) or not {15, 18} <= set(SERVERS),
    reason="needs PostgreSQL 15 and 18 (the system's and the embedded one)",
)


def _version(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.info.server_version


def _with_step(plan: Plan, step: Step) -> Plan:
    return with_hash(plan.model_copy(update={"steps": [*plan.steps, step]}))


def _grant_step(version: int) -> Step:
    """A GRANT as a plan predicted for `version` would carry it."""
    sql = 'GRANT SELECT ON "user" TO PUBLIC'
    facts = classify(sql, version)
    return Step(
        id="900-grant-user",
        phase="switch",
        op="grant",
        table="user",
        sql=sql,
        locks=[LockEntry(relation=lk.relation, mode=lk.mode) for lk in facts.locks],
        blocks=Blocks(reads=facts.blocks_reads, writes=facts.blocks_writes),
        risk=0,
        why="a grant",
        guard="SELECT false",
    )


def _execute(dsn: str, plan: Plan) -> None:
    new = ir_of(BLADE_V2)
    options = ExecOptions(timeouts=Timeouts(lock_ms=1000))
    with Executor(dsn, plan, ir_hash(new), options, None) as ex:
        ex.run()


# -- one major at a time ----------------------------------------------------------------------


def test_a_lock_stronger_than_predicted_fails_the_step(pg_dsn: str, pg_major: int) -> None:
    """The executor's check, on every major: a prediction weaker than what the server takes
    (as a wrong classifier would make) fails the step, which is rolled back."""
    old = ir_of(BLADE_V1)
    build_old(pg_dsn, old, rows=5)
    plan = build_plan(old, ir_of(BLADE_V2), server_version=_version(pg_dsn))
    target = next(s for s in plan.steps if s.op == "add_column")
    weakened = target.model_copy(
        update={"locks": [LockEntry(relation=str(target.table), mode="SHARE UPDATE EXCLUSIVE")]}
    )
    plan = with_hash(
        plan.model_copy(
            update={"steps": [weakened if s.id == target.id else s for s in plan.steps]}
        )
    )
    with pytest.raises(StepFailed) as info:
        _execute(pg_dsn, plan)
    assert info.value.code == "LOCK_STRONGER_THAN_PREDICTED"
    assert info.value.step == target.id
    assert "ACCESS EXCLUSIVE" in info.value.message
    with psycopg.connect(pg_dsn) as conn:  # rolled back: the column was not added
        row = conn.execute(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
            (f'"{target.table}"', target.column),
        ).fetchone()
    assert row == (0,)


def test_a_plan_predicted_for_15_fails_on_18_where_18_locks_more(
    pg_dsn: str, pg_major: int
) -> None:
    """GRANT takes no table lock on 15 and ACCESS SHARE on 18: the same step predicted for 15
    passes on 15 and fails on 18, and predicted for the server's own version passes on both."""
    old = ir_of(BLADE_V1)
    build_old(pg_dsn, old)
    version = _version(pg_dsn)
    base = build_plan(old, ir_of(BLADE_V2), server_version=version)
    for_15 = _with_step(base, _grant_step(150000))
    if pg_major >= 18:
        with pytest.raises(StepFailed) as info:
            _execute(pg_dsn, for_15)
        assert info.value.code == "LOCK_STRONGER_THAN_PREDICTED"
        assert info.value.step == "900-grant-user"
        _execute(pg_dsn, _with_step(base, _grant_step(version)))  # resumes, predicted right
    else:
        _execute(pg_dsn, for_15)


def test_rehearse_plans_for_its_shadow_and_records_the_major(pg_bin: Path, pg_major: int) -> None:
    """`wesley rehearse` without --dsn starts a shadow from WESLEY_PG_BIN (here: the major
    under test) and predicts locks for that server's version."""
    Path("blade-v1.graphql").write_bytes(BLADE_V1.read_bytes())
    Path("blade-v2.graphql").write_bytes(BLADE_V2.read_bytes())
    out = ok(
        "rehearse", "--schema", "blade-v2.graphql", "--from", "blade-v1.graphql",
        "--seed-rows", "5", "--json",
    ).json()  # fmt: skip
    realm = out["realm"]
    assert realm["verdict"] == "PASS"
    assert realm["server_version"] // 10000 == pg_major
    plan = json.loads(Path(".wesley/plan.json").read_text())
    assert plan["server_version"] == realm["server_version"]
    assert plan["plan_hash"] == realm["plan_hash"]
    assert realm["rehearsals"] == [
        {
            "major": pg_major,
            "server_version": realm["server_version"],
            "verdict": "PASS",
            "plan_hash": realm["plan_hash"],
            "tests_passed": realm["tests"]["passed"],
            "tests_planned": realm["tests"]["planned"],
        }
    ]


def test_pg_bin_option_wins_over_the_environment_and_names_itself(
    pg_bin: Path, tmp_path: Path
) -> None:
    Path("blade-v2.graphql").write_bytes(BLADE_V2.read_bytes())
    failed = wes("rehearse", "--schema", "blade-v2.graphql", "--pg-bin", str(tmp_path), "--json")
    assert failed.code == ExitCode.EXECUTION_FAILED
    error = failed.json()["error"]
    assert error["code"] == "PG_BINARIES_NOT_FOUND"
    assert error["message"].startswith(f"--pg-bin={tmp_path} ")


def test_pg_bin_with_a_dsn_is_a_usage_error() -> None:
    Path("blade-v2.graphql").write_bytes(BLADE_V2.read_bytes())
    failed = wes(
        "rehearse", "--schema", "blade-v2.graphql", "--pg-bin", "embedded",
        "--dsn", "postgresql://nobody@127.0.0.1:1/x", "--json",
    )  # fmt: skip
    assert failed.code == ExitCode.INPUT
    assert failed.json()["error"]["code"] == "USAGE"


def test_postgres_bin_in_wesley_toml(pg_bin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WESLEY_PG_BIN")
    Path("blade-v2.graphql").write_bytes(BLADE_V2.read_bytes())
    Path("wesley.toml").write_text(f'[postgres]\nbin = "{pg_bin}"\n', encoding="utf-8")
    realm = ok("rehearse", "--schema", "blade-v2.graphql", "--fresh", "--json").json()["realm"]
    assert realm["server_version"] == server_version_of(pg_bin)
    Path("wesley.toml").write_text('[postgres]\nbin = "/nowhere"\n', encoding="utf-8")
    failed = wes("rehearse", "--schema", "blade-v2.graphql", "--fresh", "--json")
    assert failed.json()["error"]["message"].startswith("[postgres] bin in wesley.toml=/nowhere")
    Path("wesley.toml").write_text("[postgres]\nbin = 18\n", encoding="utf-8")
    failed = wes("rehearse", "--schema", "blade-v2.graphql", "--fresh", "--json")
    assert failed.code == ExitCode.INPUT
    assert failed.json()["error"]["code"] == "CONFIG_INVALID"


# -- plan --server-version ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"), [("18", 180000), ("18.1", 180001), ("180001", 180001), ("15", 150000)]
)
def test_plan_server_version_accepts_a_major(given: str, expected: int) -> None:
    # tightening a column plans SET NOT NULL behind a helper check, which 18 could do natively
    Path("v1.graphql").write_text(
        "type Item @wes_table { id: ID! @wes_pk\n price: Float }\n", encoding="utf-8"
    )
    Path("v2.graphql").write_text(
        "type Item @wes_table { id: ID! @wes_pk\n price: Float! @wes_default(value: 0) }\n",
        encoding="utf-8",
    )
    args = ("plan", "--schema", "v2.graphql", "--from", "v1.graphql")
    plan = ok(*args, "--server-version", given, "--json").json()["plan"]
    assert plan["server_version"] == expected
    notes = [n for s in plan["steps"] for n in s["notes"]]
    # 18 can add NOT NULL NOT VALID natively: its plans say so, 15's do not
    assert any("PostgreSQL 18" in n for n in notes) == (expected >= 180000)
    explained = ok(*args, "--server-version", given, "--explain").stdout
    assert f"for PostgreSQL {expected // 10000}.{expected % 10000} (--server-version)" in explained


@pytest.mark.parametrize("given", ["x", "1.x", "18.x", "7", "-18"])
def test_plan_server_version_rejects_what_is_not_a_version(given: str) -> None:
    Path("blade-v2.graphql").write_bytes(BLADE_V2.read_bytes())
    failed = wes("plan", "--schema", "blade-v2.graphql", "--server-version", given, "--json")
    assert failed.code == ExitCode.INPUT
    assert "is not a PostgreSQL version" in failed.json()["error"]["message"]


# -- across majors ------------------------------------------------------------------------------


def _certify() -> None:
    ok("cert", "create", "--env", "prod", "--quiet")
    for signer in SIGNERS:
        if not Path(f"keys/{signer}").exists():
            ok("cert", "keygen", "--signer", signer, "--out", f"keys/{signer}", "--quiet")
        ok("cert", "sign", "--signer", signer, "--key", f"keys/{signer}", "--quiet")


def _rehearse(*extra: str) -> dict[str, Any]:
    args = ("rehearse", "--schema", "blade-v2.graphql", "--from", "blade-v1.graphql")
    out: dict[str, Any] = ok(*args, "--seed-rows", "5", "--json", *extra).json()["realm"]
    return out


@both_majors
def test_deploy_needs_a_rehearsal_on_the_target_major(pg_clusters: Any) -> None:
    """Rehearsed on 15 only: a deploy to 18 is refused (exit 8) and nothing is touched; after
    a second rehearsal on 18, the certificate carries both and deploys to either."""
    Path("blade-v1.graphql").write_bytes(BLADE_V1.read_bytes())
    Path("blade-v2.graphql").write_bytes(BLADE_V2.read_bytes())
    Path("wesley.toml").write_text(TOML_KEYS, encoding="utf-8")
    ok("transform", "--schema", "blade-v2.graphql", "--quiet")
    first = _rehearse("--pg-bin", str(SERVERS[15]))
    assert [r["major"] for r in first["rehearsals"]] == [15]
    _certify()
    deploy = ("deploy", "--env", "prod", "--schema", "blade-v2.graphql", "--json")
    with (
        scratch_database(pg_clusters.admin_dsn(18)) as on_18,
        scratch_database(pg_clusters.admin_dsn(15)) as on_15,
    ):
        for dsn in (on_15, on_18):
            build_old(dsn, ir_of(BLADE_V1), rows=5)
        refused = wes(*deploy, "--dsn", on_18)
        assert refused.code == ExitCode.CERT_INVALID, refused.stdout + refused.stderr
        error = refused.json()["error"]
        assert error["code"] == "DEPLOY_REFUSED"
        assert "runs PostgreSQL 18" in error["message"]
        assert "rehearsed on PostgreSQL 15 only" in error["message"]
        assert not has_run_records(on_18)

        # the second rehearsal, on 18, is added to the first
        second = _rehearse("--pg-bin", "embedded")
        majors = {r["major"]: r for r in second["rehearsals"]}
        assert sorted(majors) == [15, 18]
        assert majors[15] == first["rehearsals"][0]
        assert majors[18]["plan_hash"] != majors[15]["plan_hash"]  # facts of another version
        _certify()
        shipme = Path("SHIPME.md").read_text(encoding="utf-8")
        assert "- rehearsed on: PostgreSQL 15." in shipme and ", PostgreSQL 18." in shipme
        ok("cert", "verify")
        for dsn, major in ((on_18, 18), (on_15, 15)):
            done = ok(*deploy, "--dsn", dsn).json()
            assert done["plan_hash"] == majors[major]["plan_hash"]
            assert [r["status"] for r in runs(dsn)] == ["applied"]


@both_majors
def test_a_changed_plan_drops_the_other_majors_rehearsal(pg_clusters: Any) -> None:
    """Rehearsals are kept only while they rehearsed the plan this run makes for their version:
    a batch size the plan does not use (blade has no backfill) keeps the 15 rehearsal; a plan
    made with --allow-destructive is another plan, and drops it."""
    Path("blade-v1.graphql").write_bytes(BLADE_V1.read_bytes())
    Path("blade-v2.graphql").write_bytes(BLADE_V2.read_bytes())
    _rehearse("--pg-bin", str(SERVERS[15]))
    same = _rehearse("--pg-bin", "embedded", "--batch-size", "7")
    assert [r["major"] for r in same["rehearsals"]] == [15, 18]
    again = _rehearse("--pg-bin", "embedded", "--allow-destructive")
    assert [r["major"] for r in again["rehearsals"]] == [18]
    # a dry run of the same plan keeps what was proven
    dry = _rehearse("--pg-bin", "embedded", "--allow-destructive", "--dry-run")
    assert [r["major"] for r in dry["rehearsals"]] == [18]
    # another schema: nothing rehearsed of it yet
    Path("blade-v2.graphql").write_text(
        BLADE_V2.read_text() + "\ntype Extra @wes_table { id: ID! @wes_pk }\n"
    )
    other = _rehearse("--pg-bin", "embedded", "--dry-run")
    assert other["rehearsals"] == []


@both_majors
def test_force_deploys_to_an_unrehearsed_major_and_says_so(pg_clusters: Any) -> None:
    Path("blade-v1.graphql").write_bytes(BLADE_V1.read_bytes())
    Path("blade-v2.graphql").write_bytes(BLADE_V2.read_bytes())
    Path("wesley.toml").write_text(TOML_KEYS, encoding="utf-8")
    ok("transform", "--schema", "blade-v2.graphql", "--quiet")
    _rehearse("--pg-bin", str(SERVERS[15]))
    _certify()
    with scratch_database(pg_clusters.admin_dsn(18)) as on_18:
        build_old(on_18, ir_of(BLADE_V1))
        forced = ok(
            "deploy", "--env", "prod", "--schema", "blade-v2.graphql", "--dsn", on_18, "--force"
        )
        assert "--force: deploying despite: the target runs PostgreSQL 18" in forced.stderr
        [run] = runs(on_18)
        assert run["forced"] is True
        assert run["status"] == "applied"
