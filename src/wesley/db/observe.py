"""What PostgreSQL really did during a step: the relation locks a backend holds (pg_locks)
and which tables were rewritten (pg_class.relfilenode changed).

A transactional step is observed from inside its own transaction, after its statement, by one
query whatever the schema's size (`OWN_LOCKS`: the locks it holds, with what pg_class now says
of each). A relation keeps the name it had before the step (a renamed or dropped table is the
one the plan named): the step's predicted relations are read before it runs (`PREDICTED`, in
the same round trip as its guard), and any other relation it locked is read afterwards from a
second session, which does not see the step's uncommitted changes (`BY_OID`). A rewrite takes
ACCESS EXCLUSIVE, kept to the end of the transaction, so the tables rewritten are among those
locked."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import psycopg

from wesley.db.session import connect
from wesley.errors import WesleyError
from wesley.plan.lockmodes import LockMode, from_pg_locks, strength

TABLE_KINDS = ("r", "p")
# oids below this are the system's own (catalogs): a step's statements lock some of them
FIRST_NORMAL_OID = 16384
# relkinds a relation cannot have had as a table (an index, TOAST table or sequence stays one)
_NEVER_TABLES = ("i", "I", "t", "S")

# every table of public (a CONCURRENTLY statement's watcher names what it sees from these)
TABLES = """
SELECT c.oid::int8, c.relname, c.relkind::text, c.relfilenode::int8
FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
"""

# the relations a step predicts locks on, as they are before it runs
PREDICTED = """
SELECT c.oid::int8, c.relname, c.relkind::text, c.relfilenode::int8
FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(%s::text[])
"""
# public relations by oid (from a session that does not see the step's changes)
BY_OID = """
SELECT c.oid::int8, c.relname, c.relkind::text, c.relfilenode::int8
FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.oid::int8 = ANY(%s::int8[])
"""
# the granted relation locks of a backend, with the relation's pg_class row as that backend's
# transaction sees it (none when the relation was dropped)
OWN_LOCKS = """
SELECT l.relation::int8, l.mode, c.relname, c.relkind::text, c.relfilenode::int8,
       c.relnamespace = 'public'::regnamespace
FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation
WHERE l.pid = %s AND l.locktype = 'relation' AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""

Relations = dict[int, tuple[str, str, int]]
# (oid, pg_locks mode, relname, relkind, relfilenode, in public): rows of OWN_LOCKS
LockRow = tuple[int, str, str | None, str | None, int | None, bool | None]


def relations(conn: psycopg.Connection[Any]) -> Relations:
    return {oid: (name, kind, node) for oid, name, kind, node in conn.execute(TABLES)}


def as_relations(rows: Iterable[Sequence[Any]]) -> Relations:
    """Rows of PREDICTED or BY_OID."""
    return {int(oid): (str(name), str(kind), int(node)) for oid, name, kind, node in rows}


def _strongest(out: dict[str, LockMode], name: str, pg_mode: str) -> None:
    mode = from_pg_locks(pg_mode)
    if name not in out or strength(mode) > strength(out[name]):
        out[name] = mode


def held_locks(conn: psycopg.Connection[Any], pid: int, known: Relations) -> dict[str, LockMode]:
    """Strongest lock per public table held by `pid` (indexes and catalogs left out), named as
    in `known` when it is there, else as pg_class says now."""
    out: dict[str, LockMode] = {}
    for oid, pg_mode, name, kind, _node, public in conn.execute(OWN_LOCKS, (pid,)).fetchall():
        rel = known.get(oid) or ((name, kind, 0) if public else None)
        if rel is not None and rel[1] in TABLE_KINDS:
            _strongest(out, rel[0], pg_mode)
    return out


def step_observation(
    rows: Sequence[LockRow],
    before: Relations,
    predicted: Iterable[str],
    lookup: Callable[[list[int]], Relations],
) -> tuple[dict[str, LockMode], list[str]]:
    """The strongest lock per public table a transactional step holds and the tables it
    rewrote, from OWN_LOCKS read in its transaction after its statement (see the module doc).
    `before`: the relations named `predicted` as they were (PREDICTED); `lookup(oids)`: other
    relations it locked, as they were (BY_OID from another session). Not looked up: what
    cannot have been a table before (an index, TOAST table or sequence now), and a new table
    of a predicted name (none had that name before)."""
    names = set(predicted)
    now = {oid: (name, kind, node, public) for oid, _mode, name, kind, node, public in rows}
    after: Relations = {
        oid: (name, kind, node)
        for oid, (name, kind, node, public) in now.items()
        if public and name is not None and kind is not None and node is not None
    }

    def settled(oid: int) -> bool:
        if oid in before or oid < FIRST_NORMAL_OID:
            return True
        name, kind, _node, public = now[oid]
        return kind in _NEVER_TABLES or bool(public and kind in TABLE_KINDS and name in names)

    unknown = sorted(oid for oid in now if not settled(oid))
    was = {**before, **lookup(unknown)} if unknown else before
    locks: dict[str, LockMode] = {}
    rewrites: set[str] = set()
    for oid, pg_mode, *_ in rows:
        rel = was.get(oid) or after.get(oid)
        if rel is None or rel[1] not in TABLE_KINDS:
            continue
        _strongest(locks, rel[0], pg_mode)
        if oid in was and oid in after and after[oid][2] != rel[2]:
            rewrites.add(rel[0])
    return locks, sorted(rewrites)


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
                held = held_locks(self._conn, self.pid, self.known)
                for name, mode in held.items():
                    if name not in self.seen or strength(mode) > strength(self.seen[name]):
                        self.seen[name] = mode
                looks += 1
                if looks > 20:  # a short statement gets close looks, a long one a pause
                    self._stop.wait(self.interval)
        except psycopg.Error:
            pass  # observation is best effort for non-transactional steps
