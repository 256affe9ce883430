"""Facts about a whole plan that several readers share (explain, SHIPME.md, the MRI): which
tables the plan itself creates, and its risk."""

from __future__ import annotations

from wesley.plan.lockmodes import blocks_writes
from wesley.plan.models import LockEntry, Plan, Step

MRI_CAP = 100  # DESIGN §7: risk points capped at 100, ÷ 100


def created_tables(plan: Plan) -> set[str]:
    """Tables the plan creates: nobody else can be using them while it runs, so a lock on
    them blocks nobody."""
    return {s.table for s in plan.steps if s.op == "create_table" and s.table}


def risk_points(plan: Plan) -> int:
    return sum(s.risk for s in plan.steps)


def mri(plan: Plan) -> float:
    """The plan's migration risk index, as `cert create` scores it."""
    return round(min(risk_points(plan), MRI_CAP) / MRI_CAP, 4)


def blocking_locks(step: Step, new: set[str]) -> list[LockEntry]:
    """The step's write-blocking locks on tables that exist before the plan."""
    return [lk for lk in step.locks if blocks_writes(lk.mode) and lk.relation not in new]
