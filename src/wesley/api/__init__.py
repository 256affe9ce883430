"""Wesley as functions: what every command does, for scripts, CI jobs and test fixtures that
drive Wesley without a subprocess. Each returns a typed result and raises `WesleyError`
(`code`, `message`, `hint`, `exit_code`; `result` holds what a failed call produced, e.g. a
FAIL rehearsal's realm) on failure; the CLI only parses options, calls these and prints.
Functions work in the current directory, as the CLI does (`wesley.toml`, `.wesley/`, `out/`).
Attributes load on first use, so importing this is cheap.

    import wesley.api as wesley
    wesley.transform("schema.graphql"); wesley.plan(); wesley.rehearse(seed_rows=100)
    wesley.cert.create("prod"); wesley.cert.sign("holmes", "keys/holmes"); wesley.cert.verify()
    wesley.deploy(dsn, "prod"); wesley.baseline(dsn); wesley.up(dsn); wesley.blade()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from wesley.errors import WesleyError

if TYPE_CHECKING:
    from wesley.api import cert as cert
    from wesley.api._baseline import BaselineResult as BaselineResult
    from wesley.api._baseline import baseline as baseline
    from wesley.api._blade import BladeResult as BladeResult
    from wesley.api._blade import blade as blade
    from wesley.api._check import CheckResult as CheckResult
    from wesley.api._check import check as check
    from wesley.api._deploy import DeployResult as DeployResult
    from wesley.api._deploy import deploy as deploy
    from wesley.api._drift import DriftResult as DriftResult
    from wesley.api._drift import drift as drift
    from wesley.api._introspect import IntrospectResult as IntrospectResult
    from wesley.api._introspect import introspect as introspect
    from wesley.api._plan import PlanResult as PlanResult
    from wesley.api._plan import plan as plan
    from wesley.api._rehearse import RehearseResult as RehearseResult
    from wesley.api._rehearse import rehearse as rehearse
    from wesley.api._transform import TransformResult as TransformResult
    from wesley.api._transform import transform as transform
    from wesley.api._up import UpResult as UpResult
    from wesley.api._up import up as up
    from wesley.api._watch import Round as Round
    from wesley.api._watch import watch as watch

_WHERE = {
    "baseline": "wesley.api._baseline",
    "BaselineResult": "wesley.api._baseline",
    "blade": "wesley.api._blade",
    "BladeResult": "wesley.api._blade",
    "check": "wesley.api._check",
    "CheckResult": "wesley.api._check",
    "deploy": "wesley.api._deploy",
    "drift": "wesley.api._drift",
    "DriftResult": "wesley.api._drift",
    "DeployResult": "wesley.api._deploy",
    "introspect": "wesley.api._introspect",
    "IntrospectResult": "wesley.api._introspect",
    "plan": "wesley.api._plan",
    "PlanResult": "wesley.api._plan",
    "rehearse": "wesley.api._rehearse",
    "RehearseResult": "wesley.api._rehearse",
    "transform": "wesley.api._transform",
    "TransformResult": "wesley.api._transform",
    "up": "wesley.api._up",
    "UpResult": "wesley.api._up",
    "watch": "wesley.api._watch",
    "Round": "wesley.api._watch",
}

__all__ = [
    "BaselineResult",
    "BladeResult",
    "CheckResult",
    "DeployResult",
    "DriftResult",
    "IntrospectResult",
    "PlanResult",
    "RehearseResult",
    "Round",
    "TransformResult",
    "UpResult",
    "WesleyError",
    "baseline",
    "blade",
    "cert",
    "check",
    "deploy",
    "drift",
    "introspect",
    "plan",
    "rehearse",
    "transform",
    "up",
    "watch",
]


def __getattr__(name: str) -> Any:
    if name == "cert":
        return importlib.import_module("wesley.api.cert")
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'wesley.api' has no attribute {name!r}")
