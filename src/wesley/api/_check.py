"""`check`: the pinned ORM files in the project (`schema.prisma`, Drizzle's `schema.ts`, or
wherever they were copied) still say what the schema says. Each pinned file is generated again
from the current IR by the target its pin names and compared byte for byte; a file generated
from another IR, or edited since, is stale (exit 5, every file named), so CI catches an ORM
schema nobody regenerated."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from wesley.api.schema import load_schema
from wesley.errors import ExitCode, WesleyError, input_error
from wesley.ir import ir_hash
from wesley.targets import TARGETS
from wesley.targets.orm import read_pin

# directories a project search never enters: tools, caches, dependencies, Wesley's evidence
SKIP_DIRS = frozenset([".git", ".hg", ".venv", "venv", "node_modules", ".wesley", "__pycache__"])
SUFFIXES = (".prisma", ".ts")


@dataclass(frozen=True)
class PinnedFile:
    path: str
    target: str
    pinned_hash: str
    status: str  # "current", "stale" (another IR), "edited" (the same IR, other bytes)


@dataclass(frozen=True)
class CheckResult:
    ir_hash: str
    files: list[PinnedFile]


def _candidates(root: Path) -> list[Path]:
    found: list[Path] = []
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        found.extend(Path(top) / f for f in sorted(files) if f.endswith(SUFFIXES))
    return found


def _first_line(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            return fh.readline(256).decode("utf-8", errors="replace")
    except OSError:
        return ""


def check(
    paths: list[str] | None = None,
    schema: str | Path | None = None,
    *,
    sdl: str | None = None,
    root: str | Path = ".",
) -> CheckResult:
    """Check `paths` (default: every pinned `.prisma` / `.ts` file under `root`); raises
    WesleyError PIN_STALE (exit 5, `details["files"]`) when one does not match the schema."""
    ir = load_schema(schema, sdl=sdl).ir
    current = ir_hash(ir)
    if paths:
        files = [Path(p) for p in paths]
        for f in files:
            if not f.is_file():
                raise input_error("FILE_NOT_FOUND", f"{f} does not exist", "pass pinned files")
            if read_pin(_first_line(f)) is None:
                raise input_error(
                    "NOT_PINNED",
                    f"{f} has no Wesley pin on its first line",
                    "pass files written by `wesley transform --target prisma,drizzle`",
                )
    else:
        files = [f for f in _candidates(Path(root)) if read_pin(_first_line(f))]
    checked: list[PinnedFile] = []
    cache: dict[str, str] = {}
    for f in files:
        pin = read_pin(_first_line(f))
        assert pin is not None
        target, pinned = pin
        if target not in TARGETS:
            raise input_error("NOT_PINNED", f"{f} is pinned to unknown target {target!r}")
        if target not in cache:
            (artifact,) = TARGETS[target](ir)
            cache[target] = artifact.text
        text = f.read_bytes().decode("utf-8", errors="replace")
        status = "current"
        if text != cache[target]:
            status = "stale" if pinned != current else "edited"
        checked.append(PinnedFile(str(f), target, pinned, status))
    bad = [c for c in checked if c.status != "current"]
    result = CheckResult(current, checked)
    if bad:
        lines = "\n".join(
            f"  - {c.path} ({c.target}): "
            + (
                f"generated from IR {c.pinned_hash[:12]}, the schema is at {current[:12]}"
                if c.status == "stale"
                else "edited since it was generated"
            )
            for c in bad
        )
        raise WesleyError(
            "PIN_STALE",
            f"{len(bad)} pinned file(s) no longer match the schema:\n{lines}",
            "run `wesley transform --target prisma,drizzle` and copy the files again "
            "(or point the generator at them); never edit a generated file",
            exit_code=ExitCode.REFUSED,
            details={"files": [c.__dict__ for c in bad]},
            result=result,
        )
    return result
