"""`plan --explain`: per phase, one line per step with its locks and the reason, in words."""

from __future__ import annotations

from wesley.plan.models import PHASES, Plan, Step


def _work(step: Step) -> str:
    if step.rewrite:
        return "REWRITE"
    if step.backfill:
        return f"batches of {step.backfill.batch_size}"
    if step.scan:
        return "scan"
    return "catalog only"


def _blocks(step: Step) -> str:
    if step.blocks.reads:
        return "blocks reads+writes"
    if step.blocks.writes:
        return "blocks writes"
    return "blocks neither"


def step_line(step: Step) -> str:
    target = ".".join(x for x in (step.table, step.column) if x) or "-"
    locks = ", ".join(f"{lk.relation}: {lk.mode}" for lk in step.locks) or "no table lock"
    conc = "" if step.transactional else " (outside a transaction)"
    return (
        f"  {step.id.split('-')[0]} {step.op:<20} {target:<28} {locks}; {_work(step)}; "
        f"{_blocks(step)}{conc} — {step.why}"
    )


def explain(plan: Plan) -> str:
    version = f"{plan.server_version // 10000}.{plan.server_version % 10000}"
    lines = [
        f"plan {plan.plan_hash[:12]} for PostgreSQL {version}: {len(plan.steps)} steps"
        + (", destructive changes allowed" if plan.allow_destructive else "")
    ]
    if plan.empty:
        lines.append("nothing to do: the schemas are the same")
        return "\n".join(lines)
    for phase, steps in plan.by_phase().items():
        if not steps:
            continue
        lines.append(f"{phase}:")
        for step in steps:
            lines.append(step_line(step))
            lines.extend(f"      note: {n}" for n in step.notes)
    if plan.behaviour_changes:
        lines.append("behaviour changes (what the application sees changes, without an error):")
        lines.extend(f"  {b.table}: {b.message}" for b in plan.behaviour_changes)
    others = [r for r in plan.destructive if not r.blocking]
    if others:
        head = (
            "destructive changes, planned because --allow-destructive was given:"
            if plan.allow_destructive
            else "destructive changes, NOT planned (rerun with --allow-destructive):"
        )
        lines.append(head)
        for r in others:
            where = ".".join(x for x in (r.table, r.column) if x)
            lines.append(f"  {r.change} {where}: {r.risk}")
    if plan.blocked:
        lines.append("changes that cannot be planned until the data changes (NOT planned):")
        for r in plan.blocked:
            where = ".".join(x for x in (r.table, r.column) if x)
            lines.append(f"  {r.change} {where}: {r.risk}")
    assert PHASES  # the order above is PHASES' order
    return "\n".join(lines)


def differences(plan: Plan) -> list[str]:
    """What a plan would change, one line each: how a database differs from a schema."""
    lines = []
    for step in plan.steps:
        target = ".".join(x for x in (step.table, step.column) if x) or "-"
        lines.append(f"{step.op} {target}: {step.why}")
    for r in plan.destructive:
        target = ".".join(x for x in (r.table, r.column) if x)
        lines.append(f"{r.change} {target}: {r.risk}")
    return lines
