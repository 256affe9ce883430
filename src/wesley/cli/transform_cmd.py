"""`wesley transform` (alias `generate`): schema → artifacts in --out, evidence in .wesley/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from wesley.cli.common import global_options, output
from wesley.config import load_config
from wesley.errors import ExitCode, WesleyError, input_error
from wesley.evidence.build import Placed, evidence_files, evidence_map
from wesley.files import read_schema_file, schema_location, write_atomic
from wesley.holmes.moriarty import check_config, record_transform
from wesley.ir import IR, ir_hash, sha256_hex
from wesley.sdl import parse_sdl
from wesley.targets import PLANNED, TARGETS

BUNDLE_DIR = ".wesley"


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


def generate(ir: IR, names: list[str], root: Path) -> list[Placed]:
    """Run every target (pure); a target's own error keeps its code, anything else is a
    generation failure naming the target (exit 4)."""
    placed: list[Placed] = []
    for name in names:
        try:
            artifacts = TARGETS[name](ir)
        except WesleyError:
            raise
        except Exception as exc:
            raise WesleyError(
                "GENERATION_FAILED",
                f"target {name} failed: {type(exc).__name__}: {exc}",
                "this is a bug in Wesley: rerun with --debug and report it",
                exit_code=ExitCode.GENERATION,
            ) from exc
        placed.extend(Placed(name, (root / a.path).as_posix(), a) for a in artifacts)
    return placed


def _write_if_changed(path: Path, text: str) -> bool:
    raw = text.encode("utf-8")
    if path.is_file() and path.read_bytes() == raw:
        return False  # unchanged files keep their mtime
    write_atomic(path, raw)
    return True


@click.command("transform")
@click.option(
    "--schema", "schema_path", help="The SDL file, - for stdin (default: from wesley.toml)."
)
@click.option("--target", "target_spec", help="Comma-separated targets (default: all).")
@click.option("--out", "--out-dir", "out_dir", help="Output directory (default: out).")
@click.option(
    "--bundle-dir", default=BUNDLE_DIR, show_default=True, help="Where evidence files go."
)
@global_options
@click.pass_context
def transform(
    ctx: click.Context,
    schema_path: str | None,
    target_spec: str | None,
    out_dir: str | None,
    bundle_dir: str,
) -> None:
    """Compile the schema into artifacts and evidence."""
    out = output(ctx)
    config = load_config()
    check_config(config.raw)
    schema_file = schema_path or config.schema
    names = _targets(target_spec)
    result = parse_sdl(
        read_schema_file(schema_file), schema_location(schema_file), config.parse_options()
    )
    out.warn(result.warnings)
    placed = generate(result.ir, names, Path(out_dir or config.out))
    artifacts: list[dict[str, Any]] = []
    for p in placed:
        changed = _write_if_changed(Path(p.path), p.artifact.text)
        artifacts.append(
            {
                "target": p.target,
                "path": p.path,
                "sha256": sha256_hex(p.artifact.text),
                "changed": changed,
            }
        )
    evidence: list[dict[str, Any]] = []
    for name, text in evidence_files(result.ir, placed).items():
        path = Path(bundle_dir) / name
        changed = _write_if_changed(path, text)
        evidence.append({"path": path.as_posix(), "sha256": sha256_hex(text), "changed": changed})
    noted = record_transform(
        Path(bundle_dir), result.ir, evidence_map(result.ir, placed), config.raw
    )
    out.warn([noted] if noted else [])
    any_changed = any(a["changed"] for a in [*artifacts, *evidence])
    for a in [*artifacts, *evidence]:
        out.info(f"{'wrote' if a['changed'] else 'kept '} {a['path']}  sha256:{a['sha256'][:12]}")
    if not any_changed:
        out.info("no artifacts changed")
    out.info(
        f"{len(result.ir.tables)} tables, {len(result.ir.enums)} enums, "
        f"ir_hash {ir_hash(result.ir)[:12]}"
    )
    out.result(
        {
            "ir_hash": ir_hash(result.ir),
            "artifacts": artifacts,
            "evidence": evidence,
            "changed": any_changed,
        }
    )
