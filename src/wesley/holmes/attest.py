"""What the two signatures mean. A signer's *role* comes from wesley.toml:

    [cert.roles]
    holmes = "holmes"      # who signs for the HOLMES investigation (default "holmes")
    watson = "wat-sum"     # who signs for WATSON's verification (default "wat-sum")

The HOLMES signer signs only when the investigation of this exact bundle is ELEMENTARY; the
WATSON signer only when WATSON verifies that investigation. Either signature then carries an
*attestation* (role, report path, report SHA-256, verdict; `forced` when `--force` overrode a
refusal), and the signature covers it. `cert verify` and `deploy` re-check every attestation:
the report file still has the attested hash, is about the certificate's bundle, and says what
was attested. Signers without a role sign the certificate alone, as before."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from wesley.errors import ExitCode, WesleyError, input_error
from wesley.evidence.scores import thresholds_from
from wesley.evidence.weights import weights_from
from wesley.files import write_atomic
from wesley.holmes import render
from wesley.holmes.bundle import load
from wesley.holmes.investigate import investigate
from wesley.holmes.models import Examination, Investigation
from wesley.holmes.watson import examine
from wesley.ir import sha256_hex

ROLES = {"holmes": "HOLMES", "watson": "WATSON"}
DEFAULT_SIGNERS = {"holmes": "holmes", "watson": "wat-sum"}
REPORTS = {"holmes": "holmes", "watson": "watson"}


def roles_from(config: dict[str, Any]) -> dict[str, str]:
    """role → signer name (compared case-insensitively)."""
    cert = config.get("cert", {}) if isinstance(config.get("cert"), dict) else {}
    raw = cert.get("roles", {})
    if not isinstance(raw, dict):
        raise input_error("CONFIG_INVALID", "wesley.toml: [cert.roles] must be a table")
    out = dict(DEFAULT_SIGNERS)
    for role, signer in raw.items():
        if role not in ROLES:
            raise input_error(
                "CONFIG_INVALID",
                f"wesley.toml: [cert.roles] {role!r} is not a role",
                'the roles are holmes and watson, e.g. holmes = "alice"',
            )
        if not isinstance(signer, str) or not signer.strip():
            raise input_error(
                "CONFIG_INVALID", f"wesley.toml: [cert.roles] {role} must name a signer"
            )
        out[role] = signer.strip()
    if out["holmes"].lower() == out["watson"].lower():
        raise input_error(
            "CONFIG_INVALID",
            f"wesley.toml: [cert.roles] gives both roles to {out['holmes']!r}",
            "the investigation and its verification need two signers",
        )
    return out


def role_of(signer: str, roles: dict[str, str]) -> str | None:
    return next((r for r, name in roles.items() if name.lower() == signer.lower()), None)


def report_paths(bundle_dir: Path, role: str) -> tuple[str, str]:
    """The JSON and Markdown report of a role in the bundle."""
    d = bundle_dir.as_posix().rstrip("/") or "."
    return f"{d}/{REPORTS[role]}.json", f"{d}/{REPORTS[role]}.md"


def write_investigation(bundle_dir: Path, config: dict[str, Any]) -> tuple[Investigation, str]:
    """Investigate the bundle, write holmes.json and holmes.md; the report and its SHA-256."""
    report = investigate(load(bundle_dir), weights_from(config), thresholds_from(config))
    json_path, md_path = report_paths(bundle_dir, "holmes")
    text = report.model_dump_json(indent=2) + "\n"
    write_atomic(Path(json_path), text)
    write_atomic(Path(md_path), render.investigation(report))
    return report, sha256_hex(text)


def write_examination(bundle_dir: Path, config: dict[str, Any]) -> Examination:
    """WATSON's examination of holmes.json, written to watson.json and watson.md."""
    holmes_json, holmes_md = report_paths(bundle_dir, "holmes")
    exam = examine(
        load(bundle_dir), holmes_json, weights_from(config), thresholds_from(config), holmes_md
    )
    json_path, md_path = report_paths(bundle_dir, "watson")
    write_atomic(Path(json_path), exam.model_dump_json(indent=2) + "\n")
    write_atomic(Path(md_path), render.examination(exam))
    return exam


def _binding(bundle: Any, inputs: dict[str, str], block: dict[str, Any]) -> list[str]:
    """How a report's evidence differs from the bundle the certificate names."""
    faults = []
    if bundle.ir_hash != block.get("ir_hash"):
        faults.append("it investigates another schema (ir_hash) than the certificate's")
    if bundle.plan_hash != block.get("plan_hash"):
        faults.append("it investigates another plan (plan_hash) than the certificate's")
    hashes = block.get("artifact_hashes", {})
    hashes = hashes if isinstance(hashes, dict) else {}
    for path, digest in sorted(inputs.items()):
        if hashes.get(path) != digest:
            faults.append(f"{path} is not the file the certificate names")
    return faults


def _holmes_faults(report: Investigation, block: dict[str, Any]) -> list[str]:
    faults = _binding(report.bundle, report.inputs, block)
    s = report.scores
    if block.get("scores") != {"scs": s.scs.score, "mri": s.mri.score, "tci": s.tci.score}:
        faults.append("the certificate's scores are not the investigation's")
    return faults


def attestation_for(
    signer: str,
    block: dict[str, Any],
    bundle_dir: Path,
    config: dict[str, Any],
    force: bool,
    log: Callable[[str], None],
) -> dict[str, Any] | None:
    """The attestation `signer` signs with, or None for a signer without a role. Refuses
    (SIGN_REFUSED, exit 8) when the report does not hold, unless `force`."""
    role = role_of(signer, roles_from(config))
    if role is None:
        return None
    faults: list[str]
    if role == "holmes":
        report, digest = write_investigation(bundle_dir, config)
        verdict: str = report.verdict
        faults = [] if verdict == "ELEMENTARY" else [f"the investigation says {verdict}"]
        faults += [r for r in report.reasons if "fails" in r or "verdict is" in r]
        faults += report.problems[:5]
        faults += [f"the investigation does not match the certificate: {f}" for f in
                   _holmes_faults(report, block)]  # fmt: skip
        extra: dict[str, Any] = {}
    else:
        exam = write_examination(bundle_dir, config)
        digest = sha256_hex(Path(report_paths(bundle_dir, "watson")[0]).read_bytes())
        verdict = exam.verdict
        faults = [] if verdict == "PASSED" else [f"WATSON's verification {verdict}"]
        faults += exam.mismatches[:5]
        faults += [f"the verified investigation does not match the certificate: {f}"
                   for f in _binding(exam.bundle, {}, block)]  # fmt: skip
        extra = {"holmes_sha256": exam.report_sha256}
        signed = _attested(block, roles_from(config)).get("holmes")
        if signed is not None and signed.get("sha256") != exam.report_sha256:
            faults.append("WATSON verified another HOLMES report than the one HOLMES signed")
    report_path = report_paths(bundle_dir, role)[0]
    if faults and not force:
        raise WesleyError(
            "SIGN_REFUSED",
            f"{signer} does not sign for {ROLES[role]}: " + "; ".join(faults),
            f"see {report_paths(bundle_dir, role)[1]}; fix the evidence, or sign with --force "
            "(the certificate then says so)",
            exit_code=ExitCode.CERT_INVALID,
        )
    for f in faults:
        log(f"--force: {signer} signs for {ROLES[role]} despite: {f}")
    attestation: dict[str, Any] = {
        "role": role,
        "report": report_path,
        "sha256": digest,
        "verdict": verdict,
        **extra,
    }
    if faults:
        attestation["forced"] = True
    return attestation


def _attested(block: dict[str, Any], roles: dict[str, str]) -> dict[str, dict[str, Any]]:
    """role → the attestation already in the certificate for it."""
    out = {}
    entries = block.get("signatures", [])
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("attestation"), dict):
            role = role_of(str(entry.get("signer", "")), roles)
            if role is not None:
                out[role] = entry["attestation"]
    return out


def _read(path: str, model: type[Investigation] | type[Examination]) -> Any:
    try:
        return model.model_validate_json(Path(path).read_bytes())
    except (OSError, ValidationError):
        return None


def check(
    block: dict[str, Any], signers: list[str], roles: dict[str, str]
) -> tuple[list[str], list[str]]:
    """(failures, notes) for the attestations of the signers whose signatures verified."""
    failures: list[str] = []
    notes: list[str] = []
    attested: dict[str, dict[str, Any]] = {}
    verified = {s.lower() for s in signers}
    entries = block.get("signatures", [])
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or str(entry.get("signer", "")).lower() not in verified:
            continue
        signer = str(entry["signer"])
        role = role_of(signer, roles)
        if role is None:
            continue
        name = ROLES[role]
        att = entry.get("attestation")
        if not isinstance(att, dict):
            failures.append(
                f"signature of {signer} carries no {name} report: {signer} signs for {name} "
                "(wesley.toml [cert.roles]); sign again with wesley cert sign"
            )
            continue
        if att.get("role") != role:
            failures.append(f"signature of {signer} attests a {att.get('role')} report, not {name}")
            continue
        path = str(att.get("report"))
        p = Path(path)
        if not p.is_file():
            failures.append(f"the {name} report {path} that {signer} signed is missing")
            continue
        if sha256_hex(p.read_bytes()) != att.get("sha256"):
            failures.append(f"the {name} report {path} changed since {signer} signed it")
            continue
        report = _read(path, Investigation if role == "holmes" else Examination)
        if report is None:
            failures.append(f"{path} is not a {name} report")
            continue
        if report.verdict != att.get("verdict"):
            failures.append(f"{path} says {report.verdict}, {signer} attested {att.get('verdict')}")
            continue
        if role == "holmes":
            faults = _holmes_faults(report, block)
            good = report.verdict == "ELEMENTARY"
        else:
            faults = _binding(report.bundle, {}, block)
            good = report.verdict == "PASSED"
        failures += [f"the {name} report {path}: {f}" for f in faults]
        if not good and not att.get("forced"):
            failures.append(f"the {name} report says {report.verdict} and was not forced")
        elif not good:
            notes.append(
                f"{signer} signed for {name} with --force: its report says {report.verdict}"
            )
        attested[role] = att
    holmes, watson = attested.get("holmes"), attested.get("watson")
    if holmes and watson and watson.get("holmes_sha256") != holmes.get("sha256"):
        failures.append("WATSON verified another HOLMES report than the one HOLMES signed")
    return failures, notes
