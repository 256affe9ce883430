"""`wesley cert keygen|create|sign|verify|badge` and `wesley validate-bundle`."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import jsonschema

from wesley.cert import certificate
from wesley.cert.artifacts import artifact_failures
from wesley.cert.binding import describe_target
from wesley.cert.keys import generate, load_private
from wesley.cli.common import global_options, output
from wesley.config import load_config
from wesley.errors import ExitCode, WesleyError
from wesley.evidence.models import Bundle, EvidenceMap
from wesley.evidence.scores import compute_scores, thresholds_from
from wesley.evidence.weights import weights_from
from wesley.files import write_atomic
from wesley.ir import canonical_json, ir_from_json, sha256_hex
from wesley.plan.models import Plan
from wesley.realm.models import Realm
from wesley.schemas import load

BUNDLE_DIR = Path(".wesley")
EVIDENCE_SCHEMAS = {
    "ir.json": "ir.schema.json",
    "snapshot.json": "snapshot.schema.json",
    "evidence-map.json": "evidence-map.schema.json",
    "bundle.json": "bundle.schema.json",
    "plan.json": "plan.schema.json",
    "realm.json": "realm.schema.json",
    "scores.json": "scores.schema.json",
    "holmes.json": "holmes.schema.json",
    "watson.json": "watson.schema.json",
    "history.json": "history.schema.json",
}


def cert_error(code: str, message: str, hint: str) -> WesleyError:
    return WesleyError(code, message, hint, exit_code=ExitCode.CERT_INVALID)


def _read_json(directory: Path, name: str, step: str) -> Any:
    path = directory / name
    if not path.is_file():
        raise cert_error("EVIDENCE_MISSING", f"{path} does not exist", f"run {step} first")
    return json.loads(path.read_text(encoding="utf-8"))


def cert_settings() -> tuple[dict[str, float], list[str], dict[str, Path]]:
    """Thresholds, required signers and trusted public keys (signer → file) from wesley.toml."""
    raw = load_config().raw
    cert_cfg = raw.get("cert", {}) if isinstance(raw.get("cert"), dict) else {}
    require = [str(r) for r in cert_cfg.get("require", [])]
    keys = cert_cfg.get("keys", {}) if isinstance(cert_cfg.get("keys"), dict) else {}
    return thresholds_from(raw), require, {str(n): Path(str(p)) for n, p in keys.items()}


def _git_commit() -> str:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return proc.stdout.strip() if proc.returncode == 0 else "unknown"


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


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
    private, public, kid = generate(Path(out_path))
    out.info(f"{signer}: private key {private} (mode 0600), public key {public}")
    out.info(f"key_id {kid}")
    out.result(
        {"signer": signer, "private_key": str(private), "public_key": str(public), "key_id": kid}
    )


@cert.command("create")
@click.option("--env", "environment", required=True, help="The environment it certifies.")
@click.option("--out", "out_path", default="SHIPME.md", show_default=True)
@click.option("--commit", help="Commit to record (default: git HEAD).")
@click.option("--dir", "directory", default=str(BUNDLE_DIR), show_default=True)
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
    target = _target_of(target_dsn) if target_dsn is not None else None
    bundle_dir = Path(directory)
    ir = ir_from_json(_read_json(bundle_dir, "ir.json", "wesley transform"))
    evidence = EvidenceMap.model_validate(
        _read_json(bundle_dir, "evidence-map.json", "wesley transform")
    )
    plan = Plan.model_validate(_read_json(bundle_dir, "plan.json", "wesley rehearse"))
    realm = Realm.model_validate(_read_json(bundle_dir, "realm.json", "wesley rehearse"))
    bundle = Bundle.model_validate(_read_json(bundle_dir, "bundle.json", "wesley transform"))
    if realm.plan_hash != plan.plan_hash:
        raise cert_error(
            "EVIDENCE_MISMATCH",
            "realm.json rehearsed another plan than plan.json holds",
            "run wesley rehearse again",
        )
    if realm.ir_hash != bundle.ir_hash:
        raise cert_error(
            "EVIDENCE_MISMATCH",
            "the rehearsal was for another schema than the last transform",
            "run wesley transform and wesley rehearse on the same schema",
        )
    thresholds, _require, _keys = cert_settings()
    weights = weights_from(load_config().raw)
    scores = compute_scores(ir, evidence, plan, realm, thresholds, weights)
    write_atomic(bundle_dir / "scores.json", _dump(scores.model_dump(mode="json")))
    files = dict(bundle.files)
    for name in ("plan.json", "realm.json", "scores.json"):
        files[name] = sha256_hex((bundle_dir / name).read_bytes())
    bundle = bundle.model_copy(update={"files": dict(sorted(files.items()))})
    write_atomic(bundle_dir / "bundle.json", _dump(bundle.model_dump(mode="json")))
    artifacts = {a.path: a.sha256 for a in bundle.artifacts}
    artifacts.update({f"{bundle_dir.as_posix()}/{k}": v for k, v in bundle.files.items()})
    block = certificate.build_block(
        environment=environment,
        commit=commit or _git_commit(),
        timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
        ir_hash=bundle.ir_hash,
        plan=plan,
        realm=realm,
        scores=scores,
        thresholds=thresholds,
        artifacts=artifacts,
        target=target,
    )
    write_atomic(Path(out_path), certificate.write(block))
    out.info(certificate.badge(block, thresholds))
    if scores.readiness == "ELEMENTARY":
        out.info(
            f"wrote {out_path} for {environment}: readiness ELEMENTARY; sign it with "
            "wesley cert sign"
        )
    else:
        failed = [f"{k.upper()} gate" for k, g in scores.gates.items() if not g.passed]
        if realm.verdict != "PASS":
            failed.insert(0, f"REALM verdict {realm.verdict}")
        out.info(
            f"wrote {out_path} for {environment}: readiness {scores.readiness} "
            f"({', '.join(failed)}): verify will refuse it"
        )
    out.info(f"bound to {describe_target(target)}")
    out.result({"out": out_path, "scores": scores.model_dump(mode="json"), "target": target})


def _target_of(dsn: str) -> dict[str, str]:
    from wesley.cert.binding import target_identity
    from wesley.db.dsn import check_dsn
    from wesley.db.session import connect

    check_dsn(dsn)
    with connect(dsn) as conn:
        return target_identity(conn)


def read_cert(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise cert_error(
            "CERT_MISSING",
            f"certificate {path} does not exist",
            "make it with wesley cert create --env ENV",
        )
    try:
        return p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise cert_error(
            "CERT_INVALID",
            f"{path} is not valid UTF-8 (byte {exc.start}): the file was changed",
            "recreate and sign the certificate; nothing may be deployed with it",
        ) from None


@cert.command("sign")
@click.option("--signer", required=True, help="Who signs (its role comes from [cert.roles]).")
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False))
@click.option("--in", "in_path", default="SHIPME.md", show_default=True, help="The certificate.")
@click.option(
    "--dir",
    "directory",
    default=str(BUNDLE_DIR),
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
    signatures carry the report's hash.
    """
    from wesley.holmes.attest import attestation_for

    out = output(ctx)
    key = load_private(Path(key_path), insecure_ok=insecure_key)
    block = certificate.read(read_cert(in_path))
    attestation = attestation_for(signer, block, Path(directory), load_config().raw, force, out.log)
    unfit = certificate.unfit(block, cert_settings()[0])
    if unfit and not force:
        raise cert_error(
            "SIGN_REFUSED",
            f"{in_path} is not fit to ship: " + "; ".join(unfit) + ": verify will refuse it "
            "whoever signs",
            "rehearse until the REALM verdict is PASS and the gates pass, then cert create "
            "again; --force signs anyway (the certificate still will not verify)",
        )
    for problem in unfit:
        out.log(f"warning: signing although {problem} (--force)")
    signed = certificate.sign(block, signer, key, attestation)
    write_atomic(Path(in_path), certificate.write(signed))
    entry = next(s for s in signed["signatures"] if s["signer"] == signer)
    vouches = ""
    if attestation is not None:
        vouches = (
            f"; {str(attestation['role']).upper()} {attestation['verdict']}, report "
            f"{attestation['report']} sha256 {str(attestation['sha256'])[:12]}"
            + (" [FORCED]" if attestation.get("forced") else "")
        )
    out.info(f"{signer} signed {in_path} (key_id {entry['key_id'][:12]}{vouches})")
    out.result({"signer": signer, "key_id": entry["key_id"], "attestation": attestation})


def verify_file(
    in_path: str, pubkeys: tuple[str, ...], require: str | None
) -> certificate.Verification:
    thresholds, required, keys = cert_settings()
    trusted = certificate.trusted_keys([*keys.values(), *(Path(p) for p in pubkeys)])
    names = certificate.signer_names(keys)
    needed = [r.strip() for r in require.split(",") if r.strip()] if require else required
    result = certificate.verify(read_cert(in_path), trusted, needed, thresholds, names)
    if result.block:  # the files it lists are still the ones it was made from
        from wesley.holmes.attest import check, roles_from

        result.failures += artifact_failures(result.block)
        # the HOLMES and WATSON reports the role signers attested
        failures, notes = check(result.block, result.signers, roles_from(load_config().raw))
        result.failures += failures
        result.notes += notes
        result.ok = not result.failures
    return result


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
    result = verify_file(in_path, pubkeys, require)
    if not result.ok:
        raise cert_error(
            "CERT_INVALID",
            f"{in_path} does not verify: " + "; ".join(result.failures),
            "nothing may be deployed with it",
        )
    out.info(f"{in_path} verifies: signed by {', '.join(result.signers)}")
    for note in result.notes:
        out.info(f"note: {note}")
    out.result(
        {
            "signers": result.signers,
            "plan_hash": result.block.get("plan_hash"),
            "notes": result.notes,
        }
    )


@cert.command("badge")
@click.option("--in", "in_path", default="SHIPME.md", show_default=True, help="The certificate.")
@global_options
@click.pass_context
def badge(ctx: click.Context, in_path: str) -> None:
    """Print one status line."""
    out = output(ctx)
    thresholds, _, _ = cert_settings()
    block = certificate.read(read_cert(in_path))
    line = certificate.badge(block, thresholds)
    if out.json_mode:
        out.result({"badge": line})
    else:
        print(line)


@click.command("validate-bundle")
@click.option("--dir", "directory", default=str(BUNDLE_DIR), show_default=True)
@global_options
@click.pass_context
def validate_bundle(ctx: click.Context, directory: str) -> None:
    """Check every evidence file against its schema and hash, and the thresholds."""
    out = output(ctx)
    root = Path(directory)
    failures: list[str] = []
    present = {}
    for name, schema in EVIDENCE_SCHEMAS.items():
        path = root / name
        if not path.is_file():
            if name in ("ir.json", "evidence-map.json", "bundle.json"):
                failures.append(f"{path} is missing")
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            jsonschema.validate(data, load(schema))
            present[name] = data
        except (json.JSONDecodeError, jsonschema.ValidationError) as exc:
            failures.append(f"{path}: {str(exc).splitlines()[0]}")
    bundle = present.get("bundle.json")
    if bundle:
        for record in bundle["artifacts"]:
            p = Path(record["path"])
            if not p.is_file():
                failures.append(f"{p} (in bundle.json) is missing")
            elif sha256_hex(p.read_bytes()) != record["sha256"]:
                failures.append(f"{p}: its SHA-256 differs from bundle.json")
        for name, digest in bundle["files"].items():
            p = root / name
            if not p.is_file() or sha256_hex(p.read_bytes()) != digest:
                failures.append(f"{p}: its SHA-256 differs from bundle.json")
    scores = present.get("scores.json")
    if scores:
        failures += [
            f"{root / 'scores.json'}: gate {k}: {g['value']} fails "
            + g["rule"].replace("threshold", str(g["threshold"]))
            for k, g in scores["gates"].items()
            if not g["passed"]
        ]
    if failures:
        raise WesleyError(
            "BUNDLE_INVALID",
            f"{root} is not a valid bundle: " + "; ".join(failures),
            "rerun transform / rehearse / cert create; do not edit .wesley by hand",
            exit_code=ExitCode.REFUSED,
            details={"failures": failures},
        )
    out.info(
        f"{root}: {len(present)} evidence files valid, hashes match"
        + (", thresholds met" if scores else "")
    )
    out.result({"files": sorted(present), "digest": sha256_hex(canonical_json(sorted(present)))})
