"""Changes → a Plan: operations make step drafts, the one lock classifier supplies the lock
facts of every statement, and steps are ordered by phase and dependency."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from wesley.ir import IR, ir_hash
from wesley.plan.diff import Change, diff
from wesley.plan.facts import Facts
from wesley.plan.lockmodes import LockMode, blocks_reads, blocks_writes, strength
from wesley.plan.locks import LockFacts, TableContext, classify
from wesley.plan.models import PHASES, Blocks, LockEntry, Plan, Refusal, Step, Undo, with_hash
from wesley.plan.operations import OPERATIONS, Context, Draft, add_column, alter_column_type
from wesley.plan.operations.base import RANK
from wesley.plan.operations.shared import helper_drafts
from wesley.sqltext import column_type, quote_ident
from wesley.targets.sqlnames import pk_name

DEFAULT_SERVER_VERSION = 150000
DEFAULT_BATCH_SIZE = 1000
LOCK_POINTS: dict[LockMode, int] = {
    "ACCESS EXCLUSIVE": 5,
    "EXCLUSIVE": 4,
    "SHARE ROW EXCLUSIVE": 3,
    "SHARE": 3,
    "SHARE UPDATE EXCLUSIVE": 1,
}


def _contexts(old: IR, new: IR) -> dict[str, TableContext]:
    """What the classifier cannot read from a statement, per table (the new schema's view
    first, the old one's for tables that are going away). Built once per plan."""
    out: dict[str, TableContext] = {}
    current = {
        t.name: {c.name: column_type(c) for c in t.columns} for t in old.tables
    }  # a type change is judged from the type the column has before the step
    old_fks = {t.name: t.foreign_keys for t in old.tables}  # a dropped FK still locks its target
    for ir in (new, old):
        referrers: dict[str, set[str]] = {}
        for o in ir.tables:
            for fk in o.foreign_keys:
                referrers.setdefault(fk.ref_table, set()).add(o.name)
        for t in ir.tables:
            if t.name in out:
                continue
            fks = [*old_fks.get(t.name, []), *t.foreign_keys]
            out[t.name] = TableContext(
                column_types={c.name: column_type(c) for c in t.columns} | current.get(t.name, {}),
                foreign_keys={fk.name: fk.ref_table for fk in fks},
                foreign_key_columns={fk.name: frozenset(fk.columns) for fk in fks},
                referenced_by=frozenset(referrers.get(t.name, set())),
                indexes=frozenset(
                    [ix.name for ix in t.indexes] + [u.name for u in t.uniques] + [pk_name(t)]
                ),
            )
    return out


def _for_draft(contexts: dict[str, TableContext], draft: Draft) -> dict[str, TableContext]:
    """The per-plan contexts, plus what this step knows: a validated NOT NULL check."""
    if not draft.valid_not_null or draft.table not in contexts:
        return contexts
    own = replace(contexts[draft.table], valid_not_null_checks=draft.valid_not_null)
    return {**contexts, draft.table: own}


def _facts(sql: str, version: int, contexts: Mapping[str, TableContext]) -> LockFacts:
    return classify(sql, version, contexts)


def _drafts_for(change: Change, ctx: Context, version: int) -> list[Draft]:
    if change.kind == "add_column":
        col = change.new
        volatile = False
        if col.default is not None:
            probe = (
                f"ALTER TABLE {quote_ident(change.table)} ADD COLUMN {quote_ident(col.name)} "
                f"{column_type(col)} DEFAULT {col.default.sql}"
            )
            volatile = classify(probe, version, {}).rewrite
        return add_column(change, ctx, volatile)
    if change.kind == "alter_column_type":
        probe = (
            f"ALTER TABLE {quote_ident(change.table)} ALTER COLUMN "
            f"{quote_ident(change.new.name)} TYPE {column_type(change.new)}"
        )
        old_types = {change.new.name: column_type(change.old)}
        facts = classify(probe, version, {change.table: TableContext(column_types=old_types)})
        return alter_column_type(change, ctx, facts.rewrite)
    return OPERATIONS[change.kind](change, ctx)


def _strongest(modes: list[LockMode]) -> LockMode | None:
    if not modes:
        return None
    best: LockMode = modes[0]
    for mode in modes[1:]:
        if strength(mode) > strength(best):
            best = mode
    return best


def _step_id(n: int, d: Draft) -> str:
    target = ".".join(x for x in (d.table, d.column) if x)
    slug = re.sub(r"[^A-Za-z0-9_.]+", "_", target)[:80]
    return f"{n:03d}-{d.op}" + (f"-{slug}" if slug else "")


def build_plan(
    old: IR | None,
    new: IR,
    *,
    server_version: int = DEFAULT_SERVER_VERSION,
    allow_destructive: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    data: Facts | None = None,
) -> Plan:
    """`data`: row counts from the live database (see wesley.plan.facts); without them the
    planner assumes the worst for changes that depend on the data."""
    base = old or IR()
    ctx = Context(base, new, allow_destructive, batch_size, server_version, data or Facts())
    drafts: list[Draft] = []
    for change in diff(base, new):
        drafts.extend(_drafts_for(change, ctx, server_version))
    created = [
        p
        for t in new.tables
        for p in t.policies
        if any(d.op == "create_policy" and p.name in d.sql for d in drafts)
    ]
    if created:
        drafts = helper_drafts(created) + drafts
    existing = {t.name for t in base.tables}
    contexts = _contexts(base, new)
    seen: set[tuple[str, str]] = set()
    unique: list[tuple[int, Draft]] = []
    for i, d in enumerate(drafts):
        key = (d.op, d.sql)
        if key in seen:
            continue  # helpers asked for by several changes run once
        seen.add(key)
        unique.append((i, d))
    unique.sort(key=lambda p: (PHASES.index(p[1].phase), RANK.get(p[1].op, 50), p[0]))
    steps: list[Step] = []
    ids = {d.sql: _step_id(n, d) for n, (_, d) in enumerate(unique, start=1)}
    for n, (_, d) in enumerate(unique, start=1):
        facts = _facts(d.sql, server_version, _for_draft(contexts, d))
        strongest = _strongest([lk.mode for lk in facts.locks])
        # a lock on a table the plan itself creates blocks nobody: no points for it
        on_existing = _strongest([lk.mode for lk in facts.locks if lk.relation in existing])
        # a lock held while work runs under it (scan, rewrite) costs its mode's points; a
        # catalog-only write-blocking lock is held for milliseconds: one point
        if on_existing is None:
            lock_points = 0
        elif facts.rewrite or facts.scan:
            lock_points = LOCK_POINTS.get(on_existing, 0)
        else:
            lock_points = 1 if blocks_writes(on_existing) else 0
        risk = d.risk + lock_points + (10 if facts.rewrite else 0)
        risk += 5 if facts.scan and on_existing and blocks_writes(on_existing) else 0
        steps.append(
            Step(
                id=_step_id(n, d),
                phase=d.phase,
                op=d.op,
                table=d.table,
                column=d.column,
                sql=d.sql,
                transactional=facts.transactional,
                locks=[LockEntry(relation=lk.relation, mode=lk.mode) for lk in facts.locks],
                rewrite=facts.rewrite,
                scan=facts.scan,
                blocks=Blocks(
                    reads=bool(strongest and blocks_reads(strongest)),
                    writes=bool(strongest and blocks_writes(strongest)),
                ),
                risk=risk,
                why=d.why,
                guard=d.guard,
                destructive=d.destructive,
                backfill=d.backfill,
                undo=Undo(
                    sql=d.undo[0],
                    reopen=[ids[d.undo[1]]] if d.undo[1] in ids else [],
                    why="so the application's writes are not rejected while the data is fixed",
                )
                if d.undo
                else None,
                notes=[*d.notes, *facts.notes],
            )
        )
    plan = Plan(
        from_ir_hash=ir_hash(old) if old is not None else None,
        to_ir_hash=ir_hash(new),
        server_version=server_version,
        steps=steps,
        destructive=[
            Refusal(
                change=r.change, table=r.table, column=r.column, risk=r.risk, blocking=r.blocking
            )
            for r in ctx.refused
        ],
        behaviour_changes=[d.behaviour for _, d in unique if d.behaviour is not None],
        allow_destructive=allow_destructive,
    )
    return with_hash(plan)
