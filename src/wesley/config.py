"""`wesley.toml`: project settings, read at the edge and handed to the pure core."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wesley.errors import input_error
from wesley.sdl import Naming, ParseOptions
from wesley.sdl.expressions import normalize_type_name

CONFIG_FILE = "wesley.toml"


@dataclass(frozen=True)
class Config:
    schema: str = "schema.graphql"
    out: str = "out"
    naming: Naming = field(default_factory=Naming)
    scalars: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # later sections (thresholds, keys)

    def parse_options(self) -> ParseOptions:
        return ParseOptions(naming=self.naming, scalars=dict(self.scalars))


def load_config(directory: Path | None = None) -> Config:
    """Read `wesley.toml` from `directory` (default: the working directory); absent → defaults."""
    path = (directory or Path.cwd()) / CONFIG_FILE
    if not path.is_file():
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise input_error("CONFIG_INVALID", f"{path}: {exc}", "fix the TOML syntax") from None
    naming = data.get("naming", {})
    sql_naming = naming.get("sql", "snake_case") if isinstance(naming, dict) else None
    if sql_naming not in ("snake_case", "preserve"):
        raise input_error(
            "CONFIG_INVALID",
            f"{path}: [naming] sql = {sql_naming!r}",
            'use "snake_case" (default) or "preserve"',
        )
    scalars = data.get("scalars", {})
    if not isinstance(scalars, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in scalars.items()
    ):
        raise input_error(
            "CONFIG_INVALID",
            f"{path}: [scalars] must map names to type names",
            '[scalars]\nMoney = "numeric(12,2)"',
        )
    project = data.get("project", {}) if isinstance(data.get("project"), dict) else {}
    return Config(
        schema=str(project.get("schema", "schema.graphql")),
        out=str(project.get("out", "out")),
        naming=Naming(preserve=sql_naming == "preserve"),
        scalars={
            k: normalize_type_name(v, None, f"{path}: [scalars] {k} =") for k, v in scalars.items()
        },
        raw=data,
    )
