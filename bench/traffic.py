"""Zero downtime under live traffic: Wesley's deploy against the same change done naively.

A table of `--rows` items (default 300,000; every 10th with `price` NULL) takes writes from
`--writers` processes (default 3) at `--rate` writes/s each: INSERTs of new items and UPDATEs
of random old rows by key, 30% of the updates aimed at rows whose price was NULL. Meanwhile
one migration (tests/traffic.py: NEW_SDL) adds a NOT NULL column with a volatile default, a
NOT NULL column with a stable default, tightens `price` to `Float!` with a default, and adds an
FK, a unique, a check and two indexes:

  wesley  build_plan from the introspected database, run by the production executor in deploy
          mode with its defaults (lock_timeout 500 ms, jittered backoff, statement timeouts,
          keyset backfill with adaptive pauses), as `wesley deploy` runs it;
  naive   the same end state as plain DDL in one transaction.

Each variant gets a freshly built database, in the same run. Reported per variant: failed
writes by SQLSTATE, worst single-write latency and p99 during the migration, lost or doubled
rows (count and sum(qty) against the acknowledged writes), whether the end state is the new
schema, the migration time. Targets: 0 failed writes, 0 lost rows, worst stall <= 250 ms and
>= 10x below naive.

Then the backfill's throughput, with no writers: the same NOT NULL volatile-default column
filled on 10,000 and on `--rows` rows by the executor's backfill loop; target: the rate at the
large size within 1.5x of the rate at 10,000 rows.

    .venv/bin/python bench/traffic.py                # 300,000 rows, 2 runs
    .venv/bin/python bench/traffic.py --runs 3
    .venv/bin/python bench/traffic.py --quick        # 50,000 rows, 1 run

Starts its own ephemeral PostgreSQL cluster unless WESLEY_BENCH_DSN (an admin DSN, allowed to
CREATE DATABASE) is set; its databases are dropped and the cluster removed afterwards. Prints
figures and exits 0; non-zero only when something crashes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the shared harness in tests/

from tests.traffic import (
    ItemWorkload,
    Outcome,
    Timed,
    build_items,
    fmt_window,
    migrate_naive,
    migrate_wesley,
    new_ir,
    old_ir,
    under_traffic,
)

from wesley.db.backfill import Backfiller
from wesley.db.cluster import EphemeralCluster, create_database, drop_database
from wesley.db.executor import ExecOptions
from wesley.plan.build import build_plan
from wesley.plan.timeouts import Pacing, Timeouts

TARGET_MAX_STALL_MS = 250.0
TARGET_RATIO = 10.0
TARGET_BACKFILL_RATIO = 1.5
SMALL = 10_000


def load_note() -> str:
    one, five, _ = os.getloadavg()
    cpus = os.cpu_count() or 1
    busy = "  (other work is running: figures are noisy)" if one > 0.5 * cpus else ""
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {cpus} CPUs{busy}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def run_variant(admin: str, variant: str, args: argparse.Namespace) -> Outcome:
    name = f"wesley_bench_traffic_{variant}"
    drop_database(admin, name)
    dsn = create_database(admin, name)
    try:
        build_items(dsn, args.rows)
        new = new_ir()
        options = ExecOptions(mode="deploy", pacing=Pacing(pause_ms=args.pause))
        migrate: Callable[[], list[Timed]] = (
            (lambda: migrate_wesley(dsn, new, options, batch_size=args.batch_size)[1])
            if variant == "wesley"
            else (lambda: migrate_naive(dsn))
        )
        return under_traffic(
            dsn,
            variant,
            migrate,
            ItemWorkload(rows=args.rows),
            new,
            writers=args.writers,
            rate=args.rate,
            warmup_s=1.0,
            baseline_s=args.baseline,
            tail_s=1.0,
        )
    finally:
        drop_database(admin, name)


def print_outcome(o: Outcome, args: argparse.Namespace) -> None:
    print(f"  [{o.variant}] migration {o.migration_s:,.2f} s")
    print(f"    baseline, no migration: {fmt_window(o.baseline)}")
    print(f"    during the migration:   {fmt_window(o.during)}")
    slow = "; ".join(f"{ms:,.0f} ms at {at:.1f} s ({step[:40]})" for ms, at, step in o.slowest())
    print(f"    slowest writes: {slow}")
    failed = ", ".join(f"{n} x {state}" for state, n in sorted(o.failures.items())) or "none"
    print(f"    failed writes (whole run): {o.failed} ({failed})")
    for example in o.examples[:3]:
        print(f"      e.g. {example}")
    print(f"    data: {'OK' if o.integrity.ok else 'LOST OR DOUBLED'}: {o.integrity.describe()}")
    print(
        "    end state: "
        + ("the new schema (replan empty)" if not o.leftover else f"DIFFERS: {o.leftover[0]}")
    )
    target = args.rate * args.writers
    if o.baseline.rate < 0.9 * target:
        print(
            f"    WARNING: writers held {o.baseline.rate:,.0f}/s of {target:,.0f}/s "
            f"(each used {o.cpu_share:.0%} of a core): the machine is busy"
        )
    if args.steps:
        for s in o.steps:
            inside = [x for x in o.samples if s.t0 <= x[1] < s.t1]
            worst = max(((x[2] - x[1]) * 1000 for x in inside), default=0.0)
            print(
                f"      {s.name[:44]:44s} {(s.t1 - s.t0) * 1000:9.1f} ms {len(inside):6,} "
                f"writes, max {worst:7.1f} ms  {s.note}"
            )


def backfill_rate(admin: str, rows: int) -> tuple[float, int, float]:
    """Rows/s of the executor's backfill loop filling a new NOT NULL volatile-default column
    on `rows` rows, no other load; (rate, rows filled, seconds)."""
    name = f"wesley_bench_backfill_{rows}"
    drop_database(admin, name)
    dsn = create_database(admin, name)
    try:
        build_items(dsn, rows)
        old, new = old_ir(), new_ir()
        plan = build_plan(old, new)
        step = next(s for s in plan.steps if s.backfill and s.column == "token")
        with psycopg.connect(dsn, autocommit=True) as conn:

            def limit(ms: int) -> None:
                conn.execute(f"SET statement_timeout = {int(ms)}")

            for s in plan.steps:
                if s.phase == "expand" and s.column == "token":
                    conn.execute(s.sql.encode())
            conn.execute("CHECKPOINT")
            t0 = time.monotonic()
            stats = Backfiller(
                conn,
                step,
                Timeouts(),
                Pacing(),
                limit,
                lambda _s: None,
                lambda: None,
            ).run()
            seconds = time.monotonic() - t0
        return stats.rows / seconds, stats.rows, seconds
    finally:
        drop_database(admin, name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=None, help="rows in item (300,000)")
    parser.add_argument("--writers", type=int, default=3, help="writer processes (3)")
    parser.add_argument("--rate", type=float, default=150.0, help="writes/s per writer (150)")
    parser.add_argument("--runs", type=int, default=None, help="runs of both variants (2)")
    parser.add_argument("--baseline", type=float, default=2.0, help="baseline seconds (2)")
    parser.add_argument("--quick", action="store_true", help="50,000 rows, one run")
    parser.add_argument("--steps", action="store_true", help="print every step's stall")
    parser.add_argument(
        "--batch-size", type=int, default=1000, help="backfill batch size (plan default 1000)"
    )
    parser.add_argument(
        "--pause", type=int, default=0, help="base pause between batches, ms (default 0)"
    )
    parser.add_argument("--no-backfill", action="store_true", help="skip the throughput part")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a server setting for the ephemeral cluster (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.rows is None:
        args.rows = 50_000 if args.quick else 300_000
    if args.runs is None:
        args.runs = 1 if args.quick else 2

    started = time.monotonic()
    given = os.environ.get("WESLEY_BENCH_DSN")
    with contextlib.ExitStack() as stack:
        if given:
            admin, where = given, "WESLEY_BENCH_DSN"
        else:
            settings = dict(kv.split("=", 1) for kv in args.setting)
            cluster = stack.enter_context(EphemeralCluster(settings))
            admin, where = cluster.dsn, "ephemeral cluster"
        with psycopg.connect(admin) as conn:
            version = conn.info.server_version
        print(
            f"traffic: {args.rows:,} rows (10% price NULL), {args.writers} writer processes x "
            f"{args.rate:,.0f} writes/s (40% INSERTs, 60% UPDATEs of random old rows, 30% of "
            f"them on NULL-price rows); PostgreSQL {version // 10000}.{version % 10000} ({where})"
        )
        print(f"  {load_note()}")
        results: list[tuple[Outcome, Outcome]] = []
        for run in range(1, args.runs + 1):
            print(f"\nrun {run} of {args.runs}  ({load_note()})")
            wes = run_variant(admin, "wesley", args)
            print_outcome(wes, args)
            naive = run_variant(admin, "naive", args)
            print_outcome(naive, args)
            results.append((wes, naive))

        print("\nsummary (worst single-write latency during the migration = the longest stall):")
        for i, (wes, naive) in enumerate(results, start=1):
            ratio = naive.during.max_ms / wes.during.max_ms if wes.during.max_ms else 0.0
            print(
                f"  run {i}: wesley {wes.failed} failed, worst {wes.during.max_ms:,.1f} ms, p99 "
                f"{wes.during.p99_ms:.1f} ms, {wes.migration_s:.1f} s, data "
                f"{'OK' if wes.integrity.ok else 'BAD'} | naive {naive.failed} failed, worst "
                f"{naive.during.max_ms:,.1f} ms, p99 {naive.during.p99_ms:.1f} ms, "
                f"{naive.migration_s:.1f} s, data {'OK' if naive.integrity.ok else 'BAD'} | "
                f"naive/wesley {ratio:,.1f}x"
            )
            print(
                f"    targets: 0 failed {verdict(wes.failed == 0)}, 0 lost "
                f"{verdict(wes.integrity.ok)}, worst <= {TARGET_MAX_STALL_MS:.0f} ms "
                f"{verdict(wes.during.max_ms <= TARGET_MAX_STALL_MS)}, >= {TARGET_RATIO:.0f}x "
                f"below naive {verdict(ratio >= TARGET_RATIO)}, end state "
                f"{verdict(not wes.leftover and not naive.leftover)}"
            )

        if not args.no_backfill:
            print(
                "\nbackfill throughput (no writers; executor's keyset loop, batches of 1,000; "
                "the median of 3 fills per size):"
            )
            sizes = {}
            for label, rows in (("small", SMALL), ("large", args.rows)):
                fills = sorted(backfill_rate(admin, rows) for _ in range(3))
                for rate, n, secs in fills:
                    print(f"  {label}: {n:,} rows in {secs:.2f} s = {rate:,.0f} rows/s")
                sizes[label] = fills[1]
            small, large = sizes["small"], sizes["large"]
            drop = small[0] / large[0] if large[0] else float("inf")
            print(
                f"  rate at {SMALL:,} / rate at {args.rows:,}: {drop:.2f}x (target <= "
                f"{TARGET_BACKFILL_RATIO}x) {verdict(drop <= TARGET_BACKFILL_RATIO)}"
            )
    print(f"\n{load_note()}; total {time.monotonic() - started:.1f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
