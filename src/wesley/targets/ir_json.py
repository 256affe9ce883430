"""`ir` target: the IR itself as `ir.json`, for tools that want the model without GraphQL."""

from __future__ import annotations

import json

from wesley.ir import IR
from wesley.targets.base import Artifact


def ir_json(ir: IR) -> list[Artifact]:
    text = json.dumps(ir.to_json_data(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return [Artifact("ir.json", text, "ir")]
