"""What PostgreSQL really did during a step: the relation locks a backend holds (pg_locks)
and which tables were rewritten (pg_class.relfilenode changed)."""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from wesley.db.session import connect
from wesley.errors import WesleyError
from wesley.plan.lockmodes import LockMode, from_pg_locks, strength

TABLE_KINDS = ("r", "p")

_RELATIONS = """
SELECT c.oid::int8, c.relname, c.relkind::text, c.relfilenode::int8
FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
"""
_LOCKS = """
SELECT l.relation::int8, l.mode FROM pg_locks l
WHERE l.pid = %s AND l.locktype = 'relation' AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""

Relations = dict[int, tuple[str, str, int]]


def relations(conn: psycopg.Connection[Any]) -> Relations:
    return {oid: (name, kind, node) for oid, name, kind, node in conn.execute(_RELATIONS)}


def held_locks(
    conn: psycopg.Connection[Any], pid: int, known: Relations, now: Relations | None = None
) -> dict[str, LockMode]:
    """Strongest lock per public table held by `pid` (indexes and catalogs left out). `now`:
    a pg_class snapshot already taken after the statement (saves a round trip)."""
    now = relations(conn) if now is None else now
    out: dict[str, LockMode] = {}
    for oid, pg_mode in conn.execute(_LOCKS, (pid,)).fetchall():
        rel = known.get(oid) or now.get(oid)
        if rel is None or rel[1] not in TABLE_KINDS:
            continue
        mode = from_pg_locks(pg_mode)
        if rel[0] not in out or strength(mode) > strength(out[rel[0]]):
            out[rel[0]] = mode
    return out


def rewritten(before: Relations, after: Relations) -> list[str]:
    return sorted(
        name
        for oid, (name, kind, node) in before.items()
        if kind in TABLE_KINDS and oid in after and after[oid][2] != node
    )


class LockWatcher:
    """Polls another backend's locks from its own connection while a non-transactional
    statement (CONCURRENTLY) runs; keeps the strongest mode seen per table."""

    def __init__(self, dsn: str, pid: int, known: Relations, interval_s: float = 0.005) -> None:
        self.dsn, self.pid, self.known, self.interval = dsn, pid, known, interval_s
        self.seen: dict[str, LockMode] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._conn: psycopg.Connection[Any] | None = None

    def __enter__(self) -> LockWatcher:
        # Connected before the statement starts, so that a short one is not over before the
        # first look; the first looks come quickly, then every `interval`.
        try:
            self._conn = connect(self.dsn)
        except WesleyError:
            return self  # observation is best effort for non-transactional steps
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._conn is not None:
            self._thread.join(timeout=5)
            self._conn.close()

    def _run(self) -> None:
        assert self._conn is not None
        looks = 0
        try:
            while not self._stop.is_set():
                # CONCURRENTLY creates no table: the tables known before are all there is.
                held = held_locks(self._conn, self.pid, self.known, self.known)
                for name, mode in held.items():
                    if name not in self.seen or strength(mode) > strength(self.seen[name]):
                        self.seen[name] = mode
                looks += 1
                if looks > 20:  # a short statement gets close looks, a long one a pause
                    self._stop.wait(self.interval)
        except psycopg.Error:
            pass  # observation is best effort for non-transactional steps
