"""Typed default literals: one spelling per value, whoever wrote it.

`@wes_default(value: "3")` on an `Int` means the integer 3, and PostgreSQL, asked with
`pg_get_expr`, reports `3` (or `'-3'::integer`, `'1.5'::double precision`, a timestamp in the
session's time zone). The schema side and the database side are both brought to the same SQL
spelling here, so the planner compares values, not spellings: `typed_literal` types a value
the user wrote (and refuses one that is not of the column's type), and `canonical_default`
brings any default SQL (the IR's, or `pg_get_expr`'s) to that spelling when it is a constant.
Pure functions; `tests/test_typed_defaults.py` checks them against `pg_get_expr` on every
PostgreSQL major the machine has.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import struct
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from pglast import ast, parse_sql
from pglast.parser import ParseError

from wesley.ir import Column
from wesley.sdl.expressions import comparable_expression
from wesley.sqltext import quote_literal

_KINDS: dict[str, str] = {
    **dict.fromkeys(("integer", "int", "int4", "bigint", "int8", "smallint", "int2"), "int"),
    **dict.fromkeys(("double precision", "float8", "float"), "float"),
    **dict.fromkeys(("real", "float4"), "real"),
    **dict.fromkeys(("numeric", "decimal"), "numeric"),
    **dict.fromkeys(("boolean", "bool"), "bool"),
    "uuid": "uuid",
    "jsonb": "jsonb",
    **dict.fromkeys(("timestamptz", "timestamp with time zone"), "timestamptz"),
    **dict.fromkeys(("timestamp", "timestamp without time zone"), "timestamp"),
    "date": "date",
    **dict.fromkeys(("time", "time without time zone"), "time"),
    **dict.fromkeys(("timetz", "time with time zone"), "timetz"),
    "inet": "inet",
    "cidr": "cidr",
}
_INT_RANGE = {
    "smallint": 2**15,
    "int2": 2**15,
    "bigint": 2**63,
    "int8": 2**63,
}
_MODIFIER = re.compile(r"\(\s*\d+(\s*,\s*\d+)?\s*\)")
_INT_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")
_SPECIAL_FLOATS = {
    "nan": "NaN",
    "infinity": "Infinity",
    "-infinity": "-Infinity",
    "inf": "Infinity",
}
_SPECIAL_TIMES = {"infinity", "-infinity"}
# PostgreSQL's boolean input spellings (boolin), unambiguous ones only
_BOOLS = {
    **dict.fromkeys(("true", "t", "yes", "y", "on", "1"), "true"),
    **dict.fromkeys(("false", "f", "no", "n", "off", "0"), "false"),
}


def type_kind(type_sql: str) -> str:
    """The family of a (non-array) column type: int, float, numeric, bool, uuid, jsonb,
    timestamptz, timestamp, date, time, timetz, inet, cidr; `text` for every other type
    (strings, enums, types Wesley does not know: their literal stays a quoted string)."""
    bare = _MODIFIER.sub("", type_sql.lower()).strip()
    return _KINDS.get(" ".join(bare.split()), "text")


def _int_bound(type_sql: str) -> int:
    bare = _MODIFIER.sub("", type_sql.lower()).strip()
    return _INT_RANGE.get(bare, 2**31)


def _real_text(f: float) -> str:
    """The shortest decimal that is the same single-precision value (what PostgreSQL prints
    for a `real`)."""
    try:
        single = struct.unpack("f", struct.pack("f", f))[0]
    except OverflowError:
        raise ValueError("out of range for real") from None
    for digits in range(1, 10):
        text = f"{single:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            return repr(float(text))
    return repr(single)


def _json_text(value: Any) -> str:
    """jsonb's value as one canonical text: keys sorted, no spaces, numbers as written by
    PostgreSQL's numeric (`1e2` → `100`, `1.50` stays `1.50`)."""
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(_json_dump_str(k) + ":" + _json_text(v) for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("jsonb cannot hold the character U+0000")
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("JSON has no NaN or Infinity")
        value = Decimal(repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    raise ValueError(f"not a JSON value: {value!r}")


def _json_dump_str(key: str) -> str:
    if "\x00" in key:
        raise ValueError("jsonb cannot hold the character U+0000")
    return json.dumps(key, ensure_ascii=False)


def _no_constant(text: str) -> Any:
    raise ValueError(f"not JSON: {text}")


def json_literal(value: Any) -> str:
    """A jsonb default from a JSON value (a GraphQL object/list/number) or JSON text."""
    if isinstance(value, str):
        value = json.loads(value, parse_float=Decimal, parse_constant=_no_constant)
    return quote_literal(_json_text(value))


def _timestamp(text: str, zoned: bool) -> str:
    t = text.strip()
    if t.lower() in _SPECIAL_TIMES:
        return quote_literal(t.lower())
    dt = datetime.fromisoformat(t)
    if zoned:
        if dt.tzinfo is None:
            raise ValueError("a timestamp with time zone needs its offset, e.g. Z or +02:00")
        dt = dt.astimezone(UTC)
    elif dt.tzinfo is not None:
        raise ValueError("a timestamp without time zone takes no offset")
    return quote_literal(dt.isoformat(sep=" "))


def _time(text: str, zoned: bool) -> str:
    t = time.fromisoformat(text.strip())
    if zoned and t.tzinfo is None:
        raise ValueError("a time with time zone needs its offset, e.g. +02:00")
    if not zoned and t.tzinfo is not None:
        raise ValueError("a time without time zone takes no offset")
    return quote_literal(t.isoformat())


def typed_literal(text: str, type_sql: str) -> str:
    """The SQL literal of `text` read as a value of `type_sql`, in Wesley's one spelling;
    ValueError when it is no such value (`"3.5"` for an integer, `"yes"` for a boolean)."""
    kind = type_kind(type_sql)
    if kind == "int":
        if not _INT_TEXT.match(text):
            raise ValueError("not an integer")
        n = int(text)
        bound = _int_bound(type_sql)
        if not -bound <= n < bound:
            raise ValueError(f"out of range for {type_sql}")
        return str(n)
    if kind in ("float", "real"):
        special = _SPECIAL_FLOATS.get(text.strip().lower())
        if special:
            return quote_literal(special)
        f = float(text)
        if not math.isfinite(f):
            raise ValueError("out of range")
        shown = repr(f) if kind == "float" else _real_text(f)
        # a numeric literal has no negative zero: -0.0 would be stored as 0
        return quote_literal(shown) if math.copysign(1.0, f) < 0 and f == 0 else shown
    if kind == "numeric":
        if text.strip().lower() == "nan":
            return quote_literal("NaN")
        try:
            d = Decimal(text.strip())
        except InvalidOperation:
            raise ValueError("not a number") from None
        if not d.is_finite():
            raise ValueError("not a finite number")
        return format(d, "f")
    if kind == "bool":
        lowered = text.strip().lower()
        if lowered not in _BOOLS:
            raise ValueError("not true or false")
        return _BOOLS[lowered]
    if kind == "uuid":
        return quote_literal(str(uuid.UUID(text)))
    if kind == "jsonb":
        return json_literal(text)
    if kind in ("timestamptz", "timestamp"):
        return _timestamp(text, kind == "timestamptz")
    if kind == "date":
        t = text.strip()
        if t.lower() in _SPECIAL_TIMES:
            return quote_literal(t.lower())
        return quote_literal(date.fromisoformat(t).isoformat())
    if kind in ("time", "timetz"):
        return _time(text, kind == "timetz")
    if kind == "inet":
        iface = ipaddress.ip_interface(text.strip())
        full = iface.network.prefixlen == iface.max_prefixlen
        return quote_literal(str(iface.ip) if full else iface.with_prefixlen)
    if kind == "cidr":
        return quote_literal(str(ipaddress.ip_network(text.strip())))
    return quote_literal(text)


def _constant_text(node: Any) -> str | None:
    """The value of a constant, under any casts around it (`'-3'::integer` → `-3`)."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if not isinstance(node, ast.A_Const) or node.isnull:
        return None
    val = node.val
    if isinstance(val, ast.Integer):
        return str(val.ival)
    if isinstance(val, ast.Float):
        return str(val.fval)
    if isinstance(val, ast.Boolean):
        return "true" if val.boolval else "false"
    if isinstance(val, ast.String):
        return str(val.sval)
    return None


def canonical_default(sql: str, type_sql: str, array: bool = False) -> str:
    """A default's SQL in the spelling both sides of a diff share: a constant is re-typed by
    the column's type (`'3'`, `3` and `'3'::integer` → `3`; a timestamp in UTC); anything else
    is the expression as pglast re-renders it without its literal casts."""
    if array:
        return comparable_expression(sql)
    try:
        stmt: Any = parse_sql(f"SELECT ({sql})")[0].stmt
    except ParseError:
        return sql
    text = _constant_text(stmt.targetList[0].val)
    if text is None:
        return comparable_expression(sql)
    try:
        return typed_literal(text, type_sql)
    except (ValueError, TypeError):
        return comparable_expression(sql)


def default_key(col: Column) -> str | None:
    """What the planner compares of a column's default: its canonical SQL."""
    if col.default is None:
        return None
    return canonical_default(col.default.sql, "text" if col.enum else col.type, col.array)
