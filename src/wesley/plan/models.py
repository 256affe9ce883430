"""The Plan (DESIGN §5): phases of steps, each one SQL statement with its lock facts and a
guard that says whether it is already done. `schemas/plan.schema.json` is generated from it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from wesley.ir import canonical_json, sha256_hex
from wesley.plan.lockmodes import LockMode

Phase = Literal["expand", "backfill", "validate", "switch", "contract"]
PHASES: tuple[Phase, ...] = ("expand", "backfill", "validate", "switch", "contract")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LockEntry(_Model):
    relation: str
    mode: LockMode


class Blocks(_Model):
    reads: bool
    writes: bool


class Backfill(_Model):
    """A batched, idempotent backfill. With a single-column primary key the executor walks it
    as a keyset: `first_sql`, then `next_sql` with `%(after)s` = the largest key the previous
    batch returned, until a batch returns nothing (each batch is its own short transaction and
    skips rows locked by the application). Then the step's own `sql` sweeps rows still NULL
    (skipped ones) until it updates nothing. New rows already get the default, so both loops
    end under concurrent inserts."""

    batch_size: int
    key: str | None = None
    first_sql: str | None = None
    next_sql: str | None = None


class Step(_Model):
    id: str
    phase: Phase
    op: str
    table: str | None = None
    column: str | None = None
    sql: str
    transactional: bool = True
    locks: list[LockEntry] = Field(default_factory=list)
    rewrite: bool = False
    scan: bool = False
    blocks: Blocks
    risk: int = Field(description="risk points of this step (MRI sums them)")
    why: str
    guard: str = Field(description="SQL returning true when the step is already done")
    destructive: bool = False
    backfill: Backfill | None = None
    notes: list[str] = Field(default_factory=list)


class Refusal(_Model):
    """A destructive or ambiguous change, explained; planned only with --allow-destructive."""

    change: str
    table: str
    column: str | None = None
    risk: str


class Plan(_Model):
    version: Literal[1] = 1
    from_ir_hash: str | None
    to_ir_hash: str
    server_version: int
    steps: list[Step]
    destructive: list[Refusal] = Field(default_factory=list)
    allow_destructive: bool = False
    plan_hash: str = ""

    @property
    def empty(self) -> bool:
        return not self.steps and not self.destructive

    def by_phase(self) -> dict[Phase, list[Step]]:
        return {p: [s for s in self.steps if s.phase == p] for p in PHASES}

    def to_json_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def with_hash(plan: Plan) -> Plan:
    """`plan_hash`: SHA-256 of the canonical JSON of what will run (steps, server version,
    the target IR). It binds a certificate to exactly these statements. Where the old schema
    came from (SDL, snapshot or a live database) is left out: the same statements against the
    same starting point are the same plan."""
    body = plan.model_dump(mode="json", exclude={"plan_hash", "from_ir_hash"})
    return plan.model_copy(update={"plan_hash": sha256_hex(canonical_json(body))})
