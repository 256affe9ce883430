"""Write stalls while a schema change runs: Wesley's executor against one naive transaction.

A table of `--rows` rows (default 1,000,000) takes a steady write load: `--writers` separate
processes (default 4), each on its own autocommit connection, paced at `--rate` single-row
operations a second (half inserts, half updates by primary key), each recording when every
operation was due, when it started and when it finished. Separate processes, so the writers
never wait on this process's GIL (the executor's lock-watcher thread, pglast) and what they
record is the database's latency, not the client's.

The change is the blade-style one plus two constraints:

    createdAt: DateTime! @wes_default(expr: "now()") @wes_index     a new NOT NULL column + index
    accountId: BigInt @wes_fk(ref: "Account.id")                    a new FK to a small table
    sku: String! @wes_unique                                        a new unique constraint

applied (a) by Wesley as `wesley deploy` runs it: the plan from the introspected database, run
by the production executor with its defaults (tests/traffic.py `migrate_wesley`, the harness
this bench shares with bench/traffic.py and the test suite), and (b) naively: the same end
state as one transaction of plain DDL. Each variant gets its own freshly built database, so
both start from identical tables. Both end states are checked against the new schema (a
replan from the introspected database must be empty).

Printed per variant: the writers' baseline (same load, no migration), the migration's
duration and the writes during it (count, p50, p99, max latency), and for Wesley the stall
each plan step caused (timed through the executor's progress callback); then the ratio of the
maximum stalls and the target: Wesley's maximum stall < 250 ms and >= 10x smaller than naive.

    .venv/bin/python bench/zero_downtime.py              # 1,000,000 rows
    .venv/bin/python bench/zero_downtime.py --quick      # 100,000 rows, shorter windows

Starts its own ephemeral PostgreSQL cluster unless WESLEY_BENCH_DSN (an admin DSN, allowed to
CREATE DATABASE) is set; its databases are dropped and the cluster removed afterwards.
Prints figures and exits 0; it exits non-zero only when something crashes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the shared harness in tests/

from tests.traffic import (
    ItemWorkload,
    Sample,
    Timed,
    Window,
    fmt_window,
    migrate_naive,
    migrate_wesley,
    replan,
    traffic,
    window,
)

from wesley.db.apply import apply_script
from wesley.db.cluster import EphemeralCluster, create_database, drop_database
from wesley.ir import IR
from wesley.sdl import parse_sdl
from wesley.targets.postgres import postgres

OLD_SDL = """
type Account @wes_table {
  id: BigInt! @wes_pk
  name: String!
}

type Item @wes_table {
  id: BigInt! @wes_pk
  sku: String!
  accountId: BigInt
  qty: Int!
  note: String
}
"""

NEW_SDL = """
type Account @wes_table {
  id: BigInt! @wes_pk
  name: String!
}

type Item @wes_table {
  id: BigInt! @wes_pk
  sku: String! @wes_unique
  accountId: BigInt @wes_fk(ref: "Account.id")
  qty: Int!
  note: String
  createdAt: DateTime! @wes_default(expr: "now()") @wes_index
}
"""

# The same end state as plain DDL in one transaction; names are the ones Wesley derives, and
# the uid comment is the one its schema.sql writes, so both databases end up identical.
NAIVE_DDL = (
    "ALTER TABLE item ADD COLUMN created_at timestamptz NOT NULL DEFAULT now()",
    "CREATE INDEX item_created_at_idx ON item USING btree (created_at)",
    "ALTER TABLE item ADD CONSTRAINT item_account_id_fkey FOREIGN KEY (account_id) "
    "REFERENCES account (id)",
    "ALTER TABLE item ADD CONSTRAINT item_sku_key UNIQUE (sku)",
    "COMMENT ON COLUMN item.created_at IS 'wesley:uid=col:item.created_at'",
)

ACCOUNTS = 100
TARGET_MAX_STALL_MS = 250.0
TARGET_RATIO = 10.0


@dataclass
class Result:
    variant: str
    load_s: float
    baseline: Window
    migration: Window
    migration_s: float
    steps: list[Timed]
    samples: list[Sample]
    cpu_share: float
    errors: list[str]
    end_state_ok: bool
    end_state_note: str


# ---- the two migrations --------------------------------------------------------------------


def build_database(dsn: str, old: IR, rows: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        apply_script(conn, postgres(old)[0].text, "old schema.sql")
        conn.execute(
            "INSERT INTO account (id, name) SELECT g, 'account ' || g "
            f"FROM generate_series(1, {ACCOUNTS}) g"
        )
        conn.execute(
            "INSERT INTO item (id, sku, account_id, qty, note) SELECT g, 'sku-' || g, "
            f"1 + g % {ACCOUNTS}, g % 1000, CASE WHEN g % 10 = 0 THEN 'note' END "
            f"FROM generate_series(1, {int(rows)}) g"
        )
        conn.execute("VACUUM (ANALYZE) account")
        conn.execute("VACUUM (ANALYZE) item")
        conn.execute("CHECKPOINT")


def end_state(dsn: str, new: IR) -> tuple[bool, str]:
    left = replan(dsn, new)
    if not left:
        return True, "matches the new schema (replan empty)"
    return False, f"{len(left)} step(s) still needed, first: {left[0][:120]}"


def run_variant(admin_dsn: str, variant: str, args: argparse.Namespace) -> Result:
    old, new = parse_sdl(OLD_SDL).ir, parse_sdl(NEW_SDL).ir
    name = f"wesley_bench_zd_{variant}"
    drop_database(admin_dsn, name)
    dsn = create_database(admin_dsn, name)
    try:
        t = time.monotonic()
        build_database(dsn, old, args.rows)
        load_s = time.monotonic() - t
        migrate: Callable[[], list[Timed]] = (
            (lambda: migrate_wesley(dsn, new)[1])
            if variant == "wesley"
            else (lambda: migrate_naive(dsn, NAIVE_DDL))
        )
        workload = ItemWorkload(rows=args.rows, insert_share=0.5, null_update_share=0.0)
        with traffic(dsn, workload, args.writers, args.rate) as load:
            time.sleep(args.warmup)
            b0 = time.monotonic()
            time.sleep(args.baseline)
            b1 = m0 = time.monotonic()
            steps = migrate()
            m1 = time.monotonic()
            time.sleep(args.tail)
        ok, note = end_state(dsn, new)
        run_s = max(load.stopped - load.started, 1e-9)
        return Result(
            variant=variant,
            load_s=load_s,
            baseline=window(load.samples, b0, b1),
            migration=window(load.samples, m0, m1),
            migration_s=m1 - m0,
            steps=steps,
            samples=load.samples,
            cpu_share=load.cpu_s / args.writers / run_s,
            errors=load.examples,
            end_state_ok=ok,
            end_state_note=note,
        )
    finally:
        drop_database(admin_dsn, name)


# ---- report --------------------------------------------------------------------------------


def print_result(r: Result, args: argparse.Namespace) -> None:
    target = args.rate * args.writers
    print(f"\n[{r.variant}]  ({args.rows:,} rows loaded in {r.load_s:.1f} s)")
    b = r.baseline
    print(f"  baseline, no migration ({args.baseline:.0f} s): {fmt_window(b)}")
    print(
        f"    load generator: target {target:,.0f}/s, achieved {b.rate:,.0f}/s "
        f"({b.rate / target:.0%}); {b.late:.1%} of starts > 5 ms late; "
        f"each writer process used {r.cpu_share:.0%} of a core"
    )
    if b.rate < 0.95 * target or b.late > 0.01:
        print("    WARNING: the writers cannot hold the target rate: lower --rate or --writers")
    m = r.migration
    print(f"  migration: {r.migration_s * 1000:,.0f} ms; during it: {fmt_window(m)}")
    if r.errors:
        print(f"  writer errors: {'; '.join(r.errors[:3])}")
    print("  steps (ms; writes started during the step: count, max latency):")
    for s in r.steps:
        inside = [x for x in r.samples if s.t0 <= x[1] < s.t1]
        worst = max(((x[2] - x[1]) * 1000 for x in inside), default=0.0)
        print(
            f"    {s.name[:46]:46s} {(s.t1 - s.t0) * 1000:8.1f} ms  {len(inside):6,} writes, "
            f"max {worst:7.1f} ms  {s.note}"
        )
    gaps = [x for x in r.samples if x[1] >= r.steps[0].t0 and x[1] < r.steps[-1].t1]
    outside = [
        x for x in gaps if not any(s.t0 <= x[1] < s.t1 for s in r.steps)
    ]  # started between two steps (the executor's own bookkeeping)
    if outside:
        worst = max((x[2] - x[1]) * 1000 for x in outside)
        label = "(between steps)"
        print(f"    {label:46s} {'':11s}  {len(outside):6,} writes, max {worst:7.1f} ms")
    print(f"  end state: {'OK' if r.end_state_ok else 'DIFFERS'}: {r.end_state_note}")


def load_note() -> str:
    one, five, _ = os.getloadavg()
    cpus = os.cpu_count() or 1
    busy = "  (other work is running: figures are noisy)" if one > 0.5 * cpus else ""
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {cpus} CPUs{busy}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=None, help="rows in item (1,000,000)")
    parser.add_argument("--quick", action="store_true", help="100,000 rows, shorter windows")
    parser.add_argument("--writers", type=int, default=4, help="writer processes (4)")
    parser.add_argument("--rate", type=float, default=200.0, help="ops/s per writer (200)")
    parser.add_argument("--baseline", type=float, default=None, help="baseline seconds (5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before the baseline")
    parser.add_argument("--tail", type=float, default=1.0, help="seconds of load afterwards")
    parser.add_argument(
        "--only", choices=("wesley", "naive"), help="run one variant (no comparison)"
    )
    args = parser.parse_args(argv)
    if args.rows is None:
        args.rows = 100_000 if args.quick else 1_000_000
    if args.baseline is None:
        args.baseline = 2.0 if args.quick else 5.0
    if args.quick:
        args.warmup = min(args.warmup, 0.5)
        args.tail = min(args.tail, 0.5)

    started = time.monotonic()
    given = os.environ.get("WESLEY_BENCH_DSN")
    with contextlib.ExitStack() as stack:
        if given:
            admin, where = given, "WESLEY_BENCH_DSN"
        else:
            t = time.monotonic()
            cluster = stack.enter_context(EphemeralCluster())
            admin = cluster.dsn
            where = f"ephemeral cluster, started in {time.monotonic() - t:.1f} s"
        with psycopg.connect(admin) as conn:
            version = conn.info.server_version
        print(
            f"zero_downtime: {args.rows:,} rows, {args.writers} writer processes x "
            f"{args.rate:,.0f} ops/s (half single-row INSERTs, half UPDATEs by key, autocommit); "
            f"PostgreSQL {version // 10000}.{version % 10000} ({where})"
        )
        print(f"  {load_note()}")
        variants = [args.only] if args.only else ["wesley", "naive"]
        results = {v: run_variant(admin, v, args) for v in variants}
        for r in results.values():
            print_result(r, args)

    if len(results) == 2:
        wes, naive = results["wesley"].migration, results["naive"].migration
        ratio = naive.max_ms / wes.max_ms if wes.max_ms else float("inf")
        print("\ncomparison (maximum write latency during the migration = the longest stall):")
        print(
            f"  wesley {wes.max_ms:,.1f} ms (p99 {wes.p99_ms:.1f}) in "
            f"{results['wesley'].migration_s:.2f} s; naive {naive.max_ms:,.1f} ms "
            f"(p99 {naive.p99_ms:.1f}) in {results['naive'].migration_s:.2f} s; "
            f"naive/wesley {ratio:,.1f}x"
        )
        print(
            f"  target wesley max stall < {TARGET_MAX_STALL_MS:.0f} ms: "
            f"{wes.max_ms:,.1f} ms  {verdict(wes.max_ms < TARGET_MAX_STALL_MS)}"
        )
        print(
            f"  target naive/wesley >= {TARGET_RATIO:.0f}x: {ratio:,.1f}x  "
            f"{verdict(ratio >= TARGET_RATIO)}"
        )
        if args.rows < 1_000_000:
            print(
                f"  (with {args.rows:,} rows the naive stall is short and the ratio small: "
                "the targets are meant for 1,000,000 rows)"
            )
    print(f"\n{load_note()}; total {time.monotonic() - started:.1f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
