"""Build the evidence files from the IR and the artifacts (pure), and map a generated line
back to the SDL."""

from __future__ import annotations

from dataclasses import dataclass
from json.encoder import encode_basestring as _string  # C, ensure_ascii=False

from wesley import __version__
from wesley.evidence.models import (
    ArtifactRecord,
    Bundle,
    EvidenceMap,
    SchemaSnapshot,
)
from wesley.ir import IR, SourcePos, ir_hash, ir_pretty_json, sha256_hex
from wesley.jsontext import dumps_pretty
from wesley.targets.base import Artifact


@dataclass(frozen=True)
class Placed:
    """An artifact with the path it is written to and the target that made it."""

    target: str
    path: str
    artifact: Artifact


def _dump(data: object) -> str:
    return dumps_pretty(data) + "\n"


_KINDS = ("sql", "tests", "ts", "zod")  # sorted: the order the JSON lists them in
Groups = dict[str, dict[str, list[tuple[str, int, int]]]]


def _groups(ir: IR, placed: list[Placed]) -> Groups:
    """uid → evidence kind → (file, first line, last line), uids sorted."""
    groups: Groups = {uid: {k: [] for k in _KINDS} for uid in _all_uids(ir)}
    for p in placed:
        kind = p.artifact.kind
        if kind not in _KINDS:
            continue
        for span in p.artifact.spans:
            bucket = groups.get(span.uid)
            if bucket is None:
                bucket = groups[span.uid] = {k: [] for k in _KINDS}
            bucket[kind].append((p.path, span.start, span.end))
    return dict(sorted(groups.items()))


def evidence_map(ir: IR, placed: list[Placed]) -> EvidenceMap:
    # validated from the text by pydantic-core: ~3x faster than building the ~100k line
    # range models in Python at 1,000 tables
    return EvidenceMap.model_validate_json(_evidence_map_text(ir_hash(ir), _groups(ir, placed)))


def _evidence_map_text(digest: str, groups: Groups) -> str:
    """evidence-map.json, version 2 (`EvidenceMapFile`): keys sorted, one uid per line,
    written directly (the generic encoder is pure Python and took seconds at 1,000 tables)."""
    order = sorted({f for g in groups.values() for kind in _KINDS for f, _a, _b in g[kind]})
    index = {f: i for i, f in enumerate(order)}
    out = ['{"files":[', ",".join(_string(f) for f in order), '],"ir_hash":', _string(digest)]
    out.append(',"uids":{')
    lines = []
    for uid, g in groups.items():
        kinds = ",".join(
            f'"{kind}":[' + ",".join(f"{index[f]},{a},{b - a + 1}" for f, a, b in g[kind]) + "]"
            for kind in _KINDS
            if g[kind]
        )
        lines.append(f"\n{_string(uid)}:{{{kinds}}}")
    out.append(",".join(lines))
    out.append('\n},"version":2}\n')
    return "".join(out)


@dataclass(frozen=True)
class SchemaSource:
    """What the IR was parsed from: the schema text, its shown location and wesley.toml's
    parse settings (snapshot.json records them)."""

    sdl: str
    file: str
    naming: dict[str, object]
    scalars: dict[str, str]


def _snapshot_text(digest: str, source: SchemaSource) -> str:
    """snapshot.json, version 2 (`SchemaSnapshot`): the schema's source with the ir_hash it
    gives, indented and sorted like every evidence file (the SDL is one JSON string)."""
    return _dump(
        SchemaSnapshot(
            tool_version=__version__,
            ir_hash=digest,
            file=source.file,
            sdl=source.sdl,
            naming=source.naming,
            scalars=source.scalars,
        ).model_dump(mode="json")
    )


def _all_uids(ir: IR) -> list[str]:
    uids = [e.uid for e in ir.enums]
    for t in ir.tables:
        uids.append(t.uid)
        uids.extend(c.uid for c in t.columns)
    uids.extend(f.uid for f in ir.functions)
    return uids


@dataclass(frozen=True)
class EvidenceFiles:
    files: dict[str, str]  # name in `.wesley/` → text, bundle.json last (it hashes the others)
    kinds: dict[str, frozenset[str]]  # uid → the evidence kinds the map gives it (for SCS)


def evidence_files(ir: IR, placed: list[Placed], source: SchemaSource) -> EvidenceFiles:
    """The text of every file in `.wesley/`, and what the evidence map says of each uid
    (scoring it needs no re-read of the map's text)."""
    digest = ir_hash(ir)
    groups = _groups(ir, placed)
    files = {
        "ir.json": ir_pretty_json(ir),
        "snapshot.json": _snapshot_text(digest, source),
        "evidence-map.json": _evidence_map_text(digest, groups),
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
    kinds = {uid: frozenset(k for k in _KINDS if g[k]) for uid, g in groups.items()}
    return EvidenceFiles(files, kinds)


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
