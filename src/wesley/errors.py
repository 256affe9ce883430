"""Errors as values: every failure a user can cause is a `WesleyError` with a code.

The CLI maps the code's *category* to an exit code (DESIGN §8) and prints the message, the
location and the hint; a raw traceback is shown only with `--debug`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Process exit codes (DESIGN §8). 1 and 3 are ours: DESIGN leaves them free."""

    OK = 0
    INTERNAL = 1  # a bug in Wesley: an exception that is not a WesleyError
    INPUT = 2  # bad schema, bad file, bad option value (PARSE_FAILED and friends)
    NOT_IMPLEMENTED = 3  # a command or target that does not exist yet: never a fake success
    GENERATION = 4  # a target failed to render
    REFUSED = 5  # plan refused (destructive without --allow-destructive), bundle invalid
    CERT_INVALID = 8  # certificate missing, tampered, unsigned, below thresholds
    EXECUTION_FAILED = 13  # rehearse FAIL, deploy failed, database unreachable


@dataclass(frozen=True, order=True)
class Location:
    """A place in a source file; `line` and `column` are 1-based like graphql-core's."""

    file: str | None
    line: int
    column: int

    def __str__(self) -> str:
        prefix = f"{self.file}:" if self.file else ""
        return f"{prefix}{self.line}:{self.column}"

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "column": self.column}


@dataclass(frozen=True)
class Diagnostic:
    """A warning: something the user should fix but that does not stop the command."""

    code: str
    message: str
    location: Location | None = None
    hint: str | None = None

    def render(self) -> str:
        where = f"{self.location}: " if self.location else ""
        text = f"warning[{self.code}]: {where}{self.message}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "location": self.location.to_json() if self.location else None,
            "hint": self.hint,
        }


@dataclass
class WesleyError(Exception):
    """A failure the user can act on. `exit_code` follows the code's category."""

    code: str
    message: str
    hint: str | None = None
    location: Location | None = None
    exit_code: ExitCode = ExitCode.INPUT
    details: dict[str, Any] = field(default_factory=dict)
    # what the call produced before it failed (a FAIL rehearsal's realm, a refused plan), for
    # API callers and the CLI's printing; never part of the JSON
    result: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        where = f"{self.location}: " if self.location else ""
        text = f"error[{self.code}]: {where}{self.message}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": False,
            "error": {
                "code": self.code,
                "message": self.message,
                "hint": self.hint,
                "location": self.location.to_json() if self.location else None,
                "exit_code": int(self.exit_code),
                **({"details": self.details} if self.details else {}),
            },
        }


def input_error(
    code: str, message: str, hint: str | None = None, location: Location | None = None
) -> WesleyError:
    """Bad input from the user: exit 2."""
    return WesleyError(code, message, hint, location, ExitCode.INPUT)


def not_implemented(what: str, issue: str) -> WesleyError:
    return WesleyError(
        "NOT_IMPLEMENTED",
        f"{what} is not implemented yet",
        f"it is planned in {issue}; nothing was done",
        None,
        ExitCode.NOT_IMPLEMENTED,
    )
