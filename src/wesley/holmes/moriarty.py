"""MORIARTY: `.wesley/history.json` (one point per transform and per rehearsal that changed
something) and a forecast of readiness from it.

Per score (SCS and TCI rise, MRI falls) over the last `WINDOW` points that have it: a
least-squares line against the point number (velocity per change) and against time (per
day). A score is *improving* when its slope moves toward its threshold by more than
`EPSILON` per change, *regressing* when it moves away or its last change did, a *plateau*
otherwise. Below its threshold and improving, the gap ÷ the velocity estimates the changes
(and days) left. Confidence = R² of the fit times how full the window is ((n-1)/(WINDOW-1)): two
points on a line fit perfectly but say little."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from wesley.errors import Diagnostic, WesleyError
from wesley.evidence.models import EvidenceMap
from wesley.evidence.scores import (
    EvidenceKinds,
    compute_scores,
    migration_risk,
    schema_coverage,
    test_confidence,
    thresholds_from,
)
from wesley.evidence.weights import weights_from
from wesley.files import write_atomic
from wesley.holmes.history import Forecast, History, HistoryPoint, PointScores, Trend
from wesley.ir import IR, ir_hash

if TYPE_CHECKING:  # a transform records its point without the plan and rehearsal models
    from wesley.plan.models import Plan
    from wesley.realm.models import Realm

HISTORY = "history.json"
MAX_POINTS = 500
WINDOW = 6
EPSILON = 0.005
MIN_SPAN_DAYS = 1 / 24
Score = Literal["scs", "mri", "tci"]
SCORES: tuple[Score, ...] = ("scs", "mri", "tci")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_history(path: Path) -> History:
    """The history at `path` (empty when absent); a file that is not a history is an error."""
    if not path.is_file():
        return History()
    try:
        return History.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        from wesley.holmes.bundle import evidence_error  # the evidence loader: not for a transform

        first = exc.errors()[0]
        raise evidence_error(
            "EVIDENCE_INVALID",
            f"{path} is not a Wesley history ({'.'.join(map(str, first['loc']))}: {first['msg']})",
            f"move it away: the next transform or rehearse starts a new one at {path}",
        ) from None


def _same(a: HistoryPoint, b: HistoryPoint) -> bool:
    return a.model_dump(exclude={"timestamp"}) == b.model_dump(exclude={"timestamp"})


def record(path: Path, point: HistoryPoint) -> Diagnostic | None:
    """Append `point` unless the last point of its kind says the same; keep the last
    MAX_POINTS. A history file that cannot be read is kept aside, never overwritten."""
    warning = None
    try:
        history = read_history(path)
    except WesleyError:  # a broken history must not stop transform or rehearse
        aside = path.with_name(f"{path.name}.invalid")
        path.replace(aside)
        history = History()
        warning = Diagnostic(
            "W_HISTORY_INVALID",
            f"{path} was not a Wesley history: kept as {aside}, a new history starts",
        )
    last = next((p for p in reversed(history.points) if p.kind == point.kind), None)
    if last is not None and _same(last, point):
        return warning
    points = [*history.points, point][-MAX_POINTS:]
    text = History(points=points).model_dump_json(indent=2) + "\n"
    write_atomic(path, text)
    return warning


def _fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares slope and R² (1 for a series that does not move at all)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0, 0.0
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (my + slope * (x - mx))) ** 2 for x, y in zip(xs, ys, strict=True))
    return slope, (1 - ss_res / ss_tot) if ss_tot > 0 else 1.0


def _days(stamps: list[str]) -> list[float] | None:
    try:
        times = [datetime.fromisoformat(s) for s in stamps]
    except ValueError:
        return None
    return [(t - times[0]).total_seconds() / 86400 for t in times]


def trend(history: History, score: Score, threshold: float) -> Trend:
    series = [
        (p.timestamp, v) for p in history.points if (v := getattr(p.scores, score)) is not None
    ]
    d = -1.0 if score == "mri" else 1.0  # MRI improves downward
    latest = series[-1][1] if series else None
    met = latest is not None and d * latest >= d * threshold
    if len(series) < 2:
        return Trend(
            score=score,
            points=len(series),
            latest=latest,
            threshold=threshold,
            met=met,
            trend="insufficient",
            confidence=0.0,
            notes=[f"{score.upper()}: {len(series)} point(s); a trend needs 2"],
        )
    win = series[-WINDOW:]
    ys = [v for _, v in win]
    slope, r2 = _fit([float(i) for i in range(len(ys))], ys)
    days = _days([t for t, _ in win])
    # a per-day rate from points minutes apart would be noise: an hour of history at least
    per_day = _fit(days, ys)[0] if days and days[-1] >= MIN_SPAN_DAYS else None
    better, last_step = d * slope, d * (ys[-1] - ys[-2])
    notes = []
    state: Literal["improving", "plateau", "regressing"]
    if last_step < -EPSILON or better < -EPSILON:
        state = "regressing"
        notes.append(f"{score.upper()} went from {ys[-2]:.2f} to {ys[-1]:.2f} in the last change")
    elif better > EPSILON:
        state = "improving"
    else:
        state = "plateau"
        if not met:
            notes.append(
                f"{score.upper()} has stayed near {ys[-1]:.2f} over {len(ys)} points, "
                f"short of {threshold:.2f}"
            )
    changes = None
    days_left = None
    if not met and state == "improving":
        gap = d * (threshold - ys[-1])
        changes = max(1, math.ceil(gap / better - 1e-9))
        if per_day is not None and d * per_day > 0:
            days_left = round(gap / (d * per_day), 2)
    confidence = round(max(0.0, r2) * min(1.0, (len(win) - 1) / (WINDOW - 1)), 2)
    return Trend(
        score=score,
        points=len(series),
        latest=latest,
        threshold=threshold,
        met=met,
        trend=state,
        per_change=round(slope, 4),
        per_day=None if per_day is None else round(per_day, 4),
        changes_to_threshold=changes,
        days_to_threshold=days_left,
        confidence=confidence,
        notes=notes,
    )


def forecast(history: History, thresholds: dict[str, float]) -> Forecast:
    points = history.points
    if len(points) < 2:
        return Forecast(
            status="INSUFFICIENT_DATA",
            points=len(points),
            window=WINDOW,
            summary=(
                f"MORIARTY needs at least 2 points in .wesley/history.json and has "
                f"{len(points)}: each transform and rehearse that changes something adds one"
            ),
        )
    trends = [trend(history, s, thresholds[s]) for s in SCORES]
    known = [t for t in trends if t.latest is not None]
    rehearsed = next((p for p in reversed(points) if p.kind == "rehearse"), None)
    # ready: every gate met under today's thresholds, and the last rehearsal passed
    ready_now = (
        rehearsed is not None
        and rehearsed.rehearsal == "PASS"
        and len(known) == len(SCORES)
        and all(t.met for t in known)
    )
    regressing = [t for t in trends if t.trend == "regressing"]
    stuck = [t for t in trends if not t.met and t.trend in ("plateau", "regressing")]
    pending = [t for t in trends if not t.met]
    changes = days = None
    if ready_now:
        confidence = min((t.confidence for t in known), default=0.0)
        summary = "ready now: every gate is met"
        if regressing:
            summary += ", but " + ", ".join(f"{t.score.upper()} regressed" for t in regressing)
    elif not pending:
        confidence = 0.0
        summary = (
            "the gates are met, but the last rehearsal did not pass: rehearse again"
            if rehearsed is not None
            else "the gates are met, but nothing was rehearsed yet: run wesley rehearse"
        )
    elif any(t.trend == "insufficient" for t in pending):
        confidence = 0.0
        missing = [t.score.upper() for t in trends if t.trend == "insufficient"]
        summary = "not enough points for " + ", ".join(missing) + ": rehearse again"
    elif stuck:
        confidence = min(t.confidence for t in stuck)
        summary = "not converging: " + "; ".join(
            f"{t.score.upper()} {t.trend} at {t.latest:.2f}, "
            f"{'above' if t.score == 'mri' else 'below'} {t.threshold:.2f}"
            for t in stuck
        )
    else:
        confidence = min(t.confidence for t in pending)
        changes = max(t.changes_to_threshold or 0 for t in pending)
        if all(t.days_to_threshold is not None for t in pending):
            days = max(t.days_to_threshold or 0.0 for t in pending)
        label = "high" if confidence >= 0.7 else "medium" if confidence >= 0.4 else "low"
        when = f"~{changes} change(s)" + (f" (~{days:.1f} days)" if days is not None else "")
        summary = f"{when} until every gate is met, {label} confidence ({confidence:.2f})"
    return Forecast(
        status="OK",
        points=len(points),
        first=points[0].timestamp,
        last=points[-1].timestamp,
        window=WINDOW,
        trends=trends,
        ready_now=ready_now,
        plateau=any(t.trend == "plateau" and not t.met for t in trends),
        regression=bool(regressing),
        changes_to_ready=changes,
        days_to_ready=days,
        confidence=confidence,
        summary=summary,
    )


def check_config(config: dict[str, Any]) -> None:
    """Fail on bad [weights]/[thresholds] before a command does its work, not after."""
    weights_from(config)
    thresholds_from(config)


def record_transform(
    bundle_dir: Path, ir: IR, evidence: EvidenceMap | EvidenceKinds, config: dict[str, Any]
) -> Diagnostic | None:
    """A transform's point: its SCS (MRI and TCI need a rehearsal) and what it generated."""
    scs = schema_coverage(ir, evidence, weights_from(config)).score
    point = HistoryPoint(
        kind="transform",
        timestamp=now(),
        ir_hash=ir_hash(ir),
        scores=PointScores(scs=scs),
        counts={
            "tables": len(ir.tables),
            "columns": sum(len(t.columns) for t in ir.tables),
            "enums": len(ir.enums),
        },
    )
    return record(bundle_dir / HISTORY, point)


def record_rehearsal(
    bundle_dir: Path, ir: IR, plan: Plan, realm: Realm, config: dict[str, Any]
) -> Diagnostic | None:
    """A rehearsal's point: all three scores (SCS from the last transform of this schema)
    and the readiness they give. A dry run executed nothing and adds no point."""
    if realm.verdict == "DRY_RUN":
        return None
    evidence: EvidenceMap | None = None
    path = bundle_dir / "evidence-map.json"
    if path.is_file():
        try:
            evidence = EvidenceMap.model_validate_json(path.read_bytes())
        except ValidationError:
            evidence = None
    if evidence is not None and evidence.ir_hash != ir_hash(ir):
        evidence = None
    thresholds, weights = thresholds_from(config), weights_from(config)
    mri, tci = migration_risk(plan).score, test_confidence(realm).score
    scs = None
    readiness = None
    if evidence is not None:
        scs = schema_coverage(ir, evidence, weights).score
        readiness = compute_scores(ir, evidence, plan, realm, thresholds, weights).readiness
    point = HistoryPoint(
        kind="rehearse",
        timestamp=now(),
        ir_hash=ir_hash(ir),
        plan_hash=plan.plan_hash,
        scores=PointScores(scs=scs, mri=mri, tci=tci),
        readiness=readiness,
        rehearsal=realm.verdict,
        counts={
            "steps": len(plan.steps),
            "risk_points": sum(s.risk for s in plan.steps),
            "tests_planned": realm.tests.planned,
            "tests_passed": realm.tests.passed,
            "tests_failed": realm.tests.failed,
        },
    )
    return record(bundle_dir / HISTORY, point)
