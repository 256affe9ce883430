"""Scores from evidence (DESIGN §7), never constants. Pure: the inputs are the IR, the
evidence map, the plan and the rehearsal record; every score comes with a breakdown saying
what earned or lost points.

- SCS, schema coverage: Σ weight of columns that have SQL, type and validation artifacts ÷ Σ
  weight. A column's weight is its `@wes_weight`, else inferred as upstream does (critical
  10, PK 10, sensitive 9, FK 8, unique 8, pii 8, indexed 5, other 3; the largest that applies).
- MRI, migration risk: the plan's step risk points, capped at 100, ÷ 100.
- TCI, test confidence: what the *executed* tests (the last rehearsal's TAP) covered, weighted
  structure 0.20, constraints 0.45, migration rehearsal 0.25, indexes 0.10.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from wesley.errors import input_error
from wesley.evidence.models import EvidenceMap
from wesley.ir import IR, Column, Table
from wesley.plan.models import Plan
from wesley.realm.models import Realm

Readiness = Literal["ELEMENTARY", "REQUIRES INVESTIGATION", "YOU SHALL NOT PASS"]
DEFAULT_THRESHOLDS = {"scs": 0.80, "mri": 0.40, "tci": 0.70}
TCI_WEIGHTS = {"structure": 0.20, "constraints": 0.45, "rehearsal": 0.25, "indexes": 0.10}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Score(_Model):
    score: float
    breakdown: dict[str, float]
    details: list[str] = Field(default_factory=list)


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


def column_weight(table: Table, col: Column) -> int:
    if col.weight is not None:
        return col.weight
    fk_cols = {c for fk in table.foreign_keys for c in fk.columns}
    indexed = {c for ix in table.indexes for c in ix.columns}
    candidates = [3]
    if "critical" in col.classification:
        candidates.append(10)
    if col.name in table.primary_key:
        candidates.append(10)
    if "sensitive" in col.classification:
        candidates.append(9)
    if col.name in fk_cols:
        candidates.append(8)
    if col.unique:
        candidates.append(8)
    if "pii" in col.classification:
        candidates.append(8)
    if col.name in indexed:
        candidates.append(5)
    return max(candidates)


def _round(x: float) -> float:
    return round(x, 4)


def schema_coverage(ir: IR, evidence: EvidenceMap) -> Score:
    total = 0
    groups = {"sql": 0, "types": 0, "validation": 0, "tests": 0}
    covered = 0
    missing: list[str] = []
    for table in ir.tables:
        for col in table.columns:
            w = column_weight(table, col)
            total += w
            ev = evidence.uids.get(col.uid)
            has = {
                "sql": bool(ev and ev.sql),
                "types": bool(ev and ev.ts),
                "validation": bool(ev and ev.zod),
                "tests": bool(ev and ev.tests),
            }
            for g, ok in has.items():
                groups[g] += w if ok else 0
            if has["sql"] and has["types"] and has["validation"]:
                covered += w
            else:
                lacking = [g for g in ("sql", "types", "validation") if not has[g]]
                missing.append(f"{col.uid} (weight {w}) lacks {', '.join(lacking)}")
    if total == 0:
        return Score(
            score=1.0, breakdown={g: 1.0 for g in groups}, details=["no columns: nothing to cover"]
        )
    return Score(
        score=_round(covered / total),
        breakdown={g: _round(v / total) for g, v in groups.items()},
        details=missing[:20] or [f"all {total} weight points covered"],
    )


def migration_risk(plan: Plan) -> Score:
    points = sum(s.risk for s in plan.steps)
    top = sorted(plan.steps, key=lambda s: -s.risk)[:5]
    by_phase: dict[str, float] = {}
    for s in plan.steps:
        by_phase[s.phase] = by_phase.get(s.phase, 0) + s.risk
    return Score(
        score=_round(min(points, 100) / 100),
        breakdown={k: float(v) for k, v in by_phase.items()} | {"points": float(points)},
        details=[f"{s.id}: {s.risk} points ({s.why})" for s in top if s.risk],
    )


_CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("indexes", re.compile(r"^index \S+ exists$|^\S+_(idx|key) is unique$")),
    ("structure", re.compile(r"^table \S+ exists$|^\S+ exists$|^\S+ is (?!nullable$|NOT NULL$)")),
    ("constraints", re.compile(r".")),
)
_TAP = re.compile(r"^(not ok|ok) \d+(?: - )?(.*?)(?:\s*#\s*(SKIP|TODO)\b.*)?$")


def test_confidence(realm: Realm | None) -> Score:
    if realm is None or not realm.tests.tap:
        return Score(
            score=0.0,
            breakdown={k: 0.0 for k in TCI_WEIGHTS},
            details=["no rehearsal with executed tests: run wesley rehearse"],
        )
    counts = {k: [0, 0] for k in ("structure", "constraints", "indexes")}  # passed, total
    for line in realm.tests.tap.splitlines():
        m = _TAP.match(line)
        if not m or m.group(3) == "SKIP":
            continue
        desc = m.group(2)
        cat = next(name for name, pattern in _CATEGORIES if pattern.search(desc))
        counts[cat][1] += 1
        counts[cat][0] += 1 if m.group(1) == "ok" else 0
    parts = {k: (p / t if t else 1.0) for k, (p, t) in counts.items()}
    parts["rehearsal"] = 1.0 if realm.verdict == "PASS" and realm.replan_empty else 0.0
    score = sum(TCI_WEIGHTS[k] * v for k, v in parts.items())
    details = [f"{k}: {p}/{t} assertions passed" for k, (p, t) in counts.items()]
    details.append(f"rehearsal verdict {realm.verdict}, replan empty: {realm.replan_empty}")
    return Score(
        score=_round(score), breakdown={k: _round(v) for k, v in parts.items()}, details=details
    )


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


def compute_scores(
    ir: IR, evidence: EvidenceMap, plan: Plan, realm: Realm | None, thresholds: dict[str, float]
) -> Scores:
    scs, mri, tci = schema_coverage(ir, evidence), migration_risk(plan), test_confidence(realm)
    gate_map = gates(scs.score, mri.score, tci.score, thresholds)
    ready = readiness(gate_map)
    if realm is None or realm.verdict != "PASS":
        ready = "YOU SHALL NOT PASS"  # nothing is ready to ship without a passing rehearsal
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
