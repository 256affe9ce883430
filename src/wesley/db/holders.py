"""Who holds a lock a step is about to ask for, and for how long already.

A step that asks for a write-blocking lock while another transaction holds a conflicting one
queues behind it, and every writer queues behind the step for up to lock_timeout. When the
holder's transaction is already old (a long report, pg_dump, a forgotten idle transaction,
autovacuum), the wait is likely to run out anyway: the executor then waits *without* queueing
(backoff, no lock request) and asks again later, so writers are not stalled at all."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from wesley.db.session import Params, run_batch
from wesley.plan.lockmodes import conflicts, pg_locks_name
from wesley.plan.models import Step

_HOLDERS = """
SELECT l.pid, c.relname, l.mode, a.backend_type,
       (EXTRACT(epoch FROM now() - a.xact_start) * 1000)::bigint
FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.relation = to_regclass(%s) AND l.mode = ANY(%s)
  AND a.xact_start < now() - make_interval(secs => %s)
ORDER BY 5 DESC
"""


@dataclass(frozen=True)
class Holder:
    pid: int
    relation: str
    mode: str
    backend: str
    age_ms: int

    def describe(self) -> str:
        return (
            f"pid {self.pid} ({self.backend}) has held {self.mode} on {self.relation} "
            f"for {self.age_ms} ms"
        )


def holder_queries(step: Step, older_than_ms: int) -> list[tuple[str, Params]]:
    """The queries of `long_holders`, one per lock the step will ask for (to send in one round
    trip with others: wesley.db.session.run_batch)."""
    out: list[tuple[str, Params]] = []
    for lock in step.locks:
        modes = [pg_locks_name(m) for m in conflicts(lock.mode)]
        ident = '"' + lock.relation.replace('"', '""') + '"'
        out.append((_HOLDERS, (ident, modes, older_than_ms / 1000)))
    return out


def holders_of(rows: Iterable[Sequence[Any]]) -> list[Holder]:
    """Holders from the rows of `holder_queries`."""
    return [Holder(int(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4])) for r in rows]


def long_holders(conn: psycopg.Connection[Any], step: Step, older_than_ms: int) -> list[Holder]:
    """Other transactions older than `older_than_ms` holding a lock that conflicts with one the
    step will ask for."""
    return [
        h for cur in run_batch(conn, holder_queries(step, older_than_ms)) for h in holders_of(cur)
    ]
