"""The files a certificate lists (`artifact_hashes`: generated SQL, types, tests, and the
evidence in .wesley/) must still be the files it was made from. Paths are as `cert create`
recorded them, relative to the project directory (where verify and deploy run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wesley.files import SpecialFileError, read_regular
from wesley.ir import sha256_hex


def artifact_failures(block: dict[str, Any], root: Path | None = None) -> list[str]:
    """One line per listed file that is missing or whose SHA-256 differs."""
    listed = block.get("artifact_hashes", {})
    if not isinstance(listed, dict):
        return ["the certificate's artifact_hashes is not a map of file to SHA-256"]
    failures = []
    for name, digest in sorted(listed.items()):
        path = (root or Path.cwd()) / str(name)
        try:
            raw, _ = read_regular(path)
        except FileNotFoundError:
            failures.append(f"{name} is missing (the certificate covers it)")
            continue
        except (IsADirectoryError, SpecialFileError):
            failures.append(f"{name} is not a regular file (the certificate covers it)")
            continue
        except OSError as exc:
            failures.append(f"{name} cannot be read: {exc.strerror}")
            continue
        actual = sha256_hex(raw)
        if actual != digest:
            failures.append(
                f"{name} changed since the certificate was made (SHA-256 {actual[:12]}, "
                f"certified {str(digest)[:12]})"
            )
    return failures
