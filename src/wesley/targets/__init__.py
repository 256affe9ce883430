"""Targets: pure functions IR → files. One module per target, registered in `TARGETS`."""

from __future__ import annotations

from wesley.targets.base import Artifact, Target
from wesley.targets.ir_json import ir_json
from wesley.targets.pgtap import pgtap
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls
from wesley.targets.rpc import rpc
from wesley.targets.typescript import typescript
from wesley.targets.zod import zod

TARGETS: dict[str, Target] = {
    "postgres": postgres,
    "rls": rls,
    "rpc": rpc,
    "typescript": typescript,
    "zod": zod,
    "pgtap": pgtap,
    "ir": ir_json,
}

# Targets named by the roadmap but not built yet; asking for one says so (exit 3).
PLANNED: tuple[str, ...] = ()

__all__ = ["PLANNED", "TARGETS", "Artifact", "Target"]
