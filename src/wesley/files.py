"""File I/O at the edge: reading a schema with clear errors, writing atomically.

Files are read only when they are regular files (a FIFO or a device would block or never
end), checked on the open descriptor so nothing can be swapped in between; a path that
cannot be written is a coded error naming it, never a traceback.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from pathlib import Path

from wesley.errors import Location, WesleyError, input_error


class SpecialFileError(OSError):
    """The path is a FIFO, socket or device, not a regular file."""


def read_regular(path: str | Path) -> tuple[bytes, os.stat_result]:
    """The bytes and the status of a regular file. Raises FileNotFoundError,
    IsADirectoryError, SpecialFileError or another OSError; never blocks on a FIFO."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        if not stat.S_ISREG(st.st_mode):
            raise SpecialFileError(errno.EINVAL, "not a regular file", str(path))
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks), st
    finally:
        os.close(fd)


def not_a_file(shown: str, what: str, hint: str) -> WesleyError:
    return input_error("NOT_A_FILE", f"{what} {shown} is not a regular file", hint)


STDIN = "-"


def read_stdin() -> bytes:
    """All of standard input, as bytes (`--schema -`)."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # replaced by a text stream (tests, embedding)
        return sys.stdin.read().encode("utf-8")
    data: bytes = stream.read()
    return data


def schema_location(path: str | Path) -> str:
    """How a schema's path appears in messages and locations."""
    return "<stdin>" if str(path) == STDIN else str(path)


def read_schema_file(path: str | Path, flag: str = "--schema") -> str:
    """The schema's text, or a coded error (missing, a directory, unreadable, not UTF-8).
    `-` is standard input."""
    shown = schema_location(path)
    try:
        raw = read_stdin() if str(path) == STDIN else read_regular(path)[0]
    except FileNotFoundError:
        raise input_error(
            "FILE_NOT_FOUND",
            f"schema file {shown} does not exist",
            f"pass the path of your .graphql file with {flag}, or run `wesley init`",
        ) from None
    except IsADirectoryError:
        raise input_error(
            "NOT_A_FILE",
            f"{shown} is a directory, not a schema file",
            f"pass the .graphql file inside it, e.g. --schema {shown.rstrip('/')}/schema.graphql",
        ) from None
    except SpecialFileError:
        raise not_a_file(
            shown, "schema file", f"{flag} takes a .graphql file (a FIFO or device is not read)"
        ) from None
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


def _blocker(path: Path) -> Path | None:
    """The first component of `path` (from the root) that exists and is not a directory."""
    for part in reversed([path, *path.parents]):
        if part.exists() and not part.is_dir():
            return part
    return None


def write_error(path: Path, exc: OSError) -> WesleyError:
    """NOT_A_DIRECTORY or FILE_UNWRITABLE (exit 2) for a write that failed at the OS."""
    blocker = _blocker(path)
    if exc.errno in (errno.ENOTDIR, errno.EEXIST) and blocker is not None:
        return input_error(
            "NOT_A_DIRECTORY",
            f"cannot write {path}: {blocker} exists and is not a directory",
            "choose an output directory that is a directory (or does not exist yet)",
        )
    return input_error(
        "FILE_UNWRITABLE",
        f"cannot write {path}: {exc.strerror or exc}",
        "choose an output path you can write to",
    )


def make_dirs(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(directory, exc) from None


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write via a temp file in the same directory and rename, so a reader never sees half a
    file and a crash leaves the old one in place."""
    make_dirs(path.parent)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc) from None
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
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
