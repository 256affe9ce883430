"""Scores from evidence (DESIGN §7), never constants. Pure: the inputs are the IR, the
evidence map, the plan and the rehearsal record; every score comes with a breakdown saying
what earned or lost points. Each score is one `*_from` function over plain facts, so HOLMES
(which cites the facts) and WATSON (which re-reads them) compute with the same arithmetic.

- SCS, schema coverage: Σ weight of columns that have SQL, type and validation artifacts ÷ Σ
  weight. Weights come from `wesley.evidence.weights` (overrides, `@wes_weight`, else inferred
  as upstream does plus name rules; the largest that applies).
- MRI, migration risk: the plan's step risk points, capped at 100, ÷ 100.
- TCI, test confidence: what the *executed* tests (the last rehearsal's TAP) covered, weighted
  structure 0.20, constraints 0.45, migration rehearsal 0.25, indexes 0.10.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from wesley.errors import input_error
from wesley.evidence.models import EvidenceMap
from wesley.evidence.weights import DEFAULT_RULES, Weight, WeightRules, weigh
from wesley.factories import new_list
from wesley.ir import IR, Column, Table

if TYPE_CHECKING:  # only read here: a transform's SCS needs neither model built
    from wesley.plan.models import Plan
    from wesley.realm.models import Realm

Readiness = Literal["ELEMENTARY", "REQUIRES INVESTIGATION", "YOU SHALL NOT PASS"]
DEFAULT_THRESHOLDS = {"scs": 0.80, "mri": 0.40, "tci": 0.70}
TCI_WEIGHTS = {"structure": 0.20, "constraints": 0.45, "rehearsal": 0.25, "indexes": 0.10}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Score(_Model):
    score: float
    breakdown: dict[str, float]
    details: list[str] = Field(default_factory=new_list)


class Gate(_Model):
    value: float
    threshold: float
    passed: bool
    rule: str


class Scores(_Model):
    version: Literal[1] = 1
    scs: Score
    mri: Score
    tci: Score
    gates: dict[str, Gate]
    readiness: Readiness


def column_weight(table: Table, col: Column, rules: WeightRules = DEFAULT_RULES) -> int:
    return weigh(table, col, rules).value


def _round(x: float) -> float:
    return round(x, 4)


GROUPS = ("sql", "types", "validation", "tests")
SCS_GROUPS = ("sql", "types", "validation")  # what a column needs to count as covered


@dataclass(frozen=True)
class Coverage:
    """One scored column: its weight, why, and which evidence groups it has."""

    uid: str
    table: str
    column: str
    weight: Weight
    has: dict[str, bool]

    @property
    def covered(self) -> bool:
        return all(self.has[g] for g in SCS_GROUPS)


# uid → the evidence kinds it has lines of ("sql", "ts", "zod", "tests"): all coverage reads
# of an evidence map, which transform gives without building one
EvidenceKinds = Mapping[str, AbstractSet[str]]


def evidence_kinds(evidence: EvidenceMap) -> dict[str, frozenset[str]]:
    return {
        uid: frozenset(k for k in ("sql", "ts", "zod", "tests") if getattr(ev, k))
        for uid, ev in evidence.uids.items()
    }


def coverage(
    ir: IR, evidence: EvidenceMap | EvidenceKinds, rules: WeightRules = DEFAULT_RULES
) -> list[Coverage]:
    """Every column with its weight and the evidence groups the evidence map gives it."""
    kinds = evidence_kinds(evidence) if isinstance(evidence, EvidenceMap) else evidence
    none: frozenset[str] = frozenset()
    items = []
    for table in ir.tables:
        for col in table.columns:
            ev = kinds.get(col.uid, none)
            has = {
                "sql": "sql" in ev,
                "types": "ts" in ev,
                "validation": "zod" in ev,
                "tests": "tests" in ev,
            }
            items.append(Coverage(col.uid, table.name, col.name, weigh(table, col, rules), has))
    return items


def scs_from(items: list[Coverage]) -> Score:
    """SCS: Σ weight of covered columns ÷ Σ weight, with a breakdown per evidence group."""
    total = sum(i.weight.value for i in items)
    if total == 0:
        return Score(
            score=1.0, breakdown={g: 1.0 for g in GROUPS}, details=["no columns: nothing to cover"]
        )
    groups = {g: sum(i.weight.value for i in items if i.has[g]) for g in GROUPS}
    covered = sum(i.weight.value for i in items if i.covered)
    missing = [
        f"{i.uid} (weight {i.weight.value}) lacks "
        + ", ".join(g for g in SCS_GROUPS if not i.has[g])
        for i in items
        if not i.covered
    ]
    return Score(
        score=_round(covered / total),
        breakdown={g: _round(v / total) for g, v in groups.items()},
        details=missing[:20] or [f"all {total} weight points covered"],
    )


def schema_coverage(
    ir: IR, evidence: EvidenceMap | EvidenceKinds, rules: WeightRules = DEFAULT_RULES
) -> Score:
    return scs_from(coverage(ir, evidence, rules))


@dataclass(frozen=True)
class StepRisk:
    id: str
    phase: str
    risk: int
    why: str


def mri_from(steps: list[StepRisk]) -> Score:
    """MRI: the steps' risk points, capped at 100, ÷ 100; points per phase."""
    points = sum(s.risk for s in steps)
    top = sorted(steps, key=lambda s: -s.risk)[:5]
    by_phase: dict[str, float] = {}
    for s in steps:
        by_phase[s.phase] = by_phase.get(s.phase, 0) + s.risk
    return Score(
        score=_round(min(points, 100) / 100),
        breakdown={k: float(v) for k, v in by_phase.items()} | {"points": float(points)},
        details=[f"{s.id}: {s.risk} points ({s.why})" for s in top if s.risk],
    )


def migration_risk(plan: Plan) -> Score:
    return mri_from([StepRisk(s.id, s.phase, s.risk, s.why) for s in plan.steps])


Category = Literal["structure", "constraints", "indexes"]
_CATEGORIES: tuple[tuple[Category, re.Pattern[str]], ...] = (
    ("indexes", re.compile(r"^index \S+ exists$|^\S+_(idx|key) is unique$")),
    ("structure", re.compile(r"^table \S+ exists$|^\S+ exists$|^\S+ is (?!nullable$|NOT NULL$)")),
    ("constraints", re.compile(r".")),
)
_TAP = re.compile(r"^(not ok|ok) (\d+)(?: - )?(.*?)(?:\s*#\s*(SKIP|TODO)\b.*)?$")


@dataclass(frozen=True)
class TapResult:
    """One result line of the executed suite."""

    number: int
    ok: bool
    description: str
    skipped: bool

    @property
    def category(self) -> Category:
        return next(name for name, p in _CATEGORIES if p.search(self.description))


def tap_result(line: str) -> TapResult | None:
    """A TAP result line (`ok 3 - desc`, `not ok 4 - desc`, `ok 5 # SKIP why`), else None."""
    m = _TAP.match(line)
    if not m:
        return None
    directive = (m.group(4) or "").upper()
    return TapResult(int(m.group(2)), m.group(1) == "ok", m.group(3), directive == "SKIP")


def tci_from(results: list[TapResult], rehearsal_passed: bool) -> Score:
    """TCI: per category the share of executed (not skipped) assertions that passed, weighted
    structure 0.20, constraints 0.45, indexes 0.10, plus 0.25 for a passing rehearsal whose
    replan was empty."""
    counts = {k: [0, 0] for k in ("structure", "constraints", "indexes")}  # passed, total
    for r in results:
        if r.skipped:
            continue
        counts[r.category][1] += 1
        counts[r.category][0] += 1 if r.ok else 0
    parts = {k: (p / t if t else 1.0) for k, (p, t) in counts.items()}
    parts["rehearsal"] = 1.0 if rehearsal_passed else 0.0
    score = sum(TCI_WEIGHTS[k] * v for k, v in parts.items())
    details = [f"{k}: {p}/{t} assertions passed" for k, (p, t) in counts.items()]
    return Score(
        score=_round(score), breakdown={k: _round(v) for k, v in parts.items()}, details=details
    )


def tap_results(tap: str) -> list[TapResult]:
    return [r for r in (tap_result(line) for line in tap.splitlines()) if r is not None]


def rehearsal_passed(realm: Realm | None) -> bool:
    return realm is not None and realm.verdict == "PASS" and realm.replan_empty is True


def tci_of(results: list[TapResult] | None, rehearsed: bool) -> Score:
    """TCI of an executed suite; None (no suite ran) scores 0."""
    if results is None:
        return Score(
            score=0.0,
            breakdown={k: 0.0 for k in TCI_WEIGHTS},
            details=["no rehearsal with executed tests: run wesley rehearse"],
        )
    return tci_from(results, rehearsed)


def test_confidence(realm: Realm | None) -> Score:
    if realm is None or not realm.tests.tap:
        return tci_of(None, False)
    score = tci_from(tap_results(realm.tests.tap), rehearsal_passed(realm))
    details = [
        *score.details,
        f"rehearsal verdict {realm.verdict}, replan empty: {realm.replan_empty}",
    ]
    return score.model_copy(update={"details": details})


def gates(scs: float, mri: float, tci: float, thresholds: dict[str, float]) -> dict[str, Gate]:
    return {
        "scs": Gate(
            value=scs,
            threshold=thresholds["scs"],
            passed=scs >= thresholds["scs"],
            rule="SCS >= threshold",
        ),
        "mri": Gate(
            value=mri,
            threshold=thresholds["mri"],
            passed=mri <= thresholds["mri"],
            rule="MRI <= threshold",
        ),
        "tci": Gate(
            value=tci,
            threshold=thresholds["tci"],
            passed=tci >= thresholds["tci"],
            rule="TCI >= threshold",
        ),
    }


def readiness(gate_map: dict[str, Gate]) -> Readiness:
    failed = sum(1 for g in gate_map.values() if not g.passed)
    if failed == 0:
        return "ELEMENTARY"
    return "REQUIRES INVESTIGATION" if failed == 1 else "YOU SHALL NOT PASS"


def verdict(gate_map: dict[str, Gate], rehearsed: bool) -> Readiness:
    """Readiness from the gates; nothing is ready to ship without a passing rehearsal."""
    return readiness(gate_map) if rehearsed else "YOU SHALL NOT PASS"


def compute_scores(
    ir: IR,
    evidence: EvidenceMap,
    plan: Plan,
    realm: Realm | None,
    thresholds: dict[str, float],
    weights: WeightRules = DEFAULT_RULES,
) -> Scores:
    scs = schema_coverage(ir, evidence, weights)
    mri, tci = migration_risk(plan), test_confidence(realm)
    gate_map = gates(scs.score, mri.score, tci.score, thresholds)
    ready = verdict(gate_map, realm is not None and realm.verdict == "PASS")
    return Scores(scs=scs, mri=mri, tci=tci, gates=gate_map, readiness=ready)


def thresholds_from(config: dict[str, Any]) -> dict[str, float]:
    raw = config.get("thresholds", {}) if isinstance(config.get("thresholds"), dict) else {}
    out = dict(DEFAULT_THRESHOLDS)
    for key in out:
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise input_error(
                    "CONFIG_INVALID",
                    f"wesley.toml: [thresholds] {key} = {value!r} is not a number from 0 to 1",
                    f"[thresholds]\n{key} = {DEFAULT_THRESHOLDS[key]}",
                )
            out[key] = float(value)
    return out
