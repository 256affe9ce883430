"""`introspect`: the Wesley SDL of an existing database, so a team with a database and no
schema can start from it (then `wesley baseline` adopts the database at that schema)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wesley.db.dsn import check_dsn, redact
from wesley.db.introspect import introspect as read_catalog
from wesley.db.session import connect
from wesley.files import write_atomic
from wesley.sdl.render import render_sdl


@dataclass(frozen=True)
class IntrospectResult:
    database: str  # redacted
    sdl: str
    scalars: dict[str, str]  # custom scalars the SDL uses → SQL type (wesley.toml [scalars])
    tables: int
    enums: int
    path: str | None  # the file written, if any


def introspect(dsn: str, out: str | Path | None = None) -> IntrospectResult:
    """The SDL of the database at `dsn` (schema `public`); written to `out` when given.
    Raises WesleyError INTROSPECT_UNSUPPORTED (exit 2) for what SDL cannot say."""
    check_dsn(dsn)
    with connect(dsn) as conn:
        ir = read_catalog(conn)
    rendered = render_sdl(ir)
    if out is not None:
        write_atomic(Path(out), rendered.sdl)
    return IntrospectResult(
        redact(dsn),
        rendered.sdl,
        rendered.scalars,
        len(ir.tables),
        len(ir.enums),
        str(out) if out is not None else None,
    )
