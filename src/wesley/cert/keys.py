"""Ed25519 keys as PEM (PKCS#8 private, SubjectPublicKeyInfo public), so keys made with
`openssl genpkey -algorithm ed25519` work as well as `wesley cert keygen`'s."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from wesley.errors import ExitCode, WesleyError


def _key_error(message: str, hint: str) -> WesleyError:
    return WesleyError("KEY_INVALID", message, hint, exit_code=ExitCode.CERT_INVALID)


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, hex."""
    return hashlib.sha256(public_bytes(key)).hexdigest()


def generate(path: Path) -> tuple[Path, Path, str]:
    """Write a new private key (mode 0600) at `path` and its public key at `path.pub`."""
    if path.exists():
        raise WesleyError(
            "FILE_EXISTS",
            f"{path} already exists",
            "keys are never overwritten: choose another --out",
            exit_code=ExitCode.INPUT,
        )
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_pem)
    pub = path.with_name(path.name + ".pub")
    pub.write_bytes(public_pem)
    return path, pub, key_id(key.public_key())


def load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise _key_error(
            f"private key {path} does not exist",
            "make one with wesley cert keygen --signer NAME --out PATH",
        ) from None
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise _key_error(
            f"{path} is not a PEM private key: {exc}", "use an unencrypted PKCS#8 Ed25519 key"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise _key_error(f"{path} is not an Ed25519 key", "Wesley signs with Ed25519 only")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except FileNotFoundError:
        raise _key_error(
            f"public key {path} does not exist", "pass the .pub file written by wesley cert keygen"
        ) from None
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise _key_error(
            f"{path} is not a PEM public key: {exc}", "pass a SubjectPublicKeyInfo PEM (.pub)"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise _key_error(f"{path} is not an Ed25519 public key", "Wesley verifies Ed25519 only")
    return key
