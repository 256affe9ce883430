"""`deploy`: apply the certified plan to a real database, with the rehearsal's executor.

It refuses (DEPLOY_REFUSED, exit 8) unless SHIPME.md verifies (trusted signatures, required
signers, thresholds, PASS), was made for this environment and this schema, its plan_hash
equals the plan computed now against the target database, and, for a certificate bound to a
target, this is that database. `force` deploys anyway and the run record says so. `resume`
continues an interrupted deploy of the certified plan, from the plan stored with its run
record, once that plan hashes to the certified plan_hash (never overridden by `force`). A
certified plan that is already applied, with the database at the schema, is a no-op: the
result says `already_deployed` and nothing runs. After the plan the pgTAP suite runs on the
target (TESTS_FAILED, exit 13, when it fails; the error's `result` is the DeployResult) and
`.wesley/deployed.json` records the schema.

A two-stage plan (renames, rewriting type changes, drops: docs/expand-contract.md) deploys in
two calls: `deploy` runs expand → switch (the run is recorded `expanded`; the result's `stage`
says so and `compat` how each application version connects), then, once the old application
version is retired, `deploy(..., stage="complete")` runs the contract and records the schema;
`stage="abort"` rolls the expand back instead. Both act on the migration in flight, from the
plan stored with its run (wesley.db.stages). While one is in flight, another plan is refused
(MIGRATION_IN_FLIGHT).
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from wesley.api.records import write_deployed
from wesley.api.schema import load_schema
from wesley.cert import certificate
from wesley.cert.binding import stored_plan_problem, target_identity, target_problem
from wesley.cert.check import verify_file
from wesley.cert.settings import cert_error, cert_settings
from wesley.config import load_config
from wesley.db import target as on_target
from wesley.db.dsn import check_dsn, redact
from wesley.db.executor import LOCK_POLL_S, ExecOptions, Executor, Progress, StepFailed
from wesley.db.migration_lock import locked_error
from wesley.db.pgtap import TapResult, run_suite, suite_failure
from wesley.db.privileges import check_probe_role, check_roles
from wesley.db.progress import Meter
from wesley.db.records import StepRecord
from wesley.db.session import connect, lost, lost_error, server_version
from wesley.db.stages import flight_plan, in_flight, in_flight_error, suite_after
from wesley.errors import ExitCode, WesleyError
from wesley.ir import IR, ir_hash, sha256_hex
from wesley.limits import run_settings
from wesley.plan.models import Compat, Plan, Stage
from wesley.plan.timeouts import Pacing, Timeouts
from wesley.targets.pgtap import pgtap

Log = Callable[[str], None]


def _quiet(_line: str) -> None:
    return None


@dataclass(frozen=True)
class TestSummary:
    planned: int
    passed: int
    failed: int


@dataclass(frozen=True)
class DeployResult:
    database: str  # redacted
    environment: str
    plan_hash: str
    run_id: int | None
    steps: list[StepRecord] = field(default_factory=list)
    forced: bool = False
    already_deployed: bool = False
    applied_at: datetime | None = None  # when already_deployed: when it was
    tests: TestSummary | None = None
    badge: str | None = None  # the certificate's status line
    behaviour_changes: list[str] = field(default_factory=list)  # in words, roles named
    # a two-stage plan: "expanded" after deploy, "completed" / "aborted" after those stages;
    # "applied" for a plan that completes in one deploy
    stage: str = "applied"
    compat: Compat | None = None  # how each application version connects (two versions live)
    two_stage: bool = False

    @property
    def applied(self) -> int:
        return sum(1 for s in self.steps if s.status == "applied")


def _certificate(
    cert_path: Path, pubkeys: Iterable[str | Path], config: dict[str, Any], log: Log
) -> tuple[dict[str, Any], list[str], bytes | None]:
    """The certificate's block, why it cannot deploy, its bytes."""
    if not cert_path.is_file():
        return {}, [f"no certificate at {cert_path}"], None
    try:
        result = verify_file(cert_path, pubkeys, None, config)
    except WesleyError as err:  # not UTF-8
        result = certificate.Verification(ok=False, failures=[err.message])
    for note in result.notes:
        log(f"certificate: {note}")
    return result.block, list(result.failures), cert_path.read_bytes()


def _rehearsal_for(block: dict[str, Any], major: int, problems: list[str]) -> dict[str, Any] | None:
    """The certificate's rehearsal on `major`, the target's; a problem when there is none or
    it did not pass: a plan rehearsed on 15 is not evidence about 18."""
    done = certificate.rehearsals(block)
    found = next((r for r in done if r.get("major") == major), None)
    if found is None:
        on = ", ".join(str(r.get("major")) for r in done) or "no server"
        problems.append(
            f"the target runs PostgreSQL {major} and the plan was rehearsed on PostgreSQL {on} "
            f"only: rehearse it on {major} too (wesley rehearse --pg-bin DIR, or --dsn to a "
            f"PostgreSQL {major} shadow), then create and sign the certificate again"
        )
        return None
    if found.get("verdict") != "PASS":
        problems.append(f"the rehearsal on PostgreSQL {major} is {found.get('verdict')}")
        return None
    return found


def _why_not_certified(dsn: str, plan: Plan, stored: tuple[Plan, str] | None) -> str:
    if stored and stored[1] == "applied":
        return (
            "the certified plan was already deployed to this database, and it has changed since"
            if not plan.empty
            else "the certified plan was already deployed to this database"
        )
    if stored:
        return "a deploy of the certified plan was interrupted: rerun with --resume"
    why = "the database drifted from the certificate's starting point or the schema changed"
    if not on_target.deployed_by_wesley(dsn) and on_target.has_tables(dsn):
        why += (
            "; it was not deployed by Wesley: if it matches the schema it was built from, "
            "adopt it first (wesley baseline --dsn DSN --schema THAT_SCHEMA), then rehearse, "
            "certify and deploy again"
        )
    return why


def deploy(
    dsn: str,
    environment: str,
    *,
    cert: str | Path = "SHIPME.md",
    schema: str | Path | None = None,
    sdl: str | None = None,
    pubkeys: Iterable[str | Path] = (),
    resume: bool = False,
    force: bool = False,
    timeouts: Timeouts | None = None,
    pacing: Pacing | None = None,
    wait: bool = False,
    progress: Progress | None = None,
    meter: Meter | None = None,
    log: Log = _quiet,
    stage: Stage = "start",
) -> DeployResult:
    """`stage`: `start` (the default: a whole plan, or a two-stage plan's expand → switch),
    `complete` or `abort` (the migration in flight)."""
    check_dsn(dsn)
    config = load_config()
    limits = run_settings(config, {})  # wesley.toml's, unless given
    new = load_schema(schema, sdl=sdl, config=config).ir
    thresholds = cert_settings(config.raw).thresholds
    block, problems, cert_bytes = _certificate(Path(cert), pubkeys, config.raw, log)
    if block and block.get("environment") != environment:
        problems.append(f"the certificate is for {block.get('environment')!r}, not {environment!r}")
    if block and block.get("ir_hash") != ir_hash(new):
        problems.append("the certificate is stale: the schema changed since it was made")
    badge = certificate.badge(block, thresholds) if block else None
    summary = block.get("plan", {}).get("summary", {}) if block else {}
    target = server_version(dsn)
    rehearsal = _rehearsal_for(block, target // 10000, problems) if block else None
    certified = str(rehearsal["plan_hash"]) if rehearsal else None
    with connect(dsn) as conn:
        flight = in_flight(conn)
    plan: Plan | None = None
    stored = None
    if stage != "start":
        plan = flight_plan(flight, certified, stage, problems)
        tampered = stored_plan_problem(plan, plan.plan_hash)
        if tampered:  # edited in the database: never run, --force included
            raise cert_error(
                "STORED_PLAN_MISMATCH",
                f"deploy --{stage} refused: {tampered}",
                "nothing was run (--force does not override this); find out who edited "
                "wesley.migration_runs",
            )
    else:
        if flight is not None and flight.status == "expanded":
            raise in_flight_error(flight, certified)
        stored = on_target.stored_run(dsn, certified) if certified else None
        # after --abort the database keeps what the expand did for the old version: the
        # certified plan runs again from its stored copy (its guards skip what is there)
        again = stored is not None and stored[1] == "aborted"
        plan = stored[0] if stored and (resume or again) else None
    tampered = stored_plan_problem(plan, certified) if plan and certified else None
    if stage == "start" and tampered:
        raise cert_error(
            "STORED_PLAN_MISMATCH",
            f"deploy {'--resume ' if resume else ''}refused: {tampered}",
            "nothing was run (--force does not override this); find out who edited "
            "wesley.migration_runs, then deploy without --resume to plan from the database",
        )
    bound = block.get("target") if block else None
    if isinstance(bound, dict):
        with connect(dsn) as conn:
            wrong_target = target_problem(bound, target_identity(conn))
        if wrong_target is not None:
            problems.append(wrong_target)
    if plan is None:
        version = int(rehearsal["server_version"]) if rehearsal else target
        plan = on_target.plan_now(dsn, new, summary, version)
        # a plan that differs because another run is migrating right now is not drift, nor an
        # interrupted deploy: say who holds the lock (or, with wait, wait and look again)
        while (
            rehearsal
            and plan.plan_hash != certified
            and (pid := on_target.lock_holder(dsn)) is not None
        ):
            if not wait:
                raise locked_error(dsn, pid)
            time.sleep(LOCK_POLL_S)
            stored = on_target.stored_run(dsn, str(certified))
            plan = on_target.plan_now(dsn, new, summary, version)
        if rehearsal and certified and plan.plan_hash != certified:
            if stored and stored[1] == "applied" and plan.empty and not problems:
                # a re-run CI job: the certified plan is applied and the database is at the
                # schema; nothing to do, and nothing is run
                run = on_target.last_applied(dsn, certified)
                return DeployResult(
                    redact(dsn),
                    environment,
                    certified,
                    run[0] if run else None,
                    already_deployed=True,
                    applied_at=run[1] if run else None,
                    badge=badge,
                )
            problems.append(
                f"the plan for {redact(dsn)} now ({plan.plan_hash[:12]}) is not the certified "
                f"plan ({certified[:12]}): {_why_not_certified(dsn, plan, stored)}"
            )
    if problems and not force:
        raise cert_error(
            "DEPLOY_REFUSED",
            "deploy refused: " + "; ".join(problems),
            "make, rehearse and sign a certificate for this schema and database "
            "(or --force, which is recorded)",
        )
    for p in problems:
        log(f"--force: deploying despite: {p}")
    with connect(dsn) as conn:  # before any step
        check_probe_role(conn, new)
        if stage != "abort":
            check_roles(conn, new)
    for r in plan.destructive if not plan.allow_destructive else []:
        log(
            f"not deployed: {r.change} {r.table}{'.' + r.column if r.column else ''} is "
            "destructive and no certificate allows it (rehearse with --allow-destructive)"
        )
    behaviour = on_target.behaviour_changes(dsn, plan) if stage == "start" else []
    for line in behaviour:
        log(f"behaviour change: {line}")
    steps, run_id = _execute(
        dsn,
        plan,
        new,
        ExecOptions(
            mode="deploy",
            timeouts=timeouts or limits[0],
            pacing=pacing or limits[1],
            resume=resume,
            wait=wait,
            operator=getpass.getuser(),
            forced=force,
            cert_hash=sha256_hex(cert_bytes) if cert_bytes is not None else None,
        ),
        progress,
        meter,
        stage,
    )
    tap = _test(dsn, new, stage, plan)
    expanded = stage == "start" and plan.two_stage
    if stage != "abort" and not expanded:
        write_deployed(new)
    done = {"start": "expanded" if expanded else "applied", "complete": "completed"}
    result = DeployResult(
        redact(dsn),
        environment,
        plan.plan_hash,
        run_id,
        steps,
        forced=force,
        tests=TestSummary(tap.planned, tap.passed, tap.failed) if tap else None,
        badge=badge,
        behaviour_changes=behaviour,
        stage=done.get(stage, "aborted"),
        compat=plan.compat,
        two_stage=plan.two_stage,
    )
    if tap is not None and not tap.ok:
        why = suite_failure(
            tap, "the target differs from the schema: investigate before the next deploy"
        )
        raise WesleyError(
            why.code,
            f"deployed, but {why.message}"
            if why.code != "TESTS_FAILED"
            else f"deployed, but {tap.failed} of {tap.planned} pgTAP assertions fail on the "
            f"target: {why.test}",
            why.hint,
            exit_code=ExitCode.EXECUTION_FAILED,
            result=result,
        )
    return result


def _execute(
    dsn: str,
    plan: Plan,
    new: IR,
    opts: ExecOptions,
    progress: Progress | None,
    meter: Meter | None,
    stage: Stage = "start",
) -> tuple[list[StepRecord], int]:
    try:
        with Executor(dsn, plan, ir_hash(new), opts, progress, meter) as ex:
            run = ex.run(stage)
    except StepFailed as failed:
        flag = {"start": "--resume", "complete": "--complete", "abort": "--abort"}[stage]
        resume_hint = "" if flag in failed.hint else f"; fix the cause, then rerun with {flag}"
        raise WesleyError(
            failed.code,
            f"deploy stopped at step {failed.step}: {failed.message}",
            failed.hint + resume_hint,
            exit_code=ExitCode.EXECUTION_FAILED,
        ) from None
    return run.steps, run.run_id


def _test(dsn: str, new: IR, stage: Stage = "start", plan: Plan | None = None) -> TapResult | None:
    """The pgTAP suite on the target after the stage (wesley.db.stages.suite_after; None: no
    tables to test, or an abort)."""
    try:
        with connect(dsn) as conn:
            if plan is None:
                return run_suite(conn, pgtap(new)[0].text) if new.tables else None
            return suite_after(conn, stage, plan, new)
    except psycopg.OperationalError as exc:
        if not lost(None, exc):
            raise
        raise lost_error(exc, dsn, "the pgTAP suite after the plan was applied") from None
