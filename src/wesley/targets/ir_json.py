"""`ir` target: the IR itself as `ir.json`, for tools that want the model without GraphQL."""

from __future__ import annotations

from wesley.ir import IR, ir_pretty_json
from wesley.targets.base import Artifact


def ir_json(ir: IR) -> list[Artifact]:
    return [Artifact("ir.json", ir_pretty_json(ir), "ir")]
