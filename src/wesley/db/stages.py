"""The stages of a two-stage plan (wesley.plan.compat) in the run records.

`deploy` runs expand → switch and records its run `expanded`: a migration is *in flight*, the
old and the new application version both work. `deploy --complete` runs the contract and
records the expanded run `completed` (`superseded_by` names the run that completed it);
`deploy --abort` runs the plan's roll-back, records the runs it took back `aborted` and marks
their step records `aborted`, so the plan can be deployed again from the start. While a
migration is in flight, another plan is not deployed (MIGRATION_IN_FLIGHT).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from wesley.db import run_records
from wesley.db.pgtap import TapResult, run_suite
from wesley.errors import ExitCode, WesleyError
from wesley.ir import IR
from wesley.plan.models import Plan, Stage
from wesley.targets.pgtap import pgtap, version_suite


@dataclass(frozen=True)
class InFlight:
    run_id: int
    plan_hash: str
    status: str  # expanded; or failed / interrupted: an expand that stopped half-way
    plan: Plan


def _has_records(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT to_regclass('wesley.migration_runs') IS NOT NULL").fetchone()
    return bool(row and row[0])


def in_flight(conn: psycopg.Connection[Any]) -> InFlight | None:
    """The migration in flight on this database: an `expanded` run, else the latest run when
    it is an expand of a two-stage plan that stopped (failed, interrupted)."""
    if not _has_records(conn):
        return None
    row = conn.execute(
        "SELECT run_id, plan_hash, status, plan FROM wesley.migration_runs "
        "WHERE status = 'expanded' AND plan IS NOT NULL ORDER BY run_id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        row = conn.execute(
            "SELECT run_id, plan_hash, status, plan FROM wesley.migration_runs WHERE plan IS "
            "NOT NULL ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
        if row is None or row[2] not in ("failed", "interrupted", "running"):
            return None
    try:
        plan = Plan.model_validate(row[3])
    except ValueError:
        return None  # an unreadable plan: deploy's own checks say so
    if not plan.two_stage:
        return None
    return InFlight(int(row[0]), str(row[1]), str(row[2]), plan)


def in_flight_error(flight: InFlight, certified: str | None) -> WesleyError:
    """MIGRATION_IN_FLIGHT: a plain deploy while another migration awaits --complete."""
    same = certified is not None and flight.plan_hash == certified
    what = "this certificate's plan" if same else f"plan {flight.plan_hash[:12]}"
    state = (
        "was expanded"
        if flight.status == "expanded"
        else f"stopped during its expand ({flight.status})"
    )
    return WesleyError(
        "MIGRATION_IN_FLIGHT",
        f"a migration is in flight: run {flight.run_id} of {what} {state}; the old and the new "
        "application version may both be running",
        "retire the old version, then `wesley deploy --complete`; or roll the expand back with "
        "`wesley deploy --abort`"
        + ("" if flight.status == "expanded" else "; or continue it with `wesley deploy --resume`"),
        exit_code=ExitCode.EXECUTION_FAILED,
    )


def check_stage(
    conn: psycopg.Connection[Any], plan: Plan, stage: Stage, done: set[str], begun: bool
) -> None:
    """Whether `stage` may run now: --complete after the whole expand, --abort before any
    contract step."""
    start = {s.id for s in plan.stage_steps("start")}
    contract = {s.id for s in plan.stage_steps("complete")}
    if not plan.two_stage:
        raise WesleyError(
            "NOTHING_IN_FLIGHT",
            f"plan {plan.plan_hash[:12]} completes in one deploy: there is no expand to "
            f"{'complete' if stage == 'complete' else 'abort'}",
            "deploy it without --complete / --abort",
            exit_code=ExitCode.EXECUTION_FAILED,
        )
    if stage == "complete" and not begun and not start <= done:
        raise WesleyError(
            "NOT_EXPANDED",
            f"the expand of plan {plan.plan_hash[:12]} is not finished: {len(start & done)} of "
            f"{len(start)} steps applied",
            "finish it first (`wesley deploy --resume`), or roll it back with --abort",
            exit_code=ExitCode.EXECUTION_FAILED,
        )
    if stage == "abort" and (begun or done & contract):
        raise WesleyError(
            "ABORT_REFUSED",
            f"--complete has begun the contract of plan {plan.plan_hash[:12]} "
            f"({len(done & contract)} of {len(contract)} steps applied): the old columns and "
            "names it removed cannot come back",
            "finish it with `wesley deploy --complete` (it continues where it stopped)",
            exit_code=ExitCode.EXECUTION_FAILED,
        )


def finish_sql(plan: Plan, stage: Stage, run_id: int) -> list[run_records.Statement]:
    """The statements that record the end of a run of `stage`, for the caller to run in its
    transaction (in one round trip: wesley.db.session.run_batch)."""
    status = "expanded" if stage == "start" and plan.two_stage else "applied"
    out: list[run_records.Statement] = [
        (
            "UPDATE wesley.migration_runs SET finished_at = now(), status = %s, error = NULL "
            "WHERE run_id = %s",
            (status, run_id),
        )
    ]
    if stage in ("all", "start"):
        out.append(run_records.supersede_sql(plan.plan_hash, run_id))
    if stage in ("all", "complete"):
        out.append(
            (
                "UPDATE wesley.migration_runs SET status = 'completed', superseded_by = %s "
                "WHERE plan_hash = %s AND run_id < %s AND status = 'expanded'",
                (run_id, plan.plan_hash, run_id),
            )
        )
        out.append(run_records.supersede_sql(plan.plan_hash, run_id))
    if stage == "abort":
        out.append(
            (
                "UPDATE wesley.migration_runs SET status = 'aborted', superseded_by = %s, "
                "finished_at = COALESCE(finished_at, now()) WHERE plan_hash = %s AND run_id < %s "
                "AND status IN ('expanded', 'failed', 'interrupted', 'running')",
                (run_id, plan.plan_hash, run_id),
            )
        )
        out.append(
            (
                "UPDATE wesley.migration_steps SET status = 'aborted' WHERE plan_hash = %s",
                (plan.plan_hash,),
            )
        )
    return out


def flight_plan(
    flight: InFlight | None, certified: str | None, stage: Stage, problems: list[str]
) -> Plan:
    """The plan --complete / --abort run: the stored plan of the migration in flight (the
    caller checks that it hashes to its own plan_hash); a certificate for another plan is
    added to `problems` (--force overrides those)."""
    if flight is None:
        raise WesleyError(
            "NOTHING_IN_FLIGHT",
            f"no migration is in flight on this database: nothing to {stage}",
            "`wesley deploy` runs a plan's expand; --complete and --abort act on it afterwards",
            exit_code=ExitCode.EXECUTION_FAILED,
        )
    if certified is not None and flight.plan_hash != certified:
        problems.append(
            f"the migration in flight is plan {flight.plan_hash[:12]}, the certificate's plan "
            f"is {certified[:12]}"
        )
    return flight.plan


def suite_after(
    conn: psycopg.Connection[Any], stage: Stage, plan: Plan, new: IR
) -> TapResult | None:
    """The pgTAP suite a stage ends with: after a two-stage plan's expand, the new version's
    through its search_path; after --complete or a one-stage deploy, the full suite; none
    after --abort."""
    if stage == "abort" or not new.tables:
        return None
    if stage == "start" and plan.two_stage:
        if plan.compat is None:
            return None
        c = plan.compat
        views = {v.name for v in c.views}
        return run_suite(conn, version_suite(new, c.new_search_path, c.version_schema, views))
    return run_suite(conn, pgtap(new)[0].text)
