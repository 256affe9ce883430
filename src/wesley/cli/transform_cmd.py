"""`wesley transform` (alias `generate`): schema → artifacts in --out, evidence in .wesley/."""

from __future__ import annotations

import click

from wesley.api import transform as run_transform
from wesley.api._transform import BUNDLE_DIR
from wesley.cli.common import global_options, output


@click.command("transform")
@click.option(
    "--schema", "schema_path", help="The SDL file, - for stdin (default: from wesley.toml)."
)
@click.option("--target", "target_spec", help="Comma-separated targets (default: all).")
@click.option("--out", "--out-dir", "out_dir", help="Output directory (default: out).")
@click.option(
    "--bundle-dir", default=BUNDLE_DIR, show_default=True, help="Where evidence files go."
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Run in full even when nothing changed (default: an unchanged run verifies its "
    "files by hash and stops).",
)
@click.option(
    "--ops",
    "ops_dir",
    help="A folder of *.op.json query operations: views and functions in wes_ops (<out>/ops/).",
)
@click.option(
    "--ops-allow-errors",
    is_flag=True,
    help="Skip invalid operations (each one a warning) instead of failing.",
)
@click.option(
    "--i-know-what-im-doing",
    "override",
    is_flag=True,
    help="Allow --ops-allow-errors when CI=true.",
)
@click.option(
    "--supabase",
    is_flag=True,
    help="Also write supabase/migrations/<version>_wesley_<hash>.sql: what changed since the "
    "last one.",
)
@global_options
@click.pass_context
def transform(
    ctx: click.Context,
    schema_path: str | None,
    target_spec: str | None,
    out_dir: str | None,
    bundle_dir: str,
    no_cache: bool,
    ops_dir: str | None,
    ops_allow_errors: bool,
    override: bool,
    supabase: bool,
) -> None:
    """Compile the schema into artifacts and evidence."""
    out = output(ctx)
    result = run_transform(
        schema_path,
        targets=target_spec,
        out=out_dir,
        bundle_dir=bundle_dir,
        cache=not no_cache,
        ops=ops_dir,
        ops_allow_errors=ops_allow_errors,
        i_know_what_im_doing=override,
        supabase=supabase,
    )
    out.warn(result.warnings)
    for a in [*result.artifacts, *result.evidence]:
        out.info(f"{'wrote' if a.changed else 'kept '} {a.path}  sha256:{a.sha256[:12]}")
    if result.supabase:
        out.info(f"wrote {result.supabase}  (Supabase migration)")
    elif supabase:
        out.info("no Supabase migration: the schema is what the last one made it")
    if not result.changed:
        out.info("no artifacts changed")
    out.info(f"{result.tables} tables, {result.enums} enums, ir_hash {result.ir_hash[:12]}")
    out.result(
        {
            "ir_hash": result.ir_hash,
            "artifacts": [
                {"target": a.target, "path": a.path, "sha256": a.sha256, "changed": a.changed}
                for a in result.artifacts
            ],
            "evidence": [
                {"path": e.path, "sha256": e.sha256, "changed": e.changed} for e in result.evidence
            ],
            "changed": result.changed,
            "supabase_migration": result.supabase,
        }
    )
