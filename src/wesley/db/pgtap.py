"""Run a generated pgTAP suite in a database and read its TAP output."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from wesley.db.apply import statements
from wesley.db.session import failed_at, run_batch
from wesley.errors import ExitCode, WesleyError
from wesley.targets.pgtap import PROBE_POLICY, PROBE_ROLE, PROBE_SETUP

_RESULT = re.compile(r"^(not ok|ok) (\d+)(?: - )?(.*?)(?:\s*#\s*(SKIP|TODO)\b.*)?$")


@dataclass
class TapResult:
    planned: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)
    tap: str = ""

    @property
    def ran(self) -> int:
        return self.passed + self.failed + self.skipped

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.planned == self.ran and self.planned > 0


@dataclass(frozen=True)
class SuiteFailure:
    """What a failed suite means: the database differs from the schema (TESTS_FAILED), or
    Wesley's own RLS probe could not insert its rows (PROBE_SETUP_FAILED: a bug of ours)."""

    code: str
    message: str
    hint: str
    test: str


INTERNAL_HINT = (
    "internal: a bug in Wesley's generated RLS probe, not in your schema or database; "
    "report it with the suite's TAP output (realm.json tests.tap)"
)


def suite_failure(tap: TapResult, differs_hint: str) -> SuiteFailure:
    """The failure to report for a suite that is not ok (the first probe set-up that died
    wins: every assertion after it fails because of it)."""
    stopped = next((ln for ln in tap.tap.splitlines() if ln.startswith(_STOPPED)), None)
    if stopped is not None and PROBE_SETUP in stopped:
        return SuiteFailure(
            "PROBE_SETUP_FAILED",
            "internal error: " + stopped.removeprefix("not ok - "),
            INTERNAL_HINT,
            stopped,
        )
    setup = next((f for f in tap.failures if PROBE_SETUP in f.splitlines()[0]), None)
    if setup is not None:
        head = setup.splitlines()
        died = next((ln.lstrip("# ").strip() for ln in head[1:] if "died:" in ln), "")
        table = head[0].split(":")[0].removeprefix("RLS ").strip()
        return SuiteFailure(
            "PROBE_SETUP_FAILED",
            f"internal error: the generated RLS probe for {table} could not insert its own "
            f"rows{(' (' + died + ')') if died else ''}; the database was not found to differ "
            "from the schema",
            INTERNAL_HINT,
            head[0],
        )
    first = tap.failures[0].splitlines()[0] if tap.failures else "the suite did not finish"
    return SuiteFailure(
        "TESTS_FAILED",
        f"{tap.failed} of {tap.planned} pgTAP assertions failed, first: {first}",
        differs_hint,
        first,
    )


_STOPPED = "not ok - the suite stopped"


def _probe_sql(sql: str) -> bool:
    """A statement of the RLS probe itself (its role, grants, policy), not an assertion."""
    return PROBE_ROLE in sql or PROBE_POLICY in sql


def parse_tap(tap: str) -> TapResult:
    result = TapResult(tap=tap)
    last_failure: list[str] | None = None
    for line in tap.splitlines():
        if line.startswith("1.."):
            result.planned = int(line[3:].split()[0])
            continue
        m = _RESULT.match(line)
        if m:
            status, _num, desc, directive = m.groups()
            if directive == "SKIP":
                result.skipped += 1
            elif status == "ok":
                result.passed += 1
            else:
                result.failed += 1
                last_failure = [desc or f"test {_num}"]
                result.failures.append(last_failure[0])
                continue
            last_failure = None
        elif line.startswith("#") and last_failure is not None and result.failures:
            result.failures[-1] += "\n" + line
    return result


def ensure_pgtap(conn: psycopg.Connection[Any]) -> None:
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgtap")
    except psycopg.errors.UniqueViolation:
        pass  # another session created it at the same moment: it is there
    except psycopg.Error as exc:
        raise WesleyError(
            "PGTAP_MISSING",
            f"the pgTAP extension cannot be installed: {exc.diag.message_primary or exc}",
            "install it on the server (Debian: apt-get install postgresql-NN-pgtap; the "
            "embedded PostgreSQL: python -m wesley.db.pgtap_files) and connect as a role that "
            "may CREATE EXTENSION",
            exit_code=ExitCode.EXECUTION_FAILED,
        ) from None


def run_suite(conn: psycopg.Connection[Any], script: str) -> TapResult:
    """Execute the suite statement by statement on an autocommit connection; collect TAP.
    Each statement is its own (extended protocol), but those of an explicit transaction
    (BEGIN ... ROLLBACK, the whole of a generated suite) go in one round trip: inside it they
    behave as if sent one by one, and the first error ends the suite there as it would."""
    ensure_pgtap(conn)
    lines: list[str] = []
    for chunk in _chunks(statements(script)):
        sent: list[psycopg.Cursor[Any]] = []
        try:
            run_batch(conn, [(sql, None) for sql in chunk], sent)
        except psycopg.Error as exc:
            at = failed_at(chunk, sent)
            lines.extend(_output(sent[:at]))
            if conn.info.transaction_status != TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
            sql = chunk[at]
            ours = f" (at the RLS probe's own statement: {PROBE_SETUP})" if _probe_sql(sql) else ""
            lines.append(f"not ok - the suite stopped{ours}: {exc.diag.message_primary or exc}")
            break
        lines.extend(_output(sent))
    tap = "\n".join(part for line in lines for part in line.split("\n"))
    return parse_tap(tap)


# a statement that opens an explicit transaction, and one that may end it (conservatively:
# ending a round trip early only costs a round trip)
_OPENS = re.compile(r"(?i)(BEGIN|START\s+TRANSACTION)\b")
_ENDS = re.compile(r"(?i)(COMMIT|END|ROLLBACK|ABORT|PREPARE)\b")


def _chunks(stmts: list[str]) -> list[list[str]]:
    """The statements to send together: each explicit transaction (BEGIN to its end) is one
    chunk, any other statement one of its own (outside a transaction, statements sent together
    would share one implicit transaction)."""
    out: list[list[str]] = []
    inside = False
    for sql in stmts:
        text = sql.lstrip()
        if inside:
            out[-1].append(sql)
            inside = not _ENDS.match(text)
        else:
            out.append([sql])
            inside = bool(_OPENS.match(text))
    return out


def _output(cursors: list[psycopg.Cursor[Any]]) -> list[str]:
    """The TAP lines the statements returned (their first column)."""
    return [
        str(row[0])
        for cur in cursors
        if cur.description
        for row in cur.fetchall()
        if row and row[0] is not None
    ]
