"""Sample rows that meet their table's CHECK constraints, as far as a small evaluator can tell.

The probe's values (`1000 + n`, `'p7@wesley.test'`) meet the common checks; for the others
(`status IN ('draft', 'live')`, `length(code) <= 4`, `lo < hi`, `score BETWEEN 1 AND 5`) this
module evaluates each check on the planned values (PostgreSQL's three-valued logic: a check
passes unless it is false) and, where one is false, tries for the columns it reads the
literals the checks name, their neighbours and short strings, keeping a change that leaves
fewer checks false. Expressions it cannot evaluate (other functions, casts to other types)
count as passing: PostgreSQL has the last word, and a probe whose set-up dies is reported as
Wesley's bug (PROBE_SETUP_FAILED).
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pglast import ast, enums, parse_sql
from pglast.parser import ParseError

from wesley.ir import Column, Table
from wesley.sqltext import quote_literal

Value = int | Decimal | str | bool | None


class _Unknown(Exception):
    """The evaluator does not know this node."""


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "<>": operator.ne,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "%": operator.mod,
    "||": lambda a, b: f"{a}{b}",
}
_TEXT_FUNCS: dict[str, Callable[..., Any]] = {
    "length": len,
    "char_length": len,
    "character_length": len,
    "octet_length": lambda s: len(str(s).encode()),
    "lower": str.lower,
    "upper": str.upper,
    "btrim": str.strip,
    "trim": str.strip,
    "position": lambda s, sub: str(s).find(str(sub)) + 1,
    "strpos": lambda s, sub: str(s).find(str(sub)) + 1,
    "abs": abs,
}


def _const(node: Any) -> Value:
    if node.isnull:
        return None
    val = node.val
    if isinstance(val, ast.Integer):
        return int(val.ival or 0)
    if isinstance(val, ast.Float):
        return Decimal(str(val.fval))
    if isinstance(val, ast.String):
        return str(val.sval)
    if isinstance(val, ast.Boolean):
        return bool(val.boolval)
    raise _Unknown


def _eval(node: Any, env: dict[str, Value]) -> Value:
    if isinstance(node, ast.A_Const):
        return _const(node)
    if isinstance(node, ast.ColumnRef):
        name = (node.fields or (None,))[-1]
        if not isinstance(name, ast.String) or str(name.sval) not in env:
            raise _Unknown
        return env[str(name.sval)]
    if isinstance(node, ast.TypeCast):
        return _eval(node.arg, env)
    if isinstance(node, ast.BoolExpr):
        args = [_eval(a, env) for a in node.args or ()]
        if node.boolop == enums.BoolExprType.NOT_EXPR:
            return None if args[0] is None else not args[0]
        if node.boolop == enums.BoolExprType.AND_EXPR:
            return False if False in args else (None if None in args else True)
        return True if True in args else (None if None in args else False)
    if isinstance(node, ast.NullTest):
        value = _eval(node.arg, env)
        return (value is None) == (node.nulltesttype == enums.NullTestType.IS_NULL)
    if isinstance(node, ast.CoalesceExpr):
        return next((v for v in (_eval(a, env) for a in node.args or ()) if v is not None), None)
    if isinstance(node, ast.FuncCall):
        name = str(node.funcname[-1].sval).lower() if node.funcname else ""
        if name not in _TEXT_FUNCS:
            raise _Unknown
        args = [_eval(a, env) for a in node.args or ()]
        return None if None in args else _TEXT_FUNCS[name](*args)
    if isinstance(node, ast.A_Expr):
        return _a_expr(node, env)
    raise _Unknown


def _a_expr(node: Any, env: dict[str, Value]) -> Value:
    kind = enums.A_Expr_Kind(node.kind)
    name = str(node.name[0].sval) if node.name else ""
    left = _eval(node.lexpr, env) if node.lexpr is not None else None
    if kind is enums.A_Expr_Kind.AEXPR_OP:
        right = _eval(node.rexpr, env)
        if node.lexpr is None:  # prefix: -x
            if right is None or isinstance(right, str | bool) or name != "-":
                return None if right is None else _fail()
            return -right
        if name not in _OPS:
            raise _Unknown
        if left is None or right is None:
            return None
        try:
            return _OPS[name](left, right)  # type: ignore[no-any-return]
        except TypeError:
            raise _Unknown from None
    if kind in (enums.A_Expr_Kind.AEXPR_IN, enums.A_Expr_Kind.AEXPR_OP_ANY):
        listed = node.rexpr.elements if isinstance(node.rexpr, ast.A_ArrayExpr) else node.rexpr
        if not isinstance(listed, tuple | list) or name not in ("=", "<>"):
            raise _Unknown
        items = [_eval(i, env) for i in listed]
        if left is None:
            return None
        found = left in items
        return found if name == "=" else not found
    if kind in (enums.A_Expr_Kind.AEXPR_BETWEEN, enums.A_Expr_Kind.AEXPR_NOT_BETWEEN):
        lo, hi = (_eval(i, env) for i in node.rexpr)
        if left is None or lo is None or hi is None:
            return None
        inside = bool(lo <= left <= hi)  # type: ignore[operator]
        return inside if kind is enums.A_Expr_Kind.AEXPR_BETWEEN else not inside
    raise _Unknown


def base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _fail() -> Value:
    raise _Unknown


def _parsed(sql: str) -> Any:
    try:
        stmt: Any = parse_sql(f"SELECT ({sql})")[0].stmt
    except ParseError:
        return None
    return stmt.targetList[0].val


def _false(checks: list[Any], env: dict[str, Value]) -> int:
    """How many checks are false for `env` (unknown and NULL pass)."""
    bad = 0
    for node in checks:
        with contextlib.suppress(_Unknown, ArithmeticError, ValueError):
            bad += _eval(node, env) is False
    return bad


def _literals(node: Any, out: list[Value]) -> None:
    if isinstance(node, ast.A_Const):
        with contextlib.suppress(_Unknown):
            out.append(_const(node))
        return
    if isinstance(node, tuple | list):
        for item in node:
            _literals(item, out)
        return
    if isinstance(node, ast.Node):
        for attr in getattr(node, "__slots__", ()):
            _literals(getattr(node, attr, None), out)


def _python(col: Column, literal: str) -> Value:
    """The Python value of a sample literal (numbers, text, booleans; others unknown)."""
    if literal in ("true", "false"):
        return literal == "true"
    if literal.startswith("'"):
        return literal[1:-1].replace("''", "'")
    try:
        return int(literal)
    except ValueError:
        return Decimal(literal)


def _sql(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    return quote_literal(str(value))


def _numeric(col: Column) -> bool:
    base = col.type.split("(")[0].strip()
    return not col.array and base in (
        "integer",
        "bigint",
        "smallint",
        "numeric",
        "double precision",
        "real",
    )


def _textual(col: Column) -> bool:
    base = col.type.split("(")[0].strip()
    return not col.array and not col.enum and base in ("text", "varchar", "character varying")


def meet_checks(
    table: Table, values: dict[str, str], free: set[str], n: int, keyed: set[str], index: int
) -> None:
    """Change the values of `free` columns (numbers and text the plan chose itself) in place
    until no check of `table` is false, or no candidate helps. Columns of a unique key try
    the candidates from the row's `index`-th on, so rows of a table pick different ones."""
    checks = [node for node in (_parsed(c.expr) for c in table.checks) if node is not None]
    if not checks:
        return
    by_name = {c.name: c for c in table.columns}
    env: dict[str, Value] = {}
    for name, literal in values.items():
        col = by_name.get(name)
        if col is not None and (_numeric(col) or _textual(col) or col.type == "boolean"):
            env[name] = _python(col, literal)
    bad = _false(checks, env)
    if not bad:
        return
    consts: list[Value] = []
    _literals(checks, consts)
    numbers = [c for c in consts if isinstance(c, int | Decimal) and not isinstance(c, bool)]
    texts = [c for c in consts if isinstance(c, str)]
    for _ in range(3):  # a few rounds: `lo < hi` may need hi moved after lo
        for name in sorted(free & set(env)):
            col = by_name[name]
            if _numeric(col):
                shift = n % 7
                cands: list[Value] = [
                    *(x + d for x in numbers for d in (0, 1, -1, 2, shift)),
                    *(x * 2 + 1 for x in numbers),
                    0,
                    1,
                    n % 100,
                ]
            elif _textual(col):
                cands = [*texts, *(t * 2 for t in texts if t), f"p{n}", "a", "ab", "abc"]
                if name in keyed:  # n's own digits first: another row has other ones
                    short = base36(n)
                    cands = [short, short[-3:], short[-2:], short[-1:], *cands]
            else:
                cands = [True, False]
            if name in keyed and cands and not _textual(col):
                cands = cands[index % len(cands) :] + cands[: index % len(cands)]
            for cand in cands:
                trial = {**env, name: cand}
                now = _false(checks, trial)
                if now < bad:
                    env, bad = trial, now
                    values[name] = _sql(cand)
                    if not bad:
                        return
