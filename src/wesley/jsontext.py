"""Indented JSON text, byte for byte what `json.dumps(data, indent=2, sort_keys=True,
ensure_ascii=...)` writes, fast.

The standard library encodes indented JSON in pure Python (its C encoder only does compact
output before 3.13): ir.json at 1,000 tables took seconds. Here the keys are sorted in one
walk and pydantic-core's serializer (Rust, serde_json's pretty printer, the same escapes)
writes the text. Anything whose spelling could differ (a float, an integer beyond 64 bits,
non-ASCII text under `ensure_ascii`, a lone surrogate, a non-string key) goes to the standard
library instead, so the bytes never depend on which path ran."""

from __future__ import annotations

import json
from typing import Any

_I64 = 1 << 63


class _Fallback(Exception):
    pass


def _sorted(value: Any, ascii_only: bool) -> Any:
    kind = type(value)
    if kind is dict:
        out = {}
        for key in sorted(value):
            if type(key) is not str or (ascii_only and not key.isascii()):
                raise _Fallback
            out[key] = _sorted(value[key], ascii_only)
        return out
    if kind is list or kind is tuple:
        return [_sorted(v, ascii_only) for v in value]
    if kind is str:
        if ascii_only and not value.isascii():
            raise _Fallback
        return value
    if kind is int:
        if not -_I64 <= value < _I64:
            raise _Fallback
        return value
    if value is None or kind is bool:
        return value
    raise _Fallback  # float (repr differs from serde's), or anything json.dumps would reject


def _sort_in_place(value: Any, ascii_only: bool) -> Any:
    """`_sorted` for data the caller gives away: dicts re-ordered and lists filled in place,
    so no second copy of a large value is alive at once (the IR's data at 1,000 tables)."""
    kind = type(value)
    if kind is dict:
        keys = sorted(value)
        for key in keys:
            if type(key) is not str or (ascii_only and not key.isascii()):
                raise _Fallback
        items = [(key, _sort_in_place(value[key], ascii_only)) for key in keys]
        value.clear()
        value.update(items)
        return value
    if kind is list:
        for i, v in enumerate(value):
            value[i] = _sort_in_place(v, ascii_only)
        return value
    return _sorted(value, ascii_only)


def dumps_pretty(data: Any, *, ensure_ascii: bool = False) -> str:
    """`json.dumps(data, indent=2, sort_keys=True, ensure_ascii=ensure_ascii)`."""
    return Sorted(data, ensure_ascii).pretty()


def dumps_compact(data: Any) -> bytes:
    """`json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` as
    UTF-8: the canonical bytes Wesley's hashes are taken over."""
    return Sorted(data).compact()


class Sorted:
    """`data` with its keys sorted once, for both spellings (the IR's text and its hash are
    taken from the same walk)."""

    def __init__(self, data: Any, ensure_ascii: bool = False, *, given: bool = False) -> None:
        """`given`: `data` is the caller's to give away; it is sorted in place (a value left
        half sorted by a fallback is still the same value)."""
        self._ascii = ensure_ascii
        try:
            # the sorted data is the same value: the standard library can take it too, so
            # the caller's data need not be kept (at 1,000 tables each copy is ~100 MB)
            sort = _sort_in_place if given else _sorted
            self._data: Any = sort(data, ensure_ascii)
            self._fast = True
        except _Fallback:
            self._data = data
            self._fast = False

    def pretty(self) -> str:
        from pydantic_core import PydanticSerializationError, to_json  # not at start-up

        if self._fast:
            try:
                return to_json(self._data, indent=2).decode("utf-8")
            except (PydanticSerializationError, UnicodeDecodeError, ValueError):
                pass
        return json.dumps(self._data, indent=2, sort_keys=True, ensure_ascii=self._ascii)

    def compact(self) -> bytes:
        from pydantic_core import PydanticSerializationError, to_json

        if self._fast and not self._ascii:
            try:
                raw = to_json(self._data)
                raw.decode("utf-8")  # a lone surrogate must take the standard library
                return raw
            except (PydanticSerializationError, UnicodeDecodeError, ValueError):
                pass
        return json.dumps(
            self._data, sort_keys=True, separators=(",", ":"), ensure_ascii=self._ascii
        ).encode("utf-8")
