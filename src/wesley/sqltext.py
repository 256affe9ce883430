"""The only two ways a string from the schema becomes SQL text: an identifier or a literal.

Both defer to pglast (PostgreSQL's own keyword list and its literal printer), so the rules
are PostgreSQL's, not ours. Expressions go through `wesley.sdl.expressions` instead.
"""

from __future__ import annotations

from pglast import ast
from pglast.keywords import COL_NAME_KEYWORDS
from pglast.stream import RawStream, maybe_double_quote_name

from wesley.errors import input_error
from wesley.ir import PUBLIC, Column, Grant
from wesley.naming import identifier_problem, shown

# The first statement of every generated .sql file: its literals are written the standard way
# ('it''s'); in a session where this is off, a backslash in one ends the literal early and the
# rest of it runs as SQL (psql -f on a server or database configured that way).
STANDARD_STRINGS = "SET standard_conforming_strings = on;"


def quote_ident(name: str) -> str:
    """Quote only where PostgreSQL needs it (`user`, `Order`, `a b`), else leave as is.
    pglast leaves column-name keywords (`time`, `int`) bare; they are quoted here too because
    as a type or table name they would mean the built-in."""
    problem = identifier_problem(name)
    if problem:
        raise input_error("INVALID_IDENTIFIER", f"identifier {shown(name)} {problem}")
    quoted = str(maybe_double_quote_name(name))
    if quoted == name and name in COL_NAME_KEYWORDS:
        return f'"{name}"'
    return quoted


def quote_literal(value: str) -> str:
    """A standard-conforming string literal (`'it''s'`), printed by pglast."""
    if "\x00" in value:
        raise input_error("INVALID_LITERAL", "a text value cannot contain a NUL byte")
    return str(RawStream()(ast.A_Const(val=ast.String(sval=value))))


def column_type(col: Column) -> str:
    """A column's type as written in DDL: enum names are identifiers, quoted where needed."""
    base = quote_ident(col.enum) if col.enum else col.type.removesuffix("[]")
    return base + ("[]" if col.array else "")


def grantee(role: str) -> str:
    """A role in GRANT/REVOKE: PUBLIC is the keyword, every other name an identifier."""
    return "PUBLIC" if role == PUBLIC else quote_ident(role)


def grant_sql(table: str, grant: Grant, column: str | None = None, revoke: bool = False) -> str:
    """`GRANT SELECT, INSERT ON t TO r` (with `column`: `GRANT SELECT (c) ON t TO r`), or the
    REVOKE of the same privileges."""
    cols = f" ({quote_ident(column)})" if column else ""
    privs = ", ".join(p + cols for p in grant.privileges)
    verb, prep = ("REVOKE", "FROM") if revoke else ("GRANT", "TO")
    return f"{verb} {privs} ON {quote_ident(table)} {prep} {grantee(grant.role)}"
