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
from wesley.errors import WesleyError, input_error
from wesley.plan.explain import stage_lines
from wesley.plan.models import Stage


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
@click.option(
    "--complete",
    is_flag=True,
    help="Run the contract of the migration in flight, once the old application version is "
    "retired.",
)
@click.option(
    "--abort", "abort_", is_flag=True, help="Roll back the expand of the migration in flight."
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
    complete: bool,
    abort_: bool,
    timeout_flags: dict[str, int | None],
) -> None:
    """Apply the certified plan to a real database."""
    out = output(ctx)
    if complete and abort_:
        raise input_error("USAGE", "--complete and --abort exclude each other", "pick one")
    stage: Stage = "complete" if complete else "abort" if abort_ else "start"
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
                stage=stage,
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
            "stage": result.stage,
            "applied": result.applied,
            "forced": result.forced,
            "behaviour_changes": result.behaviour_changes,
            "drift": result.drift,
            "compat": result.compat.model_dump(mode="json") if result.compat else None,
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
        done = {
            "expanded": "expanded",
            "completed": "completed the migration on",
            "aborted": "rolled the expand back on",
        }.get(result.stage, "deployed to")
        out.info(
            f"{done} {result.database} ({result.environment}): {result.applied} steps "
            f"applied, {tests}" + (" [FORCED]" if result.forced else "")
        )
        if result.stage == "expanded":
            for line in stage_lines(result.two_stage, result.compat):
                out.info(line)
    if result.badge:
        out.info(result.badge)
