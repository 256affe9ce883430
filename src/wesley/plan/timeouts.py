"""How long a step may wait for its lock and run, how lock timeouts are retried, and how a
backfill paces itself (DESIGN §8.2). The executor applies them; SQL exported for other runners
carries the same `SET` lines (`set_statements`), so both run a step under the same limits.

- `lock_timeout` (default 500 ms) on every step: while a step waits for its lock, every
  writer (and, for ACCESS EXCLUSIVE, every reader) queues behind it, so the wait must be
  short. A timeout (SQLSTATE 55P03) is retried after a jittered exponential backoff
  (100 ms, 200 ms, ... capped at 5 s, each times 0.5 to 1.5), a bounded number of times.
- `statement_timeout` by kind of step: catalog-only steps and each backfill batch get a short
  one (5 s: they should take milliseconds); steps that read or rewrite the table (validation,
  index builds, rewrites, the backfill's closing sweep) a long one (1 h). The run's --timeout
  caps both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wesley.plan.models import Step

StepKind = Literal["catalog", "scan", "batches"]


@dataclass(frozen=True)
class Timeouts:
    lock_ms: int = 500
    retries: int = 10
    backoff_ms: int = 100  # the first retry's delay; doubled for each further one
    backoff_max_ms: int = 5_000
    statement_ms: int = 5_000  # catalog-only steps, and each batch of a backfill
    scan_ms: int = 3_600_000  # steps that read or rewrite the whole table

    def backoff(self, attempt: int, jitter: float) -> float:
        """Milliseconds to sleep after failed attempt number `attempt` (1-based); `jitter`
        in [0, 1) spreads concurrent runs apart."""
        base = min(self.backoff_ms * 2 ** (attempt - 1), self.backoff_max_ms)
        return float(base) * (0.5 + jitter)

    def statement_for(self, kind: StepKind) -> int:
        return self.scan_ms if kind == "scan" else self.statement_ms


@dataclass(frozen=True)
class Pacing:
    """How a backfill shares the table with the application. Between batches it pauses
    `pause_ms`; while application sessions wait on the rows or the table a batch holds, the
    pause doubles (at least the batch's own duration, at most `max_pause_ms`) and it shrinks
    back once they do not; while a standby replays more than `max_lag_ms` behind, batches
    wait."""

    pause_ms: int = 0
    max_pause_ms: int = 2_000
    max_lag_ms: int = 5_000


def step_kind(step: Step) -> StepKind:
    if step.backfill is not None:
        return "batches"
    return "scan" if step.scan or step.rewrite else "catalog"


def _ms(value: int) -> str:
    return f"'{int(value)}ms'"


def set_statements(step: Step, timeouts: Timeouts) -> list[str]:
    """The `SET` statements a step runs under (one statement each)."""
    return [
        f"SET lock_timeout = {_ms(timeouts.lock_ms)}",
        f"SET statement_timeout = {_ms(timeouts.statement_for(step_kind(step)))}",
    ]
