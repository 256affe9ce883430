"""Changes → a Plan: operations make step drafts, the one lock classifier supplies the lock
facts of every statement, and steps are ordered by phase and dependency."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from wesley.ir import IR, ir_hash
from wesley.plan.compat import (
    OLD_SEARCH_PATH,
    Flight,
    contract_grant_changes,
    flight_for,
    flight_objects,
    rewrites,
)
from wesley.plan.diff import Change, diff, function_changes
from wesley.plan.facts import Facts
from wesley.plan.lockmodes import LockMode, blocks_reads, blocks_writes, strength
from wesley.plan.locks import LockFacts, TableContext, classify
from wesley.plan.models import (
    PHASES,
    Blocks,
    Compat,
    LockEntry,
    Phase,
    Plan,
    Refusal,
    ShadowColumn,
    Step,
    Undo,
    VersionView,
    ViewColumn,
    with_hash,
)
from wesley.plan.operations import OPERATIONS, Context, Draft, add_column, alter_column_type
from wesley.plan.operations.base import ABORT_RANK, RANK
from wesley.plan.operations.change_type import change_type
from wesley.plan.operations.set_primary_key import new_pk_index
from wesley.plan.operations.shared import helper_drafts
from wesley.plan.operations.version_schema import version_schema
from wesley.sqltext import column_type, quote_ident
from wesley.targets.sqlnames import pk_name

DEFAULT_SERVER_VERSION = 150000
ORDER: tuple[Phase, ...] = (*PHASES, "abort")
DEFAULT_BATCH_SIZE = 1000
LOCK_POINTS: dict[LockMode, int] = {
    "ACCESS EXCLUSIVE": 5,
    "EXCLUSIVE": 4,
    "SHARE ROW EXCLUSIVE": 3,
    "SHARE": 3,
    "SHARE UPDATE EXCLUSIVE": 1,
}


def _contexts(old: IR, new: IR, extra: tuple[IR, ...] = ()) -> dict[str, TableContext]:
    """What the classifier cannot read from a statement, per table name, merged over the old
    and the new schema (and, while two versions are live, the flight schema with its shadow
    columns and temporary keys). Built once per plan."""
    out: dict[str, TableContext] = {}
    current = {
        t.name: {c.name: column_type(c) for c in t.columns} for t in old.tables
    }  # a type change is judged from the type the column has before the step
    # while two versions are live the physical names are the flight schema's until the
    # renames at the very end of the contract: its facts come first (a foreign key still
    # references the old name of a renamed table when the swap drops it)
    irs = (*extra, new, old)
    referrers: dict[str, set[str]] = {}
    for ir in irs:
        for o in ir.tables:
            for fk in o.foreign_keys:
                referrers.setdefault(fk.ref_table, set()).add(o.name)
    for ir in irs:
        for t in ir.tables:
            known = out.get(t.name)
            types = {c.name: column_type(c) for c in t.columns}
            fks = {fk.name: fk for fk in t.foreign_keys}  # a dropped FK still locks its target
            index_columns = {ix.name: frozenset(ix.columns) for ix in t.indexes} | {
                u.name: frozenset(u.columns) for u in t.uniques
            }
            index_columns[pk_name(t)] = frozenset(t.primary_key)
            # a changed key's index, built CONCURRENTLY by an earlier step, then attached
            index_columns[new_pk_index(t)] = frozenset(t.primary_key)
            not_null = frozenset(c.name for c in t.columns if not c.nullable)
            if known is None:
                out[t.name] = TableContext(
                    column_types=types | current.get(t.name, {}),
                    foreign_keys={n: fk.ref_table for n, fk in fks.items()},
                    foreign_key_columns={n: frozenset(fk.columns) for n, fk in fks.items()},
                    referenced_by=frozenset(referrers.get(t.name, set())),
                    indexes=frozenset(index_columns),
                    index_columns=index_columns,
                    not_null_columns=not_null,
                )
                continue
            out[t.name] = replace(
                known,
                column_types=types | dict(known.column_types),
                foreign_keys={n: fk.ref_table for n, fk in fks.items()} | dict(known.foreign_keys),
                foreign_key_columns={n: frozenset(fk.columns) for n, fk in fks.items()}
                | dict(known.foreign_key_columns),
                indexes=known.indexes | frozenset(index_columns),
                index_columns=index_columns | dict(known.index_columns),
                not_null_columns=known.not_null_columns | not_null,
            )
    return out


def _for_draft(contexts: dict[str, TableContext], draft: Draft) -> dict[str, TableContext]:
    """The per-plan contexts, plus what this step knows: a validated NOT NULL check, foreign
    keys an earlier step dropped."""
    out = contexts
    if draft.valid_not_null and draft.table in out:
        own = replace(out[draft.table], valid_not_null_checks=draft.valid_not_null)
        out = {**out, draft.table: own}
    if draft.gone_fks:
        out = dict(out)
        for name, ctx in out.items():
            if draft.gone_fks & set(ctx.foreign_keys):
                out[name] = replace(
                    ctx,
                    foreign_keys={
                        k: v for k, v in ctx.foreign_keys.items() if k not in draft.gone_fks
                    },
                    foreign_key_columns={
                        k: v for k, v in ctx.foreign_key_columns.items() if k not in draft.gone_fks
                    },
                )
    return out


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
        return alter_column_type(change, ctx, rewrites(change, version))
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


def _rank(d: Draft) -> int:
    return (ABORT_RANK if d.phase == "abort" else RANK).get(d.op, 50)


# ops in a contract that remove something the old application version uses
_REMOVING = frozenset({"drop_column", "drop_table"})


def _flight_drafts(flight: Flight, ctx: Context, version: int) -> list[Draft]:
    drafts: list[Draft] = []
    for change in flight.renames:
        drafts.extend(OPERATIONS[change.kind](change, ctx))
    for s in flight.shadows:
        drafts.extend(change_type(Change("change_type", s.table, s.new.name), ctx))
    drafts.extend(version_schema(Change("version_schema", flight.schema), ctx))
    return drafts


def _compat(flight: Flight) -> Compat:
    return Compat(
        version_schema=flight.schema,
        old_search_path=OLD_SEARCH_PATH,
        new_search_path=flight.new_search_path,
        views=[
            VersionView(
                name=v.name,
                table=v.table,
                columns=[ViewColumn(name=n, source=src) for n, src in v.columns],
            )
            for v in flight.views
        ],
        shadows=[
            ShadowColumn(
                table=s.table,
                column=s.new.name,
                shadow=s.shadow,
                from_type=s.old.type,
                to_type=s.new.type,
                up=s.up,
                down=s.down,
            )
            for s in flight.shadows
        ],
        contract_begun=flight.contract_begun(),
    )


def _unused_casts(new: IR, flight: Flight | None) -> list[str]:
    """`@wes_cast` on a column whose type does not change in this plan: said, not ignored."""
    out = []
    for t in new.tables:
        for c in t.columns:
            if c.cast is not None and (flight is None or flight.shadow(t.name, c.name) is None):
                out.append(
                    f"@wes_cast on {t.name}.{c.name} is not used: its type does not change in "
                    "this plan (remove it once the migration that needed it is complete)"
                )
    return out


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
    changes = diff(base, new)
    flight = flight_for(base, new, changes, server_version, ir_hash(new))
    drafts: list[Draft] = []
    extra: tuple[IR, ...] = ()
    if flight is not None:
        ctx.flight = flight
        for change, why in flight.blocked:
            ctx.block(change, why)
        for s in flight.shadows:
            if (s.table, s.new.name) in ctx.facts.identity:
                ctx.block(
                    Change("alter_column_type", s.table, s.new.name),
                    f"{s.where} is an identity column: its sequence cannot move to a new "
                    "column; make it a plain column with a sequence default first",
                )
        changes = diff(base, flight.mid)
        extra = (flight.mid, flight_objects(flight, new))
    # while two versions are live, the ordinary changes take the old schema to the flight
    # schema: their operations read table and column names there (the refusals are shared)
    ordinary = replace(ctx, new=flight.mid) if flight is not None else ctx
    for change in changes:
        drafts.extend(_drafts_for(change, ordinary, server_version))
    if flight is not None:
        drafts.extend(_flight_drafts(flight, ctx, server_version))
        for change in contract_grant_changes(flight, new):
            drafts.extend(OPERATIONS[change.kind](change, ctx))
        for change in function_changes(flight.mid, new):
            late = OPERATIONS[change.kind](change, ctx)
            drafts.extend(replace(d, phase="contract") for d in late)
    created = [
        p
        for t in new.tables
        for p in t.policies
        if any(d.op == "create_policy" and p.name in d.sql for d in drafts)
    ]
    if created:
        drafts = helper_drafts(created) + drafts
    existing = {t.name for t in base.tables}
    contexts = _contexts(base, new, extra)
    seen: set[tuple[str, str, str]] = set()
    unique: list[tuple[int, Draft]] = []
    for i, d in enumerate(drafts):
        key = (d.phase, d.op, d.sql)
        if key in seen:
            continue  # helpers asked for by several changes run once
        seen.add(key)
        unique.append((i, d))
    unique.sort(key=lambda p: (ORDER.index(p[1].phase), _rank(p[1]), p[0]))
    if flight is not None:
        # the contract's drops run before its swaps and renames: once one of those is done, so
        # are the drops, whatever their guards say (a dropped column's name may be taken by a
        # renamed one by then)
        begun = flight.contract_begun()
        unique = [
            (i, replace(d, guard=f"SELECT COALESCE(({d.guard}), false) OR ({begun})"))
            if d.phase == "contract" and _rank(d) < RANK["move_sequence"]
            else (i, d)
            for i, d in unique
        ]
    all_steps: list[Step] = []
    ids = {d.sql: _step_id(n, d) for n, (_, d) in enumerate(unique, start=1) if d.phase != "abort"}
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
        if d.phase == "abort":
            risk = 0  # not part of the migration's risk: it runs only to take it back
        all_steps.append(
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
                    hint=d.undo_hint,
                )
                if d.undo
                else None,
                notes=[*d.notes, *facts.notes],
            )
        )
    steps = [s for s in all_steps if s.phase != "abort"]
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
        two_stage=flight is not None
        or any(s.phase == "contract" and s.op in _REMOVING for s in steps),
        compat=_compat(flight) if flight is not None else None,
        abort=[s for s in all_steps if s.phase == "abort"],
        notes=_unused_casts(new, flight),
    )
    return with_hash(plan)
