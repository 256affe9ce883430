"""Writing `plan --write DIR`: the files of wesley.plan.files, replacing the ones an earlier
plan wrote there (recognised by their first line) and nothing else."""

from __future__ import annotations

from pathlib import Path

from wesley.files import make_dirs, write_atomic
from wesley.plan.files import MARK, plan_files
from wesley.plan.models import Plan
from wesley.plan.timeouts import Timeouts


def write_plan_files(plan: Plan, directory: Path, timeouts: Timeouts | None = None) -> list[str]:
    make_dirs(directory)
    files = plan_files(plan, timeouts)
    for old in sorted(directory.glob("*.sql")):
        if old.name in files or not old.is_file():
            continue
        with old.open("rb") as fh:
            if fh.readline().decode("utf-8", "replace").startswith(MARK):
                old.unlink()  # a file of an earlier plan: it would run with these
    for name, text in files.items():
        write_atomic(directory / name, text)
    return list(files)
