"""HOLMES: every scored element with its weight and why, the bytes that prove it (cited with
their SHA-256), what is missing, the SCS/MRI/TCI breakdown per table and per step, and a
verdict. The scores are `wesley.evidence.scores`'s (the same numbers `cert create` records);
HOLMES adds the citations and refuses ELEMENTARY when any evidence does not hold."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from wesley import __version__
from wesley.evidence.models import EvidenceMap, LineRange, UidEvidence
from wesley.evidence.scores import (
    Coverage,
    Scores,
    TapResult,
    compute_scores,
    schema_coverage,
    scs_from,
    tap_result,
)
from wesley.evidence.weights import Weight, WeightRules, unused_overrides, weigh
from wesley.holmes.bundle import Evidence, integrity
from wesley.holmes.cite import Sources, cite
from wesley.holmes.models import (
    Assertion,
    BundleRef,
    Citation,
    CitationKind,
    Element,
    Investigation,
    StepReport,
    TableReport,
    WeightsRef,
)
from wesley.ir import IR, Column, Table, ir_hash
from wesley.plan.models import Plan
from wesley.realm.models import Realm
from wesley.sqltext import column_type, quote_ident

TAP_MEMBER = "tests.tap"
GROUP_KINDS: dict[str, CitationKind] = {"sql": "sql", "ts": "types", "zod": "validation"}
SCS_GROUP = {"sql": "sql", "ts": "types", "zod": "validation"}
_LITERAL = re.compile(r"'(?:[^']|'')*'")


def _claim(sources: Sources, file: str, lines: tuple[int, int], candidates: list[str]) -> str:
    """The first candidate the cited lines contain (so a claim is always specific)."""
    raw = sources.lines(file)
    if raw is None:
        return candidates[0]
    text = b"".join(raw[lines[0] - 1 : lines[1]]).decode("utf-8", errors="replace")
    return next((c for c in candidates if c in text), candidates[0])


def _candidates(group: str, col: Column) -> list[str]:
    if group == "sql":
        return [f"{quote_ident(col.name)} {column_type(col)}", f"uid={col.uid}", col.name]
    return [f"uid: {col.uid}", col.field]


@dataclass
class _Tap:
    """The executed suite: its result lines by description, consumed as they are matched."""

    lines: list[str]
    by_desc: dict[str, list[tuple[int, TapResult]]]
    used: set[int]

    @classmethod
    def of(cls, tap: str) -> _Tap:
        lines = tap.split("\n") if tap else []
        by_desc: dict[str, list[tuple[int, TapResult]]] = defaultdict(list)
        for n, line in enumerate(lines, 1):
            r = tap_result(line)
            if r is not None and not r.skipped:
                by_desc[r.description.replace("\\#", "#")].append((n, r))
        return cls(lines, by_desc, set())

    def take(self, desc: str) -> tuple[int, TapResult] | None:
        for n, r in self.by_desc.get(desc, []):
            if n not in self.used:
                self.used.add(n)
                return n, r
        return None


class _Investigator:
    def __init__(self, ev: Evidence, weights: WeightRules, thresholds: dict[str, float]) -> None:
        self.ev = ev
        self.s = ev.sources
        self.weights = weights
        self.thresholds = thresholds
        self.problems = integrity(ev)
        self.missing: list[str] = []
        self.realm_path = ev.path("realm.json")
        self.tap = _Tap.of(ev.realm.tests.tap if ev.realm else "")

    def _cite(
        self,
        kind: CitationKind,
        file: str,
        lines: tuple[int, int],
        claims: list[str],
        member: str | None = None,
    ) -> Citation | None:
        made = cite(self.s, kind, file, lines, claims, member)
        if isinstance(made, str):
            self.problems.append(made)
            return None
        return made

    # ---- pgTAP assertions and their results ----------------------------------------------

    def assertions(self) -> dict[str, list[Assertion]]:
        """uid → its assertions: each tests.sql line of the uid's evidence (the innermost uid
        that covers it) matched by description with the TAP line that executed it."""
        owner: dict[tuple[str, int], tuple[int, str]] = {}
        for uid, ev in self.ev.evidence.uids.items():
            for rng in ev.tests:
                size = rng.lines[1] - rng.lines[0]
                for n in range(rng.lines[0], rng.lines[1] + 1):
                    key = (rng.file, n)
                    if key not in owner or size < owner[key][0]:
                        owner[key] = (size, uid)
        out: dict[str, list[Assertion]] = defaultdict(list)
        for (file, n), (_, uid) in sorted(owner.items()):
            raw = self.s.lines(file)
            if raw is None or n > len(raw):
                self.problems.append(f"{file}:{n} (cited by the evidence map) does not exist")
                continue
            text = raw[n - 1].decode("utf-8", errors="replace").strip()
            if not text.startswith("SELECT ") or text.startswith(("SELECT plan(", "SELECT skip(")):
                continue
            literals = _LITERAL.findall(text)
            if not literals:
                continue
            found = None
            for lit in reversed(literals):
                found = self.tap.take(lit[1:-1].replace("''", "'"))
                if found:
                    claim = lit
                    break
            if found is None:
                claim = literals[-1]
                desc = claim[1:-1].replace("''", "'")
                test = self._cite("test", file, (n, n), [claim])
                out[uid].append(
                    Assertion(
                        number=None,
                        description=desc,
                        category=TapResult(0, False, desc, False).category,
                        test=test,
                    )
                )
                continue
            line_no, result = found
            test = self._cite("test", file, (n, n), [claim])
            tap_line = self.tap.lines[line_no - 1]
            res = self._cite("tap", self.realm_path, (line_no, line_no), [tap_line], TAP_MEMBER)
            out[uid].append(
                Assertion(
                    number=result.number,
                    description=result.description,
                    category=result.category,
                    ok=result.ok,
                    test=test,
                    result=res,
                )
            )
        return out

    def suite(self) -> list[Assertion]:
        """Executed results no tests.sql line claims (skips, a suite that stopped early)."""
        out = []
        for n, line in enumerate(self.tap.lines, 1):
            r = tap_result(line)
            if r is None or n in self.tap.used:
                continue
            res = self._cite("tap", self.realm_path, (n, n), [line], TAP_MEMBER)
            out.append(
                Assertion(
                    number=r.number,
                    description=r.description or line,
                    category=r.category,
                    ok=r.ok,
                    skipped=r.skipped,
                    result=res,
                )
            )
            if r.skipped:
                self.missing.append(f"TAP {r.number} skipped: {line.split('#', 1)[-1].strip()}")
            elif not r.ok:
                self.missing.append(f"TAP {r.number} failed: {r.description or line}")
        return out

    # ---- columns -----------------------------------------------------------------------

    def element(self, table: Table, col: Column, tests: list[Assertion]) -> Element:
        w = weigh(table, col, self.weights)
        ev = self.ev.evidence.uids.get(col.uid)
        evidence: dict[str, list[Citation]] = {}
        for group, kind in GROUP_KINDS.items():
            cites = []
            for rng in getattr(ev, group) if ev else []:
                lines = (rng.lines[0], rng.lines[1])
                claim = _claim(self.s, rng.file, lines, _candidates(group, col))
                made = self._cite(kind, rng.file, lines, [claim])
                if made is not None:
                    cites.append(made)
            evidence[SCS_GROUP[group]] = cites
        has = {g: bool(evidence[g]) for g in ("sql", "types", "validation")}
        has["tests"] = any(a.test is not None for a in tests)
        missing = [f"no {g} evidence" for g, ok in has.items() if not ok]
        for a in tests:
            if a.number is None:
                missing.append(f"assertion never ran: {a.description}")
            elif a.ok is False:
                missing.append(f"TAP {a.number} failed: {a.description}")
        return Element(
            uid=col.uid,
            table=table.name,
            column=col.name,
            field=col.field,
            weight=w.value,
            weight_source=w.source,
            reasons=list(w.reasons),
            evidence=evidence,
            assertions=tests,
            has=has,
            covered=has["sql"] and has["types"] and has["validation"],
            missing=missing,
        )

    # ---- plan steps --------------------------------------------------------------------

    def steps(self, plan: Plan) -> list[StepReport]:
        plan_path = self.ev.path("plan.json")
        pmap = self.s.line_map(plan_path)
        rmap = self.s.line_map(self.realm_path) if self.ev.realm else None
        if plan.steps and pmap is None:
            self.problems.append(
                f"{plan_path} is not as Wesley wrote it: its lines cannot be cited"
            )
        if self.ev.realm and rmap is None:
            self.problems.append(
                f"{self.realm_path} is not as Wesley wrote it: its lines cannot be cited"
            )
        records = {r.id: (j, r) for j, r in enumerate(self.ev.realm.steps)} if self.ev.realm else {}
        out = []
        for i, st in enumerate(plan.steps):
            cites: list[Citation | None] = []
            if pmap is not None:
                span = pmap.spans[("steps", i, "risk")]
                cites.append(self._cite("risk", plan_path, span, [pmap.text("risk", st.risk)]))
            rec = records.get(st.id)
            if rec is None and self.ev.realm is not None:
                self.missing.append(f"step {st.id} has no record in the rehearsal")
            if rec is not None and rmap is not None:
                j, r = rec
                span = rmap.spans[("steps", j, "status")]
                cites.append(
                    self._cite("status", self.realm_path, span, [rmap.text("status", r.status)])
                )
                for k, lk in enumerate(r.observed_locks):
                    span = rmap.spans[("steps", j, "observed_locks", k)]
                    claims = [rmap.text("mode", lk.mode), rmap.text("relation", lk.relation)]
                    cites.append(self._cite("lock", self.realm_path, span, claims))
                if r.status != "applied":
                    self.missing.append(
                        f"step {st.id} was not applied in the rehearsal ({r.status})"
                    )
            rec_r = rec[1] if rec else None
            out.append(
                StepReport(
                    id=st.id,
                    phase=st.phase,
                    op=st.op,
                    table=st.table,
                    column=st.column,
                    risk=st.risk,
                    why=st.why,
                    rewrite=st.rewrite,
                    scan=st.scan,
                    predicted_locks=[f"{lk.relation}: {lk.mode}" for lk in st.locks],
                    observed_locks=[f"{lk.relation}: {lk.mode}" for lk in rec_r.observed_locks]
                    if rec_r
                    else [],
                    status=rec_r.status if rec_r else None,
                    ms=rec_r.ms if rec_r else None,
                    retries=rec_r.retries if rec_r else None,
                    citations=[c for c in cites if c is not None],
                )
            )
        return out

    def rehearsal(self) -> list[Citation]:
        realm = self.ev.realm
        rmap = self.s.line_map(self.realm_path) if realm else None
        if realm is None or rmap is None:
            return []
        cites = [
            self._cite("rehearsal", self.realm_path, rmap.spans[(key,)], [rmap.text(key, value)])
            for key, value in (("verdict", realm.verdict), ("replan_empty", realm.replan_empty))
        ]
        for n, line in enumerate(self.tap.lines, 1):
            if line.startswith("1.."):
                cites.append(self._cite("rehearsal", self.realm_path, (n, n), [line], TAP_MEMBER))
        return [c for c in cites if c is not None]


def _empty_plan(ir: IR) -> Plan:
    return Plan(from_ir_hash=None, to_ir_hash=ir_hash(ir), server_version=0, steps=[])


def _tci_counts(assertions: list[Assertion]) -> dict[str, tuple[int, int]]:
    counts = {k: [0, 0] for k in ("structure", "constraints", "indexes")}
    for a in assertions:
        if a.number is None or a.skipped:
            continue
        counts[a.category][1] += 1
        counts[a.category][0] += 1 if a.ok else 0
    return {k: (p, t) for k, (p, t) in counts.items()}


def investigate(ev: Evidence, weights: WeightRules, thresholds: dict[str, float]) -> Investigation:
    inv = _Investigator(ev, weights, thresholds)
    plan = ev.plan or _empty_plan(ev.ir)
    if ev.plan is None:
        inv.missing.append(f"no {ev.path('plan.json')}: run wesley rehearse")
    realm = ev.realm
    if realm is None:
        inv.missing.append(f"no rehearsal ({ev.path('realm.json')}): run wesley rehearse")
    elif realm.verdict == "DRY_RUN":
        inv.missing.append("the last rehearsal was a dry run: nothing was executed")
    by_uid = inv.assertions()
    elements: list[Element] = []
    tables: list[TableReport] = []
    steps = inv.steps(plan)
    for table in ev.ir.tables:
        mine = [inv.element(table, col, by_uid.get(col.uid, [])) for col in table.columns]
        elements.extend(mine)
        items = [_coverage(e) for e in mine]
        on_table = [s for s in steps if s.table == table.name]
        own = by_uid.get(table.uid, [])
        # the tests of its @wes_rpc functions count as the table's own
        own = own + [a for f in ev.ir.functions if f.table == table.name for a in by_uid[f.uid]]
        executed = own + [a for e in mine for a in e.assertions]
        tables.append(
            TableReport(
                table=table.name,
                uid=table.uid,
                scs=scs_from(items).score,
                weight=sum(e.weight for e in mine),
                covered_weight=sum(e.weight for e in mine if e.covered),
                mri_points=sum(s.risk for s in on_table),
                steps=[s.id for s in on_table],
                tci=_tci_counts(executed),
                assertions=own,
            )
        )
    suite = inv.suite()
    rehearsal = inv.rehearsal()
    # the scores of what the citations prove (with intact evidence: the evidence map's, the
    # numbers cert create records)
    scores = compute_scores(ev.ir, _proven(ev.evidence, elements), plan, realm, thresholds, weights)
    claimed = schema_coverage(ev.ir, ev.evidence, weights).score
    if claimed != scores.scs.score:
        inv.problems.append(
            f"the evidence map claims SCS {claimed}; the citations that hold prove "
            f"{scores.scs.score}"
        )
    for e in elements:
        inv.missing.extend(f"{e.uid}: {m}" for m in e.missing)
    verdict = scores.readiness if not inv.problems else "YOU SHALL NOT PASS"
    citations = sum(len(_all(e)) for e in elements) + sum(len(s.citations) for s in steps)
    citations += sum(1 for t in tables for a in t.assertions for _ in _pair(a)) + len(rehearsal)
    citations += sum(1 for a in suite if a.result)
    reasons = _reasons(scores, realm, inv.problems, citations)
    inputs = sorted(
        {*ev.files, *(c.file for e in elements for c in _all(e))}
        | {c.file for s in steps for c in s.citations}
    )
    return Investigation(
        tool_version=__version__,
        bundle=BundleRef(
            ir_hash=ir_hash(ev.ir),
            plan_hash=ev.plan.plan_hash if ev.plan else None,
            realm_verdict=realm.verdict if realm else None,
            server_version=realm.server_version if realm else None,
        ),
        inputs={p: ev.sources.sha256(p) or "" for p in inputs},
        weights=WeightsRef.model_validate(weights.to_json()),
        thresholds=thresholds,
        elements=elements,
        tables=tables,
        steps=steps,
        suite=suite,
        rehearsal=rehearsal,
        scores=scores,
        verdict=verdict,
        reasons=reasons,
        missing=inv.missing,
        problems=inv.problems,
        unused_overrides=unused_overrides(ev.ir.tables, weights),
    )


def _proven(evidence: EvidenceMap, elements: list[Element]) -> EvidenceMap:
    """The evidence map without the ranges whose citation does not hold."""
    uids = dict(evidence.uids)
    for e in elements:
        kept = {
            group: [
                LineRange(file=c.file, lines=(c.line, c.end)) for c in e.evidence[SCS_GROUP[group]]
            ]
            for group in GROUP_KINDS
        }
        tests = uids[e.uid].tests if e.uid in uids and e.has["tests"] else []
        uids[e.uid] = UidEvidence(**kept, tests=tests)
    return evidence.model_copy(update={"uids": uids})


def _pair(a: Assertion) -> list[Citation]:
    return [c for c in (a.test, a.result) if c is not None]


def _all(e: Element) -> list[Citation]:
    return [c for cs in e.evidence.values() for c in cs] + [
        c for a in e.assertions for c in _pair(a)
    ]


def _coverage(e: Element) -> Coverage:
    return Coverage(
        e.uid, e.table, e.column, Weight(e.weight, e.weight_source, tuple(e.reasons)), e.has
    )


def _reasons(scores: Scores, realm: Realm | None, problems: list[str], citations: int) -> list[str]:
    out = []
    for key, g in scores.gates.items():
        name = key.upper()
        if g.passed:
            op = "<=" if key == "mri" else ">="
            out.append(f"{name} {g.value:.2f} {op} {g.threshold:.2f}: passes")
        else:
            side = "above" if key == "mri" else "below"
            out.append(f"{name} {g.value:.2f} is {side} {g.threshold:.2f}: fails")
    if realm is None:
        out.append("no rehearsal: nothing was executed")
    elif realm.verdict != "PASS":
        why = f" ({realm.failure.code}: {realm.failure.message})" if realm.failure else ""
        out.append(f"the rehearsal verdict is {realm.verdict}{why}")
    else:
        out.append(
            f"the rehearsal passed: {realm.tests.passed}/{realm.tests.planned} pgTAP assertions, "
            f"replan {'empty' if realm.replan_empty else 'NOT empty'}"
        )
    if problems:
        out.append(f"{len(problems)} piece(s) of evidence do not hold (see problems)")
    else:
        out.append(f"all {citations} citations hold")
    return out
