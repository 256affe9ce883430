"""The schema a call works on: a file (`-` is standard input), SDL text, or wesley.toml's."""

from __future__ import annotations

import json
from pathlib import Path

from wesley.api.records import DEPLOYED
from wesley.config import Config, load_config
from wesley.errors import input_error
from wesley.evidence.models import Snapshot
from wesley.files import read_schema_file, schema_location
from wesley.ir import IR, ir_from_json
from wesley.sdl import ParseOptions, ParseResult, parse_sdl


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


def load_ir_file(path: str, options: ParseOptions) -> IR:
    """An SDL file, an IR JSON file, or a snapshot.json (an old schema: `--from`)."""
    text = read_schema_file(path, "--from")
    if path.endswith(".json"):
        try:
            data = json.loads(text)
            return Snapshot.model_validate(data).ir if "ir" in data else ir_from_json(data)
        except (ValueError, TypeError) as exc:
            raise input_error(
                "INVALID_IR",
                f"{path} is not a Wesley IR or snapshot: {str(exc)[:300]}",
                "pass an SDL file, .wesley/ir.json or .wesley/snapshot.json",
            ) from None
    return parse_sdl(text, schema_location(path), options).ir


def deployed_ir(options: ParseOptions) -> IR | None:
    """The default old schema: what `wesley deploy` (or `baseline`) last recorded from this
    directory, as the snapshot it wrote (`.wesley/deployed.json`); None before the first
    deploy (all is new)."""
    return load_ir_file(str(DEPLOYED), options) if DEPLOYED.is_file() else None
