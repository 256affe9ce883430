"""Citations: making one (HOLMES) and re-opening one (WATSON) read the cited bytes the same
way. The cited bytes of `file:a-b` are lines a..b of the file with their line ends; of
`file#member:a-b` (a text inside a JSON file, such as realm.json's TAP output) lines a..b of
that text, each followed by `\\n`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wesley.holmes.jsonlines import LineMap, line_map
from wesley.holmes.models import Citation, CitationKind
from wesley.ir import sha256_hex


class Sources:
    """The files a report reads, each read once."""

    def __init__(self) -> None:
        self._raw: dict[str, bytes | None] = {}
        self._maps: dict[str, LineMap | None] = {}
        self._json: dict[str, Any] = {}
        self._lines: dict[tuple[str, str | None], list[bytes] | None] = {}

    def raw(self, path: str) -> bytes | None:
        if path not in self._raw:
            p = Path(path)
            try:
                self._raw[path] = p.read_bytes() if p.is_file() else None
            except OSError:
                self._raw[path] = None
        return self._raw[path]

    def sha256(self, path: str) -> str | None:
        raw = self.raw(path)
        return None if raw is None else sha256_hex(raw)

    def json(self, path: str) -> Any:
        if path not in self._json:
            raw = self.raw(path)
            try:
                self._json[path] = None if raw is None else json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                self._json[path] = None
        return self._json[path]

    def line_map(self, path: str) -> LineMap | None:
        """JSON path → line span, when the file is exactly as Wesley wrote it."""
        if path not in self._maps:
            raw = self.raw(path)
            try:
                self._maps[path] = None if raw is None else line_map(raw.decode("utf-8"))
            except UnicodeDecodeError:
                self._maps[path] = None
        return self._maps[path]

    def lines(self, path: str, member: str | None = None) -> list[bytes] | None:
        key = (path, member)
        if key not in self._lines:
            self._lines[key] = self._split(path, member)
        return self._lines[key]

    def _split(self, path: str, member: str | None) -> list[bytes] | None:
        if member is None:
            raw = self.raw(path)
            return None if raw is None else raw.splitlines(keepends=True)
        node = self.json(path)
        for part in member.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, str):
            return None
        return [(line + "\n").encode("utf-8") for line in node.split("\n")]


def _cited(sources: Sources, file: str, line: int, end: int, member: str | None) -> bytes | str:
    lines = sources.lines(file, member)
    if lines is None:
        if sources.raw(file) is None:
            return f"{file} is missing"
        return f"{file} has no text member {member}"
    if line < 1 or end < line or end > len(lines):
        return f"{file}{'#' + member if member else ''} has {len(lines)} lines"
    return b"".join(lines[line - 1 : end])


def _says(raw: bytes, claims: list[str]) -> list[str]:
    text = raw.decode("utf-8", errors="replace")
    return [c for c in claims if c not in text]


def cite(
    sources: Sources,
    kind: CitationKind,
    file: str,
    lines: tuple[int, int],
    claims: list[str],
    member: str | None = None,
) -> Citation | str:
    """A citation of `file` lines `lines` saying `claims`, or why it cannot be made."""
    line, end = lines
    raw = _cited(sources, file, line, end, member)
    where = f"{file}{'#' + member if member else ''}:{line}" + (f"-{end}" if end != line else "")
    if isinstance(raw, str):
        return f"{where}: {raw}"
    absent = _says(raw, claims)
    if absent:
        return f"{where} does not say {absent[0]!r}"
    return Citation(
        kind=kind,
        file=file,
        line=line,
        end=end,
        member=member,
        sha256=sha256_hex(raw),
        claims=claims,
    )


def recheck(sources: Sources, c: Citation) -> str | None:
    """None when the citation still holds, else what is wrong, naming it."""
    raw = _cited(sources, c.file, c.line, c.end, c.member)
    if isinstance(raw, str):
        return f"{c.where()}: {raw}"
    faults = []
    found = sha256_hex(raw)
    if found != c.sha256:
        faults.append(f"the cited bytes changed (sha256 {c.sha256[:12]} cited, {found[:12]} found)")
    absent = _says(raw, c.claims)
    if absent:
        faults.append(f"it no longer says {absent[0]!r}")
    return f"{c.where()}: " + "; ".join(faults) if faults else None
