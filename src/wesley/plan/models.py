"""The Plan (DESIGN §5): phases of steps, each one SQL statement with its lock facts and a
guard that says whether it is already done. `schemas/plan.schema.json` is generated from it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from wesley.factories import new_list
from wesley.ir import canonical_json, sha256_hex
from wesley.plan.lockmodes import LockMode

Phase = Literal["expand", "backfill", "validate", "switch", "contract", "abort"]
# the phases a migration runs through, in order; `abort` steps are kept apart (Plan.abort)
PHASES: tuple[Phase, ...] = ("expand", "backfill", "validate", "switch", "contract")
# what `wesley deploy` runs of a two-stage plan; `deploy --complete` runs the contract
START_PHASES: tuple[Phase, ...] = ("expand", "backfill", "validate", "switch")
Stage = Literal["all", "start", "complete", "abort"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LockEntry(_Model):
    relation: str
    mode: LockMode


class Blocks(_Model):
    reads: bool
    writes: bool


class Backfill(_Model):
    """A batched, idempotent backfill. With a single-column primary key the executor walks the
    key as a keyset: `first_bound_sql`, then `next_bound_sql` with `%(after)s` = the previous
    batch's last key, return the first and last key of the next `batch_size` keys (an index
    range scan that never reads the column being filled), and `batch_sql` fills the NULLs
    between them (`%(lo)s`, `%(hi)s`: an index range scan again), skipping rows the
    application holds locked. Each batch is its own short transaction and costs the same at
    any table size. The walk ends when the bound query finds no key; then the step's own `sql`
    sweeps rows still NULL (skipped ones) until it updates nothing. New rows already get the
    default, so both loops end under concurrent inserts. `estimate_sql` says from the catalog
    about how many rows there are to fill (progress and ETA)."""

    batch_size: int
    key: str | None = None
    first_bound_sql: str | None = None
    next_bound_sql: str | None = None
    batch_sql: str | None = None
    estimate_sql: str | None = None


class Undo(_Model):
    """What the executor takes back when the step fails for a reason other than a lock
    timeout, so that a failed run leaves no constraint behind that rejects the application's
    writes (a NOT VALID `CHECK (c IS NOT NULL)` whose VALIDATE found a NULL). `reopen`: the
    steps `--resume` must run again."""

    sql: str
    reopen: list[str] = Field(default_factory=new_list)
    why: str
    hint: str | None = Field(
        default=None, description="what to fix before --resume (default: the NULLs written)"
    )


class Step(_Model):
    id: str
    phase: Phase
    op: str
    table: str | None = None
    column: str | None = None
    sql: str
    transactional: bool = True
    locks: list[LockEntry] = Field(default_factory=new_list)
    rewrite: bool = False
    scan: bool = False
    blocks: Blocks
    risk: int = Field(description="risk points of this step (MRI sums them)")
    why: str
    guard: str = Field(description="SQL returning true when the step is already done")
    destructive: bool = False
    backfill: Backfill | None = None
    undo: Undo | None = None
    notes: list[str] = Field(default_factory=new_list)


class Refusal(_Model):
    """A destructive or ambiguous change, explained; planned only with --allow-destructive.
    `blocking`: it cannot be planned at all, not even with --allow-destructive, until the data
    changes (rows that are NULL, rows holding an enum value being removed)."""

    change: str
    table: str
    column: str | None = None
    risk: str
    blocking: bool = False


class BehaviourChange(_Model):
    """A step that changes what the application sees without any error to warn it (row-level
    security switched on or off on a table that has rows): a risk of its own, named in
    `--explain`, the MRI, SHIPME.md and by `deploy`."""

    kind: Literal["enable_rls", "disable_rls"]
    table: str
    message: str
    force: bool = Field(default=False, description="FORCE: the table's owner is affected too")


class ViewColumn(_Model):
    name: str = Field(description="the column's name in the new schema")
    source: str = Field(description="the physical column in public until --complete")


class VersionView(_Model):
    name: str = Field(description="the view in the version schema: the table's new name")
    table: str = Field(description="the physical table in public until --complete")
    columns: list[ViewColumn]


class ShadowColumn(_Model):
    table: str
    column: str
    shadow: str = Field(description="the new-type column, until --complete swaps it in")
    from_type: str
    to_type: str
    up: str = Field(description="SQL: the new value from the old column")
    down: str = Field(description="SQL: the old value from the new column")


class Compat(_Model):
    """Two schema versions live at once (docs/expand-contract.md). The old application keeps
    `old_search_path` (what it uses today) and works until `deploy --complete`; the new one
    connects with `new_search_path` once `deploy` has run expand → switch, and keeps it: after
    --complete the version schema is gone and the same names resolve to public."""

    version_schema: str
    old_search_path: str
    new_search_path: str
    views: list[VersionView] = Field(default_factory=new_list)
    shadows: list[ShadowColumn] = Field(default_factory=new_list)
    contract_begun: str = Field(
        default="SELECT false",
        description="SQL: true once --complete changed a name the earlier steps use; they "
        "were all done then, and are skipped",
    )


class Plan(_Model):
    version: Literal[1] = 1
    from_ir_hash: str | None
    to_ir_hash: str
    server_version: int
    steps: list[Step]
    destructive: list[Refusal] = Field(default_factory=new_list)
    behaviour_changes: list[BehaviourChange] = Field(default_factory=new_list)
    allow_destructive: bool = False
    two_stage: bool = Field(
        default=False,
        description="deploy runs expand → switch and stops; deploy --complete runs the "
        "contract once the old application version is retired",
    )
    compat: Compat | None = None
    abort: list[Step] = Field(
        default_factory=new_list,
        description="what deploy --abort runs to roll an in-flight expand back",
    )
    notes: list[str] = Field(default_factory=new_list)
    plan_hash: str = ""

    @property
    def empty(self) -> bool:
        return not self.steps and not self.destructive

    def stage_steps(self, stage: Stage) -> list[Step]:
        """The steps one stage runs: `start` is expand → switch of a two-stage plan (all of a
        one-stage plan), `complete` its contract, `abort` the roll-back."""
        if stage == "abort":
            return list(self.abort)
        if stage == "all" or not self.two_stage:
            return list(self.steps) if stage != "complete" else []
        if stage == "start":
            return [s for s in self.steps if s.phase in START_PHASES]
        return [s for s in self.steps if s.phase == "contract"]

    @property
    def blocked(self) -> list[Refusal]:
        """Refusals no flag overrides: the plan cannot reach the new schema."""
        return [r for r in self.destructive if r.blocking]

    @property
    def refused(self) -> bool:
        """Whether running this plan would leave out changes: blocked ones, or destructive
        ones without --allow-destructive."""
        return bool(self.blocked) or (bool(self.destructive) and not self.allow_destructive)

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
