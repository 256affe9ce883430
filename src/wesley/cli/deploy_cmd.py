"""`wesley deploy`: apply the certified plan to a real database, with the rehearsal's executor.

It refuses (exit 8) unless SHIPME.md verifies (trusted signatures, required signers,
thresholds, PASS), was made for this environment and this schema, and its plan_hash equals
the plan computed now against the target database, and, for a certificate bound to a target,
this is that database. `--force` deploys anyway and the run record says so. `--resume`
continues an interrupted deploy of the certified plan, from the plan stored with its run
record, once that plan hashes to the certified plan_hash (never overridden by --force).
"""

from __future__ import annotations

import getpass
import json
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

import click
import psycopg

from wesley.api.records import DEPLOYED
from wesley.cert import certificate
from wesley.cert.binding import stored_plan_problem, target_identity, target_problem
from wesley.cert.check import verify_file
from wesley.cert.settings import cert_error, cert_settings
from wesley.cli.common import global_options, output
from wesley.cli.output import Output
from wesley.cli.progress import progress_for
from wesley.cli.run_options import run_options, run_settings
from wesley.config import load_config
from wesley.db.dsn import check_dsn, connect_error, redact
from wesley.db.executor import LOCK_POLL_S, ExecOptions, Executor, StepFailed
from wesley.db.facts import gather
from wesley.db.introspect import introspect
from wesley.db.migration_lock import holder, locked_error
from wesley.db.pgtap import run_suite
from wesley.db.privileges import check_probe_role
from wesley.db.roles import affected_roles
from wesley.db.session import connect, lost, lost_error, server_version
from wesley.errors import ExitCode, WesleyError
from wesley.evidence.models import Snapshot
from wesley.files import read_schema_file, schema_location, write_atomic
from wesley.ir import IR, ir_hash, sha256_hex
from wesley.plan.build import DEFAULT_BATCH_SIZE, build_plan
from wesley.plan.models import Plan
from wesley.sdl import parse_sdl
from wesley.targets.pgtap import pgtap


def _sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


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


def _stored_run(dsn: str, plan_hash: str) -> tuple[Plan, str] | None:
    """The stored plan and status of the latest run of `plan_hash` on the target, if any."""
    try:
        with connect(dsn) as conn:
            if conn.execute("SELECT to_regclass('wesley.migration_runs')").fetchone() == (None,):
                return None
            row = conn.execute(
                "SELECT plan, status FROM wesley.migration_runs WHERE plan_hash = %s AND plan "
                "IS NOT NULL ORDER BY status = 'applied' DESC, run_id DESC LIMIT 1",
                (plan_hash,),
            ).fetchone()
    except psycopg.OperationalError as exc:
        raise connect_error(exc, dsn) from None
    if not row:
        return None
    try:
        return Plan.model_validate(row[0]), str(row[1])
    except ValueError:  # not even a plan any more: it was edited
        raise cert_error(
            "STORED_PLAN_MISMATCH",
            "the plan stored in wesley.migration_runs is not a valid plan: it was changed in "
            "the database",
            "nothing was run; find out who edited wesley.migration_runs",
        ) from None


def _plan_now(dsn: str, new: IR, summary: dict[str, Any], version: int | None) -> Plan:
    """The plan from the target as it is now (introspected) to the schema, for `version` (the
    major it was rehearsed on: its lock facts are that version's), else the target's own."""
    try:
        with connect(dsn) as conn:
            old = introspect(conn)
            version = version or int(summary.get("server_version") or conn.info.server_version)
            facts = gather(conn, old, new)
    except psycopg.OperationalError as exc:
        raise connect_error(exc, dsn) from None
    # pre-flight: a change the data makes impossible stops the deploy before any step (the
    # counts never change the plan itself, so it stays comparable with the certified one)
    blocked = build_plan(old, new, server_version=version, data=facts).blocked
    if blocked:
        raise WesleyError(
            "PLAN_BLOCKED",
            "deploy refused before any step: "
            + "; ".join(f"{r.change} {r.table}: {r.risk}" for r in blocked),
            "change the data on the target first; nothing was applied",
            exit_code=ExitCode.EXECUTION_FAILED,
        )
    # --force skips the certificate, never the rule against destructive changes: only a
    # plan certified with --allow-destructive may drop or rewrite
    return build_plan(
        old,
        new,
        server_version=version,
        allow_destructive=bool(summary.get("allow_destructive")),
        batch_size=int(summary.get("batch_size") or DEFAULT_BATCH_SIZE),
    )


def _lock_holder(dsn: str) -> int | None:
    with connect(dsn) as conn:
        return holder(conn)


def _wrong_target(dsn: str, bound: dict[str, Any]) -> str | None:
    with connect(dsn) as conn:
        return target_problem(bound, target_identity(conn))


def _deployed_by_wesley(dsn: str) -> bool:
    with connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('wesley.migration_runs')").fetchone() == (None,):
            return False
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM wesley.migration_runs WHERE status = 'applied')"
        ).fetchone()
        return bool(row and row[0])


def _has_tables(dsn: str) -> bool:
    with connect(dsn) as conn:
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "AND relkind IN ('r', 'p'))"
        ).fetchone()
        return bool(row and row[0])


def _already_deployed(
    out: Output, dsn: str, environment: str, certified: str, block: dict[str, Any], new: IR
) -> None:
    """Exit 0 without running anything: the certified plan is applied and nothing differs."""
    with connect(dsn) as conn:
        row = conn.execute(
            "SELECT run_id, finished_at FROM wesley.migration_runs WHERE plan_hash = %s AND "
            "status = 'applied' ORDER BY run_id DESC LIMIT 1",
            (certified,),
        ).fetchone()
    run_id, when = (row[0], row[1]) if row else (None, None)
    out.info(
        f"already deployed: plan {certified[:12]} was applied to {redact(dsn)} ({environment})"
        + (f" by run {run_id} at {when:%Y-%m-%d %H:%M:%S %Z}" if when else "")
        + "; nothing to do, nothing was run"
    )
    out.info(certificate.badge(block, certificate_thresholds()))
    out.result(
        {
            "already_deployed": True,
            "run_id": run_id,
            "plan_hash": certified,
            "applied": 0,
            "forced": False,
            "ir_hash": ir_hash(new),
            "tests": None,
        }
    )


def _check_privileges(dsn: str, new: IR) -> None:
    with connect(dsn) as conn:
        check_probe_role(conn, new)


@click.command("deploy")
@click.option("--dsn", required=True, help="The target database.")
@click.option("--env", "environment", required=True, help="The environment being deployed.")
@click.option(
    "--in", "cert_path", default="SHIPME.md", show_default=True, help="The signed certificate."
)
@click.option(
    "--schema", "schema_path", help="The SDL file, - for stdin (default: from wesley.toml)."
)
@click.option("--resume", is_flag=True, help="Continue an interrupted deploy.")
@click.option("--force", is_flag=True, help="Deploy without a valid certificate (recorded).")
@click.option("--wait", is_flag=True, help="Wait for another run's migration lock.")
@run_options
@click.option(
    "--pubkey",
    "--pub",
    "pubkeys",
    multiple=True,
    help="A trusted public key file (repeatable; also [cert.keys] in wesley.toml).",
)
@global_options
@click.pass_context
def deploy(
    ctx: click.Context,
    dsn: str,
    environment: str,
    cert_path: str,
    schema_path: str | None,
    resume: bool,
    force: bool,
    wait: bool,
    timeout_flags: dict[str, int | None],
    pubkeys: tuple[str, ...],
) -> None:
    """Apply the certified plan to a real database."""
    out = output(ctx)
    check_dsn(dsn)
    config = load_config()
    timeouts, pacing = run_settings(config, timeout_flags)
    schema_file = schema_path or config.schema
    new = parse_sdl(
        read_schema_file(schema_file), schema_location(schema_file), config.parse_options()
    ).ir
    problems: list[str] = []
    block: dict[str, Any] = {}
    cert_bytes = Path(cert_path).read_bytes() if Path(cert_path).is_file() else None
    if cert_bytes is None:
        problems.append(f"no certificate at {cert_path}")
    else:
        try:
            result = verify_file(cert_path, pubkeys, None, config.raw)
        except WesleyError as err:  # not UTF-8
            result = certificate.Verification(ok=False, failures=[err.message])
        block = result.block
        problems += result.failures
        for note in result.notes:
            out.log(f"certificate: {note}")
        if block and block.get("environment") != environment:
            problems.append(
                f"the certificate is for {block.get('environment')!r}, not {environment!r}"
            )
        if block and block.get("ir_hash") != ir_hash(new):
            problems.append("the certificate is stale: the schema changed since it was made")
    summary = block.get("plan", {}).get("summary", {}) if block else {}
    target = server_version(dsn)
    rehearsal = _rehearsal_for(block, target // 10000, problems) if block else None
    certified = str(rehearsal["plan_hash"]) if rehearsal else None
    stored = _stored_run(dsn, certified) if certified else None
    plan: Plan | None = stored[0] if resume and stored else None
    if plan is not None and certified and (tampered := stored_plan_problem(plan, certified)):
        raise cert_error(
            "STORED_PLAN_MISMATCH",
            f"deploy --resume refused: {tampered}",
            "nothing was run (--force does not override this); find out who edited "
            "wesley.migration_runs, then deploy without --resume to plan from the database",
        )
    bound = block.get("target") if block else None
    if isinstance(bound, dict) and (wrong_target := _wrong_target(dsn, bound)) is not None:
        problems.append(wrong_target)
    if plan is None:
        version = int(rehearsal["server_version"]) if rehearsal else target
        plan = _plan_now(dsn, new, summary, version)
        # a plan that differs because another run is migrating right now is not drift, nor an
        # interrupted deploy: say who holds the lock (or, with --wait, wait and look again)
        while rehearsal and plan.plan_hash != certified and (pid := _lock_holder(dsn)) is not None:
            if not wait:
                raise locked_error(dsn, pid)
            time.sleep(LOCK_POLL_S)
            stored = _stored_run(dsn, str(certified))
            plan = _plan_now(dsn, new, summary, version)
        if rehearsal and plan.plan_hash != certified:
            if stored and stored[1] == "applied" and plan.empty and not problems:
                # a re-run CI job: the certified plan is applied and the database is at the
                # schema; nothing to do, and nothing is run
                _already_deployed(out, dsn, environment, str(certified), block, new)
                return
            if stored and stored[1] == "applied":
                why = (
                    "the certified plan was already deployed to this database, and it has "
                    "changed since"
                    if not plan.empty
                    else "the certified plan was already deployed to this database"
                )
            elif stored:
                why = "a deploy of the certified plan was interrupted: rerun with --resume"
            elif not _deployed_by_wesley(dsn) and _has_tables(dsn):
                why = (
                    "the database was not deployed by Wesley and is not at the certificate's "
                    "starting point; if it matches the schema it was built from, adopt it "
                    "first: wesley baseline --dsn DSN --schema THAT_SCHEMA, then rehearse, "
                    "certify and deploy again"
                )
            else:
                why = (
                    "the database drifted from the certificate's starting point "
                    "or the schema changed"
                )
            problems.append(
                f"the plan for {redact(dsn)} now ({plan.plan_hash[:12]}) is not the certified "
                f"plan ({str(certified)[:12]}): {why}"
            )
    if problems and not force:
        raise cert_error(
            "DEPLOY_REFUSED",
            "deploy refused: " + "; ".join(problems),
            "make, rehearse and sign a certificate for this schema and database "
            "(or --force, which is recorded)",
        )
    for p in problems:
        out.log(f"--force: deploying despite: {p}")
    _check_privileges(dsn, new)  # before any step
    for r in plan.destructive if not plan.allow_destructive else []:
        out.log(
            f"not deployed: {r.change} {r.table}{'.' + r.column if r.column else ''} is "
            "destructive and no certificate allows it (rehearse with --allow-destructive)"
        )
    behaviour = _behaviour_changes(dsn, plan)
    for line in behaviour:
        out.log(f"behaviour change: {line}")
    progress_cm = progress_for(out)
    previous = signal.signal(signal.SIGTERM, _sigterm)
    opts = ExecOptions(
        mode="deploy",
        timeouts=timeouts,
        pacing=pacing,
        resume=resume,
        wait=wait,
        operator=getpass.getuser(),
        forced=force,
        cert_hash=sha256_hex(cert_bytes) if cert_bytes is not None else None,
    )
    try:
        with (
            progress_cm as progress,
            Executor(dsn, plan, ir_hash(new), opts, progress, progress.meter) as ex,
        ):
            run = ex.run()
    except StepFailed as failed:
        resume_hint = (
            "" if "--resume" in failed.hint else "; fix the cause, then rerun with --resume"
        )
        raise WesleyError(
            failed.code,
            f"deploy stopped at step {failed.step}: {failed.message}",
            failed.hint + resume_hint,
            exit_code=ExitCode.EXECUTION_FAILED,
        ) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    try:
        with connect(dsn) as conn:
            tap = run_suite(conn, pgtap(new)[0].text) if new.tables else None
    except psycopg.OperationalError as exc:
        if not lost(None, exc):
            raise
        raise lost_error(exc, dsn, "the pgTAP suite after the plan was applied") from None
    write_atomic(
        DEPLOYED,
        json.dumps(
            Snapshot(ir_hash=ir_hash(new), ir=new).model_dump(mode="json", by_alias=True),
            indent=2,
            sort_keys=True,
        )
        + "\n",
    )
    applied = sum(1 for s in run.steps if s.status == "applied")
    tests = f"pgTAP {tap.passed}/{tap.planned} passed" if tap else "no tables to test"
    out.info(
        f"deployed to {redact(dsn)} ({environment}): {applied} steps applied, {tests}"
        + (" [FORCED]" if force else "")
    )
    if block:
        out.info(certificate.badge(block, certificate_thresholds()))
    if tap is not None and not tap.ok:
        raise WesleyError(
            "TESTS_FAILED",
            f"deployed, but {tap.failed} of {tap.planned} pgTAP assertions fail on the target: "
            + (tap.failures[0].splitlines()[0] if tap.failures else "the suite did not finish"),
            "the target differs from the schema: investigate before the next deploy",
            exit_code=ExitCode.EXECUTION_FAILED,
        )
    out.result(
        {
            "run_id": run.run_id,
            "plan_hash": plan.plan_hash,
            "applied": applied,
            "forced": force,
            "behaviour_changes": behaviour,
            "tests": {"planned": tap.planned, "passed": tap.passed} if tap else None,
        }
    )


def _behaviour_changes(dsn: str, plan: Plan) -> list[str]:
    """The plan's behaviour changes in words, naming the roles on the target they reach."""
    lines: list[str] = []
    if not plan.behaviour_changes:
        return lines
    with connect(dsn) as conn:
        for b in plan.behaviour_changes:
            if b.kind != "enable_rls":
                lines.append(b.message)
                continue
            roles = affected_roles(conn, b.table, b.force)
            who = ", ".join(roles) if roles else "no role holds a privilege on it yet"
            lines.append(f"{b.message}; roles affected: {who}")
    return lines


def certificate_thresholds() -> dict[str, float]:
    return cert_settings(load_config().raw).thresholds
