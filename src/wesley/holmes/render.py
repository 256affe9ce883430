"""Markdown for humans and pull-request comments. Pure and deterministic: the Markdown of a
report is a function of its JSON, so WATSON can tell when `holmes.md` was edited. Long tables
sit in `<details>` blocks so a PR comment stays readable."""

from __future__ import annotations

from wesley.holmes.models import (
    Assertion,
    Citation,
    Element,
    Examination,
    Forecast,
    Investigation,
    StepReport,
    Trend,
)

ROWS = 60  # per table in the Markdown, so a big schema's report still fits a PR comment
ICON = {"ELEMENTARY": "✅", "REQUIRES INVESTIGATION": "⚠️", "YOU SHALL NOT PASS": "⛔"}
NAMES = {"scs": "SCS schema coverage", "mri": "MRI migration risk", "tci": "TCI test confidence"}


def cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def cite_md(c: Citation) -> str:
    return f"`{c.where()}` `{c.sha256[:8]}`"


def _first(cites: list[Citation]) -> str:
    if not cites:
        return "—"
    more = f" (+{len(cites) - 1})" if len(cites) > 1 else ""
    return cite_md(cites[0]) + more


def _tests(assertions: list[Assertion]) -> str:
    ran = [a for a in assertions if a.number is not None]
    if not assertions:
        return "—"
    passed = sum(1 for a in ran if a.ok)
    first = next((a for a in assertions if a.test), None)
    where = ""
    if first is not None and first.test is not None:
        where = f" `{first.test.where()}`"
        if first.result is not None:
            where += f" → `{first.result.where()}`"
    return f"{passed}/{len(assertions)} ok{where}"


def _element_row(e: Element) -> str:
    return (
        f"| `{cell(e.uid)}` | {e.weight} | {cell(' · '.join(e.reasons))} | "
        f"{_first(e.evidence.get('sql', []))} | {_first(e.evidence.get('types', []))} | "
        f"{_first(e.evidence.get('validation', []))} | {cell(_tests(e.assertions))} |"
    )


def _step_row(s: StepReport) -> str:
    predicted = ", ".join(s.predicted_locks) or "none"
    if s.status is None:
        observed = "not rehearsed"
    else:  # a quick CONCURRENTLY step can finish between two looks at pg_locks
        observed = ", ".join(s.observed_locks) or ("not observed" if s.predicted_locks else "none")
    work = " + ".join(w for w, on in (("rewrite", s.rewrite), ("scan", s.scan)) if on) or "—"
    cites = ", ".join(f"`{c.where()}`" for c in s.citations[:2])
    return (
        f"| {cell(s.id)} | {cell(predicted)} → {cell(observed)} | {work} | {s.risk} | "
        f"{cell(s.why)} | {cites} |"
    )


def _capped(rows: list[str], keep: list[int], what: str) -> list[str]:
    """`rows` whose indexes are in `keep` (at most ROWS of them), and a line for the rest."""
    if len(rows) <= ROWS:
        return rows
    chosen = sorted(keep[:ROWS])
    return [rows[i] for i in chosen] + [f"… and {len(rows) - len(chosen)} more {what} in the JSON"]


def _details(summary: str, lines: list[str]) -> list[str]:
    return ["<details>", f"<summary>{summary}</summary>", "", *lines, "", "</details>", ""]


def investigation(r: Investigation) -> str:
    b = r.bundle
    out = [f"### 🕵️ HOLMES investigation: {ICON[r.verdict]} {r.verdict}", ""]
    plan = f"plan `{b.plan_hash[:12]}`" if b.plan_hash else "no plan"
    realm = f"REALM {b.realm_verdict}" if b.realm_verdict else "not rehearsed"
    v = b.server_version
    server = f" on PostgreSQL {v // 10000}.{v % 10000}" if v else ""
    out += [f"> Evidence: ir `{b.ir_hash[:12]}` · {plan} · {realm}{server}", ""]
    out += ["| score | value | gate | |", "|---|---|---|---|"]
    for key, g in r.scores.gates.items():
        op = "≤" if key == "mri" else "≥"
        mark = "✅" if g.passed else "❌"
        out.append(f"| {NAMES[key]} | {g.value:.2f} | {op} {g.threshold:.2f} | {mark} |")
    out += ["", f"**Verdict: {r.verdict}**", ""]
    out += [f"- {cell(x)}" for x in r.reasons]
    out += ["", "#### Per table", ""]
    out += [
        "| table | SCS (weight covered) | MRI points (steps) | TCI structure · constraints · "
        "indexes |",
        "|---|---|---|---|",
    ]
    table_rows = []
    for t in r.tables:
        tci = " · ".join(f"{p}/{n}" for p, n in t.tci.values())
        table_rows.append(
            f"| {cell(t.table)} | {t.scs:.2f} ({t.covered_weight}/{t.weight}) | "
            f"{t.mri_points} ({len(t.steps)}) | {tci} |"
        )
    # the tables with something to say first: uncovered weight, risk, failed assertions
    order = sorted(
        range(len(r.tables)),
        key=lambda i: (
            r.tables[i].scs == 1.0
            and all(p == n for p, n in r.tables[i].tci.values())
            and r.tables[i].mri_points == 0,
            -r.tables[i].mri_points,
            i,
        ),
    )
    out += [*_capped(table_rows, order, "tables"), ""]
    mri = r.scores.mri
    riskiest = sorted(range(len(r.steps)), key=lambda i: (-r.steps[i].risk, i))
    step_lines = [
        "| step | locks predicted → observed | work | points | why | cited |",
        "|---|---|---|---|---|---|",
        *_capped([_step_row(s) for s in r.steps], riskiest, "steps"),
    ]
    points = int(mri.breakdown.get("points", 0))
    out += _details(
        f"Per step: {len(r.steps)} steps, {points} risk points → MRI {mri.score:.2f}",
        step_lines if r.steps else ["no steps"],
    )
    cited = sum(len(cs) for e in r.elements for cs in e.evidence.values()) + sum(
        len([c for c in (a.test, a.result) if c]) for e in r.elements for a in e.assertions
    )
    element_lines = [
        "| element | weight | why | SQL | types | Zod | pgTAP |",
        "|---|---|---|---|---|---|---|",
        *_capped(
            [_element_row(e) for e in r.elements],
            sorted(range(len(r.elements)), key=lambda i: (not r.elements[i].missing, i)),
            "columns",
        ),
    ]
    out += _details(
        f"The weight of evidence: {len(r.elements)} columns, {cited} citations",
        element_lines if r.elements else ["no columns"],
    )
    out += ["#### What is missing", ""]
    out += [f"- {cell(m)}" for m in r.missing[:50]] or ["- nothing"]
    if len(r.missing) > 50:
        out.append(f"- … and {len(r.missing) - 50} more (see holmes.json)")
    if r.problems:
        out += ["", "#### Evidence that does not hold", ""]
        out += [f"- {cell(p)}" for p in r.problems[:50]]
    w = r.weights
    rules = ", ".join(f"{k} {v}" for k, v in w.rules.items())
    names = ", ".join(f"`{k}` {v}" for k, v in w.names.items()) or "none"
    line = f"Weights ({w.source}): {rules}; names: {names}"
    if w.overrides:
        line += "; overrides: " + ", ".join(f"`{k}` {v}" for k, v in w.overrides.items())
    if r.unused_overrides:
        line += "; overrides that match no column: " + ", ".join(r.unused_overrides)
    out += ["", line]
    out += [
        "",
        "_Every citation is `file:line` with the SHA-256 of the cited bytes; "
        "`wesley holmes verify` re-opens them all._",
    ]
    return "\n".join(out) + "\n"


def examination(x: Examination) -> str:
    mark = "✅" if x.verdict == "PASSED" else "❌"
    out = [f"### 🩺 WATSON verification: {mark} {x.verdict}", ""]
    out.append(
        f"Examined `{x.report}` (sha256 `{x.report_sha256[:12]}`): {x.verified}/{x.citations} "
        "citations re-opened and verified; every score re-derived from what they say."
    )
    out += ["", "| | HOLMES claimed | WATSON derived | |", "|---|---|---|---|"]
    for key, d in x.scores.items():
        label = key.upper() if key != "verdict" else "verdict"
        mark = "✅" if d.agrees else "❌"
        out.append(f"| {label} | {_value(d.claimed)} | {_value(d.derived)} | {mark} |")
    out += ["", "#### Mismatches", ""]
    out += [f"- {cell(m)}" for m in x.mismatches[:100]] or ["- none"]
    if len(x.mismatches) > 100:
        out.append(f"- … and {len(x.mismatches) - 100} more (see watson.json)")
    return "\n".join(out) + "\n"


def _value(v: float | str) -> str:
    return v if isinstance(v, str) else f"{v:.4f}"


def _num(v: float | None, fmt: str = "{:+.3f}") -> str:
    return "—" if v is None else fmt.format(v)


def _trend_row(t: Trend) -> str:
    op = "≤" if t.score == "mri" else "≥"
    latest = "—" if t.latest is None else f"{t.latest:.2f}"
    state = ("met · " if t.met else "") + t.trend
    if t.met:
        eta = "met"
    elif t.changes_to_threshold is not None:
        days = f", ~{t.days_to_threshold:.1f} days" if t.days_to_threshold is not None else ""
        eta = f"~{t.changes_to_threshold} changes{days}"
    else:
        eta = "not converging"
    return (
        f"| {t.score.upper()} | {latest} | {op} {t.threshold:.2f} | {state} | "
        f"{_num(t.per_change)} | {_num(t.per_day)} | {eta} | {_confidence(t.confidence)} |"
    )


def _confidence(c: float) -> str:
    label = "high" if c >= 0.7 else "medium" if c >= 0.4 else "low"
    return f"{label} ({c:.2f})"


def forecast(f: Forecast) -> str:
    out = ["### 🔮 MORIARTY forecast", ""]
    if f.status == "INSUFFICIENT_DATA":
        out += [f"**Insufficient data**: {f.summary}", ""]
        return "\n".join(out)
    out += [f"History: {f.points} points from {f.first} to {f.last} (trend over the last "
            f"{f.window}).", ""]  # fmt: skip
    out += [
        "| score | latest | threshold | trend | per change | per day | to threshold | confidence |",
        "|---|---|---|---|---|---|---|---|",
        *(_trend_row(t) for t in f.trends),
        "",
        f"**Forecast**: {f.summary}",
    ]
    flags = [n for flag, n in ((f.plateau, "PLATEAU"), (f.regression, "REGRESSION")) if flag]
    if flags:
        out.append(f"**Detected**: {', '.join(flags)}")
    notes = [n for t in f.trends for n in t.notes]
    if notes:
        out += ["", *(f"- {cell(n)}" for n in notes)]
    return "\n".join(out) + "\n"


def report(inv: Investigation, exam: Examination, fc: Forecast) -> str:
    head = [
        "## Wesley HOLMES report",
        "",
        f"{ICON[inv.verdict]} HOLMES: **{inv.verdict}** · "
        f"{'✅' if exam.verdict == 'PASSED' else '❌'} WATSON: **{exam.verdict}** · "
        f"🔮 MORIARTY: {fc.summary}",
        "",
        "",
    ]
    return "\n".join(head) + "\n".join([investigation(inv), examination(exam), forecast(fc)])
