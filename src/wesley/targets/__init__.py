"""Targets: pure functions IR → files. One module per target, registered in `TARGETS`."""

from __future__ import annotations

from wesley.targets.base import Artifact, Target
from wesley.targets.ir_json import ir_json

TARGETS: dict[str, Target] = {
    "ir": ir_json,
}

# Named by DESIGN §4 and coming in the transform issue; asking for one says so (exit 3).
PLANNED: tuple[str, ...] = ("postgres", "rls", "typescript", "zod", "pgtap")

__all__ = ["PLANNED", "TARGETS", "Artifact", "Target"]
