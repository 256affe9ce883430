"""The schema a call works on: a file (`-` is standard input), SDL text, or wesley.toml's."""

from __future__ import annotations

import json
from pathlib import Path

from wesley.api.records import DEPLOYED
from wesley.config import Config, load_config
from wesley.errors import WesleyError, input_error
from wesley.evidence.models import SchemaSnapshot, Snapshot
from wesley.files import read_schema_file, schema_location
from wesley.ir import IR, ir_from_json, ir_hash
from wesley.naming import Naming
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
    """An SDL file, an IR JSON file, or a snapshot (an old schema: `--from`): snapshot.json
    of either version, or deployed.json."""
    text = read_schema_file(path, "--from")
    if path.endswith(".json"):
        try:
            data = json.loads(text)
            if isinstance(data, dict) and data.get("version") == 2 and "sdl" in data:
                return snapshot_ir(path, SchemaSnapshot.model_validate(data))
            return Snapshot.model_validate(data).ir if "ir" in data else ir_from_json(data)
        except (ValueError, TypeError) as exc:
            raise input_error(
                "INVALID_IR",
                f"{path} is not a Wesley IR or snapshot: {str(exc)[:300]}",
                "pass an SDL file, .wesley/ir.json or .wesley/snapshot.json",
            ) from None
    return parse_sdl(text, schema_location(path), options).ir


def snapshot_ir(path: str, snap: SchemaSnapshot) -> IR:
    """The IR a version-2 snapshot records: the `ir.json` beside it when that holds the same
    ir_hash (what transform wrote together: nothing to parse), else the snapshot's schema
    parsed again with its own settings, which must give the same ir_hash: another Wesley
    (or an edited snapshot) deriving another IR from it would plan from a schema other than
    the recorded one, so that is refused."""
    beside = Path(path).with_name("ir.json")
    if beside.is_file():
        try:
            ir = IR.model_validate_json(beside.read_bytes())
        except ValueError:
            ir = None  # not the IR of this snapshot: parse the schema again
        if ir is not None and ir_hash(ir) == snap.ir_hash:
            return ir
    options = ParseOptions(naming=Naming(**snap.naming), scalars=dict(snap.scalars))
    hint = (
        "plan from the database (--from-db) or from the SDL file of that version (--from "
        "FILE); a transform with this Wesley writes a new snapshot"
    )
    try:
        ir = parse_sdl(snap.sdl, snap.file, options).ir
    except WesleyError as exc:
        raise input_error(
            "SNAPSHOT_STALE",
            f"{path}: its schema (written by Wesley {snap.tool_version}) no longer parses: "
            f"{exc.message}",
            hint,
        ) from None
    if ir_hash(ir) != snap.ir_hash:
        raise input_error(
            "SNAPSHOT_STALE",
            f"{path}: this Wesley derives another IR from its schema than the one recorded "
            f"(ir_hash {snap.ir_hash[:12]}, written by Wesley {snap.tool_version})",
            hint,
        )
    return ir


def deployed_ir(options: ParseOptions) -> IR | None:
    """The default old schema: what `wesley deploy` (or `baseline`) last recorded from this
    directory, as the snapshot it wrote (`.wesley/deployed.json`); None before the first
    deploy (all is new)."""
    return load_ir_file(str(DEPLOYED), options) if DEPLOYED.is_file() else None
