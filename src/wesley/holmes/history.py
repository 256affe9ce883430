"""`.wesley/history.json` and MORIARTY's forecast from it, as models (re-exported by
`wesley.holmes.models`). Apart from the HOLMES and WATSON reports so that a transform, which
appends a history point, builds none of those."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from wesley.evidence.scores import Readiness
from wesley.factories import new_dict, new_list


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class PointScores(_Model):
    scs: float | None = None
    mri: float | None = None
    tci: float | None = None


class HistoryPoint(_Model):
    kind: Literal["transform", "rehearse"]
    timestamp: str = Field(description="UTC, ISO 8601")
    ir_hash: str
    plan_hash: str | None = None
    scores: PointScores
    readiness: Readiness | None = Field(
        default=None, description="under the thresholds of the time"
    )
    rehearsal: Literal["PASS", "FAIL"] | None = Field(
        default=None, description="a rehearsal point's verdict"
    )
    counts: dict[str, int] = Field(default_factory=new_dict)


class History(_Model):
    """`.wesley/history.json`: one point per transform and per rehearsal that changed
    something, oldest first (the last 500 kept)."""

    version: Literal[1] = 1
    points: list[HistoryPoint] = Field(default_factory=new_list)


class Trend(_Model):
    score: Literal["scs", "mri", "tci"]
    points: int
    latest: float | None = None
    threshold: float
    met: bool
    trend: Literal["improving", "plateau", "regressing", "insufficient"]
    per_change: float | None = Field(default=None, description="score change per point")
    per_day: float | None = None
    changes_to_threshold: int | None = None
    days_to_threshold: float | None = None
    confidence: float
    notes: list[str] = Field(default_factory=new_list)


class Forecast(_Model):
    """MORIARTY's forecast from the history."""

    version: Literal[1] = 1
    status: Literal["OK", "INSUFFICIENT_DATA"]
    points: int
    first: str | None = None
    last: str | None = None
    window: int
    trends: list[Trend] = Field(default_factory=new_list)
    ready_now: bool = False
    plateau: bool = False
    regression: bool = False
    changes_to_ready: int | None = None
    days_to_ready: float | None = None
    confidence: float = 0.0
    summary: str
