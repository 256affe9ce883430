"""`blade`: the whole lifecycle up to a verified certificate in one call: transform → plan →
rehearse → cert create → sign (every required signer, with the keys wesley.toml names;
the HOLMES and WATSON signers investigate and verify first, as `cert sign` does) → verify.
It stops at the first step that fails, with that step's error and exit code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from wesley.api import cert as certs
from wesley.api._rehearse import RehearseResult, rehearse
from wesley.api._transform import TransformResult, transform
from wesley.api._up import destructive_error
from wesley.api.schema import deployed_ir, load_ir_file
from wesley.cert.settings import cert_settings, signing_keys
from wesley.config import load_config
from wesley.db.executor import Progress
from wesley.db.progress import Meter
from wesley.db.seed import SeedReport
from wesley.errors import input_error
from wesley.files import STDIN, read_schema_file
from wesley.ir import IR
from wesley.plan.build import DEFAULT_BATCH_SIZE, build_plan
from wesley.plan.models import Plan

Stage = Callable[[str, str], None]  # (stage, one line about it)


def _silent(_stage: str, _line: str) -> None:
    return None


@dataclass(frozen=True)
class BladeResult:
    transform: TransformResult
    plan: Plan
    rehearsal: RehearseResult
    certificate: certs.Certificate
    signatures: list[certs.Signature] = field(default_factory=list)
    verified: certs.Verified | None = None


def blade(
    schema: str | Path | None = None,
    *,
    sdl: str | None = None,
    environment: str = "dev",
    old: str | Path | IR | None = None,
    fresh: bool = False,
    dsn: str | None = None,
    seed_rows: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    allow_destructive: bool = False,
    signers: list[str] | None = None,
    out: str | Path = "SHIPME.md",
    commit: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
    seed_report: SeedReport | None = None,
    meter: Meter | None = None,
    stage: Stage = _silent,
    log: Callable[[str], None] = lambda _line: None,
) -> BladeResult:
    """`signers`: who signs (default: wesley.toml's [cert] require, else every signer of
    [cert.keys]); `force` is passed to `cert sign`."""
    config = load_config()
    if sdl is None and schema is not None and str(schema) == STDIN:
        sdl = read_schema_file(STDIN)  # read once, used by every step
        schema = None
    settings = cert_settings(config.raw)
    names = signers if signers is not None else (settings.require or list(settings.keys))
    if not names:
        raise input_error(
            "USAGE",
            "wesley blade signs the certificate, but wesley.toml names no signer",
            'add [cert] require = ["holmes", "wat-sum"] and their [cert.keys] (wesley cert '
            "keygen makes the keys)",
        )
    keys = signing_keys(config.raw, names)  # said before any work

    made = transform(schema, sdl=sdl)
    stage("transform", f"{made.tables} tables, ir_hash {made.ir_hash[:12]}")
    options = config.parse_options()
    before: IR | None
    if fresh:
        before = None
    elif isinstance(old, IR):
        before = old
    elif old is not None:
        before = load_ir_file(str(old), options)
    else:
        before = deployed_ir(options)
    plan = build_plan(before, made.ir, allow_destructive=allow_destructive, batch_size=batch_size)
    if plan.destructive and not allow_destructive:
        raise destructive_error(plan, "nothing was rehearsed; review, then --allow-destructive")
    stage("plan", f"{len(plan.steps)} steps, plan {plan.plan_hash[:12]}")

    rehearsal = rehearse(
        schema,
        sdl=sdl,
        old=before,
        fresh=before is None,
        dsn=dsn,
        seed_rows=seed_rows,
        batch_size=batch_size,
        allow_destructive=allow_destructive,
        progress=progress,
        seed_report=seed_report,
        meter=meter,
    )
    for note in rehearsal.realm.notes:
        log(f"note: {note}")
    stage("rehearse", rehearsal.summary())

    certificate = certs.create(environment, out=out, commit=commit)
    stage("cert", f"{out} for {environment}: readiness {certificate.readiness}")
    signatures = []
    for name in names:
        signed = certs.sign(name, keys[name], path=out, force=force, log=log)
        att = signed.attestation
        vouch = f" ({str(att['role']).upper()} {att['verdict']})" if att else ""
        stage("sign", f"{name}{vouch}")
        signatures.append(signed)
    verified = certs.verify(out)
    stage("verify", f"{out} verifies: signed by {', '.join(verified.signers)}")
    return BladeResult(made, rehearsal.plan, rehearsal, certificate, signatures, verified)
