"""Progress of long work inside one statement, for the user watching a run: how far an index
build is (PostgreSQL's `pg_stat_progress_create_index`, read from a second connection while
the build runs). Reported through a `Meter`; best effort: a failure to look is not a failure
of the run."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import psycopg
from pglast import ast, parse_sql

from wesley.db.session import connect
from wesley.errors import WesleyError

# (key, label, done, total or None, unit): the same key is the same piece of work
Meter = Callable[[str, str, int, int | None, str], None]

_INDEX_PROGRESS = (
    "SELECT phase, blocks_done, blocks_total, tuples_done, tuples_total "
    "FROM pg_stat_progress_create_index WHERE pid = %s"
)


def builds_index(sql: str) -> str | None:
    """The index a statement builds (CREATE INDEX, ADD ... PRIMARY KEY/UNIQUE builds one too
    but has no progress row of its own name), or None."""
    if "index" not in sql.lower():  # most steps: no parse needed to say so
        return None
    try:
        stmt = parse_sql(sql)[0].stmt
    except Exception:
        return None
    if isinstance(stmt, ast.IndexStmt):
        return str(stmt.idxname or "index")
    return None


class IndexProgress:
    """While a CREATE INDEX runs on backend `pid`, polls its progress every `interval_s` and
    reports blocks (table scan) or tuples (sort and load) done of the total. Its connection is
    opened at the first look, so a build over before then costs none."""

    def __init__(
        self, dsn: str, pid: int, key: str, name: str, meter: Meter, interval_s: float = 0.5
    ) -> None:
        self.dsn, self.pid, self.key, self.name = dsn, pid, key, name
        self.meter, self.interval = meter, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> IndexProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        if self._stop.wait(self.interval):
            return
        try:
            conn = connect(self.dsn, application_name="wesley progress")
        except WesleyError:
            return
        # the thread's own connection: closed here, also when __exit__ stopped waiting
        with conn, contextlib.suppress(psycopg.Error):  # best effort
            while True:
                row = conn.execute(_INDEX_PROGRESS, (self.pid,)).fetchone()
                if row is not None:
                    self._report(*row)
                if self._stop.wait(self.interval):
                    return

    def _report(
        self, phase: str, blocks_done: int, blocks_total: int, tuples_done: int, tuples_total: int
    ) -> None:
        label = f"index {self.name}: {phase}"
        if blocks_total:
            self.meter(self.key, label, int(blocks_done), int(blocks_total), "blocks")
        elif tuples_total:
            self.meter(self.key, label, int(tuples_done), int(tuples_total), "tuples")
        else:
            self.meter(self.key, label, 0, None, "")
