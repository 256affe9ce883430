"""What the executor records of each step it runs (also the steps of realm.json): the models
belong with the executor that writes them, so `db/` needs nothing from `realm/`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from wesley.factories import new_list
from wesley.plan.models import LockEntry


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepRecord(_Model):
    id: str
    phase: str
    op: str
    status: Literal["applied", "skipped", "failed", "pending"]
    started: str | None = None
    ms: int = 0
    retries: int = 0
    rows: int | None = None
    rows_total: int | None = Field(default=None, description="backfill: rows to fill, estimated")
    rows_per_s: float | None = Field(default=None, description="backfill: rows filled per second")
    batch_ms_max: int | None = Field(
        default=None, description="backfill: the longest batch, the longest a write waited on it"
    )
    predicted_locks: list[LockEntry] = Field(default_factory=new_list)
    observed_locks: list[LockEntry] = Field(default_factory=new_list)
    rewrite: bool = False
    predicted_rewrite: bool = False
    error: str | None = None
