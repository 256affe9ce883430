"""Certificates as functions: `keygen`, `create`, `sign`, `verify`, `badge`, and
`validate_bundle` (`wesley.api.cert.create(environment="prod")`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wesley.cert import certificate
from wesley.cert.check import verify_file
from wesley.cert.create import create_certificate
from wesley.cert.keys import generate, load_private
from wesley.cert.settings import cert_error, cert_settings, read_cert
from wesley.config import load_config
from wesley.errors import ExitCode, WesleyError
from wesley.evidence.scores import Scores
from wesley.evidence.validate import check_bundle
from wesley.files import write_atomic
from wesley.ir import canonical_json, sha256_hex

BUNDLE_DIR = Path(".wesley")
Log = Callable[[str], None]


def _quiet(_line: str) -> None:
    return None


@dataclass(frozen=True)
class KeyPair:
    signer: str
    private_key: Path
    public_key: Path
    key_id: str


def keygen(signer: str, out: str | Path) -> KeyPair:
    """An Ed25519 key pair: the private key at `out` (mode 0600), the public one at out.pub."""
    private, public, kid = generate(Path(out))
    return KeyPair(signer, private, public, kid)


@dataclass(frozen=True)
class Certificate:
    path: Path
    block: dict[str, Any]
    scores: Scores
    target: dict[str, str] | None
    realm_verdict: str
    badge: str

    @property
    def readiness(self) -> str:
        return self.scores.readiness

    @property
    def fit(self) -> bool:
        """Whether verify could accept it once signed (PASS, every gate met)."""
        return self.readiness == "ELEMENTARY" and self.realm_verdict == "PASS"


def _target_of(dsn: str) -> dict[str, str]:
    from wesley.cert.binding import target_identity
    from wesley.db.dsn import check_dsn
    from wesley.db.session import connect

    check_dsn(dsn)
    with connect(dsn) as conn:
        return target_identity(conn)


def create(
    environment: str,
    *,
    out: str | Path = "SHIPME.md",
    commit: str | None = None,
    directory: str | Path = BUNDLE_DIR,
    target: str | None = None,
) -> Certificate:
    """Score the evidence in `directory` and write an unsigned SHIPME.md; `target` (a DSN)
    binds it to that database."""
    bound = _target_of(target) if target is not None else None
    made = create_certificate(
        environment=environment,
        out_path=Path(out),
        commit=commit,
        bundle_dir=Path(directory),
        target=bound,
        config=load_config().raw,
    )
    line = certificate.badge(made.block, made.thresholds)
    return Certificate(Path(out), made.block, made.scores, bound, made.realm.verdict, line)


@dataclass(frozen=True)
class Signature:
    signer: str
    key_id: str
    attestation: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)


def sign(
    signer: str,
    key: str | Path,
    *,
    path: str | Path = "SHIPME.md",
    directory: str | Path = BUNDLE_DIR,
    force: bool = False,
    insecure_key: bool = False,
    log: Log = _quiet,
) -> Signature:
    """Add `signer`'s signature. A certificate whose REALM verdict is not PASS is refused
    (SIGN_REFUSED) unless `force`; failed gates are warned about (`warnings`). The HOLMES and
    WATSON signers sign only what their reports prove (see wesley.holmes.attest), and `force`
    overrides that too, recorded in the signature."""
    from wesley.holmes.attest import attestation_for

    private = load_private(Path(key), insecure_ok=insecure_key)
    block = certificate.read(read_cert(path))
    config = load_config().raw
    attestation = attestation_for(signer, block, Path(directory), config, force, log)
    verdict = block.get("realm", {}).get("verdict")
    if verdict != "PASS" and not force:
        raise cert_error(
            "SIGN_REFUSED",
            f"{path}'s REALM verdict is {verdict}, not PASS: verify will refuse it whoever signs",
            "rehearse until the verdict is PASS, then cert create again; --force signs anyway "
            "(the certificate still will not verify)",
        )
    warnings = [
        f"signing although {problem}"
        for problem in certificate.unfit(block, cert_settings(config).thresholds)
    ]
    for line in warnings:
        log(f"warning: {line}" + (" (--force)" if verdict != "PASS" else ": verify will refuse"))
    signed = certificate.sign(block, signer, private, attestation)
    write_atomic(Path(path), certificate.write(signed))
    entry = next(s for s in signed["signatures"] if s["signer"] == signer)
    return Signature(signer, entry["key_id"], attestation, warnings)


@dataclass(frozen=True)
class Verified:
    signers: list[str]
    plan_hash: str
    notes: list[str]
    block: dict[str, Any]


def verify(
    path: str | Path = "SHIPME.md",
    *,
    pubkeys: Iterable[str | Path] = (),
    require: list[str] | None = None,
) -> Verified:
    """Raises CERT_INVALID naming every failure; `require` defaults to wesley.toml's."""
    result = verify_file(path, pubkeys, require, load_config().raw)
    if not result.ok:
        raise cert_error(
            "CERT_INVALID",
            f"{path} does not verify: " + "; ".join(result.failures),
            "nothing may be deployed with it",
        )
    return Verified(result.signers, str(result.block.get("plan_hash")), result.notes, result.block)


def badge(path: str | Path = "SHIPME.md") -> str:
    """One status line: `[REALM] PASS — SCS 1.00 · MRI 0.05 · TCI 1.00 ✅`."""
    thresholds = cert_settings(load_config().raw).thresholds
    return certificate.badge(certificate.read(read_cert(path)), thresholds)


@dataclass(frozen=True)
class BundleReport:
    files: list[str]
    digest: str
    thresholds_checked: bool


def validate_bundle(directory: str | Path = BUNDLE_DIR) -> BundleReport:
    """Raises BUNDLE_INVALID (exit 5) naming every failure."""
    root = Path(directory)
    checked = check_bundle(root)
    if not checked.ok:
        raise WesleyError(
            "BUNDLE_INVALID",
            f"{root} is not a valid bundle: " + "; ".join(checked.failures),
            "rerun transform / rehearse / cert create; do not edit .wesley by hand",
            exit_code=ExitCode.REFUSED,
            details={"failures": checked.failures},
        )
    names = sorted(checked.present)
    return BundleReport(names, sha256_hex(canonical_json(names)), "scores.json" in names)
