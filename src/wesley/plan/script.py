"""A plan as one psql script, for teams whose migrations run through psql, Flyway or Sqitch
(`wesley plan --sql FILE`). It carries what the executor does, as far as psql can:

- every step under its `lock_timeout` and `statement_timeout` (wesley.plan.timeouts);
- every step behind its guard (`\\if`), so running the script again skips what is done;
- CONCURRENTLY steps outside a transaction (psql's autocommit), an INVALID leftover of a
  failed build dropped first;
- backfills as a DO block walking the primary key in batches, each batch committed on its
  own (PostgreSQL >= 11), then the sweep.

What psql cannot do: retry a lock timeout (run the script again), pace a backfill, take a
failed VALIDATE's check back (the statement is in a comment beside the step), observe locks.
`wesley deploy` does all of that.
"""

from __future__ import annotations

from pglast import ast, parse_sql

from wesley.plan.models import Backfill, Plan, Step
from wesley.plan.timeouts import Timeouts, set_statements, step_kind
from wesley.sqltext import quote_ident, quote_literal

HEADER = """\
-- Wesley plan {hash} for PostgreSQL {version}: {steps} steps.
-- Run it with: psql -v ON_ERROR_STOP=1 -f FILE (autocommit on: CONCURRENTLY steps and the
-- backfills' per-batch COMMITs need it). Each step runs only when its guard says it is not
-- done yet, so after a failure or a lock timeout, run it again.
\\set ON_ERROR_STOP on
SET standard_conforming_strings = on;
"""


def _index_name(sql: str) -> str | None:
    stmt = parse_sql(sql)[0].stmt
    return str(stmt.idxname) if isinstance(stmt, ast.IndexStmt) and stmt.idxname else None


def _describe(step: Step) -> str:
    target = ".".join(x for x in (step.table, step.column) if x) or "-"
    locks = ", ".join(f"{lk.relation} {lk.mode}" for lk in step.locks) or "no table lock"
    return f"-- {step.id} ({step.phase}) {step.op} {target}: {locks}. {step.why}"


def _guarded(step: Step, body: list[str]) -> list[str]:
    return [
        f"SELECT NOT COALESCE(({step.guard}), false) AS wesley_run \\gset",
        "\\if :wesley_run",
        *body,
        "\\endif",
    ]


def _backfill_block(step: Step, spec: Backfill) -> str:
    """The executor's keyset walk as PL/pgSQL: one COMMIT per batch."""
    lines = ["DO $wesley$", "DECLARE"]
    if spec.key and spec.first_bound_sql and spec.next_bound_sql and spec.batch_sql:
        assert step.table is not None
        key_type = f"{quote_ident(step.table)}.{quote_ident(spec.key)}%TYPE"
        lines += [
            f"  wesley_lo {key_type};",
            f"  wesley_hi {key_type};",
            f"  wesley_after {key_type};",
        ]
    lines += ["BEGIN"]
    if spec.key and spec.first_bound_sql and spec.next_bound_sql and spec.batch_sql:
        lines += [
            f"  {spec.first_bound_sql} INTO wesley_lo, wesley_hi;",
            "  WHILE wesley_lo IS NOT NULL LOOP",
            "    "
            + spec.batch_sql.replace("%(lo)s", "wesley_lo").replace("%(hi)s", "wesley_hi")
            + ";",
            "    COMMIT;",
            "    wesley_after := wesley_hi;",
            "    "
            + spec.next_bound_sql.replace("%(after)s", "wesley_after")
            + " INTO wesley_lo, wesley_hi;",
            "  END LOOP;",
        ]
    lines += [
        "  LOOP",  # rows skipped because they were locked, and tables without a simple key
        f"    {step.sql};",
        "    EXIT WHEN NOT FOUND;",
        "    COMMIT;",
        "  END LOOP;",
        "END",
        "$wesley$;",
    ]
    return "\n".join(lines)


def step_script(step: Step, timeouts: Timeouts) -> list[str]:
    """One step as psql lines: its description, guard, limits and statement."""
    body = list(f"{s};" for s in set_statements(step, timeouts))
    if step.backfill is not None:
        # psql sees the DO block as one statement: it gets the long limit as a whole
        body[-1] = f"SET statement_timeout = '{int(timeouts.scan_ms)}ms';"
        body.append(_backfill_block(step, step.backfill))
    else:
        name = None if step.transactional else _index_name(step.sql)
        if name is not None:
            invalid = (
                "SELECT EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = "
                f"to_regclass({quote_literal(quote_ident(name))}) AND NOT indisvalid) "
                "AS wesley_invalid \\gset"
            )
            body += [
                invalid,
                "\\if :wesley_invalid",
                f"DROP INDEX CONCURRENTLY IF EXISTS {quote_ident(name)};",
                "\\endif",
            ]
        body.append(f"{step.sql};")
    lines = [_describe(step)]
    if step.undo is not None:
        lines.append(f"-- if it fails, take its check back with: {step.undo.sql};")
    if not step.transactional:
        lines.append("-- outside a transaction (CONCURRENTLY)")
    elif step_kind(step) == "batches":
        lines.append("-- one transaction per batch")
    return lines + _guarded(step, body)


def plan_script(plan: Plan, timeouts: Timeouts) -> str:
    version = f"{plan.server_version // 10000}.{plan.server_version % 10000}"
    out = [
        HEADER.format(hash=plan.plan_hash[:12], version=version, steps=len(plan.steps)),
        f"-- lock_timeout {timeouts.lock_ms} ms on every step; statement_timeout "
        f"{timeouts.statement_ms} ms for catalog-only steps, {timeouts.scan_ms} ms for steps "
        "that scan or rewrite a table and for each backfill as a whole.",
    ]
    left_out = plan.blocked or (plan.destructive if not plan.allow_destructive else [])
    for r in left_out:
        where = ".".join(x for x in (r.table, r.column) if x)
        out.append(f"-- NOT in this script: {r.change} {where}: {r.risk}")
    if not plan.two_stage:
        for step in plan.steps:
            out.append("")
            out.extend(step_script(step, timeouts))
    else:
        out += _two_stages(plan, timeouts)
    out += ["", "RESET lock_timeout;", "RESET statement_timeout;", ""]
    return "\n".join(out)


def _two_stages(plan: Plan, timeouts: Timeouts) -> list[str]:
    """A two-stage plan: `psql -f FILE` runs expand → switch; `-v complete=1` (once the old
    application version is retired) runs it again, every done step skipped by its guard, and
    then the contract; `-v abort=1` runs only the roll-back."""
    out = [
        "",
        "-- Two stages: this script runs expand -> switch and stops; once the old application",
        "-- version is retired, run it again with -v complete=1 for the contract, or with",
        "-- -v abort=1 to roll the expand back instead.",
    ]
    if plan.compat is not None:
        out += [
            f"-- old version: search_path = {plan.compat.old_search_path}; new version: "
            f"search_path = {plan.compat.new_search_path}",
        ]
    out += ["\\if :{?abort}"]
    for step in plan.abort:
        out.append("")
        out.extend(step_script(step, timeouts))
    out += ["\\else"]
    if plan.compat is not None:
        out += [
            f"SELECT ({plan.compat.contract_begun}) AS wesley_contract_begun \\gset",
            "\\if :wesley_contract_begun",
            "\\echo the contract has begun: the steps before it are done",
            "\\else",
        ]
    for step in plan.stage_steps("start"):
        out.append("")
        out.extend(step_script(step, timeouts))
    if plan.compat is not None:
        out += ["\\endif"]
    out += ["", "\\if :{?complete}"]
    for step in plan.stage_steps("complete"):
        out.append("")
        out.extend(step_script(step, timeouts))
    out += [
        "\\else",
        "\\echo expanded: retire the old application version, then run this script again "
        "with -v complete=1",
        "\\endif",
        "\\endif",
    ]
    return out
