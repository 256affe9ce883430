"""Refinement directives on a field → IR refinements and their CHECK constraints."""

from __future__ import annotations

from wesley.errors import input_error
from wesley.ir import Check, Column, Refinement, RefinementKind
from wesley.naming import constraint_name
from wesley.refinements import (
    FORMATS,
    check_sql,
    is_text,
    number_text,
    numeric_kind,
    pattern_problem,
)
from wesley.sdl.document import DirectiveValue, all_of, require_identifier
from wesley.sdl.expressions import ExprKind, normalize_expression

KINDS: dict[str, RefinementKind] = {
    "wes_email": "email",
    "wes_url": "url",
    "wes_ip": "ip",
    "wes_min": "min",
    "wes_max": "max",
    "wes_length": "length",
    "wes_regex": "regex",
}


def refinement_suffix(kind: str) -> str:
    return f"{kind}_check"


def read_refinements(
    table: str, col: Column, values: list[DirectiveValue]
) -> tuple[list[Refinement], list[Check]]:
    refinements: list[Refinement] = []
    checks: list[Check] = []
    what = f"{table}.{col.name}"
    for directive, kind in KINDS.items():
        for d in all_of(values, directive):
            r = _one(kind, d, col, what)
            if r is None:
                continue
            if d.args.get("check", True) is not False and not col.generated:
                name = constraint_name(table, [col.name], refinement_suffix(kind))
                require_identifier(name, "check name", d.location)
                r = r.model_copy(update={"check": name})
                expr = normalize_expression(check_sql(col, r), ExprKind.CHECK, d.location, what)
                checks.append(Check(name=name, expr=expr, column=col.name))
            refinements.append(r)
    return refinements, checks


def _one(kind: RefinementKind, d: DirectiveValue, col: Column, what: str) -> Refinement | None:
    def bad(message: str, hint: str) -> Exception:
        return input_error(
            "INVALID_ARGUMENT", f"@{d.spelled} on {what}: {message}", hint, d.location
        )

    if col.array:
        raise bad(
            "refinements apply to single values, not lists",
            "use a @wes_check with an expression over the array, e.g. cardinality(tags) <= 10",
        )
    text = is_text(col)
    number = numeric_kind(col)
    if kind in FORMATS or kind == "regex":
        if not text:
            raise bad(f"{col.type} is not a text column", "use it on a String field")
        if kind == "regex":
            pattern = str(d.args.get("pattern") or "")
            problem = pattern_problem(pattern) if pattern else "it is empty"
            if problem:
                raise input_error(
                    "INVALID_PATTERN",
                    f"@{d.spelled}(pattern: {pattern!r}) on {what}: {problem}",
                    "write the pattern with explicit character classes ([A-Za-z0-9_] for \\w) and "
                    "^ $ anchors: zod and PostgreSQL must read it alike",
                    d.location,
                )
            return Refinement(kind="regex", pattern=pattern)
        return Refinement(kind=kind)
    if kind in ("min", "max"):
        if number is None and not text:
            raise bad(
                f"{col.type} has no order Wesley can check",
                "use it on a number (a bound) or a String (a length)",
            )
        value = number_text(d.args.get("value"))
        if value is None:
            raise bad(f"value: {d.args.get('value')!r} is not a number", "e.g. value: 0")
        if (number == "int" or text) and "." in value:
            raise bad(f"value: {value} is not a whole number", "a bound of whole numbers")
        if text and int(value) < 0:
            raise bad("a length cannot be negative", "e.g. value: 1")
        return Refinement(kind=kind, value=value)
    # length
    if not text:
        raise bad(f"{col.type} is not a text column", "use @wes_min/@wes_max on numbers")
    lo, hi = d.args.get("min"), d.args.get("max")
    if lo is None and hi is None:
        raise input_error(
            "MISSING_ARGUMENT",
            f"@{d.spelled} on {what} needs min:, max: or both",
            "e.g. @wes_length(min: 1, max: 80)",
            d.location,
        )
    if (lo is not None and lo < 0) or (hi is not None and hi < 0):
        raise bad("a length cannot be negative", "e.g. @wes_length(min: 1, max: 80)")
    if lo is not None and hi is not None and lo > hi:
        raise bad(f"min: {lo} is greater than max: {hi}", "no value could pass")
    return Refinement(kind="length", min=lo, max=hi)
