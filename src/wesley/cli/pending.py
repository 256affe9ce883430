"""Commands whose contract is fixed (DESIGN §8) but whose work lands in later issues.
They take their real flags, so scripts and `--help` are already right, and they say
plainly that nothing was done (exit 3): never a fake success."""

from __future__ import annotations

from typing import Any

import click

from wesley.cli.common import global_options
from wesley.errors import not_implemented

_CERT_ISSUE = "the Certify and deploy issue (#6)"


@click.command("deploy")
@click.option("--dsn", help="Target database.")
@click.option("--env", "env_name", help="Environment name the certificate was made for.")
@click.option("--in", "cert_path", default="SHIPME.md", help="The certificate.")
@click.option("--resume", is_flag=True, help="Resume an interrupted run.")
@click.option("--force", is_flag=True, help="Deploy without a valid certificate (recorded).")
@global_options
def deploy(**_: Any) -> None:
    """Apply the certified plan to a real database."""
    raise not_implemented("wesley deploy", _CERT_ISSUE)


@click.command("validate-bundle")
@click.option("--dir", "directory", default=".wesley", help="The evidence bundle.")
@global_options
def validate_bundle(**_: Any) -> None:
    """Check every evidence file against its schema and hash."""
    raise not_implemented("wesley validate-bundle", _CERT_ISSUE)


@click.group("cert")
def cert() -> None:
    """Create, sign, verify and show SHIPME.md certificates."""


def _cert_command(name: str, summary: str, *options: Any) -> click.Command:
    def run(**_: Any) -> None:
        raise not_implemented(f"wesley cert {name}", _CERT_ISSUE)

    run.__doc__ = summary
    fn: Any = run
    for option in reversed(options):
        fn = option(fn)
    return click.command(name)(global_options(fn))


for _cmd in (
    _cert_command(
        "keygen",
        "Make an Ed25519 key pair for a signer.",
        click.option("--signer"),
        click.option("--out"),
    ),
    _cert_command(
        "create",
        "Write SHIPME.md from the evidence bundle.",
        click.option("--env", "env_name"),
        click.option("--out"),
    ),
    _cert_command(
        "sign",
        "Add a signature to SHIPME.md.",
        click.option("--signer"),
        click.option("--key"),
        click.option("--in", "path"),
    ),
    _cert_command(
        "verify",
        "Verify SHIPME.md's signatures, thresholds and verdict.",
        click.option("--in", "path"),
        click.option("--pubkey", "--pub", multiple=True),
        click.option("--require"),
    ),
    _cert_command("badge", "Print one status line.", click.option("--in", "path")),
):
    cert.add_command(_cmd)
