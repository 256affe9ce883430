"""A rehearsal: shadow database (given, or an ephemeral cluster torn down afterwards), the old
schema built and seeded, the plan applied by the real executor, the generated pgTAP suite run,
and a second plan from the migrated database that must be empty. The result is a `Realm`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from wesley.db.apply import apply_script
from wesley.db.cluster import EphemeralCluster, create_database
from wesley.db.dsn import check_dsn, redact
from wesley.db.executor import ExecOptions, Executor, Progress, RunResult, StepFailed
from wesley.db.grants import read_grants
from wesley.db.introspect import introspect
from wesley.db.pgtap import TapResult, run_suite, suite_failure
from wesley.db.privileges import check_probe_role, create_missing_roles, schema_roles
from wesley.db.progress import Meter
from wesley.db.records import StepRecord
from wesley.db.seed import SeedReport, seed_rows
from wesley.db.session import connect, lost, lost_error
from wesley.drift import compare
from wesley.errors import WesleyError
from wesley.ir import IR, ir_hash
from wesley.plan.build import DEFAULT_SERVER_VERSION, build_plan
from wesley.plan.compat import Flight, flight_of
from wesley.plan.models import Plan
from wesley.plan.timeouts import Pacing, Timeouts
from wesley.realm.models import Failure, Realm, Rehearsal, Stages, Tests, VersionTests
from wesley.targets.pgtap import pgtap, version_suite
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls
from wesley.targets.rpc import rpc


@dataclass
class RehearseOptions:
    dsn: str | None = None
    allow_destructive: bool = False
    seed_rows: int = 0
    dry_run: bool = False
    timeout_ms: int | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    pacing: Pacing = field(default_factory=Pacing)
    batch_size: int = 1000
    resume: bool = False
    wait: bool = False
    progress: Progress | None = None
    seed_report: SeedReport | None = None
    meter: Meter | None = None
    notes: list[str] = field(default_factory=list)
    # the ephemeral shadow's server: `embedded`, `system` or a bin directory, and where that
    # choice came from (for messages); None: WESLEY_PG_BIN, else the machine's, else embedded
    pg_bin: str | None = None
    pg_bin_source: str = "WESLEY_PG_BIN"
    # the previous realm.json: its rehearsals on other majors are kept when they rehearsed
    # exactly the plan this run would make for their version
    previous: Realm | None = None


@contextmanager
def shadow_database(
    dsn: str | None, pg_bin: str | None = None, source: str = "WESLEY_PG_BIN"
) -> Iterator[tuple[str, bool]]:
    """The given database, or a fresh one in an ephemeral cluster removed afterwards (also on
    an exception or Ctrl-C)."""
    if dsn:
        yield dsn, False
        return
    with EphemeralCluster(bindir=pg_bin, bindir_source=source) as cluster:
        yield create_database(cluster.dsn, "wesley_shadow"), True


def _has_tables(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_class WHERE relnamespace = 'public'::regnamespace "
        "AND relkind IN ('r', 'p'))"
    ).fetchone()
    return bool(row and row[0])


def rehearse(old: IR | None, new: IR, opts: RehearseOptions) -> tuple[Realm, Plan]:
    started = time.monotonic()
    deadline = started + opts.timeout_ms / 1000 if opts.timeout_ms else None
    timings: dict[str, int] = {}

    plans: dict[int, Plan] = {}

    def plan_for(version: int) -> Plan:
        # the same plan is asked for again (kept_rehearsals for the shadow's own version)
        if version not in plans:
            plans[version] = build_plan(
                old,
                new,
                server_version=version,
                allow_destructive=opts.allow_destructive,
                batch_size=opts.batch_size,
            )
        return plans[version]

    # made again for the shadow's version once it is known: lock facts depend on it
    plan = plan_for(DEFAULT_SERVER_VERSION)
    realm = Realm(
        verdict="FAIL",
        plan_hash=plan.plan_hash,
        ir_hash=ir_hash(new),
        from_ir_hash=plan.from_ir_hash,
        database=redact(opts.dsn) if opts.dsn else "an ephemeral cluster",
        ephemeral=opts.dsn is None,
        seed_rows=opts.seed_rows,
        notes=list(opts.notes),
    )
    if plan.blocked:
        realm.failure = Failure(
            code="PLAN_BLOCKED",
            message="the plan cannot reach the new schema: "
            + "; ".join(f"{r.change} {r.table}: {r.risk}" for r in plan.blocked),
            hint="change the data (or the schema), then rehearse again",
        )
        return realm, plan
    if plan.destructive and not opts.allow_destructive:
        realm.failure = Failure(
            code="PLAN_DESTRUCTIVE",
            message="the plan holds destructive changes: "
            + "; ".join(
                f"{r.change} {r.table}{'.' + r.column if r.column else ''}: {r.risk}"
                for r in plan.destructive
            ),
            hint="review them, then rehearse with --allow-destructive",
        )
        return realm, plan
    if opts.dry_run:
        realm.verdict = "DRY_RUN"
        realm.steps = [
            StepRecord(
                id=s.id,
                phase=s.phase,
                op=s.op,
                status="pending",
                predicted_locks=s.locks,
                predicted_rewrite=s.rewrite,
            )
            for s in plan.steps
        ]
        realm.notes.append("dry run: nothing was executed")
        realm.rehearsals = kept_rehearsals(opts.previous, realm, plan_for)
        return realm, plan
    t0 = time.monotonic()
    try:
        if opts.dsn:
            check_dsn(opts.dsn)
        with (
            shadow_database(opts.dsn, opts.pg_bin, opts.pg_bin_source) as (dsn, _ephemeral),
            # the rehearsal's own session (the executor has two more): roles, the old schema,
            # the suites and the replan
            connect(dsn) as session,
        ):
            timings["shadow_ms"] = int((time.monotonic() - t0) * 1000)
            realm.database = redact(dsn)
            version = session.info.server_version
            if version != plan.server_version:
                plan = plan_for(version)
                realm.plan_hash = plan.plan_hash
            _run(old, new, plan, dsn, session, opts, deadline, realm, timings)
    except WesleyError as err:
        realm.failure = Failure(code=err.code, message=err.message, hint=err.hint)
    except psycopg.OperationalError as exc:
        if not lost(None, exc):
            raise
        gone = lost_error(exc, opts.dsn or "the shadow database", "the rehearsal")
        realm.failure = Failure(code=gone.code, message=gone.message, hint=gone.hint)
    except KeyboardInterrupt:
        realm.failure = Failure(
            code="INTERRUPTED",
            message="the rehearsal was interrupted",
            hint="run it again; the shadow database was removed",
        )
        raise
    finally:
        timings["total_ms"] = int((time.monotonic() - started) * 1000)
        realm.timings = timings
    realm.rehearsals = kept_rehearsals(opts.previous, realm, plan_for)
    if realm.server_version is not None:
        this = Rehearsal(
            major=realm.server_version // 10000,
            server_version=plan.server_version,
            verdict=realm.verdict,
            plan_hash=plan.plan_hash,
            tests_passed=realm.tests.passed,
            tests_planned=realm.tests.planned,
        )
        others = [r for r in realm.rehearsals if r.major != this.major]
        realm.rehearsals = sorted([*others, this], key=lambda r: r.major)
    return realm, plan


def kept_rehearsals(
    previous: Realm | None, realm: Realm, plan_for: Callable[[int], Plan]
) -> list[Rehearsal]:
    """The previous realm's rehearsals that still hold: same schema, same starting point, and
    for their server version the very plan this run would make (batch size, destructive
    changes and lock facts included). Anything else is evidence about another plan."""
    if previous is None or (previous.ir_hash, previous.from_ir_hash) != (
        realm.ir_hash,
        realm.from_ir_hash,
    ):
        return []
    return [r for r in previous.rehearsals if plan_for(r.server_version).plan_hash == r.plan_hash]


def _build_old(
    old: IR | None,
    conn: psycopg.Connection[Any],
    opts: RehearseOptions,
    realm: Realm,
    timings: dict[str, int],
) -> None:
    """The old schema, built and seeded, unless the database already has tables."""
    t0 = time.monotonic()
    realm.server_version = conn.info.server_version
    fresh = not _has_tables(conn) and not opts.resume
    if not fresh and not opts.resume:
        # the shadow is used as it is: say where it differs from the old schema first
        drifts = compare(old or IR(), introspect(conn), actual_grants=read_grants(conn))
        if drifts:
            realm.notes.append(
                f"pre-existing drift in the shadow database (kept as it is): {len(drifts)} "
                "difference(s) from the old schema: " + "; ".join(d.text() for d in drifts)
            )
    if old is not None and old.tables and fresh:
        apply_script(conn, postgres(old)[0].text, "old schema.sql")
        apply_script(conn, rls(old)[0].text, "old rls.sql")
        if old.functions:
            apply_script(conn, rpc(old)[0].text, "old rpc.sql")
        if opts.seed_rows:
            seeded = seed_rows(conn, old, opts.seed_rows, opts.seed_report)
            realm.notes.append(seeded.describe())
    elif opts.seed_rows:
        why = (
            "there is no old schema: this rehearsal creates every table, and its steps "
            "run on empty tables (rows are seeded from the next rehearsal on, which starts "
            "from the deployed schema)"
            if old is None or not old.tables
            else "the shadow database already has tables, which are kept as they are"
        )
        realm.notes.append(f"--seed-rows {opts.seed_rows}: nothing seeded: {why}")
    timings["build_old_ms"] = int((time.monotonic() - t0) * 1000)


def _run(
    old: IR | None,
    new: IR,
    plan: Plan,
    dsn: str,
    session: psycopg.Connection[Any],
    opts: RehearseOptions,
    deadline: float | None,
    realm: Realm,
    timings: dict[str, int],
) -> None:
    exec_opts = ExecOptions(
        mode="rehearse",
        timeouts=opts.timeouts,
        pacing=opts.pacing,
        resume=opts.resume,
        wait=opts.wait,
        deadline=deadline,
    )
    t0 = time.monotonic()
    # The migration lock covers the whole rehearsal: two runs on one database must not both
    # build and seed the old schema, nor install pgTAP or test while the other one migrates.
    with Executor(dsn, plan, ir_hash(new), exec_opts, opts.progress, opts.meter) as executor:
        timings["lock_ms"] = int((time.monotonic() - t0) * 1000)
        check_probe_role(session, new)  # said before anything is built or applied
        # the shadow stands in for a target that has these roles (Supabase's anon,
        # authenticated, service_role...): create those it lacks, and say so
        realm.roles_created = create_missing_roles(session, schema_roles(old, new))
        if realm.roles_created:
            realm.notes.append(
                "roles created NOLOGIN in the shadow (the schema grants to them; deploy "
                "needs them on the target): " + ", ".join(realm.roles_created)
            )
        _build_old(old, session, opts, realm, timings)
        t0 = time.monotonic()
        try:
            if plan.two_stage:
                steps = _stages(old, new, plan, session, executor, realm, timings)
                if steps is None:
                    return
            else:
                steps = executor.run().steps
        except StepFailed as failed:
            realm.steps = [*realm.steps, *failed.steps]
            realm.failure = Failure(
                code=failed.code,
                message=f"step {failed.step}: {failed.message}",
                hint=failed.hint,
                step=failed.step,
            )
            timings["apply_ms"] = int((time.monotonic() - t0) * 1000)
            return
        realm.steps = steps
        result = RunResult(0, steps)
        if result.steps and all(s.status == "skipped" for s in result.steps):
            realm.notes.append("every step was already applied by an earlier run")
        timings["apply_ms"] = int((time.monotonic() - t0) * 1000)
        _verify(new, session, realm, timings)


def _stages(
    old: IR | None,
    new: IR,
    plan: Plan,
    conn: psycopg.Connection[Any],
    executor: Executor,
    realm: Realm,
    timings: dict[str, int],
) -> list[StepRecord] | None:
    """A two-stage plan, as deploy will run it and could take it back: expand → switch; both
    application versions' suites through their search paths; --abort, and a check that it
    left the expanded schema without a trace of the compat objects; expand → switch again;
    --complete. Returns the step records of the first expand and the contract, what a deploy
    runs on a database that never saw the plan (None when the rehearsal failed and said
    so)."""
    stages = Stages()
    realm.stages = stages
    t0 = time.monotonic()
    realm.steps = executor.run("start").steps
    timings["expand_ms"] = int((time.monotonic() - t0) * 1000)
    flight = flight_of(old, new, plan.server_version)
    if flight is not None and plan.compat is not None and new.tables:
        c = plan.compat
        suites = (
            ("old", c.old_search_path, pgtap(flight.mid)[0].text),
            (
                "new",
                c.new_search_path,
                version_suite(new, c.new_search_path, c.version_schema, {v.name for v in c.views}),
            ),
        )
        for version, path, script in suites:
            tap = run_suite(conn, script)
            stages.versions.append(
                VersionTests(version=version, search_path=path, tests=_tests(tap))
            )
            if not tap.ok:
                why = suite_failure(
                    tap, "the expanded database does not serve that version as it expects"
                )
                message = (
                    why.message
                    if why.code != "TESTS_FAILED"
                    else f"the {version} application version's suite (search_path "
                    f"{path}) failed while both are live: {why.test}"
                )
                realm.failure = Failure(
                    code=why.code, message=message, hint=why.hint, test=why.test
                )
                return None
    if plan.abort:
        t0 = time.monotonic()
        try:
            stages.abort = executor.run("abort").steps
        except StepFailed as failed:
            stages.abort = failed.steps
            raise
        stages.abort_restored = _restored(conn, plan, flight)
        timings["abort_ms"] = int((time.monotonic() - t0) * 1000)
        if not stages.abort_restored:
            realm.failure = Failure(
                code="ABORT_INCOMPLETE",
                message="after deploy --abort the database is not the expanded schema without "
                "the compat objects (a shadow column, trigger, view or a difference is left)",
                hint="report it with this realm.json",
            )
            return None
        stages.again = executor.run("start").steps
    t0 = time.monotonic()
    contract = executor.run("complete").steps
    timings["complete_ms"] = int((time.monotonic() - t0) * 1000)
    return [*realm.steps, *contract]


_LEFTOVERS = """
SELECT (SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        WHERE c.relnamespace = 'public'::regnamespace AND a.attname LIKE '\\_wes\\_%%'
          AND NOT a.attisdropped)
     + (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = 'public'::regnamespace AND t.tgname LIKE '\\_wes\\_%%')
     + (SELECT count(*) FROM pg_namespace WHERE nspname = %s)
"""


def _restored(conn: psycopg.Connection[Any], plan: Plan, flight: Flight | None) -> bool:
    """After --abort: no shadow column, sync trigger or version schema is left, and the
    database is the flight schema (what expand → switch did for the old version stays)."""
    schema = plan.compat.version_schema if plan.compat else ""
    row = conn.execute(_LEFTOVERS, (schema,)).fetchone()
    if row is None or row[0]:
        return False
    if flight is None:
        return True
    again = build_plan(introspect(conn), flight.mid, allow_destructive=True)
    # what is left is what the contract drops (the old version still used it)
    return all(s.phase == "contract" for s in again.steps)


def _tests(tap: TapResult) -> Tests:
    return Tests(
        planned=tap.planned,
        passed=tap.passed,
        failed=tap.failed,
        skipped=tap.skipped,
        failures=tap.failures,
        tap=tap.tap,
    )


def _verify(new: IR, conn: psycopg.Connection[Any], realm: Realm, timings: dict[str, int]) -> None:
    """The pgTAP suite, then a second plan from the migrated database, which must be empty."""
    t0 = time.monotonic()
    if not new.tables:
        realm.notes.append("the schema has no tables: no pgTAP suite to run")
        realm.replan_empty = True
        realm.verdict = "PASS"
        return
    tap = run_suite(conn, pgtap(new)[0].text)
    timings["tests_ms"] = int((time.monotonic() - t0) * 1000)
    realm.tests = _tests(tap)
    t0 = time.monotonic()
    again = build_plan(introspect(conn), new, allow_destructive=True)
    timings["replan_ms"] = int((time.monotonic() - t0) * 1000)
    realm.replan_empty = not again.steps
    if not tap.ok:
        why = suite_failure(
            tap, "the migrated database differs from the schema: see tests.tap in realm.json"
        )
        realm.failure = Failure(code=why.code, message=why.message, hint=why.hint, test=why.test)
        return
    if again.steps:
        realm.failure = Failure(
            code="DRIFT_AFTER_PLAN",
            message=f"after the plan, {len(again.steps)} step(s) are still needed, first: "
            f"{again.steps[0].sql[:200]}",
            hint="the planner missed a change: report it with this realm.json",
        )
        return
    realm.verdict = "PASS"
