"""`rehearse`: the plan applied to a shadow database by the production executor (see
wesley.realm.rehearse), written to `.wesley/realm.json` and `.wesley/plan.json`, and added to
MORIARTY's history. A rehearsal that does not PASS raises WesleyError (exit 13) after the
files are written; its `details["realm"]` holds the realm."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wesley.api.records import BUNDLE_DIR
from wesley.api.schema import deployed_ir, load_ir_file, load_schema
from wesley.config import load_config
from wesley.db.executor import Progress
from wesley.db.progress import Meter
from wesley.db.seed import SeedReport
from wesley.errors import Diagnostic, ExitCode, WesleyError, input_error
from wesley.files import write_atomic
from wesley.holmes.moriarty import check_config, record_rehearsal
from wesley.ir import IR
from wesley.jsontext import dumps_pretty
from wesley.limits import run_settings
from wesley.plan.build import DEFAULT_BATCH_SIZE
from wesley.plan.models import Plan
from wesley.plan.timeouts import Pacing, Timeouts
from wesley.realm.models import Realm
from wesley.realm.rehearse import RehearseOptions
from wesley.realm.rehearse import rehearse as run_rehearsal


@dataclass(frozen=True)
class RehearseResult:
    realm: Realm
    plan: Plan
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def applied(self) -> int:
        return sum(1 for s in self.realm.steps if s.status == "applied")

    def summary(self) -> str:
        r = self.realm
        version = (
            f" (PostgreSQL {r.server_version // 10000}.{r.server_version % 10000})"
            if r.server_version
            else ""
        )
        return (
            f"[REALM] {r.verdict} — {self.applied}/{len(self.plan.steps)} steps applied, pgTAP "
            f"{r.tests.passed}/{r.tests.planned} passed, "
            f"{r.timings.get('total_ms', 0)} ms on {r.database}{version}"
        )


def _pg_bin_choice(flag: str | None, raw: dict[str, Any]) -> tuple[str | None, str]:
    """The shadow's server: `pg_bin`, else WESLEY_PG_BIN, else `[postgres] bin`."""
    if flag:
        return flag, "--pg-bin"
    if os.environ.get("WESLEY_PG_BIN"):
        return os.environ["WESLEY_PG_BIN"], "WESLEY_PG_BIN"
    section = raw.get("postgres", {})
    value = section.get("bin") if isinstance(section, dict) else None
    if value is not None and not isinstance(value, str):
        raise input_error(
            "CONFIG_INVALID",
            f"wesley.toml: [postgres] bin = {value!r}",
            'use "embedded", "system" or the path of a PostgreSQL bin directory',
        )
    return value or None, "[postgres] bin in wesley.toml"


def _previous_realm(bundle: Path) -> Realm | None:
    """The last rehearsal's realm.json, for its rehearsals on other majors; None if absent or
    unreadable (then only this run's rehearsal is recorded)."""
    try:
        return Realm.model_validate_json((bundle / "realm.json").read_bytes())
    except (OSError, ValueError):
        return None


def rehearse(
    schema: str | Path | None = None,
    *,
    sdl: str | None = None,
    old: str | Path | IR | None = None,
    fresh: bool = False,
    dsn: str | None = None,
    dry_run: bool = False,
    timeout_ms: int | None = None,
    timeouts: Timeouts | None = None,
    pacing: Pacing | None = None,
    seed_rows: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    allow_destructive: bool = False,
    resume: bool = False,
    wait: bool = False,
    progress: Progress | None = None,
    seed_report: SeedReport | None = None,
    pg_bin: str | None = None,
    meter: Meter | None = None,
    bundle_dir: str | Path = BUNDLE_DIR,
) -> RehearseResult:
    """`old`: the old schema (a file, or an IR; default: .wesley/deployed.json, none with
    `fresh`); `dsn`: the shadow database (default: an ephemeral cluster)."""
    config = load_config()
    check_config(config.raw)
    limits = run_settings(config, {})  # wesley.toml's, unless given
    options = config.parse_options()
    parsed = load_schema(schema, sdl=sdl, config=config)
    if pg_bin and dsn:
        raise input_error(
            "USAGE",
            "--pg-bin chooses the server of the ephemeral shadow, and --dsn gives a shadow",
            "drop one of them",
        )
    choice, source = _pg_bin_choice(pg_bin, config.raw)
    bundle = Path(bundle_dir)
    before: IR | None
    if fresh:
        before = None
    elif isinstance(old, IR):
        before = old
    elif old is not None:
        before = load_ir_file(str(old), options)
    else:
        before = deployed_ir(options)
    realm, plan = run_rehearsal(
        before,
        parsed.ir,
        RehearseOptions(
            dsn=dsn or None,
            allow_destructive=allow_destructive,
            seed_rows=seed_rows,
            dry_run=dry_run,
            timeout_ms=timeout_ms,
            timeouts=timeouts or limits[0],
            pacing=pacing or limits[1],
            batch_size=batch_size,
            resume=resume,
            wait=wait,
            progress=progress,
            seed_report=seed_report,
            pg_bin=choice,
            pg_bin_source=source,
            previous=_previous_realm(bundle),
            meter=meter,
        ),
    )
    data = realm.to_json_data()
    write_atomic(bundle / "realm.json", dumps_pretty(data, ensure_ascii=True) + "\n")
    write_atomic(bundle / "plan.json", dumps_pretty(plan.to_json_data(), ensure_ascii=True) + "\n")
    noted = record_rehearsal(bundle, parsed.ir, plan, realm, config.raw)
    result = RehearseResult(realm, plan, [*parsed.warnings, *([noted] if noted else [])])
    if realm.failure is not None:
        raise WesleyError(
            realm.failure.code,
            realm.failure.message,
            realm.failure.hint,
            exit_code=ExitCode.EXECUTION_FAILED,
            details={"realm": str(bundle / "realm.json")},
            result=result,
        )
    return result
