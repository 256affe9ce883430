"""`plan --explain`: per phase, each step with its locks, work, what it blocks, its risk, and
why, in words. Fits a width (wrapped lines), or one line per step with `wide`. Runs of helper
and comment steps are grouped; locks on tables the plan itself creates are marked harmless.
The head line gives the plan's MRI (the figure `cert create` scores) and whether the server
version is known or assumed."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Literal

from wesley.plan.models import Compat, Plan, Refusal, Step
from wesley.plan.summary import blocking_locks, created_tables, mri, risk_points

VersionSource = Literal["assumed", "database", "given"]
GROUPED = ("comment", "ensure_helpers")  # many alike, each harmless: one line per run
DEFAULT_WIDTH = 100


def _work(step: Step) -> str:
    if step.rewrite:
        return "REWRITE"
    if step.backfill:
        return f"batches of {step.backfill.batch_size}"
    if step.scan:
        return "scan"
    return "catalog only"


def _blocks(step: Step, new: set[str]) -> str:
    if step.blocks.writes and not blocking_locks(step, new):
        return "blocks nobody (new table)"
    if step.blocks.reads:
        return "blocks reads+writes"
    if step.blocks.writes:
        return "blocks writes"
    return "blocks neither"


def _locks(step: Step, new: set[str]) -> str:
    old = [f"{lk.relation}: {lk.mode}" for lk in step.locks if lk.relation not in new]
    fresh = [f"{lk.relation} {lk.mode}" for lk in step.locks if lk.relation in new]
    if fresh:
        old.append(f"new table{'s' if len(fresh) > 1 else ''} (harmless): " + ", ".join(fresh))
    return ", ".join(old) or "no table lock"


def _target(step: Step) -> str:
    return ".".join(x for x in (step.table, step.column) if x) or "-"


def step_line(step: Step, new: set[str] | None = None) -> str:
    """One step on one line (`--wide`)."""
    new = new or set()
    conc = "" if step.transactional else " (outside a transaction)"
    return (
        f"  {step.id.split('-')[0]} {step.op:<20} {_target(step):<28} risk {step.risk:<3} "
        f"{_locks(step, new)}; {_work(step)}; {_blocks(step, new)}{conc} — {step.why}"
    )


def _runs(steps: list[Step]) -> Iterator[list[Step]]:
    """Consecutive steps, runs of the same grouped op together."""
    run: list[Step] = []
    for step in steps:
        if run and not (step.op in GROUPED and step.op == run[-1].op):
            yield run
            run = []
        run.append(step)
    if run:
        yield run


def _fill(text: str, width: int, indent: str, first: str | None = None) -> list[str]:
    return textwrap.wrap(
        text,
        width=max(width, 40),
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_on_hyphens=False,
    ) or [indent]


def _step_lines(step: Step, new: set[str], width: int) -> list[str]:
    conc = " · outside a transaction" if not step.transactional else ""
    head = (
        f"{step.id.split('-')[0]} {step.op} {_target(step)} · risk {step.risk} · "
        f"{_locks(step, new)} · {_work(step)} · {_blocks(step, new)}{conc}"
    )
    lines = _fill(head, width, " " * 8, "  ")
    lines += _fill(step.why, width, " " * 6)
    for note in step.notes:
        lines += _fill(note, width, " " * 12, "      note: ")
    return lines


def _group_lines(run: list[Step], new: set[str], width: int) -> list[str]:
    first, last = run[0].id.split("-")[0], run[-1].id.split("-")[0]
    per_table: dict[str, int] = {}
    for s in run:
        per_table[s.table or "-"] = per_table.get(s.table or "-", 0) + 1
    on = ", ".join(f"{t} ({n})" if n > 1 else t for t, n in per_table.items() if t != "-")
    on = f" on {on}" if on else ""
    modes = ", ".join(dict.fromkeys(lk.mode for s in run for lk in s.locks)) or "no table lock"
    harmless = all(lk.relation in new for s in run for lk in s.locks)
    head = (
        f"{first}-{last} {run[0].op}, {len(run)} steps{on} · risk "
        f"{sum(s.risk for s in run)} · {modes}"
        + (" (new tables, harmless)" if harmless and modes != "no table lock" else "")
        + f" · {_work(run[0])} · {_blocks(run[0], new)}"
    )
    whys = list(dict.fromkeys(s.why for s in run))
    why = "; ".join(whys[:3]) + (f"; and {len(whys) - 3} more like it" if len(whys) > 3 else "")
    return _fill(head, width, " " * 8, "  ") + _fill(why, width, " " * 6)


def stage_lines(two_stage: bool, c: Compat | None) -> list[str]:
    """How each application version connects while a two-stage plan is in flight, and what
    ends it."""
    if not two_stage:
        return []
    lines = ["two stages: `wesley deploy` runs expand -> switch and stops; the contract waits"]
    if c is not None:
        lines += [
            f"  old application version: keeps search_path = {c.old_search_path} (what it uses "
            "today); it works until `wesley deploy --complete`",
            f"  new application version: SET search_path = {c.new_search_path}  (connect it "
            "once `wesley deploy` has returned; keep it: after --complete the same names "
            "resolve to public)",
        ]
        for v in c.views:
            mapped = [f"{col.name} <- {col.source}" for col in v.columns if col.name != col.source]
            lines.append(
                f"  view {c.version_schema}.{v.name} over public.{v.table}"
                + (f" ({', '.join(mapped)})" if mapped else "")
            )
        for sh in c.shadows:
            lines.append(
                f"  {sh.table}.{sh.column}: {sh.from_type} -> {sh.to_type} through shadow column "
                f"{sh.shadow}, kept in sync by a trigger both ways"
            )
    else:
        lines.append(
            "  the contract removes what the old application version uses: both keep "
            "search_path = public"
        )
    lines += [
        "  retire the old version, then `wesley deploy --complete` runs the contract",
        "  `wesley deploy --abort` rolls the expand back instead (no data is lost)",
    ]
    return lines


def _version(plan: Plan, source: VersionSource) -> str:
    major, minor = plan.server_version // 10000, plan.server_version % 10000
    if source == "database":
        return f"PostgreSQL {major}.{minor} (read from the database)"
    if source == "given":
        return f"PostgreSQL {major}.{minor} (--server-version)"
    return f"PostgreSQL {major} (assumed: --from-db or --server-version to know)"


def explain(
    plan: Plan,
    *,
    width: int = DEFAULT_WIDTH,
    wide: bool = False,
    version: VersionSource = "assumed",
) -> str:
    new = created_tables(plan)
    head = (
        f"plan {plan.plan_hash[:12]}: {len(plan.steps)} steps, MRI {mri(plan):.2f} "
        f"({risk_points(plan)} risk points), for {_version(plan, version)}"
        + (", destructive changes allowed" if plan.allow_destructive else "")
    )
    lines = [head] if wide else _fill(head, width, "  ", "")
    if plan.empty:
        lines.append("nothing to do: the schemas are the same")
        return "\n".join(lines)
    for phase, steps in plan.by_phase().items():
        if not steps:
            continue
        lines.append(f"{phase}:")
        if wide:
            for step in steps:
                lines.append(step_line(step, new))
                lines.extend(f"      note: {n}" for n in step.notes)
            continue
        for run in _runs(steps):
            if len(run) > 1:
                lines += _group_lines(run, new, width)
            else:
                lines += _step_lines(run[0], new, width)

    def section(head: str, items: list[str]) -> None:
        nonlocal lines
        lines += [head] if wide else _fill(head, width, "  ", "")
        for text in items:
            lines += [f"  {text}"] if wide else _fill(text, width, " " * 6, "  ")

    def where(r: Refusal) -> str:
        return ".".join(x for x in (r.table, r.column) if x)

    stages = stage_lines(plan.two_stage, plan.compat)
    if stages:
        section(stages[0], [line.strip() for line in stages[1:]])
    if plan.abort:
        lines.append("abort (`wesley deploy --abort`, before --complete):")
        for step in plan.abort:
            lines += [step_line(step, new)] if wide else _step_lines(step, new, width)
    if plan.notes:
        section("notes:", plan.notes)
    if plan.behaviour_changes:
        section(
            "behaviour changes (what the application sees changes, without an error):",
            [f"{b.table}: {b.message}" for b in plan.behaviour_changes],
        )
    others = [r for r in plan.destructive if not r.blocking]
    if others:
        head = (
            "destructive changes, planned because --allow-destructive was given:"
            if plan.allow_destructive
            else "destructive changes, NOT planned (rerun with --allow-destructive):"
        )
        section(head, [f"{r.change} {where(r)}: {r.risk}" for r in others])
    if plan.blocked:
        section(
            "changes that cannot be planned until the data changes (NOT planned):",
            [f"{r.change} {where(r)}: {r.risk}" for r in plan.blocked],
        )
    return "\n".join(lines)


def differences(plan: Plan) -> list[str]:
    """What a plan would change, one line each: how a database differs from a schema."""
    lines = []
    for step in plan.steps:
        lines.append(f"{step.op} {_target(step)}: {step.why}")
    for r in plan.destructive:
        target = ".".join(x for x in (r.table, r.column) if x)
        lines.append(f"{r.change} {target}: {r.risk}")
    return lines
