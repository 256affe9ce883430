"""`wesley transform` (alias `generate`): schema → artifacts in --out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from wesley.cli.common import global_options, output
from wesley.config import load_config
from wesley.errors import ExitCode, WesleyError, input_error
from wesley.files import read_schema_file, write_atomic
from wesley.ir import ir_hash, sha256_hex
from wesley.sdl import parse_sdl
from wesley.targets import PLANNED, TARGETS


def _targets(spec: str | None) -> list[str]:
    if spec is None or spec.strip() in ("", "all"):
        return list(TARGETS)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    for name in names:
        if name in PLANNED:
            raise WesleyError(
                "NOT_IMPLEMENTED",
                f"target {name!r} is not implemented yet",
                "available now: " + ", ".join(TARGETS) + "; nothing was written",
                exit_code=ExitCode.NOT_IMPLEMENTED,
            )
        if name not in TARGETS:
            raise input_error(
                "UNKNOWN_TARGET",
                f"unknown target {name!r}",
                "valid targets: " + ", ".join([*TARGETS, *PLANNED]),
            )
    return list(dict.fromkeys(names))


@click.command("transform")
@click.option("--schema", "schema_path", help="The SDL file (default: from wesley.toml).")
@click.option("--target", "target_spec", help="Comma-separated targets (default: all).")
@click.option("--out", "--out-dir", "out_dir", help="Output directory (default: out).")
@global_options
@click.pass_context
def transform(
    ctx: click.Context, schema_path: str | None, target_spec: str | None, out_dir: str | None
) -> None:
    """Compile the schema into artifacts."""
    out = output(ctx)
    config = load_config()
    schema_file = schema_path or config.schema
    names = _targets(target_spec)
    result = parse_sdl(read_schema_file(schema_file), schema_file, config.parse_options())
    out.warn(result.warnings)
    root = Path(out_dir or config.out)
    artifacts: list[dict[str, Any]] = []
    for name in names:
        for art in TARGETS[name](result.ir):
            path = root / art.path
            raw = art.text.encode("utf-8")
            changed = not path.is_file() or path.read_bytes() != raw
            if changed:  # unchanged files keep their mtime
                write_atomic(path, raw)
            artifacts.append(
                {"target": name, "path": str(path), "sha256": sha256_hex(raw), "changed": changed}
            )
    any_changed = any(a["changed"] for a in artifacts)
    for a in artifacts:
        out.info(f"{'wrote' if a['changed'] else 'kept '} {a['path']}  sha256:{a['sha256'][:12]}")
    if not any_changed:
        out.info("no artifacts changed")
    out.info(
        f"{len(result.ir.tables)} tables, {len(result.ir.enums)} enums, "
        f"ir_hash {ir_hash(result.ir)[:12]}"
    )
    out.result({"ir_hash": ir_hash(result.ir), "artifacts": artifacts, "changed": any_changed})
