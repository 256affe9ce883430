"""The unchanged-run cache of `transform` (`.wesley/cache/transform.json`).

A transform is a pure function of the schema text, the configuration, the options and
Wesley itself. The cache records, under a key over all four, the SHA-256 of every file the
transform wrote and the warnings it gave. A later transform with the same key whose files
all still hash to what was recorded is done: nothing is parsed, generated or written, and the
warnings are given again. A missing, edited or extra-broken file, another schema, config,
option or Wesley (its version and its own source files: a changed install or checkout) is a
miss, and the transform runs in full and records a new entry. The cache is never an input
to what is generated, so deleting it changes nothing but the time of the next run."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wesley import __version__
from wesley.errors import Diagnostic, Location, WesleyError
from wesley.files import write_atomic

CACHE_FILE = Path("cache") / "transform.json"
FORMAT = 1


def _wesley_fingerprint() -> str:
    """Wesley's version and the path, size and mtime of each of its source files: an edited
    checkout or a reinstall is another Wesley (a few ms: stat only, no reading)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256(__version__.encode())
    stack = [root]
    while stack:
        here = stack.pop()
        with os.scandir(here) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_dir() and entry.name != "__pycache__":
                    stack.append(Path(entry.path))
                elif entry.name.endswith((".py", ".json", ".graphql", ".toml")):
                    st = entry.stat()
                    rel = os.path.relpath(entry.path, root)
                    h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cache_key(schema_text: str, shown: str, config: dict[str, Any], options: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for part in (
        str(FORMAT),
        _wesley_fingerprint(),
        shown,  # the schema's location appears in warnings
        json.dumps(config, sort_keys=True, default=str),
        json.dumps(options, sort_keys=True, default=str),
    ):
        h.update(part.encode("utf-8") + b"\0")
    h.update(schema_text.encode("utf-8"))
    return h.hexdigest()


@dataclass(frozen=True)
class Entry:
    key: str
    ir_hash: str
    tables: int
    enums: int
    artifacts: list[tuple[str, str, str | None]]  # path, sha256, target
    evidence: list[tuple[str, str]]  # path, sha256
    warnings: list[Diagnostic]


def _diag(d: Diagnostic) -> dict[str, Any]:
    loc = d.location
    return {
        "code": d.code,
        "message": d.message,
        "hint": d.hint,
        "location": None if loc is None else [loc.file, loc.line, loc.column],
    }


def _undiag(raw: dict[str, Any]) -> Diagnostic:
    loc = raw["location"]
    where = None if loc is None else Location(loc[0], loc[1], loc[2])
    return Diagnostic(raw["code"], raw["message"], where, raw["hint"])


def file_sha256(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


def lookup(bundle_dir: Path, key: str) -> Entry | None:
    """The entry for `key` when every file it lists still has the recorded bytes."""
    try:
        raw = json.loads((bundle_dir / CACHE_FILE).read_bytes())
        if raw.get("format") != FORMAT or raw.get("key") != key:
            return None
        entry = Entry(
            key=key,
            ir_hash=raw["ir_hash"],
            tables=raw["tables"],
            enums=raw["enums"],
            artifacts=[(a[0], a[1], a[2]) for a in raw["artifacts"]],
            evidence=[(e[0], e[1]) for e in raw["evidence"]],
            warnings=[_undiag(w) for w in raw["warnings"]],
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    files = [(a[0], a[1]) for a in entry.artifacts] + entry.evidence
    for path, digest in files:
        if file_sha256(Path(path)) != digest:
            return None
    return entry


def store(bundle_dir: Path, entry: Entry) -> None:
    data = {
        "format": FORMAT,
        "key": entry.key,
        "ir_hash": entry.ir_hash,
        "tables": entry.tables,
        "enums": entry.enums,
        "artifacts": [list(a) for a in entry.artifacts],
        "evidence": [list(e) for e in entry.evidence],
        "warnings": [_diag(w) for w in entry.warnings],
    }
    try:
        write_atomic(bundle_dir / CACHE_FILE, json.dumps(data, indent=1) + "\n")
    except WesleyError:  # a cache that cannot be written only costs time next run
        return
