"""Every database session Wesley opens, and how it sends SQL.

- `connect` sets `standard_conforming_strings = on` first thing: Wesley writes string literals
  the standard way (`'it''s'`), and on a server or database where the setting is off a `\\`
  inside one would end the literal early and turn the rest into SQL.
- `run_one` sends one statement through the extended protocol (a named prepared statement:
  Parse, Bind, Execute). PostgreSQL refuses a second statement there, so whatever a guard or a
  generated statement holds, it runs as one statement or not at all. Values go as bound
  parameters.
- `lost` tells a dropped connection (terminated backend, server restart, network) from an
  error of the statement, so a run stops with DB_CONNECTION_LOST and the --resume hint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from wesley.db.dsn import connect_error, redact, scrub
from wesley.errors import ExitCode, WesleyError

# TimeZone UTC: a timestamptz literal without an offset (in a check, a predicate, a backfill)
# means the same instant on every server, and introspection prints what it compares against
# in UTC (wesley.sdl.typed_compare)
SESSION_SETTINGS = ("SET standard_conforming_strings = on", "SET TimeZone = 'UTC'")
# SQLSTATEs of a session the server ended: admin_shutdown, crash_shutdown, cannot_connect_now
_SHUTDOWN = ("57P01", "57P02", "57P03")

Params = Sequence[Any] | Mapping[str, Any] | None


def prepare(conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """Apply Wesley's session settings to `conn` (and commit them if it is transactional)."""
    for setting in SESSION_SETTINGS:
        conn.execute(setting)
    if not conn.autocommit:
        conn.commit()
    return conn


def connect(
    dsn: str,
    *,
    autocommit: bool = True,
    connect_timeout: int = 10,
    application_name: str | None = None,
) -> psycopg.Connection[Any]:
    """A connection with Wesley's session settings, or DB_CONNECT_FAILED (never a password)."""
    extra: dict[str, Any] = {"application_name": application_name} if application_name else {}
    try:
        conn = psycopg.connect(dsn, autocommit=autocommit, connect_timeout=connect_timeout, **extra)
    except psycopg.Error as exc:  # ProgrammingError: a DSN libpq cannot parse
        raise connect_error(exc, dsn) from None
    try:
        return prepare(conn)
    except psycopg.Error as exc:
        conn.close()
        raise connect_error(exc, dsn) from None


def run_one(
    conn: psycopg.Connection[Any], sql: str | bytes, params: Params = None
) -> psycopg.Cursor[Any]:
    """Execute exactly one statement through the extended protocol (see the module doc)."""
    query = sql.encode("utf-8") if isinstance(sql, str) else sql
    return conn.execute(query, params, prepare=True)


def lost(conn: psycopg.Connection[Any] | None, exc: BaseException) -> bool:
    """Whether `exc` means the session itself is gone (not that a statement failed)."""
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    if state is None or state in _SHUTDOWN or state.startswith("08"):
        return True  # no SQLSTATE: libpq itself reports the session gone
    return conn is not None and (conn.closed or conn.broken)


def lost_error(exc: BaseException, dsn: str, during: str) -> WesleyError:
    """DB_CONNECTION_LOST (exit 13): what was running, and that --resume continues."""
    detail = scrub(str(exc), dsn) or type(exc).__name__
    return WesleyError(
        "DB_CONNECTION_LOST",
        f"the connection to {redact(dsn)} was lost during {during}: {detail}",
        "the backend was terminated, the server restarted or the network dropped; steps that "
        "committed are recorded: rerun with --resume to continue",
        exit_code=ExitCode.EXECUTION_FAILED,
    )


def server_version(dsn: str) -> int:
    """The server's version number (e.g. 180001), or DB_CONNECT_FAILED."""
    with connect(dsn) as conn:
        return conn.info.server_version
