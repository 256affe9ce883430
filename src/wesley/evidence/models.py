"""The evidence files of `.wesley/` (DESIGN §7) as models; their JSON Schemas are generated
from these and checked in under `wesley/schemas/`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from wesley.factories import new_list
from wesley.ir import IR


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class LineRange(_Model):
    file: str = Field(description="artifact path, as written by transform")
    lines: tuple[int, int] = Field(description="first and last line, 1-based, inclusive")


class UidEvidence(_Model):
    sql: list[LineRange] = Field(default_factory=new_list)
    ts: list[LineRange] = Field(default_factory=new_list)
    zod: list[LineRange] = Field(default_factory=new_list)
    tests: list[LineRange] = Field(default_factory=new_list)


Kind = Literal["sql", "tests", "ts", "zod"]


class EvidenceMapFile(_Model):
    """evidence-map.json as written (version 2): a kind's line ranges are one flat list of
    (file, first line, number of lines) triples, `file` an index into `files`; kinds without
    a range are left out; one uid per line, no indentation. Version 1 spelled each range
    `{"file": ..., "lines": [first, last]}`, indented: ~9x the size for the same facts
    (issue 13). Both are read."""

    version: Literal[2] = 2
    ir_hash: str
    files: list[str] = Field(description="artifact paths, as written by transform")
    uids: dict[str, dict[Kind, list[int]]] = Field(
        description="uid → kind → [file index, first line, number of lines, file index, ...]: "
        "triples, lines 1-based"
    )


class EvidenceMap(_Model):
    """The evidence map in memory (either file version reads into it)."""

    version: Literal[1] = 1
    ir_hash: str
    uids: dict[str, UidEvidence]

    @model_validator(mode="before")
    @classmethod
    def _from_file(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("version") != 2:
            return data
        files = data.get("files")
        uids = data.get("uids")
        if not isinstance(files, list) or not isinstance(uids, dict):
            return data  # the validation that follows says what is wrong
        out: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for uid, kinds in uids.items():
            out[uid] = mine = {}
            for kind, flat in kinds.items():
                if len(flat) % 3 or not all(isinstance(i, int) for i in flat[::3]):
                    raise ValueError(f"{uid} {kind}: not a list of (file, first, count) triples")
                try:
                    mine[kind] = [
                        {
                            "file": files[flat[k]],
                            "lines": (flat[k + 1], flat[k + 1] + flat[k + 2] - 1),
                        }
                        for k in range(0, len(flat), 3)
                    ]
                except IndexError:
                    raise ValueError(f"{uid} {kind}: a file index is not in files") from None
        return {"ir_hash": data.get("ir_hash"), "uids": out}


class ArtifactRecord(_Model):
    path: str
    target: str
    sha256: str
    bytes: int


class Bundle(_Model):
    """Every generated file and every evidence file, with its SHA-256."""

    version: Literal[1] = 1
    tool_version: str
    ir_hash: str
    artifacts: list[ArtifactRecord]
    files: dict[str, str] = Field(description="evidence file name → sha256")


class Snapshot(_Model):
    """The IR a later `plan` diffs against, whole: `.wesley/deployed.json` and the snapshot a
    deploy records in the database (neither has a schema text beside it to re-read).
    `.wesley/snapshot.json` was this too before version 2 (`SchemaSnapshot`); both read."""

    version: Literal[1] = 1
    ir_hash: str
    ir: IR


class SchemaSnapshot(_Model):
    """`.wesley/snapshot.json` as transform writes it (version 2): the schema a later `plan
    --from` diffs against, as its source, i.e. the SDL text, where it was read from (IR
    source positions name it) and the parse settings of wesley.toml, with the ir_hash of the
    IR they gave. ~1x the SDL, where version 1 (the IR itself, indented) was ~29x at 1,000
    tables (issue 13). Read back (`wesley.api.schema.snapshot_ir`) from the `ir.json` beside
    it when that holds the same ir_hash, else by parsing `sdl` again; a Wesley that derives
    another IR from it refuses the snapshot (SNAPSHOT_STALE) rather than plan from a
    different schema than the one recorded."""

    version: Literal[2] = 2
    tool_version: str = Field(description="the Wesley that wrote it")
    ir_hash: str = Field(description="the hash of the IR `sdl` gave")
    file: str = Field(description="the schema's location as shown in the IR's source positions")
    sdl: str = Field(description="the schema text, as read")
    naming: dict[str, Any] = Field(description="wesley.toml [naming], as parsed")
    scalars: dict[str, str] = Field(description="wesley.toml [scalars]")
