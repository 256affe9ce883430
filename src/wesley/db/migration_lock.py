"""The migration lock: one session-level advisory lock per database, held by a run (rehearse
or deploy) for as long as it lasts. Who holds it is read from pg_locks."""

from __future__ import annotations

from typing import Any

import psycopg

from wesley.db.dsn import redact
from wesley.errors import ExitCode, WesleyError

ADVISORY_KEY = 0x5745534C4559  # "WESLEY": one migration at a time per database
_HOLDER = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND classid = %s AND objid = %s AND pid <> pg_backend_pid() AND database = "
    "(SELECT oid FROM pg_database WHERE datname = current_database())"
)


def holder(conn: psycopg.Connection[Any]) -> int | None:
    """The backend pid of another session holding the migration lock, if any."""
    row = conn.execute(_HOLDER, (ADVISORY_KEY >> 32, ADVISORY_KEY & 0xFFFFFFFF)).fetchone()
    return int(row[0]) if row else None


def locked_error(dsn: str, pid: int | str) -> WesleyError:
    return WesleyError(
        "MIGRATION_LOCKED",
        f"another Wesley run holds the migration lock on {redact(dsn)} (backend pid {pid})",
        "wait for it to finish, or rerun with --wait; nothing was applied",
        exit_code=ExitCode.EXECUTION_FAILED,
        details={"holder_pid": pid},
    )


def try_acquire(conn: psycopg.Connection[Any], dsn: str, *, wait: bool = False) -> None:
    """Take the migration lock on `conn`'s session (released when it closes), or say who holds
    it; `wait` polls without queueing (see Executor._lock for why)."""
    import time

    while True:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_KEY,)).fetchone()
        if row and row[0]:
            return
        pid = holder(conn) or "unknown"
        if not wait:
            raise locked_error(dsn, pid)
        time.sleep(0.2)
