"""`transform --supabase`: a Supabase CLI migration per schema change, in
`supabase/migrations/<YYYYMMDDHHMMSS>_wesley_<ir hash>.sql`.

What the last migration Wesley wrote there migrated to is kept in the bundle directory
(`supabase.json`: its IR and file name), so the next one is planned from it; with nothing kept,
the migration builds the whole schema. An unchanged schema writes nothing."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wesley.errors import Diagnostic, ExitCode, WesleyError, input_error
from wesley.files import write_atomic
from wesley.ir import IR, ir_from_json, ir_hash
from wesley.plan.build import build_plan
from wesley.plan.supabase import VERSION_FORMAT, migration_sql

STATE = "supabase.json"
MIGRATIONS = Path("supabase") / "migrations"
_VERSIONED = re.compile(r"^(\d+)_.*\.sql$")


@dataclass(frozen=True)
class SupabaseMigration:
    path: str | None  # None: the schema is what the last migration made it
    warnings: list[Diagnostic] = field(default_factory=list)


def _version(directory: Path, now: datetime) -> str:
    """`now` as the CLI spells versions, after every version already there."""
    taken = [int(m.group(1)) for p in directory.glob("*.sql") if (m := _VERSIONED.match(p.name))]
    stamp = now.astimezone(UTC)
    while taken and int(stamp.strftime(VERSION_FORMAT)) <= max(taken):
        stamp += timedelta(seconds=1)
    return stamp.strftime(VERSION_FORMAT)


def _state(bundle_dir: Path) -> tuple[IR | None, str | None]:
    path = bundle_dir / STATE
    if not path.is_file():
        return None, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ir_from_json(data["ir"]), str(data["migration"])
    except (ValueError, KeyError, TypeError) as exc:
        raise input_error(
            "FILE_UNREADABLE",
            f"{path} is not what transform --supabase wrote: {exc}",
            "remove it to start over with a migration of the whole schema",
        ) from None


def write_migration(
    ir: IR, bundle_dir: Path, root: Path = MIGRATIONS, now: datetime | None = None
) -> SupabaseMigration:
    old, last = _state(bundle_dir)
    if old is not None and ir_hash(old) == ir_hash(ir) and last and (root / last).is_file():
        return SupabaseMigration(None)
    plan = build_plan(old, ir) if old is not None else None
    if plan is not None and plan.refused:
        names = "; ".join(
            f"{r.change} {'.'.join(x for x in (r.table, r.column) if x)}: {r.risk}"
            for r in plan.destructive
        )
        raise WesleyError(
            "PLAN_DESTRUCTIVE",
            f"the Supabase migration would hold destructive changes: {names}",
            "write that migration yourself (supabase migration new), or plan and deploy it "
            "with wesley plan --allow-destructive / wesley deploy; nothing was written",
            exit_code=ExitCode.REFUSED,
        )
    text, warnings = migration_sql(old, ir, plan)
    name = f"{_version(root, now or datetime.now(UTC))}_wesley_{ir_hash(ir)[:12]}.sql"
    write_atomic(root / name, text)
    state = {"ir": ir.to_json_data(), "migration": name}
    write_atomic(bundle_dir / STATE, json.dumps(state, indent=2, sort_keys=True) + "\n")
    return SupabaseMigration((root / name).as_posix(), warnings)
