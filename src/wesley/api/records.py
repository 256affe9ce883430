"""Where the last deploy (or adoption) is recorded in the project directory: the default old
schema of the next plan and rehearsal."""

from __future__ import annotations

from pathlib import Path

from wesley.evidence.models import Snapshot
from wesley.files import write_atomic
from wesley.ir import IR, ir_hash
from wesley.jsontext import dumps_pretty

BUNDLE_DIR = Path(".wesley")
DEPLOYED = BUNDLE_DIR / "deployed.json"


def snapshot_json(ir: IR) -> str:
    data = Snapshot(ir_hash=ir_hash(ir), ir=ir).model_dump(mode="json", by_alias=True)
    return dumps_pretty(data, ensure_ascii=True) + "\n"


def write_deployed(ir: IR) -> Path:
    write_atomic(DEPLOYED, snapshot_json(ir))
    return DEPLOYED
