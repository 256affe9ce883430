"""pgTAP's extension files, for whichever PostgreSQL server Wesley starts.

pgTAP is plain SQL (a control file and scripts, no shared library), so the same files serve
every major from 11 on. They come from, in order:

1. `$WESLEY_PGTAP_DIR` (a directory holding `pgtap.control`);
2. Wesley's own copy (`share/wesley/pgtap/extension` in the Python environment, or the
   user's cache when that is read-only), which `python -m wesley.db.pgtap_files` fetches once:
   Debian's `postgresql-15-pgtap` package, version and SHA-256 pinned below, through
   `apt-get download`;
3. the embedded server's `share/extension`, where `./scripts/setup` installs it;
4. Debian's package installed on this machine (`/usr/share/postgresql/*/extension`).

`install_into(sharedir)` copies them into a server's `share/extension` (what
`./scripts/setup` does for the embedded server, whose files live in the Python environment);
a cluster whose server lacks them points PostgreSQL 18's `extension_control_path` at a copy
in its own temp dir instead (see `db/cluster.py`).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

from wesley.db.embedded import embedded_bindir
from wesley.errors import ExitCode, WesleyError


@dataclass(frozen=True)
class DebPackage:
    name: str
    version: str
    sha256: str
    extension_dir: str  # where the package keeps the files, inside the .deb


# Debian 12's pgTAP; arch "all": the same .deb on every machine. A newer one changes all three.
PGTAP_DEB = DebPackage(
    name="postgresql-15-pgtap",
    version="1.2.0-3",
    sha256="eb2e8de6d1a66c6d7c8d91f442033d2a4948538026e86ecfb63e641f88ff2e4d",
    extension_dir="usr/share/postgresql/15/extension",
)
DEBIAN_SHARE = Path("/usr/share/postgresql")
CONTROL = "pgtap.control"


def wesley_copy() -> Path:
    """Wesley's own copy of the extension files: in this Python environment, or in the user's
    cache directory when the environment is not writable."""
    in_env = Path(sysconfig.get_path("data")) / "share" / "wesley" / "pgtap" / "extension"
    if has_pgtap(in_env) or _writable(in_env):
        return in_env
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "wesley" / "pgtap" / "extension"


def _writable(path: Path) -> bool:
    """Whether `path` exists writable or could be created."""
    for p in (path, *path.parents):
        if p.exists():
            return os.access(p, os.W_OK)
    return False


def has_pgtap(extension_dir: Path) -> bool:
    return (extension_dir / CONTROL).is_file() and any(extension_dir.glob("pgtap--*.sql"))


def find_source() -> Path | None:
    """A directory holding pgTAP's extension files, or None (see the module docstring)."""
    candidates: list[Path] = []
    if os.environ.get("WESLEY_PGTAP_DIR"):
        candidates.append(Path(os.environ["WESLEY_PGTAP_DIR"]))
    candidates.append(wesley_copy())
    embedded = embedded_bindir()
    if embedded is not None:  # the setup installs it there
        candidates.append(embedded.parent / "share" / "extension")
    debian = sorted(
        (d for d in DEBIAN_SHARE.glob("*/extension") if d.parent.name.isdigit()),
        key=lambda d: int(d.parent.name),
        reverse=True,
    )
    candidates.extend(debian)
    return next((d for d in candidates if has_pgtap(d)), None)


def pgtap_files(source: Path) -> list[Path]:
    return sorted(p for p in source.iterdir() if p.name.startswith("pgtap") and p.is_file())


def install_into(extension_dir: Path, source: Path) -> int:
    """Copy pgTAP's files from `source` into `extension_dir`; the number of files copied.
    Files are left readable by everyone: the server may run as another user."""
    extension_dir.mkdir(parents=True, exist_ok=True)
    files = pgtap_files(source)
    for path in files:
        target = extension_dir / path.name
        shutil.copyfile(path, target)
        target.chmod(0o644)
    return len(files)


def fetch(into: Path, package: DebPackage = PGTAP_DEB) -> int:
    """Download the pinned Debian package with `apt-get download`, check its SHA-256, and
    unpack its extension files into `into`."""
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise _fetch_error("apt-get and dpkg-deb are not available (not a Debian system)")
    with tempfile.TemporaryDirectory(prefix="wesley-pgtap-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # apt downloads as its own user when it can
        spec = f"{package.name}={package.version}"
        proc = _run(["apt-get", "download", "-q", spec], work)
        if proc.returncode != 0 and os.geteuid() == 0:
            # the package lists may be missing or old on a fresh machine
            _run(["apt-get", "update", "-q"], work)
            proc = _run(["apt-get", "download", "-q", spec], work)
        debs = list(work.glob("*.deb"))
        if proc.returncode != 0 or len(debs) != 1:
            raise _fetch_error(f"apt-get download {spec} failed: {proc.stderr.strip()[-300:]}")
        digest = hashlib.sha256(debs[0].read_bytes()).hexdigest()
        if digest != package.sha256:
            raise _fetch_error(
                f"{debs[0].name} has SHA-256 {digest}, not the pinned {package.sha256}"
            )
        unpacked = work / "unpacked"
        proc = _run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], work)
        source = unpacked / package.extension_dir
        if proc.returncode != 0 or not has_pgtap(source):
            raise _fetch_error(f"{debs[0].name} holds no pgTAP extension files")
        return install_into(into, source)


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def _fetch_error(why: str) -> WesleyError:
    return WesleyError(
        "PGTAP_MISSING",
        f"could not fetch pgTAP: {why}",
        "install pgTAP's extension files (pgtap.control, pgtap--*.sql) yourself and set "
        "WESLEY_PGTAP_DIR to their directory",
        exit_code=ExitCode.EXECUTION_FAILED,
    )


def ensure_for(sharedir: Path) -> str:
    """Make pgTAP available to the server whose share directory is `sharedir`: copy it there
    when that is writable, else into Wesley's own copy (clusters point the server at it).
    Fetches the pinned package when no copy is found. Returns what was done, in words."""
    target = sharedir / "extension"
    if has_pgtap(target):
        return f"pgTAP already in {target}"
    source = find_source()
    if source is None:
        fetch(wesley_copy())
        source = wesley_copy()
        how = f"fetched {PGTAP_DEB.name} {PGTAP_DEB.version} into {source}"
    else:
        how = f"found pgTAP in {source}"
    if os.access(target, os.W_OK):
        install_into(target, source)
        return f"{how}; installed into {target}"
    return f"{how}; {target} is not writable: clusters started by Wesley point the server there"


def main(argv: list[str] | None = None) -> int:
    """`python -m wesley.db.pgtap_files [--sharedir DIR]`: pgTAP for the embedded server
    (default) or the server whose share directory is DIR."""
    parser = argparse.ArgumentParser(prog="python -m wesley.db.pgtap_files")
    parser.add_argument("--sharedir", help="a server's share directory (default: the embedded)")
    args = parser.parse_args(argv)
    from wesley.db.cluster import sharedir_of

    if args.sharedir:
        sharedir = Path(args.sharedir)
    else:
        bindir = embedded_bindir()
        if bindir is None:
            print(
                "the embedded PostgreSQL is not installed (pip install 'wesley[embedded]')",
                file=sys.stderr,
            )
            return int(ExitCode.EXECUTION_FAILED)
        sharedir = sharedir_of(bindir)
    try:
        print(ensure_for(sharedir))
    except WesleyError as err:
        print(err.render(), file=sys.stderr)
        return err.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
