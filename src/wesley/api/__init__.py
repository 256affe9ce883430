"""Wesley as functions: what every command does, for scripts, CI jobs and test fixtures that
drive Wesley without a subprocess. Each returns a typed result and raises `WesleyError`
(`code`, `message`, `hint`, `exit_code`) on failure; the CLI only parses options, calls these
and prints. Functions work in the current directory, as the CLI does (`wesley.toml`,
`.wesley/`, `out/`). Attributes load on first use, so importing this is cheap."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from wesley.errors import WesleyError

if TYPE_CHECKING:
    from wesley.api.baseline import BaselineResult, baseline
    from wesley.api.up import UpResult, up

_WHERE = {
    "baseline": "wesley.api.baseline",
    "BaselineResult": "wesley.api.baseline",
    "up": "wesley.api.up",
    "UpResult": "wesley.api.up",
}

__all__ = ["BaselineResult", "UpResult", "WesleyError", "baseline", "up"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'wesley.api' has no attribute {name!r}")
