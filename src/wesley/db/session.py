"""Every database session Wesley opens, and how it sends SQL.

- `connect` sets `standard_conforming_strings = on` first thing: Wesley writes string literals
  the standard way (`'it''s'`), and on a server or database where the setting is off a `\\`
  inside one would end the literal early and turn the rest into SQL.
- `run_one` sends one statement through the extended protocol (Parse, Bind, Execute of the
  unnamed statement, in psycopg's pipeline mode, which never falls back to the simple query
  protocol). PostgreSQL refuses a second statement there, so whatever a guard or a generated
  statement holds, it runs as one statement or not at all. Values go as bound parameters.
- `run_batch` sends several such statements at once and reads their results together: one
  round trip instead of one each. Outside an explicit transaction the statements up to the
  batch's Sync form one implicit transaction, so a batch never holds a statement that must run
  alone (CONCURRENTLY, VACUUM); the first that fails raises, and PostgreSQL skips the rest.
- Sessions prepare no statements (`prepare_threshold = None`): psycopg would otherwise
  prepare a statement seen five times, and then follow every DROP or ALTER with a
  DEALLOCATE ALL round trip.
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
# pipeline mode needs libpq 14+ (the psycopg[binary] wheels bundle a newer one)
PIPELINE = psycopg.Pipeline.is_supported()


def prepare(conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """Apply Wesley's session settings to `conn` (and commit them if it is transactional)."""
    if PIPELINE:  # without it, run_one relies on prepare=True to refuse a second statement
        conn.prepare_threshold = None
    run_batch(conn, [(setting, None) for setting in SESSION_SETTINGS])
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
    return run_batch(conn, [(sql, params)])[0]


def run_batch(
    conn: psycopg.Connection[Any],
    batch: Sequence[tuple[str | bytes, Params]],
    sent: list[psycopg.Cursor[Any]] | None = None,
) -> list[psycopg.Cursor[Any]]:
    """Execute each statement of `batch` as one statement through the extended protocol, all
    in one round trip (see the module doc); their cursors, in order. `sent` (when given)
    receives the cursors as they are queued: after an error, the first one without a result
    (`pgresult` None) is the statement that failed."""
    cursors = [] if sent is None else sent
    if not batch:
        return cursors
    if not PIPELINE:  # a libpq before 14: one prepared statement at a time, as before
        for sql, params in batch:
            cursors.append(conn.execute(_query(sql), params, prepare=True))
        return cursors
    with conn.pipeline():
        for sql, params in batch:
            cursors.append(conn.execute(_query(sql), params, prepare=False))
    return cursors


def failed_at(batch: Sequence[object], sent: Sequence[psycopg.Cursor[Any]]) -> int:
    """After `run_batch(conn, batch, sent)` raised: the index in `batch` of the statement that
    failed (without pipeline mode the cursors stop before it)."""
    at = next((i for i, cur in enumerate(sent) if cur.pgresult is None), len(sent))
    return min(at, len(batch) - 1)


def _query(sql: str | bytes) -> bytes:
    # bytes: psycopg leaves a query without parameters as it is (a `%` stays a `%`)
    return sql.encode("utf-8") if isinstance(sql, str) else sql


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
