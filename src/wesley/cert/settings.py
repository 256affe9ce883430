"""What certificates are checked against, from wesley.toml: the gates, the required signers
and the trusted public keys; and reading a certificate file with coded errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wesley.errors import ExitCode, WesleyError
from wesley.evidence.scores import thresholds_from


def cert_error(code: str, message: str, hint: str) -> WesleyError:
    return WesleyError(code, message, hint, exit_code=ExitCode.CERT_INVALID)


@dataclass(frozen=True)
class CertSettings:
    thresholds: dict[str, float]
    require: list[str] = field(default_factory=list)
    keys: dict[str, Path] = field(default_factory=dict)  # signer → public key file


def cert_settings(raw: dict[str, Any]) -> CertSettings:
    """Thresholds, required signers and trusted public keys from wesley.toml's data."""
    cert_cfg = raw.get("cert", {}) if isinstance(raw.get("cert"), dict) else {}
    require = [str(r) for r in cert_cfg.get("require", [])]
    keys = cert_cfg.get("keys", {}) if isinstance(cert_cfg.get("keys"), dict) else {}
    return CertSettings(
        thresholds_from(raw), require, {str(n): Path(str(p)) for n, p in keys.items()}
    )


def read_cert(path: str | Path) -> str:
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
