"""A plan as numbered SQL files (`plan --write DIR`), for teams whose migrations run through
psql, Sqitch (which runs psql), or a runner that can call psql (Flyway, Alembic):
`001-expand.sql`, `002-expand-concurrently-event.sql`, ... Applied in order
(`psql -v ON_ERROR_STOP=1 -f` each), they give the database `deploy` gives.

Each step is rendered by `wesley.plan.script.step_script`, the renderer of `plan --sql`: its
guard (psql's `\\if`: a file run again after a failure skips what is done), its
`lock_timeout` and `statement_timeout`, the INVALID leftover of a failed concurrent build
dropped first, backfills as batches that commit on their own. Here the steps are cut into
files:

- a file holds consecutive steps of one phase; steps that must run outside a transaction (a
  CONCURRENTLY build, a backfill committing per batch) get a file of their own, marked so
  runners that wrap files in a transaction can be told not to;
- in the other files psql runs each statement in its own transaction, as the executor does;
- every file starts with what it locks: each relation, the strongest mode, what that blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from wesley.plan.lockmodes import LockMode, blocks_reads, blocks_writes, strength
from wesley.plan.models import Plan, Step
from wesley.plan.script import step_script
from wesley.plan.summary import created_tables
from wesley.plan.timeouts import Timeouts

MARK = "-- Wesley plan "  # the first line of every file Wesley writes here


def _alone(step: Step) -> bool:
    return not step.transactional or step.backfill is not None


@dataclass
class _Chunk:
    phase: str
    steps: list[Step] = field(default_factory=list)

    @property
    def alone(self) -> bool:
        return len(self.steps) == 1 and _alone(self.steps[0])


def _chunks(plan: Plan) -> list[_Chunk]:
    out: list[_Chunk] = []
    for step in plan.steps:
        last = out[-1] if out else None
        if last is None or last.phase != step.phase or last.alone or _alone(step):
            out.append(_Chunk(step.phase))
        out[-1].steps.append(step)
    return out


def _lock_summary(steps: list[Step], new: set[str]) -> list[str]:
    strongest: dict[str, LockMode] = {}
    for s in steps:
        for lk in s.locks:
            if lk.relation not in strongest or strength(lk.mode) > strength(strongest[lk.relation]):
                strongest[lk.relation] = lk.mode
    lines = []
    for relation, mode in sorted(strongest.items()):
        if relation in new:
            what = "a table this plan creates: blocks nobody"
        elif blocks_reads(mode):
            what = "blocks reads and writes"
        elif blocks_writes(mode):
            what = "blocks writes"
        else:
            what = "blocks neither reads nor writes"
        lines.append(f"--   {relation}: {mode} ({what})")
    return lines or ["--   no table"]


def _slug(chunk: _Chunk) -> str:
    if not chunk.alone:
        return chunk.phase
    step = chunk.steps[0]
    kind = "backfill" if step.backfill is not None else "concurrently"
    target = re.sub(r"[^a-z0-9_]+", "_", (step.table or "").lower()).strip("_")
    return "-".join(dict.fromkeys(x for x in (chunk.phase, kind, target) if x))


def plan_files(plan: Plan, timeouts: Timeouts | None = None) -> dict[str, str]:
    """File name → SQL text, in the order they must run."""
    timeouts = timeouts or Timeouts()
    new = created_tables(plan)
    chunks = _chunks(plan)
    files: dict[str, str] = {}
    for n, chunk in enumerate(chunks, start=1):
        how = (
            "run it OUTSIDE a transaction (CONCURRENTLY, or batches that commit on their own)"
            if chunk.alone
            else "each statement may run in its own transaction (psql's default), as deploy "
            "runs them"
        )
        staged = (
            [
                "-- The contract of a two-stage plan: run it only once the old application "
                "version is retired",
                "-- (what `wesley deploy --complete` does); `wesley plan --sql FILE` also "
                "writes the roll-back (-v abort=1).",
            ]
            if plan.two_stage and chunk.phase == "contract"
            else []
        )
        head = [
            f"{MARK}{plan.plan_hash[:12]}: file {n} of {len(chunks)}, phase {chunk.phase}, "
            f"steps {chunk.steps[0].id.split('-')[0]}-{chunk.steps[-1].id.split('-')[0]}.",
            *staged,
            f"-- {how}.",
            "-- Locks (the strongest mode per relation):",
            *_lock_summary(chunk.steps, new),
            "",
            "\\set ON_ERROR_STOP on",
            "SET standard_conforming_strings = on;",
        ]
        body: list[str] = []
        for step in chunk.steps:
            body += ["", *step_script(step, timeouts)]
        tail = ["", "RESET lock_timeout;", "RESET statement_timeout;", ""]
        files[f"{n:03d}-{_slug(chunk)}.sql"] = "\n".join(head + body + tail)
    return files
