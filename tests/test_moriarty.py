"""MORIARTY: `.wesley/history.json` and forecasts on synthetic histories (improving, plateau,
regressing, ready, too short), through the library and `wesley holmes predict`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from tests.lifecycle import ok, wes
from wesley.evidence.scores import DEFAULT_THRESHOLDS
from wesley.holmes.models import History, HistoryPoint, PointScores
from wesley.holmes.moriarty import MAX_POINTS, forecast, read_history, record
from wesley.schemas import load

START = datetime(2026, 1, 1, tzinfo=UTC)


def _history(*series: tuple[float, float, float], days: float = 1.0) -> History:
    """Rehearsal points (scs, mri, tci), `days` apart; readiness as the gates give it."""
    points = []
    for i, (scs, mri, tci) in enumerate(series):
        met = scs >= 0.8 and mri <= 0.4 and tci >= 0.7
        points.append(
            HistoryPoint(
                kind="rehearse",
                timestamp=(START + timedelta(days=i * days)).isoformat(),
                ir_hash=f"{i:064x}",
                scores=PointScores(scs=scs, mri=mri, tci=tci),
                readiness="ELEMENTARY" if met else "REQUIRES INVESTIGATION",
                rehearsal="PASS",
            )
        )
    return History(points=points)


def _trend(h: History, score: str) -> dict[str, object]:
    fc = forecast(h, DEFAULT_THRESHOLDS)
    return next(t.model_dump() for t in fc.trends if t.score == score)


def test_improving_tci_reaches_its_gate_in_two_changes() -> None:
    h = _history((1.0, 0.1, 0.3), (1.0, 0.1, 0.4), (1.0, 0.1, 0.5))
    tci = _trend(h, "tci")
    assert tci["trend"] == "improving" and not tci["met"]
    assert tci["per_change"] == pytest.approx(0.1)
    assert tci["per_day"] == pytest.approx(0.1)
    assert tci["changes_to_threshold"] == 2  # 0.5 → 0.7 at 0.1 per change
    assert tci["days_to_threshold"] == pytest.approx(2.0)
    assert tci["confidence"] == 0.4  # a perfect line, but only 3 of 6 points
    fc = forecast(h, DEFAULT_THRESHOLDS)
    assert fc.changes_to_ready == 2 and fc.days_to_ready == pytest.approx(2.0)
    assert (
        fc.summary == "~2 change(s) (~2.0 days) until every gate is met, medium confidence (0.40)"
    )
    assert not fc.ready_now and not fc.plateau and not fc.regression


def test_days_follow_the_timestamps() -> None:
    h = _history((1.0, 0.1, 0.3), (1.0, 0.1, 0.4), (1.0, 0.1, 0.5), days=0.5)
    tci = _trend(h, "tci")
    assert tci["per_day"] == pytest.approx(0.2) and tci["days_to_threshold"] == pytest.approx(1.0)
    assert tci["changes_to_threshold"] == 2


def test_mri_improves_downward() -> None:
    h = _history((1.0, 0.7, 0.9), (1.0, 0.6, 0.9), (1.0, 0.5, 0.9))
    mri = _trend(h, "mri")
    assert mri["trend"] == "improving" and mri["changes_to_threshold"] == 1


def test_plateau_below_the_gate() -> None:
    h = _history(*[(1.0, 0.1, 0.5)] * 4)
    tci = _trend(h, "tci")
    assert tci["trend"] == "plateau" and tci["changes_to_threshold"] is None
    assert tci["confidence"] == 0.6  # flat for sure, 4 of 6 points
    fc = forecast(h, DEFAULT_THRESHOLDS)
    assert fc.plateau and not fc.regression and fc.changes_to_ready is None
    assert fc.summary == "not converging: TCI plateau at 0.50, below 0.70"
    assert "TCI has stayed near 0.50 over 4 points, short of 0.70" in tci["notes"]  # type: ignore[operator]


def test_regression_is_detected_even_above_the_gate() -> None:
    h = _history((1.0, 0.1, 1.0), (1.0, 0.1, 1.0), (1.0, 0.1, 0.9))
    tci = _trend(h, "tci")
    assert tci["trend"] == "regressing" and tci["met"]
    fc = forecast(h, DEFAULT_THRESHOLDS)
    assert fc.ready_now and fc.regression
    assert fc.summary == "ready now: every gate is met, but TCI regressed"


def test_regressing_past_the_gate_does_not_converge() -> None:
    h = _history((1.0, 0.1, 0.9), (1.0, 0.3, 0.9), (1.0, 0.5, 0.9))
    fc = forecast(h, DEFAULT_THRESHOLDS)
    assert fc.regression and not fc.ready_now
    assert fc.summary == "not converging: MRI regressing at 0.50, above 0.40"


def test_noise_lowers_confidence() -> None:
    clean = _history(*[(1.0, 0.1, 0.2 + 0.05 * i) for i in range(6)])
    noisy = _history(*[(1.0, 0.1, 0.2 + 0.05 * i + (0.04 if i % 2 else -0.04)) for i in range(6)])
    assert _trend(clean, "tci")["confidence"] == 1.0
    c = _trend(noisy, "tci")["confidence"]
    assert isinstance(c, float) and 0.5 < c < 1.0
    assert _trend(noisy, "tci")["trend"] == "improving"


def test_transform_points_carry_scs_only() -> None:
    h = _history((1.0, 0.1, 0.3), (1.0, 0.1, 0.5))
    h.points.insert(
        1,
        HistoryPoint(
            kind="transform",
            timestamp=START.isoformat(),
            ir_hash="f" * 64,
            scores=PointScores(scs=0.5),
        ),
    )
    assert _trend(h, "scs")["points"] == 3 and _trend(h, "tci")["points"] == 2


def test_a_failed_last_rehearsal_is_not_ready() -> None:
    h = _history((1.0, 0.1, 1.0), (1.0, 0.1, 1.0))
    h.points[-1] = h.points[-1].model_copy(update={"rehearsal": "FAIL"})
    fc = forecast(h, DEFAULT_THRESHOLDS)
    assert not fc.ready_now
    assert fc.summary == "the gates are met, but the last rehearsal did not pass: rehearse again"


def test_fewer_than_two_points_says_so() -> None:
    for h in (History(), _history((1.0, 0.1, 1.0))):
        fc = forecast(h, DEFAULT_THRESHOLDS)
        assert fc.status == "INSUFFICIENT_DATA" and fc.trends == []
        assert "needs at least 2 points" in fc.summary


def test_record_appends_only_changes_and_keeps_the_last_points(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    point = _history((1.0, 0.1, 0.5)).points[0]
    assert record(path, point) is None
    record(path, point.model_copy(update={"timestamp": "2026-02-01T00:00:00+00:00"}))
    assert len(read_history(path).points) == 1  # the same point again: not a change
    for i in range(MAX_POINTS + 5):
        record(path, point.model_copy(update={"ir_hash": f"{i + 1:064x}"}))
    points = read_history(path).points
    assert len(points) == MAX_POINTS and points[-1].ir_hash == f"{MAX_POINTS + 5:064x}"
    jsonschema.validate(json.loads(path.read_text()), load("history.schema.json"))


def test_a_broken_history_is_kept_aside(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text('{"points": "nope"}')
    warning = record(path, _history((1.0, 0.1, 0.5)).points[0])
    assert warning is not None and warning.code == "W_HISTORY_INVALID"
    assert (tmp_path / "history.json.invalid").read_text() == '{"points": "nope"}'
    assert len(read_history(path).points) == 1


def test_predict_cli() -> None:
    Path(".wesley").mkdir()
    one = wes("holmes", "predict")
    assert one.code == 0 and "Insufficient data" in one.stdout, one.stderr
    history = _history((1.0, 0.1, 0.3), (1.0, 0.1, 0.4), (1.0, 0.1, 0.5))
    Path(".wesley/history.json").write_text(history.model_dump_json(indent=2))
    human = ok("holmes", "predict").stdout
    assert "### 🔮 MORIARTY forecast" in human
    assert "| TCI | 0.50 | ≥ 0.70 | improving | +0.100 | +0.100 | ~2 changes, ~2.0 days |" in human
    data = ok("holmes", "predict", "--json").json()["forecast"]
    assert data["changes_to_ready"] == 2
    Path("wesley.toml").write_text("[thresholds]\ntci = 0.5\n")  # the gates are today's
    assert ok("holmes", "predict", "--json").json()["forecast"]["ready_now"] is True
    Path(".wesley/history.json").write_text("[]")
    broken = wes("holmes", "predict")
    assert broken.code == 8 and "EVIDENCE_INVALID" in broken.stderr


def test_no_per_day_rate_from_points_minutes_apart() -> None:
    h = _history((1.0, 0.1, 0.3), (1.0, 0.1, 0.4), (1.0, 0.1, 0.5), days=1 / 1440)
    tci = _trend(h, "tci")
    assert tci["per_day"] is None and tci["days_to_threshold"] is None
    assert tci["changes_to_threshold"] == 2
    assert forecast(h, DEFAULT_THRESHOLDS).summary.startswith("~2 change(s) until")
