"""`up`: bring a development database to the schema without a certificate. The database is
introspected (an empty one gets everything created), the plan from it to the schema is applied
by the executor `deploy` uses (migration lock, lock timeouts, run records with mode `up`,
guards), and destructive changes are refused unless `allow_destructive`. Nothing is written
to `.wesley/`: a development database is not the deployed state the next certificate starts
from."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from pathlib import Path

from wesley.api.schema import load_schema
from wesley.config import load_config
from wesley.db.dsn import check_dsn, redact
from wesley.db.executor import ExecOptions, Executor, Progress, StepFailed
from wesley.db.introspect import introspect
from wesley.db.privileges import check_roles
from wesley.db.progress import Meter
from wesley.db.records import StepRecord
from wesley.db.session import connect
from wesley.errors import ExitCode, WesleyError
from wesley.ir import ir_hash
from wesley.limits import run_settings
from wesley.plan.build import DEFAULT_BATCH_SIZE, build_plan
from wesley.plan.models import Plan
from wesley.plan.timeouts import Pacing, Timeouts


@dataclass(frozen=True)
class UpResult:
    database: str  # redacted
    ir_hash: str
    plan: Plan
    steps: list[StepRecord] = field(default_factory=list)

    @property
    def applied(self) -> int:
        return sum(1 for s in self.steps if s.status == "applied")

    @property
    def up_to_date(self) -> bool:
        return not self.plan.steps


def destructive_error(plan: Plan, hint: str) -> WesleyError:
    names = "; ".join(
        f"{r.change} {'.'.join(x for x in (r.table, r.column) if x)}: {r.risk}"
        for r in plan.destructive
    )
    return WesleyError(
        "PLAN_DESTRUCTIVE",
        f"the plan holds destructive changes: {names}",
        hint,
        exit_code=ExitCode.REFUSED,
        details={"plan": plan.to_json_data()},
    )


def up(
    dsn: str,
    schema: str | Path | None = None,
    *,
    sdl: str | None = None,
    allow_destructive: bool = False,
    timeouts: Timeouts | None = None,
    pacing: Pacing | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    wait: bool = False,
    progress: Progress | None = None,
    meter: Meter | None = None,
) -> UpResult:
    check_dsn(dsn)
    config = load_config()
    limits = run_settings(config, {})  # wesley.toml's, unless given
    new = load_schema(schema, sdl=sdl, config=config).ir
    with connect(dsn, autocommit=False) as conn:  # one snapshot for the whole catalog
        live, version = introspect(conn), conn.info.server_version
        check_roles(conn, new)  # before any step
    plan = build_plan(
        live,
        new,
        server_version=version,
        allow_destructive=allow_destructive,
        batch_size=batch_size,
    )
    if plan.destructive and not allow_destructive:
        raise destructive_error(
            plan, "nothing was applied; review them, then rerun with --allow-destructive"
        )
    if not plan.steps:
        return UpResult(redact(dsn), ir_hash(new), plan)
    opts = ExecOptions(
        mode="up",
        timeouts=timeouts or limits[0],
        pacing=pacing or limits[1],
        resume=True,  # a dev loop continues where a failed `up` stopped; guards protect
        wait=wait,
        operator=getpass.getuser(),
    )
    try:
        with Executor(dsn, plan, ir_hash(new), opts, progress, meter) as ex:
            run = ex.run()
    except StepFailed as failed:
        raise WesleyError(
            failed.code,
            f"up stopped at step {failed.step}: {failed.message}",
            failed.hint + "; fix the cause and run wesley up again",
            exit_code=ExitCode.EXECUTION_FAILED,
        ) from None
    return UpResult(redact(dsn), ir_hash(new), plan, run.steps)
