"""Value refinements (`@wes_email`, `@wes_url`, `@wes_ip`, `@wes_min`, `@wes_max`,
`@wes_length`, `@wes_regex`): one definition each, read by the SDL (the CHECK constraint), the
zod target (the refinement), the sample rows (values that satisfy them) and the pgTAP suite (a
value the database must reject).

The formats are regular expressions in the subset where JavaScript's RegExp and PostgreSQL's
ARE `~` mean the same thing (anchored, explicit character classes), so zod 3, zod 4 and the
database accept exactly the same strings. Lengths count code points on both sides (JavaScript's
`.length` counts UTF-16 units, PostgreSQL's char_length code points).
"""

from __future__ import annotations

import importlib
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from wesley.ir import Column, Refinement
from wesley.sqltext import quote_ident, quote_literal

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL = rf"^[A-Za-z0-9._%+'-]+@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,}}$"
URL = r"^[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#]+(?:[/?#]\S*)?$"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_V4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H = r"[0-9a-fA-F]{1,4}"
_V6 = (
    rf"(?:(?:{_H}:){{7}}{_H}|(?:{_H}:){{1,7}}:|(?:{_H}:){{1,6}}:{_H}"
    rf"|(?:{_H}:){{1,5}}(?::{_H}){{1,2}}|(?:{_H}:){{1,4}}(?::{_H}){{1,3}}"
    rf"|(?:{_H}:){{1,3}}(?::{_H}){{1,4}}|(?:{_H}:){{1,2}}(?::{_H}){{1,5}}"
    rf"|{_H}:(?::{_H}){{1,6}}|:(?:(?::{_H}){{1,7}}|:)"
    rf"|::(?:[fF]{{4}}(?::0{{1,4}})?:)?{_V4}|(?:{_H}:){{1,4}}:{_V4})"
)
IP = rf"^(?:{_V4}|{_V6})$"

FORMATS: dict[str, str] = {"email": EMAIL, "url": URL, "ip": IP}
FORMAT_WORDS = {"email": "an e-mail address", "url": "a URL", "ip": "an IP address"}

# Escapes and groups whose meaning differs between JavaScript and PostgreSQL (`\b` is a word
# boundary in one and a backspace in the other; `\w` is ASCII in one and locale-aware in the
# other; inline flags and POSIX classes exist in one only).
_NOT_PORTABLE = re.compile(r"\\[bBAZzmMyYwWpPk]|\(\?[A-Za-z]|\(\?<[A-Za-z]|\(\?P|\[\[[:.=]")


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be checked alike by zod and PostgreSQL, or None."""
    if "\x00" in pattern:
        return "it contains a NUL byte"
    found = _NOT_PORTABLE.search(pattern)
    if found:
        return (
            f"{found.group(0)!r} means different things to JavaScript and PostgreSQL "
            "(or exists in one only)"
        )
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"it is not a regular expression: {exc}"
    return None


def is_text(col: Column) -> bool:
    base = re.sub(r"\(.*?\)", "", col.type).strip().lower()
    return not col.enum and base in {
        "text",
        "varchar",
        "character varying",
        "citext",
        "char",
        "character",
        "bpchar",
    }


_INT = {"smallint", "integer", "bigint", "int2", "int4", "int8", "int"}
_NUM = _INT | {"numeric", "decimal", "double precision", "real", "float4", "float8"}


def numeric_kind(col: Column) -> str | None:
    """ "int", "number" or None (not a number column)."""
    if col.enum or col.array:
        return None
    base = re.sub(r"\(.*?\)", "", col.type).strip().lower()
    if base in _INT:
        return "int"
    return "number" if base in _NUM else None


def number_text(value: Any) -> str | None:
    """A bound as canonical decimal text (`3`, `-0.5`), or None when it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        value = repr(value)
    if not isinstance(value, str) or not re.fullmatch(r"[+-]?\d+(\.\d+)?", value.strip()):
        return None
    try:
        d = Decimal(value.strip())
    except InvalidOperation:
        return None
    text = format(d.normalize(), "f") if d != d.to_integral() else str(int(d))
    return "0" if text in ("-0", "+0") else text


def check_sql(col: Column, r: Refinement) -> str:
    """The CHECK expression of a refinement on `col` (already validated)."""
    c = quote_ident(col.name)
    if r.kind in FORMATS:
        return f"{c} ~ {quote_literal(FORMATS[r.kind])}"
    if r.kind == "regex":
        assert r.pattern is not None
        return f"{c} ~ {quote_literal(r.pattern)}"
    if numeric_kind(col) is not None:
        op = ">=" if r.kind == "min" else "<="
        return f"{c} {op} {r.value}"
    lo, hi = bounds(r)
    parts = []
    if lo is not None:
        parts.append(f"char_length({c}) >= {lo}")
    if hi is not None:
        parts.append(f"char_length({c}) <= {hi}")
    return " AND ".join(parts)


def bounds(r: Refinement) -> tuple[int | None, int | None]:
    """A length refinement's (min, max) in code points."""
    if r.kind == "length":
        return r.min, r.max
    assert r.value is not None
    n = int(Decimal(r.value))
    return (n, None) if r.kind == "min" else (None, n)


# --- values that satisfy, and values that break, a column's refinements ----------------------


def sample_text(col: Column, n: int, limit: int | None = None) -> str:
    """A text value meeting every refinement of `col` (best effort for patterns), at most
    `limit` characters long (a varchar(n)'s n)."""
    kinds = {r.kind for r in col.refinements}
    if "url" in kinds:
        text = f"https://wesley.test/p{n}"
    elif "ip" in kinds:
        text = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
    else:
        text = f"p{n}@wesley.test"
    for r in col.refinements:
        if r.kind == "regex" and r.pattern and not re.search(r.pattern, text):
            text = example_of(r.pattern, n) or text
    lo, hi = length_bounds(col)
    if limit is not None and (hi is None or limit < hi):
        hi = limit
    if hi is not None and len(text) > hi:
        text = text[-hi:] if hi else ""
    if lo is not None and len(text) < lo:
        text = text + "x" * (lo - len(text))
    return text


def length_bounds(col: Column) -> tuple[int | None, int | None]:
    lo: int | None = None
    hi: int | None = None
    for r in col.refinements:
        if r.kind in ("min", "max", "length"):
            a, b = bounds(r)
            lo = a if a is not None and (lo is None or a > lo) else lo
            hi = b if b is not None and (hi is None or b < hi) else hi
    return lo, hi


def sample_number(col: Column, n: int, start: str | None = None) -> str:
    """`start` (by default `1000 + n`), moved inside the column's min/max."""
    value = Decimal(start) if start is not None else Decimal(1000 + n)
    for r in col.refinements:
        if r.kind == "min" and r.value is not None and value < Decimal(r.value):
            value = Decimal(r.value)
        if r.kind == "max" and r.value is not None and value > Decimal(r.value):
            value = Decimal(r.value)
    return str(value)


def bad_value(col: Column, r: Refinement) -> str | None:
    """An SQL literal the refinement's CHECK must reject (None when no value breaks it)."""
    if r.kind in FORMATS:
        return quote_literal(
            {"email": "not-an-email", "url": "not a url", "ip": "999.1.2.3"}[r.kind]
        )
    if r.kind == "regex":
        assert r.pattern is not None
        for candidate in ("", "!", " ", "0", "a", "Z", "-", "~~~", "a" * 300):
            if not re.search(r.pattern, candidate):
                return quote_literal(candidate)
        return None
    if numeric_kind(col) is not None:
        assert r.value is not None
        one = Decimal(1)
        value = Decimal(r.value) - one if r.kind == "min" else Decimal(r.value) + one
        return str(value)
    lo, hi = bounds(r)
    if lo is not None and lo > 0:
        return quote_literal("x" * (lo - 1))
    if hi is not None:
        return quote_literal("x" * (hi + 1))
    return None


def example_of(pattern: str, n: int) -> str | None:
    """A string `pattern` matches, built from its parse tree (the smallest repetition of the
    first alternative), or None when that does not match (lookarounds, backreferences)."""
    try:
        parser: Any = importlib.import_module("re._parser")
        tree = parser.parse(pattern)
    except Exception:
        return None
    try:
        text = _render(tree, parser)
    except _NoExample:
        return None
    return text if re.search(pattern, text) else None


class _NoExample(Exception):
    pass


_PREFERRED = "a0A_-. "


def _render(items: Any, parser: Any) -> str:
    out = []
    for op, av in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(av))
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_pick(av))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, _hi, sub = av
            out.append(_render(sub, parser) * max(lo, 0))
        elif name == "SUBPATTERN":
            out.append(_render(av[-1], parser))
        elif name == "BRANCH":
            out.append(_render(av[1][0], parser))
        elif name == "AT":
            continue
        else:
            raise _NoExample(name)
    return "".join(out)


def _pick(av: Any) -> str:
    """A character of a class `[...]`: the first candidate that matches it."""
    negate = any(str(op) == "NEGATE" for op, _ in av)

    def member(ch: str) -> bool:
        code = ord(ch)
        for op, arg in av:
            kind = str(op)
            if kind == "LITERAL" and arg == code:
                return True
            if kind == "RANGE" and arg[0] <= code <= arg[1]:
                return True
            if kind == "CATEGORY" and re.fullmatch(_class_re(str(arg)), ch):
                return True
        return False

    for op, arg in av:
        if not negate and str(op) == "LITERAL":
            return chr(arg)
        if not negate and str(op) == "RANGE":
            return chr(arg[0])
    for ch in _PREFERRED + "bcdxyz123!#":
        if member(ch) != negate:
            return ch
    raise _NoExample("class")


def _class_re(category: str) -> str:
    return {
        "CATEGORY_DIGIT": r"\d",
        "CATEGORY_NOT_DIGIT": r"\D",
        "CATEGORY_SPACE": r"\s",
        "CATEGORY_NOT_SPACE": r"\S",
        "CATEGORY_WORD": r"\w",
        "CATEGORY_NOT_WORD": r"\W",
    }.get(category, "(?!)")
