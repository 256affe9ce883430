"""Ed25519 keys as PEM (PKCS#8 private, SubjectPublicKeyInfo public), so keys made with
`openssl genpkey -algorithm ed25519` work as well as `wesley cert keygen`'s.

Key files are created exclusively (O_EXCL, never through a symlink, never over an existing
file) and read only when they are regular files; a private key that others may read is
refused for signing (KEY_PERMISSIONS) unless the signer says --insecure-key."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from wesley.errors import ExitCode, WesleyError, input_error
from wesley.files import SpecialFileError, make_dirs, not_a_file, read_regular, write_error

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def _key_error(message: str, hint: str) -> WesleyError:
    return WesleyError("KEY_INVALID", message, hint, exit_code=ExitCode.CERT_INVALID)


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, hex."""
    return hashlib.sha256(public_bytes(key)).hexdigest()


def _exists(path: Path) -> WesleyError:
    state = "is a symlink" if path.is_symlink() else "already exists"
    return input_error(
        "FILE_EXISTS",
        f"{path} {state}",
        "keys are never overwritten nor written through a symlink: choose another --out",
    )


def _create(path: Path, data: bytes, mode: int) -> None:
    """Write a new file: O_EXCL fails on anything already there, a dangling symlink too."""
    try:
        fd = os.open(path, _CREATE, mode)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ELOOP):
            raise _exists(path) from None
        raise write_error(path, exc) from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def generate(path: Path) -> tuple[Path, Path, str]:
    """Write a new private key (mode 0600) at `path` and its public key at `path.pub`."""
    pub = path.with_name(path.name + ".pub")
    for p in (path, pub):
        if os.path.lexists(p):
            raise _exists(p)
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    make_dirs(path.parent)
    _create(path, private_pem, 0o600)
    try:
        _create(pub, public_pem, 0o644)
    except WesleyError:
        path.unlink()  # no private key without its public key
        raise
    return path, pub, key_id(key.public_key())


def _read_key(path: Path, what: str, missing_hint: str) -> tuple[bytes, os.stat_result]:
    try:
        return read_regular(path)
    except FileNotFoundError:
        raise _key_error(f"{what} {path} does not exist", missing_hint) from None
    except (IsADirectoryError, SpecialFileError):
        raise not_a_file(str(path), what, "pass the PEM file itself") from None
    except OSError as exc:
        raise input_error(
            "FILE_UNREADABLE", f"cannot read {what} {path}: {exc.strerror}", "check its permissions"
        ) from None


def load_private(path: Path, insecure_ok: bool = False) -> Ed25519PrivateKey:
    """The signing key; refused when group or others may access the file (as ssh does)."""
    raw, st = _read_key(
        path, "private key", "make one with wesley cert keygen --signer NAME --out PATH"
    )
    if st.st_mode & 0o077 and not insecure_ok:
        raise WesleyError(
            "KEY_PERMISSIONS",
            f"private key {path} is accessible by others (mode "
            f"{stat.S_IMODE(st.st_mode):04o}): anyone who can read it can sign as you",
            f"chmod 600 {path}; or pass --insecure-key to sign anyway",
            exit_code=ExitCode.CERT_INVALID,
        )
    try:
        key = serialization.load_pem_private_key(raw, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise _key_error(
            f"{path} is not a PEM private key: {exc}", "use an unencrypted PKCS#8 Ed25519 key"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise _key_error(f"{path} is not an Ed25519 key", "Wesley signs with Ed25519 only")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    raw, _ = _read_key(path, "public key", "pass the .pub file written by wesley cert keygen")
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise _key_error(
            f"{path} is not a PEM public key: {exc}", "pass a SubjectPublicKeyInfo PEM (.pub)"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise _key_error(f"{path} is not an Ed25519 public key", "Wesley verifies Ed25519 only")
    return key
