"""Where a value sits, by line, in a JSON file that Wesley wrote (`json.dumps(indent=2,
sort_keys=True)`), so a citation can name `realm.json:120-123` instead of "somewhere in
realm.json". The rendering is rebuilt line by line and must equal the file byte for byte;
a file that is not Wesley's rendering has no line map."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

Path_ = tuple[str | int, ...]


def _render(value: Any, ensure_ascii: bool) -> tuple[list[str], dict[Path_, tuple[int, int]]]:
    lines: list[str] = []
    spans: dict[Path_, tuple[int, int]] = {}

    def emit(v: Any, path: Path_, indent: int, lead: str) -> None:
        start = len(lines) + 1
        pad = " " * indent
        inner = " " * (indent + 2)
        if isinstance(v, dict) and v:
            lines.append(lead + "{")
            items = sorted(v.items())
            for i, (k, x) in enumerate(items):
                emit(
                    x,
                    (*path, k),
                    indent + 2,
                    inner + json.dumps(k, ensure_ascii=ensure_ascii) + ": ",
                )
                if i < len(items) - 1:
                    lines[-1] += ","
            lines.append(pad + "}")
        elif isinstance(v, list) and v:
            lines.append(lead + "[")
            for i, x in enumerate(v):
                emit(x, (*path, i), indent + 2, inner)
                if i < len(v) - 1:
                    lines[-1] += ","
            lines.append(pad + "]")
        else:
            lines.append(lead + json.dumps(v, ensure_ascii=ensure_ascii))
        spans[path] = (start, len(lines))

    emit(value, (), 0, "")
    return lines, spans


@dataclass(frozen=True)
class LineMap:
    spans: dict[Path_, tuple[int, int]]
    ensure_ascii: bool

    def text(self, key: str, value: Any) -> str:
        """`"key": value` as this file writes it (a citation's claim)."""
        return f"{json.dumps(key, ensure_ascii=self.ensure_ascii)}: " + json.dumps(
            value, ensure_ascii=self.ensure_ascii
        )


def line_map(text: str) -> LineMap | None:
    """JSON path → (first line, last line) for every value of `text`, or None when `text` is
    not exactly Wesley's rendering of its own JSON."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    for ensure_ascii in (True, False):
        lines, spans = _render(data, ensure_ascii)
        if "\n".join(lines) + "\n" == text:
            return LineMap(spans, ensure_ascii)
    return None
