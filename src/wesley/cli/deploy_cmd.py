"""`wesley deploy`: apply the certified plan to a real database (wesley.api.deploy has the
rules); options in, the call, the result printed."""

from __future__ import annotations

import click

from wesley.api import DeployResult
from wesley.api import deploy as run_deploy
from wesley.cli.common import global_options, output, sigterm_as_interrupt
from wesley.cli.output import Output
from wesley.cli.progress import progress_for
from wesley.cli.run_options import run_options, run_settings
from wesley.config import load_config
from wesley.errors import WesleyError


@click.command("deploy")
@click.option("--dsn", required=True, help="The target database.")
@click.option("--env", "environment", required=True, help="The environment being deployed.")
@click.option(
    "--in", "cert_path", default="SHIPME.md", show_default=True, help="The signed certificate."
)
@click.option(
    "--schema", "schema_path", help="The SDL file, - for stdin (default: from wesley.toml)."
)
@click.option("--resume", is_flag=True, help="Continue an interrupted deploy.")
@click.option("--force", is_flag=True, help="Deploy without a valid certificate (recorded).")
@click.option("--wait", is_flag=True, help="Wait for another run's migration lock.")
@click.option(
    "--pubkey",
    "--pub",
    "pubkeys",
    multiple=True,
    help="A trusted public key file (repeatable; also [cert.keys] in wesley.toml).",
)
@run_options
@global_options
@click.pass_context
def deploy(
    ctx: click.Context,
    dsn: str,
    environment: str,
    cert_path: str,
    schema_path: str | None,
    resume: bool,
    force: bool,
    wait: bool,
    pubkeys: tuple[str, ...],
    timeout_flags: dict[str, int | None],
) -> None:
    """Apply the certified plan to a real database."""
    out = output(ctx)
    timeouts, pacing = run_settings(load_config(), timeout_flags)
    try:
        with sigterm_as_interrupt(), progress_for(out) as progress:
            result = run_deploy(
                dsn,
                environment,
                cert=cert_path,
                schema=schema_path,
                pubkeys=pubkeys,
                resume=resume,
                force=force,
                timeouts=timeouts,
                pacing=pacing,
                wait=wait,
                progress=progress,
                meter=progress.meter,
                log=out.log,
            )
    except WesleyError as err:
        if isinstance(err.result, DeployResult):  # deployed, but the tests fail: say what ran
            _show(out, err.result)
        raise
    _show(out, result)
    out.result(
        {
            "already_deployed": result.already_deployed,
            "run_id": result.run_id,
            "plan_hash": result.plan_hash,
            "applied": result.applied,
            "forced": result.forced,
            "behaviour_changes": result.behaviour_changes,
            "tests": {"planned": result.tests.planned, "passed": result.tests.passed}
            if result.tests
            else None,
        }
    )


def _show(out: Output, result: DeployResult) -> None:
    if result.already_deployed:
        when = result.applied_at
        out.info(
            f"already deployed: plan {result.plan_hash[:12]} was applied to {result.database} "
            f"({result.environment})"
            + (f" by run {result.run_id} at {when:%Y-%m-%d %H:%M:%S %Z}" if when else "")
            + "; nothing to do, nothing was run"
        )
    else:
        tests = (
            f"pgTAP {result.tests.passed}/{result.tests.planned} passed"
            if result.tests
            else "no tables to test"
        )
        out.info(
            f"deployed to {result.database} ({result.environment}): {result.applied} steps "
            f"applied, {tests}" + (" [FORCED]" if result.forced else "")
        )
    if result.badge:
        out.info(result.badge)
