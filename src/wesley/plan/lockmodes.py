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


# PostgreSQL's table-level conflict matrix (explicit-locking.html, table 13.2)
_CONFLICTS: dict[LockMode, tuple[LockMode, ...]] = {
    "ACCESS SHARE": ("ACCESS EXCLUSIVE",),
    "ROW SHARE": ("EXCLUSIVE", "ACCESS EXCLUSIVE"),
    "ROW EXCLUSIVE": ("SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"),
    "SHARE UPDATE EXCLUSIVE": (
        "SHARE UPDATE EXCLUSIVE",
        "SHARE",
        "SHARE ROW EXCLUSIVE",
        "EXCLUSIVE",
        "ACCESS EXCLUSIVE",
    ),
    "SHARE": (
        "ROW EXCLUSIVE",
        "SHARE UPDATE EXCLUSIVE",
        "SHARE ROW EXCLUSIVE",
        "EXCLUSIVE",
        "ACCESS EXCLUSIVE",
    ),
    "SHARE ROW EXCLUSIVE": (
        "ROW EXCLUSIVE",
        "SHARE UPDATE EXCLUSIVE",
        "SHARE",
        "SHARE ROW EXCLUSIVE",
        "EXCLUSIVE",
        "ACCESS EXCLUSIVE",
    ),
    "EXCLUSIVE": ORDER[1:],
    "ACCESS EXCLUSIVE": ORDER,
}


def conflicts(mode: LockMode) -> tuple[LockMode, ...]:
    """The modes a lock of `mode` must wait for."""
    return _CONFLICTS[mode]


def pg_locks_name(mode: LockMode) -> str:
    """Ours (`ACCESS EXCLUSIVE`) → `pg_locks.mode` spelling (`AccessExclusiveLock`)."""
    return "".join(word.capitalize() for word in mode.split()) + "Lock"
