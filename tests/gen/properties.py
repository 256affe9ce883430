"""The standing judge: what must hold for every valid schema and every valid v1 → v2 change,
checked against a real PostgreSQL. Used by tests/test_generated.py (bounded, seeded, in CI)
and scripts/soak (thousands, random seeds).

For a schema (`check_schema`):
- transform's schema.sql and rls.sql apply to an empty database, and the generated pgTAP
  suite passes on it;
- the database introspected is the IR (tables, columns, types, defaults, keys, uniques,
  indexes, checks, policies), and a plan from it to the schema is empty;
- `rehearse --fresh` (the plan from nothing, applied by the executor) says PASS, with the
  locks it observed equal to the ones it predicted.
For a migration (`check_migration`):
- `rehearse` from v1 (seeded) to v2 says PASS, observed locks equal to predicted;
- the plan applied step by step to another copy of v1 with rows, every step observed
  (locks, rewrite, scan; tests/plan_apply.py), gives exactly v2 and plans nothing more;
- the safe-rewrite rules hold on the plan (`safe_rewrite_violations`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from pglast import ast, parse_sql
from pglast.enums import AlterTableType, ConstrType

from tests.gen.schemas import ROLES, Migration, Schema
from tests.plan_apply import apply_plan
from tests.schema_compare import assert_database_matches
from wesley.db.apply import apply_script
from wesley.db.cluster import create_database, drop_database
from wesley.db.dsn import with_dbname
from wesley.db.introspect import introspect
from wesley.db.pgtap import ensure_pgtap, run_suite
from wesley.db.seed import seed_rows
from wesley.ir import IR
from wesley.plan.build import build_plan
from wesley.plan.models import Plan
from wesley.realm.models import Realm
from wesley.realm.rehearse import RehearseOptions, rehearse
from wesley.sdl import parse_sdl
from wesley.targets.pgtap import pgtap
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls

SEED_ROWS = 6


class JudgeFailed(AssertionError):
    """A property does not hold; the message says which and shows the SDL."""


TEMPLATE = "wesley_gen_template"


@contextmanager
def scratch(admin_dsn: str) -> Iterator[str]:
    """A new database made from TEMPLATE (see `prepare_server`), dropped afterwards."""
    name = f"wesley_g_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    try:
        yield with_dbname(admin_dsn, name)
    finally:
        drop_database(admin_dsn, name)


def prepare_server(admin_dsn: str) -> None:
    """The roles generated grants and policies name (cluster-wide, NOLOGIN), and TEMPLATE, a
    database with pgTAP installed that scratch databases are copied from (installing it in
    each costs a second)."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for role in ROLES:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                continue
            with suppress(psycopg.errors.DuplicateObject):  # made by another session meanwhile
                conn.execute(f'CREATE ROLE "{role}" NOLOGIN')
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (TEMPLATE,)).fetchone():
            return
        with suppress(psycopg.errors.DuplicateDatabase):
            create_database(admin_dsn, TEMPLATE)
            with psycopg.connect(with_dbname(admin_dsn, TEMPLATE), autocommit=True) as tconn:
                ensure_pgtap(tconn)


def ir_of(schema: Schema, name: str = "schema.graphql") -> IR:
    return parse_sdl(schema.sdl(), name).ir


def _realm_failure(realm: Realm) -> str:
    if realm.failure is None:
        return f"verdict {realm.verdict}"
    f = realm.failure
    return f"{f.code}: {f.message} ({f.hint})"


def lock_differences(realm: Realm, plan: Plan, tables: set[str]) -> list[str]:
    """Steps the rehearsal applied whose observed locks or rewrite differ from the plan's.
    The executor observes tables only (`tables`: their names), and a non-transactional step
    only when its watcher looks while it runs (best effort: a CONCURRENTLY build on a few
    rows is over before that; tests/plan_apply.py observes every such step)."""
    steps = {s.id: s for s in plan.steps}
    out = []
    for rec in realm.steps:
        if rec.status != "applied" or rec.rows is not None:
            continue  # skipped by a guard; a backfill's batches are the executor's own
        predicted = {lk.relation: lk.mode for lk in rec.predicted_locks if lk.relation in tables}
        observed = {lk.relation: lk.mode for lk in rec.observed_locks}
        step = steps.get(rec.id)
        if step is not None and not step.transactional and not observed:
            continue
        if predicted != observed or rec.rewrite != rec.predicted_rewrite:
            out.append(
                f"{rec.id}: predicted {predicted} rewrite={rec.predicted_rewrite}, "
                f"observed {observed} rewrite={rec.rewrite}"
            )
    return out


def check_schema(admin_dsn: str, schema: Schema) -> None:
    check_ir(admin_dsn, ir_of(schema))


def check_ir(admin_dsn: str, ir: IR) -> None:
    with scratch(admin_dsn) as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        apply_script(conn, postgres(ir)[0].text, "schema.sql")
        apply_script(conn, rls(ir)[0].text, "rls.sql")
        tap = run_suite(conn, pgtap(ir)[0].text)
        if not tap.ok:
            raise JudgeFailed(
                f"pgTAP on the database built from schema.sql + rls.sql: {tap.failed} of "
                f"{tap.planned} failed:\n" + "\n".join(tap.failures[:5])
            )
        have = introspect(conn)
        assert_database_matches(ir, have, policies=True)
        again = build_plan(
            have, ir, allow_destructive=True, server_version=conn.info.server_version
        )
        if again.steps:
            raise JudgeFailed(
                "a plan from the database built from schema.sql is not empty:\n"
                + "\n".join(s.sql for s in again.steps[:10])
            )
    with scratch(admin_dsn) as dsn:
        realm, plan = rehearse(None, ir, RehearseOptions(dsn=dsn))
        if realm.verdict != "PASS":
            raise JudgeFailed(f"rehearse --fresh: {_realm_failure(realm)}")
        wrong = lock_differences(realm, plan, {t.name for t in ir.tables})
        if wrong:
            raise JudgeFailed("rehearse --fresh, locks:\n" + "\n".join(wrong))


def check_migration(admin_dsn: str, migration: Migration) -> None:
    old, new = ir_of(migration.v1, "v1.graphql"), ir_of(migration.v2, "v2.graphql")
    check_migration_ir(admin_dsn, old, new)


def check_migration_ir(admin_dsn: str, old: IR, new: IR) -> None:
    with scratch(admin_dsn) as dsn:
        realm, plan = rehearse(
            old, new, RehearseOptions(dsn=dsn, seed_rows=SEED_ROWS, allow_destructive=True)
        )
        if realm.verdict != "PASS":
            raise JudgeFailed(f"rehearse v1 → v2: {_realm_failure(realm)}")
        wrong = lock_differences(realm, plan, {t.name for t in (*old.tables, *new.tables)})
        if wrong:
            raise JudgeFailed("rehearse v1 → v2, locks:\n" + "\n".join(wrong))
    broken = safe_rewrite_violations(old, new, plan)
    if broken:
        raise JudgeFailed("safe-rewrite rules:\n" + "\n".join(broken))
    check_applied(admin_dsn, old, new)


def check_applied(admin_dsn: str, old: IR, new: IR) -> None:
    """The plan applied to v1 with rows, every step observed: exactly v2, nothing more."""
    with scratch(admin_dsn) as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        build_old(conn, old)
        version = conn.info.server_version
        plan = build_plan(old, new, server_version=version, allow_destructive=True)
        apply_plan(conn, plan, observe=True)
        have = introspect(conn)
        assert_database_matches(new, have, policies=True, ordered=False)
        again = build_plan(have, new, allow_destructive=True, server_version=version)
        if again.steps:
            raise JudgeFailed(
                "a plan from the migrated database is not empty:\n"
                + "\n".join(s.sql for s in again.steps[:10])
            )


def build_old(conn: psycopg.Connection[Any], old: IR) -> None:
    apply_script(conn, postgres(old)[0].text, "old schema.sql")
    apply_script(conn, rls(old)[0].text, "old rls.sql")
    seed_rows(conn, old, SEED_ROWS)


# --- the safe-rewrite rules (DESIGN §5) ---------------------------------------------------


def existing_tables(old: IR, new: IR) -> set[str]:
    """Tables that hold rows before the plan: v1's, under their old and new names."""
    uids = {t.uid: t.name for t in old.tables}
    return {t.name for t in old.tables} | {t.name for t in new.tables if t.uid in uids}


def safe_rewrite_violations(old: IR, new: IR, plan: Plan) -> list[str]:
    """Every rule of DESIGN §5 a step on an existing table breaks: indexes built
    CONCURRENTLY, uniques attached from such an index, foreign keys and checks added NOT
    VALID and validated later, and nothing under ACCESS EXCLUSIVE that scans or rewrites
    (but a destructive step, planned only with --allow-destructive and its rewrite said)."""
    existing = existing_tables(old, new)
    out: list[str] = []
    validated: dict[str, int] = {}
    added_not_valid: dict[str, tuple[int, str]] = {}
    for n, step in enumerate(plan.steps):
        for raw in parse_sql(step.sql):
            stmt: Any = raw.stmt
            relation = getattr(stmt, "relation", None)
            relname: str = relation.relname if relation is not None else ""
            on_existing = relname in existing
            if isinstance(stmt, ast.IndexStmt) and on_existing and not stmt.concurrent:
                out.append(
                    f"{step.id}: index on existing {relname} not built CONCURRENTLY: {step.sql}"
                )
            if not isinstance(stmt, ast.AlterTableStmt) or not on_existing:
                continue
            for cmd in stmt.cmds or ():
                if cmd.subtype == AlterTableType.AT_ValidateConstraint:
                    validated[cmd.name] = n
                if cmd.subtype != AlterTableType.AT_AddConstraint:
                    continue
                con = cmd.def_
                kind = con.contype
                if (
                    kind in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY)
                    and not con.indexname
                ):
                    out.append(
                        f"{step.id}: unique/primary key on existing "
                        f"{relname} not attached from an index: {step.sql}"
                    )
                if kind in (ConstrType.CONSTR_FOREIGN, ConstrType.CONSTR_CHECK):
                    if not con.skip_validation:
                        out.append(
                            f"{step.id}: constraint on existing {relname} "
                            f"added without NOT VALID: {step.sql}"
                        )
                    else:
                        added_not_valid[con.conname] = (n, step.id)
        for lock in step.locks:
            # a destructive step runs only with --allow-destructive, its rewrite explained
            if (
                not step.destructive
                and lock.relation in existing
                and lock.mode == "ACCESS EXCLUSIVE"
                and (step.scan or step.rewrite)
            ):
                out.append(
                    f"{step.id}: {'rewrite' if step.rewrite else 'scan'} under ACCESS "
                    f"EXCLUSIVE on existing {lock.relation}: {step.sql}"
                )
    for name, (n, sid) in added_not_valid.items():
        if validated.get(name, -1) < n:
            out.append(f"{sid}: {name} added NOT VALID and never validated")
    return out
