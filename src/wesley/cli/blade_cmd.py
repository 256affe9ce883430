"""`wesley blade`: transform → plan → rehearse → cert create → sign → verify in one run."""

from __future__ import annotations

import click

from wesley.api import RehearseResult
from wesley.api import blade as _run
from wesley.cli.common import global_options, output, sigterm_as_interrupt
from wesley.cli.progress import progress_for
from wesley.errors import WesleyError
from wesley.plan.build import DEFAULT_BATCH_SIZE


@click.command("blade")
@click.option(
    "--schema", "schema_path", help="The SDL file, - for stdin (default: from wesley.toml)."
)
@click.option("--env", "environment", default="dev", show_default=True, help="The environment.")
@click.option(
    "--from",
    "from_path",
    help="The old schema (default: .wesley/deployed.json from the last deploy).",
)
@click.option("--fresh", is_flag=True, help="No old schema: rehearse creating everything.")
@click.option(
    "--dsn",
    envvar="SHADOW_DSN",
    help="Shadow database (default: an ephemeral local cluster). Also read from SHADOW_DSN.",
)
@click.option("--seed-rows", type=click.IntRange(0), default=0, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=DEFAULT_BATCH_SIZE, show_default=True)
@click.option("--allow-destructive", is_flag=True, help="Plan and rehearse destructive changes.")
@click.option(
    "--signer",
    "signers",
    multiple=True,
    help="Who signs (repeatable; default: [cert] require in wesley.toml).",
)
@click.option("--out", "out_path", default="SHIPME.md", show_default=True)
@click.option("--commit", help="Commit to record (default: git HEAD).")
@click.option("--force", is_flag=True, help="Passed to cert sign (recorded in the certificate).")
@global_options
@click.pass_context
def blade_cmd(
    ctx: click.Context,
    schema_path: str | None,
    environment: str,
    from_path: str | None,
    fresh: bool,
    dsn: str | None,
    seed_rows: int,
    batch_size: int,
    allow_destructive: bool,
    signers: tuple[str, ...],
    out_path: str,
    commit: str | None,
    force: bool,
) -> None:
    """Transform, plan, rehearse, certify, sign (keys from wesley.toml) and verify."""
    out = output(ctx)
    try:
        with sigterm_as_interrupt(), progress_for(out) as progress:
            result = _run(
                schema_path,
                environment=environment,
                old=from_path,
                fresh=fresh,
                dsn=dsn,
                seed_rows=seed_rows,
                batch_size=batch_size,
                allow_destructive=allow_destructive,
                signers=list(signers) or None,
                out=out_path,
                commit=commit,
                force=force,
                progress=progress,
                meter=progress.meter,
                seed_report=progress.seed,
                stage=lambda name, line: out.info(f"blade: {name:<9} {line}"),
                log=out.log,
            )
    except WesleyError as err:
        failed = err.result
        if isinstance(failed, RehearseResult):  # the rehearsal step failed: show it
            out.info(f"blade: rehearse  {failed.summary()}")
        raise
    out.info(result.certificate.badge)
    out.result(
        {
            "ir_hash": result.transform.ir_hash,
            "plan_hash": result.plan.plan_hash,
            "realm": result.rehearsal.realm.to_json_data(),
            "certificate": out_path,
            "readiness": result.certificate.readiness,
            "signers": result.verified.signers if result.verified else [],
        }
    )
