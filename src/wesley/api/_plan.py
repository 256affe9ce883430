"""`plan`: the old schema (a file, an IR, a live database, or the last deploy's snapshot) → the
new one, as a phased zero-downtime migration, saved to `.wesley/plan.json` (and, with
`write_dir`, as numbered SQL files). A plan holding destructive changes without
`allow_destructive` raises PLAN_DESTRUCTIVE (exit 5) after it is saved; the error's `result`
is the PlanResult."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from wesley.api.plan_files import write_plan_files
from wesley.api.records import BUNDLE_DIR
from wesley.api.schema import deployed_ir, load_ir_file, load_schema
from wesley.config import load_config
from wesley.db.dsn import check_dsn, connect_error
from wesley.db.facts import gather
from wesley.db.introspect import introspect
from wesley.db.session import connect
from wesley.db.stages import in_flight
from wesley.errors import Diagnostic, ExitCode, WesleyError, input_error
from wesley.files import write_atomic
from wesley.gcpause import gc_paused
from wesley.ir import IR
from wesley.jsontext import dumps_pretty
from wesley.limits import run_settings
from wesley.plan.build import DEFAULT_BATCH_SIZE, DEFAULT_SERVER_VERSION, build_plan
from wesley.plan.explain import DEFAULT_WIDTH, VersionSource, explain
from wesley.plan.facts import Facts
from wesley.plan.models import Plan
from wesley.plan.script import plan_script
from wesley.plan.timeouts import Timeouts
from wesley.realm.models import Realm


def old_ir_from_db(dsn: str, new: IR | None = None) -> tuple[IR, int, Facts]:
    """The live schema, the server version, and (given the new schema) the row counts that
    decide whether its changes can work, read in one snapshot."""
    check_dsn(dsn)
    try:
        with connect(dsn, autocommit=False) as conn:  # one snapshot for the whole catalog
            old = introspect(conn)
            facts = gather(conn, old, new) if new is not None else Facts()
            return old, conn.info.server_version, facts
    except psycopg.OperationalError as exc:
        raise connect_error(exc, dsn) from None


def _in_flight(dsn: str) -> list[Diagnostic]:
    """W_MIGRATION_IN_FLIGHT: the live schema is a two-version migration's expanded one."""
    try:
        with connect(dsn) as conn:
            flight = in_flight(conn)
    except psycopg.OperationalError as exc:
        raise connect_error(exc, dsn) from None
    if flight is None:
        return []
    return [
        Diagnostic(
            "W_MIGRATION_IN_FLIGHT",
            f"a migration is in flight on this database (run {flight.run_id}, plan "
            f"{flight.plan_hash[:12]}, {flight.status}): this plan starts from its expanded "
            "schema",
            hint="finish it first: `wesley deploy --complete`, or `--abort`",
        )
    ]


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    version: VersionSource  # where the server version came from
    warnings: list[Diagnostic] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # written with write_dir
    saved: bool = True  # False: .wesley/plan.json holds the rehearsed plan and was kept

    def explain(self, *, width: int = DEFAULT_WIDTH, wide: bool = False) -> str:
        return explain(self.plan, width=width, wide=wide, version=self.version)


def _save(bundle: Path, the_plan: Plan) -> bool:
    """Write `.wesley/plan.json`, unless it holds the plan `.wesley/realm.json` rehearsed and
    this one differs: that file is evidence a certificate is made of (and binds), and a
    preview (another server version, another schema) must not break it."""
    path = bundle / "plan.json"
    try:
        kept = Plan.model_validate_json(path.read_bytes())
        realm = Realm.model_validate_json((bundle / "realm.json").read_bytes())
    except (OSError, ValueError):
        kept, realm = None, None
    if (
        kept is not None
        and realm is not None
        and realm.plan_hash == kept.plan_hash
        and kept.plan_hash != the_plan.plan_hash
    ):
        return False
    write_atomic(path, dumps_pretty(the_plan.to_json_data(), ensure_ascii=True) + "\n")
    return True


@gc_paused()
def plan(
    schema: str | Path | None = None,
    *,
    sdl: str | None = None,
    old: str | Path | IR | None = None,
    from_db: str | None = None,
    allow_destructive: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    server_version: int | None = None,
    write_dir: str | Path | None = None,
    sql_path: str | Path | None = None,
    timeouts: Timeouts | None = None,
    bundle_dir: str | Path = BUNDLE_DIR,
) -> PlanResult:
    """`old`: the old schema (default: .wesley/deployed.json; none: everything is new);
    `from_db`: introspect it from this database instead (its server version is the plan's)."""
    config = load_config()
    options = config.parse_options()
    result = load_schema(schema, sdl=sdl, config=config)
    if old is not None and from_db:
        raise input_error("USAGE", "--from and --from-db exclude each other", "pick one")
    version = server_version or DEFAULT_SERVER_VERSION
    source: VersionSource = "given" if server_version else "assumed"
    before: IR | None
    facts: Facts | None = None
    warnings: list[Diagnostic] = list(result.warnings)
    if from_db:
        before, live_version, facts = old_ir_from_db(from_db, result.ir)
        version = server_version or live_version
        source = "given" if server_version else "database"
        warnings += _in_flight(from_db)
    elif isinstance(old, IR):
        before = old
    elif old is not None:
        before = load_ir_file(str(old), options)
    else:
        before = deployed_ir(options)
    the_plan = build_plan(
        before,
        result.ir,
        server_version=version,
        allow_destructive=allow_destructive,
        batch_size=batch_size,
        data=facts,
    )
    saved = _save(Path(bundle_dir), the_plan)
    timeouts = timeouts or run_settings(config, {})[0]
    if sql_path is not None:
        write_atomic(Path(sql_path), plan_script(the_plan, timeouts))
    files = write_plan_files(the_plan, Path(write_dir), timeouts) if write_dir is not None else []
    done = PlanResult(the_plan, source, warnings, files, saved)
    if the_plan.refused:
        blocked = the_plan.blocked
        names = "; ".join(
            f"{r.change} {'.'.join(x for x in (r.table, r.column) if x)}: {r.risk}"
            for r in (blocked or the_plan.destructive)
        )
        if blocked:
            raise WesleyError(
                "PLAN_BLOCKED",
                f"the plan cannot reach the new schema with the data as it is: {names}",
                "nothing is planned for them; change the data (or the schema), then plan again",
                exit_code=ExitCode.REFUSED,
                result=done,
            )
        raise WesleyError(
            "PLAN_DESTRUCTIVE",
            f"the plan holds destructive changes: {names}",
            "nothing is planned for them; review, then rerun with --allow-destructive",
            exit_code=ExitCode.REFUSED,
            result=done,
        )
    return done
