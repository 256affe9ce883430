"""`wesley.toml`: project settings, read at the edge and handed to the pure core."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wesley.errors import WesleyError, input_error
from wesley.files import SpecialFileError, read_regular
from wesley.naming import Naming

if TYPE_CHECKING:
    from wesley.sdl import ParseOptions

CONFIG_FILE = "wesley.toml"


@dataclass(frozen=True)
class Config:
    schema: str = "schema.graphql"
    out: str = "out"
    naming: Naming = field(default_factory=Naming)
    scalars: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # later sections (thresholds, keys)

    def parse_options(self) -> ParseOptions:
        from wesley.sdl import ParseOptions  # the parser is imported when it is needed

        return ParseOptions(naming=self.naming, scalars=dict(self.scalars))


def _invalid(path: Path, what: str, example: str) -> WesleyError:
    return input_error("CONFIG_INVALID", f"{path}: {what}", example)


def _table(data: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise _invalid(path, f"{key} = {value!r} must be a table, [{key}]", f"[{key}]")
    return value


def _string(table: dict[str, Any], key: str, where: str, path: Path, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise _invalid(
            path, f"{where} {key} = {value!r} must be a non-empty string", f'{key} = "{default}"'
        )
    return value


def _check_cert(data: dict[str, Any], path: Path) -> None:
    """[cert] require is a list of signer names, [cert.keys] maps signers to key files: a
    string where a list belongs would be read character by character."""
    cert = _table(data, "cert", path)
    require = cert.get("require", [])
    if not isinstance(require, list) or not all(isinstance(r, str) and r for r in require):
        raise _invalid(
            path,
            f"[cert] require = {require!r} must be a list of signer names",
            'write [cert] require = ["holmes", "wat-sum"]',
        )
    keys = cert.get("keys", {})
    if not isinstance(keys, dict) or not all(isinstance(v, str) and v for v in keys.values()):
        raise _invalid(
            path,
            "[cert.keys] must map each signer to the path of its public key",
            '[cert.keys]\nholmes = "keys/holmes.pub"',
        )


def _read(path: Path) -> dict[str, Any] | None:
    if not os.path.lexists(path):
        return None
    try:
        raw, _ = read_regular(path)
    except (IsADirectoryError, SpecialFileError):
        raise _invalid(
            path, "is not a regular file", "wesley.toml must be a TOML file (or absent)"
        ) from None
    except FileNotFoundError:  # a dangling symlink
        raise _invalid(path, "is a symlink to nothing", "fix or remove it") from None
    except OSError as exc:
        raise _invalid(path, f"cannot be read: {exc.strerror}", "check its permissions") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise input_error("CONFIG_INVALID", f"{path}: {exc}", "fix the TOML syntax") from None


def load_config(directory: Path | None = None) -> Config:
    """Read `wesley.toml` from `directory` (default: the working directory); absent → defaults.
    Every value Wesley reads has the right type, or CONFIG_INVALID says which is wrong."""
    path = (directory or Path.cwd()) / CONFIG_FILE
    data = _read(path)
    if data is None:
        return Config()
    naming = _table(data, "naming", path)
    sql_naming = naming.get("sql", "snake_case")
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
    if scalars:
        from wesley.sdl.expressions import normalize_type_name
    project = _table(data, "project", path)
    _check_cert(data, path)
    _table(data, "thresholds", path)
    return Config(
        schema=_string(project, "schema", "[project]", path, "schema.graphql"),
        out=_string(project, "out", "[project]", path, "out"),
        naming=Naming(preserve=sql_naming == "preserve"),
        scalars={
            k: normalize_type_name(v, None, f"{path}: [scalars] {k} =") for k, v in scalars.items()
        },
        raw=data,
    )
