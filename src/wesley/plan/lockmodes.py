"""PostgreSQL's table lock modes, weakest to strongest, and what each blocks."""

from __future__ import annotations

from typing import Literal, get_args

LockMode = Literal[
    "ACCESS SHARE",
    "ROW SHARE",
    "ROW EXCLUSIVE",
    "SHARE UPDATE EXCLUSIVE",
    "SHARE",
    "SHARE ROW EXCLUSIVE",
    "EXCLUSIVE",
    "ACCESS EXCLUSIVE",
]

ORDER: tuple[LockMode, ...] = get_args(LockMode)  # weakest first, as written above


def strength(mode: LockMode) -> int:
    return ORDER.index(mode)


def from_pg_locks(mode: str) -> LockMode:
    """`pg_locks.mode` spelling (`AccessExclusiveLock`) → ours (`ACCESS EXCLUSIVE`)."""
    words: list[str] = []
    for ch in mode.removesuffix("Lock"):
        if ch.isupper() and words:
            words.append(" ")
        words.append(ch.upper())
    name = "".join(words)
    for known in ORDER:
        if known == name:
            return known
    raise ValueError(f"unknown lock mode {mode!r}")


def blocks_writes(mode: LockMode) -> bool:
    """SHARE and stronger conflict with ROW EXCLUSIVE (INSERT/UPDATE/DELETE)."""
    return strength(mode) >= strength("SHARE")


def blocks_reads(mode: LockMode) -> bool:
    """Only ACCESS EXCLUSIVE conflicts with ACCESS SHARE (plain SELECT)."""
    return mode == "ACCESS EXCLUSIVE"
