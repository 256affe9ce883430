"""WATSON: trust nothing HOLMES says. Re-open every citation (the file exists, the lines hold
the cited bytes, they say what is claimed), check every file HOLMES read is unchanged, that
nothing was left out (every column, every plan step, every executed assertion), re-derive
every weight from the IR and wesley.toml, and every score from what the citations say, with
the scoring rules of `wesley.evidence.scores`. Any difference is a mismatch, named."""

from __future__ import annotations

import re

from pydantic import ValidationError

from wesley import __version__
from wesley.evidence.scores import (
    Coverage,
    StepRisk,
    TapResult,
    gates,
    mri_from,
    scs_from,
    tap_result,
    tap_results,
    tci_of,
    verdict,
)
from wesley.evidence.weights import Weight, WeightRules, weigh
from wesley.holmes import render
from wesley.holmes.bundle import Evidence, evidence_error, integrity
from wesley.holmes.cite import recheck
from wesley.holmes.models import (
    BundleRef,
    Citation,
    Element,
    Examination,
    Investigation,
    Rederived,
)
from wesley.ir import sha256_hex

_RISK = re.compile(r'"risk": (\d+)')


def _citations(r: Investigation) -> list[Citation]:
    out: list[Citation] = []
    for e in r.elements:
        out += [c for cs in e.evidence.values() for c in cs]
        out += [c for a in e.assertions for c in (a.test, a.result) if c is not None]
    for t in r.tables:
        out += [c for a in t.assertions for c in (a.test, a.result) if c is not None]
    for s in r.steps:
        out += s.citations
    out += [a.result for a in r.suite if a.result is not None]
    out += r.rehearsal
    return out


class _Watson:
    def __init__(self, ev: Evidence, report: Investigation) -> None:
        self.ev = ev
        self.r = report
        self.mismatches: list[str] = []
        self.failed: set[int] = set()  # id() of citations that do not hold

    def holds(self, c: Citation) -> bool:
        return id(c) not in self.failed

    def text(self, c: Citation) -> str:
        lines = self.ev.sources.lines(c.file, c.member) or []
        return b"".join(lines[c.line - 1 : c.end]).decode("utf-8", errors="replace")

    # ---- the facts ---------------------------------------------------------------------

    def reopen(self, cites: list[Citation]) -> None:
        for c in cites:
            fault = recheck(self.ev.sources, c)
            if fault is not None:
                self.failed.add(id(c))
                self.mismatches.append(fault)

    def inputs(self) -> None:
        for path, digest in self.r.inputs.items():
            found = self.ev.sources.sha256(path)
            if found is None:
                self.mismatches.append(f"{path} (read by HOLMES) is missing")
            elif found != digest:
                self.mismatches.append(f"{path} changed since the investigation")

    def completeness(self, cited: set[int]) -> None:
        ir_cols = [c.uid for t in self.ev.ir.tables for c in t.columns]
        claimed = [e.uid for e in self.r.elements]
        for uid in sorted(set(ir_cols) - set(claimed)):
            self.mismatches.append(f"the report leaves out {uid}")
        for uid in sorted(set(claimed) - set(ir_cols)):
            self.mismatches.append(f"the report scores {uid}, which the IR does not have")
        plan_steps = [s.id for s in self.ev.plan.steps] if self.ev.plan else []
        if [s.id for s in self.r.steps] != plan_steps:
            self.mismatches.append(
                f"the report's steps are not plan.json's ({len(self.r.steps)} reported, "
                f"{len(plan_steps)} planned)"
            )
        executed = (
            {r.number for r in tap_results(self.ev.realm.tests.tap)} if self.ev.realm else set()
        )
        for n in sorted(executed - cited):
            self.mismatches.append(f"the report leaves out executed assertion TAP {n}")

    def weights(self, rules: WeightRules, thresholds: dict[str, float]) -> None:
        if self.r.weights.model_dump() != rules.to_json():
            self.mismatches.append("the weight rules differ from wesley.toml's [weights]")
        if self.r.thresholds != thresholds:
            self.mismatches.append("the thresholds differ from wesley.toml's [thresholds]")
        columns = {c.uid: (t, c) for t in self.ev.ir.tables for c in t.columns}
        for e in self.r.elements:
            if e.uid not in columns:
                continue
            w = weigh(*columns[e.uid], rules)
            if (w.value, list(w.reasons)) != (e.weight, e.reasons):
                self.mismatches.append(
                    f"{e.uid}: the report claims weight {e.weight} ({', '.join(e.reasons)}); "
                    f"the rules give {w.value} ({', '.join(w.reasons)})"
                )

    # ---- the scores, from the facts ----------------------------------------------------

    def coverage(self, e: Element, rules: WeightRules) -> Coverage:
        table = self.ev.ir.table(e.table)
        col = table.column(e.column) if table else None
        weight = weigh(table, col, rules) if table and col else None
        has = {g: any(self.holds(c) for c in e.evidence.get(g, [])) for g in ("sql", "types")}
        has["validation"] = any(self.holds(c) for c in e.evidence.get("validation", []))
        has["tests"] = any(a.test is not None and self.holds(a.test) for a in e.assertions)
        if weight is None:  # an element the IR lacks: completeness names it
            weight = Weight(e.weight, e.weight_source, tuple(e.reasons))
        return Coverage(e.uid, e.table, e.column, weight, has)

    def steps(self) -> list[StepRisk]:
        out = []
        for s in self.r.steps:
            cited = [c for c in s.citations if c.kind == "risk" and self.holds(c)]
            m = _RISK.search(self.text(cited[0])) if cited else None
            if m is None:
                self.mismatches.append(f"step {s.id}: no citation that holds proves its risk")
                continue
            points = int(m.group(1))
            if points != s.risk:
                self.mismatches.append(
                    f"step {s.id}: the report claims {s.risk} risk points, "
                    f"{cited[0].where()} says {points}"
                )
            out.append(StepRisk(s.id, s.phase, points, s.why))
        return out

    def tap(self) -> list[tuple[int, TapResult]]:
        seen: dict[int, TapResult] = {}
        for c in _citations(self.r):
            if c.kind != "tap" or not self.holds(c):
                continue
            result = tap_result(self.text(c).rstrip("\n"))
            if result is None:
                continue
            if result.number in seen:
                self.mismatches.append(f"TAP {result.number} is cited twice")
            seen[result.number] = result
        return sorted(seen.items())

    def rehearsed(self) -> tuple[bool, bool]:
        """(the rehearsal passed, its replan was empty), from the cited lines."""
        said = "".join(self.text(c) for c in self.r.rehearsal if self.holds(c))
        return '"verdict": "PASS"' in said, '"replan_empty": true' in said

    # ---- other evidence files ------------------------------------------------------------

    def scores_json(self, scs: float, mri: float, tci: float) -> None:
        """scores.json, when cert create made it from this same evidence, must agree."""
        path = self.ev.path("scores.json")
        raw = self.ev.sources.raw(path)
        record = self.ev.record
        if raw is None or record is None or "scores.json" not in record.files:
            return
        if record.files["scores.json"] != sha256_hex(raw):
            self.mismatches.append(f"{path} changed after wesley cert create wrote it")
            return
        same = all(
            record.files.get(n) == self.ev.sources.sha256(self.ev.path(n))
            for n in ("plan.json", "realm.json", "ir.json", "evidence-map.json")
        )
        data = self.ev.sources.json(path)
        if not same or not isinstance(data, dict):
            return  # made from older evidence: the next cert create replaces it
        for key, value in (("scs", scs), ("mri", mri), ("tci", tci)):
            claimed = data.get(key, {}).get("score") if isinstance(data.get(key), dict) else None
            if claimed != value:
                self.mismatches.append(
                    f"{path} claims {key.upper()} {claimed}; the evidence gives {value}"
                )


def _agree(claimed: float | str, derived: float | str) -> Rederived:
    return Rederived(claimed=claimed, derived=derived, agrees=claimed == derived)


def examine(
    ev: Evidence,
    report_path: str,
    rules: WeightRules,
    thresholds: dict[str, float],
    markdown_path: str | None = None,
) -> Examination:
    """WATSON's examination of the HOLMES report at `report_path` against the evidence."""
    raw = ev.sources.raw(report_path)
    if raw is None:
        raise evidence_error(
            "EVIDENCE_MISSING",
            f"{report_path} does not exist: WATSON has nothing to verify",
            "run wesley holmes investigate first",
        )
    digest = sha256_hex(raw)
    try:
        report = Investigation.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return Examination(
            tool_version=__version__,
            report=report_path,
            report_sha256=digest,
            bundle=BundleRef(ir_hash="unknown"),
            citations=0,
            verified=0,
            scores={},
            mismatches=[f"{report_path} is not a HOLMES report ({where}: {first['msg']})"],
            verdict="FAILED",
        )
    w = _Watson(ev, report)
    if markdown_path is not None:
        md = ev.sources.raw(markdown_path)
        if md is not None and md.decode("utf-8", errors="replace") != render.investigation(report):
            w.mismatches.append(f"{markdown_path} is not the rendering of {report_path}")
    cites = _citations(report)
    w.reopen(cites)
    w.inputs()
    tap = w.tap()
    w.completeness({n for n, _ in tap})
    w.weights(rules, thresholds)
    items = [w.coverage(e, rules) for e in report.elements]
    scs = scs_from(items).score
    for t in report.tables:
        mine = scs_from([i for i in items if i.table == t.table]).score
        if mine != t.scs:
            w.mismatches.append(f"table {t.table}: the report claims SCS {t.scs}, derived {mine}")
    steps = w.steps()
    mri = mri_from(steps).score
    passed, replan_empty = w.rehearsed()
    results = [r for _, r in tap]
    ran = bool(ev.realm and ev.realm.tests.tap)
    tci = tci_of(results if ran else None, passed and replan_empty).score
    gate_map = gates(scs, mri, tci, thresholds)
    derived = verdict(gate_map, passed)
    problems = integrity(ev)
    if problems or report.problems:
        derived = "YOU SHALL NOT PASS"
    for p in problems:
        if p not in report.problems:
            w.mismatches.append(f"the report does not say: {p}")
    scores = {
        "scs": _agree(report.scores.scs.score, scs),
        "mri": _agree(report.scores.mri.score, mri),
        "tci": _agree(report.scores.tci.score, tci),
        "verdict": _agree(report.verdict, derived),
    }
    for key, d in scores.items():
        if not d.agrees:
            w.mismatches.append(
                f"{key.upper()}: the report claims {d.claimed}, derived {d.derived}"
            )
    for key, g in gate_map.items():
        if report.scores.gates.get(key) != g:
            w.mismatches.append(f"gate {key}: the report's gate is not the derived one")
    if report.scores.readiness != verdict(gate_map, passed):
        w.mismatches.append("the report's readiness does not follow from its gates")
    w.scores_json(scs, mri, tci)
    if ev.record is not None and ev.record.ir_hash != report.bundle.ir_hash:
        w.mismatches.append("the report is for another schema than bundle.json")
    return Examination(
        tool_version=__version__,
        report=report_path,
        report_sha256=digest,
        bundle=report.bundle,
        citations=len(cites),
        verified=len(cites) - len(w.failed),
        scores=scores,
        mismatches=w.mismatches,
        verdict="FAILED" if w.mismatches else "PASSED",
    )
