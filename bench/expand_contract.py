"""Two application versions through a type change and a rename, under write load: Wesley's
two-stage deploy against the same change done naively.

A table of `--rows` items (default 300,000) with an `integer` primary key referenced by a
foreign key, an index and a text column `note`. The migration (one plan): `item.id` integer ->
bigint (primary key; the foreign key of `part.item_id` points at it, itself integer -> bigint)
and `note` renamed `memo`.

  wesley  the plan from the introspected database, run by the production executor as
          `wesley deploy` runs it: the old application version (`--writers` processes at
          `--rate` writes/s each: INSERTs of new items, UPDATEs of `note` of random old rows by
          key) writes through `compat.old_search_path` from before the expand; once the switch
          is done the new version (as many writers) writes `memo` through
          `compat.new_search_path`; the old version is retired, then `deploy --complete` runs
          the contract while the new version writes on.
  naive   `ALTER TABLE item ALTER COLUMN id TYPE bigint` (and the part side) and the RENAME in
          one transaction, while the old version writes.

Reported per run: failed writes by SQLSTATE, the worst single-write latency (the longest
stall) and p99 during the migration, acknowledged writes missing or changed afterwards,
whether the end state is the new schema, the time of each stage. Targets: 0 failed writes and
0 lost with Wesley, its worst stall <= 250 ms and >= 10x below the naive one.

    .venv/bin/python bench/expand_contract.py              # 300,000 rows, 3 runs
    .venv/bin/python bench/expand_contract.py --quick      # 50,000 rows, 1 run

Starts its own ephemeral PostgreSQL cluster unless WESLEY_BENCH_DSN (an admin DSN, allowed to
CREATE DATABASE) is set. Prints figures and exits 0; non-zero only when something crashes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the shared harness in tests/

from tests.traffic import (
    TwoVersions,
    Version,
    VersionWorkload,
    Writers,
    pct,
    two_versions,
    window,
)

from wesley.db.apply import apply_script
from wesley.db.cluster import EphemeralCluster, create_database, drop_database
from wesley.sdl import parse_sdl
from wesley.targets.postgres import postgres

TARGET_MAX_STALL_MS = 250.0
TARGET_RATIO = 10.0

OLD_SDL = """
type Item @wes_table {
  id: Int! @wes_pk
  qty: Int!
  note: String
}
type Part @wes_table {
  id: Int! @wes_pk
  itemId: Int! @wes_fk(ref: "Item.id") @wes_index
}
"""
NEW_SDL = """
type Item @wes_table {
  id: BigInt! @wes_pk
  qty: Int!
  memo: String @wes_renamedFrom(name: "note")
}
type Part @wes_table {
  id: Int! @wes_pk
  itemId: BigInt! @wes_fk(ref: "Item.id") @wes_index
}
"""
NAIVE_DDL = (
    "ALTER TABLE part DROP CONSTRAINT part_item_id_fkey",
    "ALTER TABLE item ALTER COLUMN id TYPE bigint",
    "ALTER TABLE part ALTER COLUMN item_id TYPE bigint",
    "ALTER TABLE part ADD CONSTRAINT part_item_id_fkey FOREIGN KEY (item_id) REFERENCES item (id)",
    "ALTER TABLE item RENAME COLUMN note TO memo",
)
OLD_VALUES = ("old a", "old b", "old c")
NEW_VALUES = ("new a", "new b")
FIRST_OLD, FIRST_NEW = 10_000_000, 20_000_000


def load_note() -> str:
    one, five, _ = os.getloadavg()
    cpus = os.cpu_count() or 1
    busy = "  (other work is running: figures are noisy)" if one > 0.5 * cpus else ""
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {cpus} CPUs{busy}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def build(dsn: str, rows: int) -> dict[int, str | None]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        apply_script(conn, postgres(parse_sdl(OLD_SDL).ir)[0].text, "old schema.sql")
        conn.execute(
            "INSERT INTO item (id, qty, note) SELECT g, g % 100, 'note ' || g "
            f"FROM generate_series(1, {int(rows)}) g"
        )
        conn.execute(
            f"INSERT INTO part (id, item_id) SELECT g, g FROM generate_series(1, {int(rows)}) g"
        )
        conn.execute("VACUUM (ANALYZE) item")
        conn.execute("VACUUM (ANALYZE) part")
        conn.execute("CHECKPOINT")
        return {int(k): v for k, v in conn.execute("SELECT id, note FROM item")}


def writers(rows: int, writers: int) -> tuple[Version, Version]:
    old = VersionWorkload(
        "", "item", "id", "note", OLD_VALUES, FIRST_OLD, (1, rows // 2), (("qty", 1),)
    )
    new = VersionWorkload(
        "", "item", "id", "memo", NEW_VALUES, FIRST_NEW, (rows // 2 + 1, rows), (("qty", 2),)
    )
    del writers
    return Version(old, OLD_VALUES), Version(new, NEW_VALUES)


def run_wesley(admin: str, args: argparse.Namespace) -> TwoVersions:
    name = "wesley_bench_expand_contract"
    drop_database(admin, name)
    dsn = create_database(admin, name)
    try:
        initial = build(dsn, args.rows)
        old, new = writers(args.rows, args.writers)
        return two_versions(
            dsn,
            parse_sdl(NEW_SDL).ir,
            old,
            new,
            ("item", "id", "memo"),
            initial,
            rate=args.rate,
            writers=args.writers,
            batch_size=args.batch_size,
            overlap_s=args.overlap,
            warmup_s=1.0,
        )
    finally:
        drop_database(admin, name)


def run_naive(admin: str, args: argparse.Namespace) -> tuple[float, float, float, int, str]:
    """(worst ms, p99 ms, migration s, failed writes, failures) of the naive ALTERs under the
    old version's writes."""
    name = "wesley_bench_expand_contract_naive"
    drop_database(admin, name)
    dsn = create_database(admin, name)
    try:
        build(dsn, args.rows)
        old, _new = writers(args.rows, args.writers)
        workload = VersionWorkload(**{**old.workload.__dict__, "search_path": "public"})
        group = Writers(dsn, workload, args.writers, args.rate)
        group.start()
        try:
            time.sleep(1.0)
            t0 = time.monotonic()
            with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
                for sql in NAIVE_DDL:
                    conn.execute(sql.encode())
            t1 = time.monotonic()
            time.sleep(1.0)
        finally:
            load = group.stop()
        during = window(load.samples, t0, t1)
        failures = ", ".join(f"{n} x {s}" for s, n in sorted(load.failures.items())) or "none"
        return during.max_ms, during.p99_ms, t1 - t0, sum(load.failures.values()), failures
    finally:
        drop_database(admin, name)


def print_wesley(o: TwoVersions, args: argparse.Namespace) -> None:
    samples = [*o.old.samples, *o.new.samples]
    inside = [s for s in samples if s[1] < o.t1 and s[2] > o.t0]
    lat = [(s[2] - s[1]) * 1000 for s in inside]
    failures = {**o.old.failures}
    for k, v in o.new.failures.items():
        failures[k] = failures.get(k, 0) + v
    print(f"  [wesley] expand -> switch -> complete {o.t1 - o.t0:,.2f} s")
    print(
        f"    writes during it: {len(inside):,} (old version {len(o.old.acks):,}, new version "
        f"{len(o.new.acks):,} acknowledged), p50 {pct(lat, 0.5):.1f} ms, p99 "
        f"{pct(lat, 0.99):.1f} ms, worst {o.worst_ms():.1f} ms"
    )
    failed = ", ".join(f"{n} x {s}" for s, n in sorted(failures.items())) or "none"
    print(f"    failed writes: {o.failed} ({failed})")
    for example in o.examples[:3]:
        print(f"      e.g. {example}")
    data = "OK" if not o.lost and o.rows == o.expected_rows else "LOST OR CHANGED"
    print(
        f"    data: {data}: {o.rows:,} rows (expected {o.expected_rows:,}), {len(o.lost)} "
        "acknowledged values missing or changed, "
        f"{o.desync} rows out of sync before the swap"
    )
    print("    end state: " + ("the new schema" if not o.leftover else f"DIFFERS: {o.leftover}"))
    if args.steps:
        by_id = {s.id: s for s in o.plan.steps}
        for rec in o.steps:
            step = by_id.get(rec.id)
            if step is None:
                continue
            print(f"      {rec.id[:44]:44s} {rec.ms:8d} ms  {step.phase}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=None, help="rows in item (300,000)")
    parser.add_argument("--writers", type=int, default=2, help="writers per version (2)")
    parser.add_argument("--rate", type=float, default=100.0, help="writes/s per writer (100)")
    parser.add_argument("--runs", type=int, default=None, help="runs of both variants (3)")
    parser.add_argument("--overlap", type=float, default=2.0, help="s both versions write (2)")
    parser.add_argument("--batch-size", type=int, default=1000, help="backfill batch (1000)")
    parser.add_argument("--quick", action="store_true", help="50,000 rows, one run")
    parser.add_argument("--steps", action="store_true", help="print every step's time")
    args = parser.parse_args(argv)
    if args.rows is None:
        args.rows = 50_000 if args.quick else 300_000
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    started = time.monotonic()
    given = os.environ.get("WESLEY_BENCH_DSN")
    with contextlib.ExitStack() as stack:
        if given:
            admin, where = given, "WESLEY_BENCH_DSN"
        else:
            admin, where = stack.enter_context(EphemeralCluster()).dsn, "ephemeral cluster"
        with psycopg.connect(admin) as conn:
            version = conn.info.server_version
        print(
            f"expand/contract: item.id integer -> bigint (primary key, a foreign key points at "
            f"it) and note -> memo on {args.rows:,} rows; {args.writers} writers per version x "
            f"{args.rate:,.0f} writes/s; PostgreSQL {version // 10000}.{version % 10000} "
            f"({where})"
        )
        results = []
        for run in range(1, args.runs + 1):
            print(f"\nrun {run} of {args.runs}  ({load_note()})")
            wes = run_wesley(admin, args)
            print_wesley(wes, args)
            naive = run_naive(admin, args)
            print(
                f"  [naive] ALTER TYPE + RENAME in one transaction {naive[2]:,.2f} s: worst "
                f"{naive[0]:,.1f} ms, p99 {naive[1]:,.1f} ms, failed writes {naive[3]} "
                f"({naive[4]})"
            )
            results.append((wes, naive))
        print("\nsummary (worst single-write latency during the migration = the longest stall):")
        for i, (wes, naive) in enumerate(results, start=1):
            worst = wes.worst_ms()
            ratio = naive[0] / worst if worst else 0.0
            ok_data = not wes.lost and wes.rows == wes.expected_rows and not wes.desync
            print(
                f"  run {i}: wesley {wes.failed} failed, worst {worst:,.1f} ms, "
                f"{wes.t1 - wes.t0:.1f} s, data {'OK' if ok_data else 'BAD'} | naive "
                f"{naive[3]} failed, worst {naive[0]:,.1f} ms, {naive[2]:.1f} s | naive/wesley "
                f"{ratio:,.1f}x"
            )
            print(
                f"    targets: 0 failed {verdict(wes.failed == 0)}, 0 lost {verdict(ok_data)}, "
                f"worst <= {TARGET_MAX_STALL_MS:.0f} ms {verdict(worst <= TARGET_MAX_STALL_MS)}, "
                f">= {TARGET_RATIO:.0f}x below naive {verdict(ratio >= TARGET_RATIO)}, end state "
                f"{verdict(not wes.leftover)}"
            )
    print(f"\n{load_note()}; total {time.monotonic() - started:.1f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
