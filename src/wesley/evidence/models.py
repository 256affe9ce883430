"""The evidence files of `.wesley/` (DESIGN §7) as models; their JSON Schemas are generated
from these and checked in under `wesley/schemas/`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from wesley.ir import IR


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LineRange(_Model):
    file: str = Field(description="artifact path, as written by transform")
    lines: tuple[int, int] = Field(description="first and last line, 1-based, inclusive")


class UidEvidence(_Model):
    sql: list[LineRange] = Field(default_factory=list)
    ts: list[LineRange] = Field(default_factory=list)
    zod: list[LineRange] = Field(default_factory=list)
    tests: list[LineRange] = Field(default_factory=list)


class EvidenceMap(_Model):
    version: Literal[1] = 1
    ir_hash: str
    uids: dict[str, UidEvidence]


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
    """The IR a later `plan` diffs against."""

    version: Literal[1] = 1
    ir_hash: str
    ir: IR
