"""Build the evidence files from the IR and the artifacts (pure), and map a generated line
back to the SDL."""

from __future__ import annotations

import json
from dataclasses import dataclass

from wesley import __version__
from wesley.evidence.models import (
    ArtifactRecord,
    Bundle,
    EvidenceMap,
    LineRange,
    Snapshot,
    UidEvidence,
)
from wesley.ir import IR, SourcePos, ir_hash, sha256_hex
from wesley.targets.base import Artifact


@dataclass(frozen=True)
class Placed:
    """An artifact with the path it is written to and the target that made it."""

    target: str
    path: str
    artifact: Artifact


def _dump(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def evidence_map(ir: IR, placed: list[Placed]) -> EvidenceMap:
    groups: dict[str, dict[str, list[LineRange]]] = {}
    for uid in _all_uids(ir):
        groups[uid] = {"sql": [], "ts": [], "zod": [], "tests": []}
    for p in placed:
        if p.artifact.kind not in ("sql", "ts", "zod", "tests"):
            continue
        for span in p.artifact.spans:
            bucket = groups.setdefault(span.uid, {"sql": [], "ts": [], "zod": [], "tests": []})
            bucket[p.artifact.kind].append(LineRange(file=p.path, lines=(span.start, span.end)))
    return EvidenceMap(
        ir_hash=ir_hash(ir),
        uids={uid: UidEvidence(**g) for uid, g in sorted(groups.items())},
    )


def _all_uids(ir: IR) -> list[str]:
    uids = [e.uid for e in ir.enums]
    for t in ir.tables:
        uids.append(t.uid)
        uids.extend(c.uid for c in t.columns)
    uids.extend(f.uid for f in ir.functions)
    return uids


def evidence_files(ir: IR, placed: list[Placed]) -> dict[str, str]:
    """The text of every file in `.wesley/`, bundle.json last (it hashes the others)."""
    digest = ir_hash(ir)
    files = {
        "ir.json": _dump(ir.to_json_data()),
        "snapshot.json": _dump(
            Snapshot(ir_hash=digest, ir=ir).model_dump(mode="json", by_alias=True)
        ),
        "evidence-map.json": _dump(evidence_map(ir, placed).model_dump(mode="json")),
    }
    bundle = Bundle(
        tool_version=__version__,
        ir_hash=digest,
        artifacts=[
            ArtifactRecord(
                path=p.path,
                target=p.target,
                sha256=sha256_hex(p.artifact.text),
                bytes=len(p.artifact.text.encode("utf-8")),
            )
            for p in placed
        ],
        files={name: sha256_hex(text) for name, text in sorted(files.items())},
    )
    files["bundle.json"] = _dump(bundle.model_dump(mode="json"))
    return files


def source_of(ir: IR, artifact: Artifact, line: int) -> tuple[str, SourcePos] | None:
    """The uid and SDL position behind `line` of a generated file: the innermost span that
    covers it (a column's line inside its table's block maps to the column)."""
    covering = [s for s in artifact.spans if s.start <= line <= s.end]
    if not covering:
        return None
    span = min(covering, key=lambda s: s.end - s.start)
    for enum in ir.enums:
        if enum.uid == span.uid:
            return span.uid, enum.source
    for table in ir.tables:
        if table.uid == span.uid:
            return span.uid, table.source
        for col in table.columns:
            if col.uid == span.uid:
                return span.uid, col.source
    for fn in ir.functions:
        if fn.uid == span.uid:
            return span.uid, fn.source
    return None
