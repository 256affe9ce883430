"""What certificates are checked against, from wesley.toml: the gates, the required signers
and the trusted public keys; and reading a certificate file with coded errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wesley.errors import ExitCode, WesleyError, input_error
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


def signing_keys(raw: dict[str, Any], signers: list[str]) -> dict[str, Path]:
    """The private key of each signer, for `wesley blade`: `[cert.signing_keys]` signer → file,
    else the public key of `[cert.keys]` without its `.pub` (where `cert keygen` puts it).
    A signer with neither is KEY_MISSING (exit 8)."""
    cert_cfg = raw.get("cert", {}) if isinstance(raw.get("cert"), dict) else {}
    private = cert_cfg.get("signing_keys", {})
    if not isinstance(private, dict) or not all(isinstance(v, str) and v for v in private.values()):
        raise input_error(
            "CONFIG_INVALID",
            "wesley.toml: [cert.signing_keys] must map each signer to its private key file",
            '[cert.signing_keys]\nholmes = "keys/holmes"',
        )
    public = cert_settings(raw).keys
    out: dict[str, Path] = {}
    for signer in signers:
        if signer in private:
            out[signer] = Path(private[signer])
        elif signer in public and public[signer].suffix == ".pub":
            out[signer] = public[signer].with_suffix("")
        else:
            raise cert_error(
                "KEY_MISSING",
                f"no private key for signer {signer}: wesley.toml names none",
                f'add [cert.signing_keys] {signer} = "keys/{signer}" (or [cert.keys] '
                f'{signer} = "keys/{signer}.pub" with the private key beside it)',
            )
    return out


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
