"""File I/O at the edge: reading a schema with clear errors, writing atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from wesley.errors import Location, input_error


def read_schema_file(path: str | Path, flag: str = "--schema") -> str:
    """The schema's text, or a coded error (missing, a directory, unreadable, not UTF-8)."""
    p = Path(path)
    shown = str(path)
    if not p.exists():
        raise input_error(
            "FILE_NOT_FOUND",
            f"schema file {shown} does not exist",
            f"pass the path of your .graphql file with {flag}, or run `wesley init`",
        )
    if p.is_dir():
        raise input_error(
            "NOT_A_FILE",
            f"{shown} is a directory, not a schema file",
            f"pass the .graphql file inside it, e.g. --schema {shown.rstrip('/')}/schema.graphql",
        )
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise input_error(
            "FILE_UNREADABLE", f"cannot read {shown}: {exc.strerror}", "check its permissions"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise input_error(
            "INVALID_ENCODING",
            f"{shown} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            "a schema is a UTF-8 .graphql text file; is this the right file?",
            Location(shown, line, column),
        ) from None
    return text.removeprefix("\ufeff")  # a BOM is harmless; graphql-core would choke on it


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write via a temp file in the same directory and rename, so a reader never sees half a
    file and a crash leaves the old one in place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # mkstemp makes 0600; a generated file gets the mode any new file would (umask)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
