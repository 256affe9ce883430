"""The reports of HOLMES, WATSON and MORIARTY and `.wesley/history.json`, as models; their
JSON Schemas (`holmes`, `watson`, `history`) are generated from these and checked in. MORIARTY's
(the history and the forecast) are defined in `wesley.holmes.history` and re-exported here."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from wesley.evidence.scores import Readiness, Scores
from wesley.factories import new_list

# MORIARTY's models live apart: a transform records its history point without the others
from wesley.holmes.history import Forecast as Forecast
from wesley.holmes.history import History as History
from wesley.holmes.history import HistoryPoint as HistoryPoint
from wesley.holmes.history import PointScores as PointScores
from wesley.holmes.history import Trend as Trend

CitationKind = Literal[
    "sql",  # a generated SQL line (schema.sql)
    "types",  # a TypeScript line (types.ts)
    "validation",  # a Zod line (zod.ts)
    "test",  # a pgTAP assertion (tests.sql)
    "tap",  # its executed result (realm.json, member tests.tap)
    "risk",  # a step's risk points (plan.json)
    "status",  # a step's status in the rehearsal (realm.json)
    "lock",  # a lock observed during a step (realm.json)
    "rehearsal",  # the rehearsal's verdict, replan and TAP plan (realm.json)
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Citation(_Model):
    """`file:line[-end]` (or `file#member:line` for a text inside a JSON file) with the
    SHA-256 of the cited bytes and what they say."""

    kind: CitationKind
    file: str
    line: int = Field(ge=1)
    end: int = Field(ge=1)
    member: str | None = Field(
        default=None, description="a text member of a JSON file (tests.tap): lines count in it"
    )
    sha256: str = Field(description="SHA-256 of the cited lines, line ends included")
    claims: list[str] = Field(description="texts the cited lines contain")

    def where(self) -> str:
        member = f"#{self.member}" if self.member else ""
        span = f"{self.line}" if self.end == self.line else f"{self.line}-{self.end}"
        return f"{self.file}{member}:{span}"


class BundleRef(_Model):
    """Which evidence a report is about."""

    ir_hash: str
    plan_hash: str | None = None
    realm_verdict: str | None = None
    server_version: int | None = None


class WeightsRef(_Model):
    source: str
    rules: dict[str, int]
    names: dict[str, int]
    overrides: dict[str, int]


class Assertion(_Model):
    """A pgTAP assertion (its line in tests.sql) and its executed result (its TAP line)."""

    number: int | None = Field(description="its TAP test number; None: it never ran")
    description: str
    category: Literal["structure", "constraints", "indexes"]
    ok: bool | None = None
    skipped: bool = False
    test: Citation | None = None
    result: Citation | None = None


class Element(_Model):
    """A scored column: its weight and why, and what proves it."""

    uid: str
    table: str
    column: str
    field: str
    weight: int
    weight_source: str
    reasons: list[str]
    evidence: dict[str, list[Citation]] = Field(
        description="sql, types, validation: the generated lines that prove the column"
    )
    assertions: list[Assertion] = Field(default_factory=new_list)
    has: dict[str, bool]
    covered: bool
    missing: list[str] = Field(default_factory=new_list)


class TableReport(_Model):
    table: str
    uid: str
    scs: float
    weight: int
    covered_weight: int
    mri_points: int
    steps: list[str]
    tci: dict[str, tuple[int, int]] = Field(description="category → (passed, executed)")
    assertions: list[Assertion] = Field(
        default_factory=new_list, description="assertions about the table itself"
    )


class StepReport(_Model):
    id: str
    phase: str
    op: str
    table: str | None = None
    column: str | None = None
    risk: int
    why: str
    rewrite: bool
    scan: bool
    predicted_locks: list[str]
    observed_locks: list[str] = Field(default_factory=new_list)
    status: str | None = None
    ms: int | None = None
    retries: int | None = None
    citations: list[Citation] = Field(default_factory=new_list)


class Investigation(_Model):
    """HOLMES's report (`.wesley/holmes.json`). Deterministic: the same evidence gives the
    same bytes, so its SHA-256 names the investigation in the certificate."""

    version: Literal[1] = 1
    tool_version: str
    bundle: BundleRef
    inputs: dict[str, str] = Field(description="every file read → its SHA-256")
    weights: WeightsRef = Field(description="the weight rules in effect")
    thresholds: dict[str, float]
    elements: list[Element]
    tables: list[TableReport]
    steps: list[StepReport]
    suite: list[Assertion] = Field(
        default_factory=new_list, description="executed results that no table or column claims"
    )
    rehearsal: list[Citation] = Field(default_factory=new_list)
    scores: Scores
    verdict: Readiness
    reasons: list[str]
    missing: list[str] = Field(default_factory=new_list)
    problems: list[str] = Field(
        default_factory=new_list, description="evidence that does not hold; any forces the verdict"
    )
    unused_overrides: list[str] = Field(default_factory=new_list)


class Rederived(_Model):
    claimed: float | str
    derived: float | str
    agrees: bool


class Examination(_Model):
    """WATSON's report (`.wesley/watson.json`): every citation re-opened, every score
    re-derived from what the citations say. Deterministic, like HOLMES's."""

    version: Literal[1] = 1
    tool_version: str
    report: str = Field(description="the HOLMES report examined")
    report_sha256: str
    bundle: BundleRef
    citations: int
    verified: int
    scores: dict[str, Rederived]
    mismatches: list[str]
    verdict: Literal["PASSED", "FAILED"]
