"""Connection strings: hide passwords before a DSN reaches a message, switch databases.

A DSN is either a URL (`postgresql://user:pw@host:5432/db?sslmode=require`) or libpq
key=value pairs (`host=h user=u password=pw dbname=db`). Anything shown to a user or written
to a log goes through `redact` first.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from wesley.errors import ExitCode, WesleyError, input_error

MASK = "***"

_URL_SCHEMES = ("postgresql://", "postgres://")
# Password-looking fragments in free text (psycopg messages, unparsable DSNs).
_KV_PASSWORD = re.compile(r"""(password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s'"]+)""", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@\s]*)@")


def redact(dsn: str) -> str:
    """`dsn` with every password replaced by `***`. Never raises.

    A DSN that libpq cannot parse comes back fully masked: we cannot tell where its password is.
    """
    try:
        if dsn.lower().startswith(_URL_SCHEMES):
            redacted = _redact_url(dsn)
        else:
            params = conninfo_to_dict(dsn)
            if "password" not in params:
                return dsn
            params["password"] = MASK
            redacted = make_conninfo("", **params)
        # Safety net: libpq must see no real password in what we return.
        if conninfo_to_dict(redacted).get("password") not in (None, MASK):
            return MASK
        return redacted
    except Exception:
        return MASK


def _redact_url(dsn: str) -> str:
    parts = urlsplit(dsn)
    netloc = parts.netloc
    userinfo, at, hosts = netloc.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        if colon:
            netloc = f"{user}:{MASK}@{hosts}"
    query = "&".join(
        f"password={MASK}" if unquote(seg.partition("=")[0]) == "password" else seg
        for seg in parts.query.split("&")
    )
    redacted = urlunsplit(parts._replace(netloc=netloc, query=query))
    # An unescaped '/', '?' or '#' in the password makes urlsplit end the netloc early and miss
    # it; then whatever sits between '://' and the last '@' still shows, so mask everything.
    loose_userinfo = dsn.partition("://")[2].rpartition("@")[0]
    loose_password = loose_userinfo.partition(":")[2]
    if loose_password and loose_password != MASK and loose_password in redacted:
        return MASK
    return redacted


def with_dbname(dsn: str, dbname: str) -> str:
    """The same connection as `dsn`, to database `dbname` (returned in key=value form)."""
    try:
        return make_conninfo(dsn, dbname=dbname)
    except psycopg.ProgrammingError as exc:
        raise input_error(
            "DSN_INVALID",
            f"not a valid connection string: {redact(dsn)} ({_scrub(_one_line(exc), dsn)})",
            "use postgresql://user:password@host:port/dbname or key=value pairs",
        ) from exc


def check_dsn(dsn: str) -> None:
    """DSN_INVALID when libpq cannot parse `dsn`: said before anything starts, never showing
    the password. Exit 13, like any database Wesley cannot reach."""
    try:
        conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise WesleyError(
            "DSN_INVALID",
            f"not a valid connection string: {redact(dsn)} ({_scrub(_one_line(exc), dsn)})",
            "use postgresql://user:password@host:port/dbname or key=value pairs "
            "(host=... port=... user=... dbname=...)",
            None,
            ExitCode.EXECUTION_FAILED,
            details={"dsn": redact(dsn), "cause": "invalid_dsn"},
        ) from None


def connect_error(exc: BaseException, dsn: str) -> WesleyError:
    """The user-facing error for a failed connection to `dsn`; it never contains the password."""
    safe_dsn = redact(dsn)
    reason = _scrub(_one_line(exc) or type(exc).__name__, dsn)
    cause, hint = _classify(exc, reason)
    return WesleyError(
        "DB_CONNECT_FAILED",
        f"cannot connect to PostgreSQL at {safe_dsn}: {reason}",
        hint,
        None,
        ExitCode.EXECUTION_FAILED,
        details={"dsn": safe_dsn, "cause": cause},
    )


def scrub(text: str, dsn: str) -> str:
    """`text` on one line, with every spelling of `dsn`'s password masked."""
    return _scrub(" ".join(text.split()), dsn)


def _one_line(exc: BaseException) -> str:
    # libpq messages span lines ("...failed: Connection refused\n\tIs the server running...").
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _secrets(dsn: str) -> set[str]:
    """Every spelling of the password in `dsn` we can find, even if libpq cannot parse it."""
    found: set[str] = set()
    try:
        password = conninfo_to_dict(dsn).get("password")
        if password:
            found.add(str(password))
    except Exception:
        pass
    for match in _KV_PASSWORD.finditer(dsn):
        raw = match.group(2)
        found.update({raw, raw.strip("'")})
    if dsn.lower().startswith(_URL_SCHEMES):
        loose = dsn.partition("://")[2].rpartition("@")[0].partition(":")[2]
        found.update({loose, unquote(loose)})
        with_password = re.search(r"[?&]password=([^&#]*)", dsn)
        if with_password:
            found.update({with_password.group(1), unquote(with_password.group(1))})
    found.discard("")
    found.discard(MASK)
    return found


def _scrub(text: str, dsn: str) -> str:
    # Longest first, so that a secret containing another is replaced whole.
    for secret in sorted(_secrets(dsn), key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _KV_PASSWORD.sub(lambda m: m.group(1) + MASK, text)
    return _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + "@", text)


def _classify(exc: BaseException, reason: str) -> tuple[str, str]:
    """(cause, hint) for a connection failure, from the SQLSTATE if any, else the message."""
    sqlstate = getattr(exc, "sqlstate", None) or ""
    text = reason.lower()
    if sqlstate == "3D000" or ('database "' in text and "does not exist" in text):
        return (
            "database_missing",
            "the server is reachable but the database does not exist: create it "
            "(createdb NAME) or fix dbname in the DSN",
        )
    if sqlstate.startswith("28") or any(
        marker in text
        for marker in (
            "authentication failed",
            "no password supplied",
            "pg_hba.conf",
            'role "',
            "password is required",
        )
    ):
        return (
            "auth_failed",
            "the server rejected the credentials: check the user and password in the DSN "
            "(or PGPASSWORD / ~/.pgpass) and the server's pg_hba.conf",
        )
    if isinstance(exc, psycopg.ProgrammingError) or "connection info string" in text:
        return (
            "invalid_dsn",
            "the DSN is not a valid connection string: use "
            "postgresql://user:password@host:port/dbname or key=value pairs",
        )
    if any(
        marker in text
        for marker in (
            "connection refused",
            "could not translate host name",
            "name or service not known",
            "timeout expired",
            "timed out",
            "no route to host",
            "network is unreachable",
            "no such file or directory",
            "could not connect",
        )
    ):
        return (
            "unreachable",
            "no PostgreSQL server answered: check that it is running and that the host and "
            "port in the DSN are right (is it listening on that address?)",
        )
    return "unknown", "check the DSN and that the server is reachable from this machine"
