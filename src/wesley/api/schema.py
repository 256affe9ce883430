"""The schema a call works on: a file (`-` is standard input), SDL text, or wesley.toml's."""

from __future__ import annotations

from pathlib import Path

from wesley.config import Config, load_config
from wesley.files import read_schema_file, schema_location
from wesley.sdl import ParseResult, parse_sdl


def load_schema(
    schema: str | Path | None = None, *, sdl: str | None = None, config: Config | None = None
) -> ParseResult:
    """Parse `sdl` when given, else the file `schema` (default: wesley.toml's `[project]
    schema`); raises WesleyError on bad input."""
    config = config or load_config()
    if sdl is not None:
        return parse_sdl(sdl, "<sdl>", config.parse_options())
    path = str(schema) if schema is not None else config.schema
    return parse_sdl(read_schema_file(path), schema_location(path), config.parse_options())
