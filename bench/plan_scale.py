"""How `plan` scales: two schemas of N tables (bench/scale_schemas), the second with every
tenth table changed (a column added with a default and a check, a check and an index
changed), side by side with its floors, in one run:

  (a) `wesley.api.plan(new, old=old SDL)` against graphql-core's parse + build of both SDL
      texts (`graphql.build_schema`, with Wesley's directive prelude): target <= 1.5 x;
  (b) `wesley plan --from-db` (the old schema applied to a database, the new SDL) against
      `migra` diffing the same two schemas as databases: target: no slower than migra.
      migra is not a Wesley dependency: (b) runs when --migra names its executable (install
      it in a venv of its own: `python3 -m venv /tmp/migra && /tmp/migra/bin/pip install
      migra psycopg2-binary`) and a DSN allowed to CREATE DATABASE is given (--dsn or
      WESLEY_BENCH_DSN; the bench's databases are dropped at the end).

Times: (a) CPU seconds of this process (a shared machine's wall time measures the
neighbours); (b) wall seconds of whole processes (both sides wait on PostgreSQL), the two
sides run in turn so a change in the machine's load falls on both, with each process's own
CPU seconds (user + system; the server's work is in neither) beside them.

    .venv/bin/python bench/plan_scale.py --tables 1000
    .venv/bin/python bench/plan_scale.py --tables 1000 --migra /tmp/migra/bin/migra \\
        --dsn postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_schemas import schema

PSQL = "/usr/bin/psql"


def cpu(fn: Callable[[], object], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def floor(old: str, new: str) -> None:
    import graphql

    from wesley.sdl.registry import prelude

    extra = "\n" + prelude(set(), set())
    graphql.build_schema(old + extra)
    graphql.build_schema(new + extra)


def wall(cmd: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> float:
    return run_timed(cmd, cwd, ok)[0]


def run_timed(cmd: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Wall seconds of `cmd`, and the CPU seconds (user + system) of the process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in ok:
        raise SystemExit(f"{cmd[0]} exited {done.returncode}: {done.stderr[-2000:]}")
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, used


def with_db(dsn: str, name: str) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(dsn, dbname=name)


def as_url(dsn: str) -> str:
    """The DSN as a URL: migra (SQLAlchemy) takes only URLs; its driver is psycopg2."""
    from urllib.parse import quote

    from psycopg.conninfo import conninfo_to_dict

    d = conninfo_to_dict(dsn)
    auth = quote(str(d.get("user", "postgres")))
    if d.get("password"):
        auth += ":" + quote(str(d["password"]))
    host = f"{d.get('host', '127.0.0.1')}:{d.get('port', 5432)}"
    return f"postgresql+psycopg2://{auth}@{host}/{quote(str(d['dbname']))}"


def from_db(args: argparse.Namespace, work: Path, old: str, new: str) -> None:
    import psycopg

    from wesley.api import transform

    dsn = args.dsn or os.environ.get("WESLEY_BENCH_DSN")
    if not (args.migra and dsn):
        print("plan --from-db vs migra: skipped (give --migra and --dsn)")
        return
    names = {"old": "wesley_bench_plan_old", "new": "wesley_bench_plan_new"}
    with psycopg.connect(dsn, autocommit=True) as admin:
        for db in names.values():
            admin.execute(f"DROP DATABASE IF EXISTS {db}")
            admin.execute(f"CREATE DATABASE {db}")
    try:
        for kind, text in (("old", old), ("new", new)):
            here = work / f"db-{kind}"
            here.mkdir()
            os.chdir(here)
            Path("schema.graphql").write_text(text, encoding="utf-8")
            transform("schema.graphql", out="out", targets="postgres")
            wall(
                [
                    PSQL,
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-f",
                    "out/schema.sql",
                    with_db(dsn, names[kind]),
                ],
                here,
            )
        os.chdir(work)
        (work / "new.graphql").write_text(new, encoding="utf-8")
        wesley = [
            sys.executable,
            "-m",
            "wesley",
            "plan",
            "-q",
            "--schema",
            "new.graphql",
            "--from-db",
            with_db(dsn, names["old"]),
        ]
        migra = [
            args.migra,
            "--unsafe",
            as_url(with_db(dsn, names["old"])),
            as_url(with_db(dsn, names["new"])),
        ]
        wall(wesley, work, (0, 5))  # warm-up (bytecode cache, catalog cache)
        wall(migra, work, (0, 2))
        ours: list[tuple[float, float]] = []
        theirs: list[tuple[float, float]] = []
        for _ in range(args.runs):  # in turn: both sides see the same neighbours
            ours.append(run_timed(wesley, work, (0, 5)))
            theirs.append(run_timed(migra, work, (0, 2)))
        w_ours, w_theirs = min(t for t, _ in ours), min(t for t, _ in theirs)
        c_ours, c_theirs = min(c for _, c in ours), min(c for _, c in theirs)
        print(
            f"plan --from-db {w_ours:.2f} s, migra {w_theirs:.2f} s: {w_ours / w_theirs:.2f}x "
            f"(target <= 1x); process CPU {c_ours:.2f} s vs {c_theirs:.2f} s"
        )
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            for db in names.values():
                admin.execute(f"DROP DATABASE IF EXISTS {db}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--migra")
    ap.add_argument("--dsn")
    args = ap.parse_args()
    from wesley.api import plan

    old, new = schema(args.tables), schema(args.tables, changed_every=10)
    work = Path(tempfile.mkdtemp(prefix="wesley-bench-plan-"))
    os.chdir(work)
    (work / "old.graphql").write_text(old, encoding="utf-8")
    (work / "new.graphql").write_text(new, encoding="utf-8")
    base = cpu(lambda: floor(old, new), args.runs)
    ours = cpu(lambda: plan("new.graphql", old="old.graphql"), args.runs)
    steps = len(plan("new.graphql", old="old.graphql").plan.steps)
    print(f"{args.tables} tables, {args.tables // 10} changed: {steps} steps")
    print(
        f"plan (SDL -> SDL) {ours:.2f} s CPU, floor (parse + build both) {base:.2f} s: "
        f"{ours / base:.2f}x (target <= 1.5x)"
    )
    from_db(args, work, old, new)


if __name__ == "__main__":
    main()
