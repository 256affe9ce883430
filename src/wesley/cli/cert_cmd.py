"""`wesley cert keygen|create|sign|verify|badge` and `wesley validate-bundle`: options in,
`wesley.api.cert` called, results printed."""

from __future__ import annotations

import click

from wesley.api import cert as api
from wesley.cert.binding import describe_target
from wesley.cli.common import global_options, output

BUNDLE_DIR = ".wesley"


@click.group("cert")
def cert() -> None:
    """Create, sign, verify and show SHIPME.md certificates."""


@cert.command("keygen")
@click.option("--signer", required=True, help="Who signs with this key (e.g. holmes).")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Private key path; the public key goes to PATH.pub.",
)
@global_options
@click.pass_context
def keygen(ctx: click.Context, signer: str, out_path: str) -> None:
    """Make an Ed25519 key pair for a signer."""
    out = output(ctx)
    pair = api.keygen(signer, out_path)
    out.info(f"{signer}: private key {pair.private_key} (mode 0600), public key {pair.public_key}")
    out.info(f"key_id {pair.key_id}")
    out.result(
        {
            "signer": signer,
            "private_key": str(pair.private_key),
            "public_key": str(pair.public_key),
            "key_id": pair.key_id,
        }
    )


@cert.command("create")
@click.option("--env", "environment", required=True, help="The environment it certifies.")
@click.option("--out", "out_path", default="SHIPME.md", show_default=True)
@click.option("--commit", help="Commit to record (default: git HEAD).")
@click.option("--dir", "directory", default=BUNDLE_DIR, show_default=True)
@click.option(
    "--target",
    "target_dsn",
    help="Bind the certificate to this database: its cluster's system identifier and its "
    "name are recorded (never the DSN); deploy refuses any other (default: any target).",
)
@global_options
@click.pass_context
def create(
    ctx: click.Context,
    environment: str,
    out_path: str,
    commit: str | None,
    directory: str,
    target_dsn: str | None,
) -> None:
    """Score the evidence and write SHIPME.md (unsigned)."""
    out = output(ctx)
    made = api.create(
        environment, out=out_path, commit=commit, directory=directory, target=target_dsn
    )
    out.info(made.badge)
    if made.readiness == "ELEMENTARY":
        out.info(
            f"wrote {out_path} for {environment}: readiness ELEMENTARY; sign it with "
            "wesley cert sign"
        )
    else:
        failed = [f"{k.upper()} gate" for k, g in made.scores.gates.items() if not g.passed]
        if made.realm_verdict != "PASS":
            failed.insert(0, f"REALM verdict {made.realm_verdict}")
        out.info(
            f"wrote {out_path} for {environment}: readiness {made.readiness} "
            f"({', '.join(failed)}): verify will refuse it"
        )
    out.info(f"bound to {describe_target(made.target)}")
    out.result(
        {"out": out_path, "scores": made.scores.model_dump(mode="json"), "target": made.target}
    )


@cert.command("sign")
@click.option("--signer", required=True, help="Who signs (its role comes from [cert.roles]).")
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False))
@click.option("--in", "in_path", default="SHIPME.md", show_default=True, help="The certificate.")
@click.option(
    "--dir",
    "directory",
    default=BUNDLE_DIR,
    show_default=True,
    help="The evidence the HOLMES/WATSON reports are made from.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Sign even when the REALM verdict is not PASS, a gate fails, the investigation is "
    "not ELEMENTARY or WATSON finds a mismatch; the certificate records it.",
)
@click.option(
    "--insecure-key",
    is_flag=True,
    help="Sign even though group or others may read the private key file.",
)
@global_options
@click.pass_context
def sign(
    ctx: click.Context,
    signer: str,
    key_path: str,
    in_path: str,
    directory: str,
    force: bool,
    insecure_key: bool,
) -> None:
    """Add a signature over the certificate's canonical bytes.

    The holmes signer signs only when `wesley holmes investigate` finds this bundle
    ELEMENTARY, the wat-sum signer only when WATSON verifies that investigation; their
    signatures carry the report's hash. A certificate whose REALM verdict is not PASS (or
    whose gates fail) is signed only with --force.
    """
    out = output(ctx)
    signed = api.sign(
        signer,
        key_path,
        path=in_path,
        directory=directory,
        force=force,
        insecure_key=insecure_key,
        log=out.log,
    )
    att = signed.attestation
    vouches = ""
    if att is not None:
        vouches = (
            f"; {str(att['role']).upper()} {att['verdict']}, report "
            f"{att['report']} sha256 {str(att['sha256'])[:12]}"
            + (" [FORCED]" if att.get("forced") else "")
        )
    out.info(f"{signer} signed {in_path} (key_id {signed.key_id[:12]}{vouches})")
    out.result({"signer": signer, "key_id": signed.key_id, "attestation": att})


@cert.command("verify")
@click.option("--in", "in_path", default="SHIPME.md", show_default=True, help="The certificate.")
@click.option(
    "--pubkey",
    "--pub",
    "pubkeys",
    multiple=True,
    help="A trusted public key file (repeatable; also [cert.keys] in wesley.toml).",
)
@click.option("--require", help="Comma-separated signers that must have signed.")
@global_options
@click.pass_context
def verify(ctx: click.Context, in_path: str, pubkeys: tuple[str, ...], require: str | None) -> None:
    """Check signatures, required signers, thresholds and the REALM verdict."""
    out = output(ctx)
    needed = [r.strip() for r in require.split(",") if r.strip()] if require else None
    result = api.verify(in_path, pubkeys=pubkeys, require=needed)
    out.info(f"{in_path} verifies: signed by {', '.join(result.signers)}")
    for note in result.notes:
        out.info(f"note: {note}")
    out.result({"signers": result.signers, "plan_hash": result.plan_hash, "notes": result.notes})


@cert.command("badge")
@click.option("--in", "in_path", default="SHIPME.md", show_default=True, help="The certificate.")
@global_options
@click.pass_context
def badge(ctx: click.Context, in_path: str) -> None:
    """Print one status line."""
    out = output(ctx)
    line = api.badge(in_path)
    if out.json_mode:
        out.result({"badge": line})
    else:
        print(line)


@click.command("validate-bundle")
@click.option("--dir", "directory", default=BUNDLE_DIR, show_default=True)
@global_options
@click.pass_context
def validate_bundle(ctx: click.Context, directory: str) -> None:
    """Check every evidence file against its schema and hash, and the thresholds."""
    out = output(ctx)
    report = api.validate_bundle(directory)
    out.info(
        f"{directory}: {len(report.files)} evidence files valid, hashes match"
        + (", thresholds met" if report.thresholds_checked else "")
    )
    out.result({"files": report.files, "digest": report.digest})
