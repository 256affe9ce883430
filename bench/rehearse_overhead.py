"""What `wesley rehearse` costs over doing the same work by hand.

For one schema (default: the upstream ecommerce-v2.graphql), each run gets a new empty
database and times, as wall time of the subprocesses:

  (a) wesley rehearse --fresh --schema S --dsn DSN
      (plan from nothing, the executor applies it step by step with its run records and lock
      observation, the generated pgTAP suite runs, a replan from the database must be empty)
  (b) psql -c 'CREATE EXTENSION IF NOT EXISTS pgtap' -f schema.sql -f rls.sql, then
      pg_prove tests.sql (psql -f tests.sql when pg_prove is not installed)

with the files generated once by `wesley transform --schema S --out DIR`. (b) creates the
pgTAP extension because (a) does. Runs alternate (a), (b); medians are printed with their
ratio against the target (a) <= 1.5 x (b). Printed too: where (a)'s time goes (the timings in
its realm.json, and the start-up floor of a Python process importing Wesley), and,
separately, the median start-up and stop of an `EphemeralCluster` (what `rehearse` without
--dsn adds).

Python subprocesses get a bytecode cache in the benchmark's temp dir (PYTHONPYCACHEPREFIX,
PYTHONDONTWRITEBYTECODE dropped), as an installed package has its .pyc files; the warm-up
run fills it. --no-bytecode-cache runs them with the environment as it is.

    .venv/bin/python bench/rehearse_overhead.py            # 5 runs each, 3 cluster starts
    .venv/bin/python bench/rehearse_overhead.py --quick    # 3 runs each, 1 cluster start

Uses WESLEY_BENCH_DSN (an admin DSN allowed to CREATE DATABASE) when set, else its own
ephemeral cluster; every database it creates is dropped, the cluster removed. Prints figures
and exits 0; non-zero only when something crashes (or a run does not pass).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from wesley.db.cluster import EphemeralCluster, create_database, drop_database

REPO = Path(__file__).resolve().parents[1]
UPSTREAM = REPO.parent / "shared" / "fixtures" / "upstream"
DEFAULT_SCHEMA = UPSTREAM / "ecommerce-v2.graphql"
PSQL = "/usr/bin/psql"
TARGET_RATIO = 1.5
DB_PREFIX = "wesley_bench_ro"
# what any `wesley` process must import whatever the command (the floor under lazy imports)
DEPS = "import click, graphql, pglast, pglast.parser, psycopg, pydantic"

# libpq parameters → the environment variables psql and pg_prove read (pg_prove does not
# take a conninfo string as its database)
PG_ENV = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "dbname": "PGDATABASE",
    "sslmode": "PGSSLMODE",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


def wesley_command() -> list[str]:
    script = Path(sys.executable).parent / "wesley"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "wesley"]


def prover() -> Path | None:
    found = shutil.which("pg_prove") or (
        "/usr/bin/pg_prove" if Path("/usr/bin/pg_prove").is_file() else None
    )
    return Path(found) if found else None


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def pg_env(dsn: str) -> dict[str, str]:
    env = base_env()
    for key, value in conninfo_to_dict(dsn).items():
        if key in PG_ENV and value is not None:
            env[PG_ENV[key]] = str(value)
    return env


def run(cmd: Sequence[str], *, cwd: Path, env: dict[str, str]) -> float:
    """Run `cmd`; its wall time in seconds. A failure stops the benchmark with its output."""
    start = time.perf_counter()
    result = subprocess.run(
        list(cmd), cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} exited {result.returncode}\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
    return elapsed


@dataclass
class Bench:
    admin: str
    work: Path
    schema: Path
    py_env: dict[str, str]  # for Python subprocesses
    wesley: list[str]
    prove: Path | None

    @property
    def out(self) -> Path:
        return self.work / "out"


@dataclass
class Figures:
    wesley: list[float] = field(default_factory=list)
    psql: list[float] = field(default_factory=list)
    prove: list[float] = field(default_factory=list)
    realm: dict[str, list[int]] = field(default_factory=dict)

    @property
    def manual(self) -> list[float]:
        return [a + b for a, b in zip(self.psql, self.prove, strict=True)]


def median_ms(values: Sequence[float]) -> float:
    return statistics.median(values) * 1000 if values else 0.0


def fresh_database(admin: str, name: str) -> str:
    drop_database(admin, name)
    return create_database(admin, name)


def by_wesley(b: Bench, n: int, figures: Figures) -> None:
    name = f"{DB_PREFIX}_w{n}"
    dsn = fresh_database(b.admin, name)
    try:
        cmd = [*b.wesley, "rehearse", "--fresh", "--schema", str(b.schema), "--dsn", dsn]
        figures.wesley.append(run(cmd, cwd=b.work, env=b.py_env))
        realm = json.loads((b.work / ".wesley" / "realm.json").read_text(encoding="utf-8"))
        if realm.get("verdict") != "PASS":
            raise RuntimeError(f"rehearse verdict {realm.get('verdict')}: {realm.get('failure')}")
        for key, ms in realm.get("timings", {}).items():
            figures.realm.setdefault(key, []).append(int(ms))
    finally:
        drop_database(b.admin, name)


def by_hand(b: Bench, n: int, figures: Figures) -> None:
    name = f"{DB_PREFIX}_m{n}"
    dsn = fresh_database(b.admin, name)
    try:
        env = pg_env(dsn)
        psql = [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        build = [
            *psql,
            "-c",
            "CREATE EXTENSION IF NOT EXISTS pgtap",
            "-f",
            str(b.out / "schema.sql"),
            "-f",
            str(b.out / "rls.sql"),
        ]
        figures.psql.append(run(build, cwd=b.work, env=env))
        if b.prove is not None:
            figures.prove.append(run([str(b.prove), str(b.out / "tests.sql")], cwd=b.work, env=env))
        else:
            figures.prove.append(psql_tests(psql, b.out / "tests.sql", b.work, env))
    finally:
        drop_database(b.admin, name)


def psql_tests(psql: list[str], tests: Path, work: Path, env: dict[str, str]) -> float:
    """The fallback without pg_prove: psql -f tests.sql, failing on any `not ok`."""
    start = time.perf_counter()
    result = subprocess.run(
        [*psql, "-t", "-A", "-f", str(tests)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0 or "\nnot ok" in "\n" + result.stdout:
        raise RuntimeError(f"psql -f tests.sql failed:\n{result.stdout[-2000:]}{result.stderr}")
    return elapsed


def startup_floor(b: Bench, runs: int) -> dict[str, float]:
    """Median wall times of Python processes that only start (and import)."""
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import click, graphql, pglast, psycopg, pydantic'": [
            sys.executable,
            "-c",
            DEPS,
        ],
        "wesley --version (imports every command)": [*b.wesley, "--version"],
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(runs):
        for label, cmd in cases.items():
            times[label].append(run(cmd, cwd=b.work, env=b.py_env))
    return {k: statistics.median(v) for k, v in times.items()}


def cluster_startup(times: int) -> tuple[list[float], list[float]]:
    starts, stops = [], []
    for _ in range(times):
        cluster = EphemeralCluster()
        t = time.perf_counter()
        cluster.start()
        starts.append(time.perf_counter() - t)
        t = time.perf_counter()
        cluster.stop()
        stops.append(time.perf_counter() - t)
    return starts, stops


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def load_note() -> str:
    one, five, _ = os.getloadavg()
    cpus = os.cpu_count() or 1
    busy = "  (other work is running: figures are noisy)" if one > 0.5 * cpus else ""
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {cpus} CPUs{busy}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA, help="SDL file")
    parser.add_argument(
        "--generated",
        type=int,
        metavar="N",
        help="instead of --schema, a generated N-table schema (bench/parse_speed.py's)",
    )
    parser.add_argument("--runs", type=int, default=None, help="timed runs of each (5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each first (1)")
    parser.add_argument("--cluster-starts", type=int, default=None, help="cluster starts (3)")
    parser.add_argument("--quick", action="store_true", help="3 runs each, 1 cluster start")
    parser.add_argument(
        "--psql-tests", action="store_true", help="(b) runs tests.sql with psql -f, not pg_prove"
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="run Python subprocesses with the environment as it is",
    )
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 5)
    starts_n = args.cluster_starts or (1 if args.quick else 3)
    began = time.monotonic()
    figures = Figures()
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="wesley-bench-")))
        schema: Path = args.schema.resolve()
        if args.generated:
            from parse_speed import generated  # bench/ is sys.path[0] when a script here runs

            schema = work / f"generated-{args.generated}.graphql"
            schema.write_text(generated(args.generated), encoding="utf-8")
        if not schema.is_file():
            raise SystemExit(f"schema not found: {schema}")
        label = f"generated {args.generated}-table schema" if args.generated else str(schema)
        print(f"rehearse_overhead: {label}")
        print(f"  {load_note()}")
        py_env = base_env()
        if args.no_bytecode_cache:
            cache = "as in the environment" + (
                " (PYTHONDONTWRITEBYTECODE is set: Wesley's modules compile from source "
                "in every process)"
                if os.environ.get("PYTHONDONTWRITEBYTECODE")
                else ""
            )
        else:
            py_env.pop("PYTHONDONTWRITEBYTECODE", None)
            py_env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
            cache = f"cached in {work / 'pycache'} (filled by the first process, transform)"
        prove = None if args.psql_tests else prover()
        bench = Bench("", work, schema, py_env, wesley_command(), prove)
        print(f"  wesley: {' '.join(bench.wesley)}; bytecode {cache}")
        if bench.prove is not None:
            print(f"  tests by hand: {bench.prove}")
        elif args.psql_tests:
            print("  tests by hand: psql -f tests.sql (--psql-tests)")
        else:
            print(
                "  tests by hand: pg_prove NOT installed (Debian: apt-get install "
                "libtap-parser-sourcehandler-pgtap-perl): falling back to psql -f tests.sql"
            )
        t = time.perf_counter()
        run(
            [*bench.wesley, "transform", "--schema", str(schema), "--out", "out"],
            cwd=work,
            env=py_env,
        )
        print(
            f"  wesley transform --schema S --out {work / 'out'}: "
            f"{time.perf_counter() - t:.2f} s (once: the files for (b))"
        )
        given = os.environ.get("WESLEY_BENCH_DSN")
        if given:
            bench.admin, where = given, "WESLEY_BENCH_DSN"
        else:
            bench.admin = stack.enter_context(EphemeralCluster()).dsn
            where = "an ephemeral cluster"
        with psycopg.connect(bench.admin) as conn:
            version = conn.info.server_version
        print(
            f"  database: {where}, PostgreSQL {version // 10000}.{version % 10000}; "
            f"{runs} timed runs each after {args.warmup} warm-up, alternating"
        )
        for n in range(args.warmup):
            by_wesley(bench, n, Figures())
            by_hand(bench, n, Figures())
        for n in range(args.warmup, args.warmup + runs):
            by_wesley(bench, n, figures)
            by_hand(bench, n, figures)
        floor = startup_floor(bench, runs)

    wes, manual = median_ms(figures.wesley), median_ms(figures.manual)
    ratio = wes / manual if manual else float("inf")
    tests_by = "pg_prove" if bench.prove is not None else "psql -f tests.sql"
    print()
    print(
        f"(a) wesley rehearse --fresh --dsn  median {wes:6.0f} ms  "
        f"(runs: {', '.join(f'{x * 1000:.0f}' for x in figures.wesley)})"
    )
    print(
        f"(b) psql + {tests_by:22s} median {manual:6.0f} ms  "
        f"(runs: {', '.join(f'{x * 1000:.0f}' for x in figures.manual)}; medians: "
        f"psql {median_ms(figures.psql):.0f}, {tests_by} {median_ms(figures.prove):.0f})"
    )
    print(
        f"ratio (a)/(b) {ratio:.2f}x   target <= {TARGET_RATIO}x: {verdict(ratio <= TARGET_RATIO)}"
    )
    print()
    print("where (a)'s time goes (medians, ms):")
    realm = {k: statistics.median(v) for k, v in figures.realm.items()}
    for key in ("apply_ms", "tests_ms", "replan_ms", "total_ms"):
        if key in realm:
            print(f"  realm.json {key:10s} {realm[key]:6.0f}")
    inside = realm.get("total_ms", 0.0)
    counted = sum(realm.get(k, 0.0) for k in ("apply_ms", "tests_ms", "replan_ms"))
    print(f"  rest of rehearse() (build_plan, connecting): {inside - counted:6.0f}")
    print(f"  outside rehearse(): start-up, imports, parse, plan, files: {wes - inside:6.0f}")
    for label, secs in floor.items():
        print(f"    start-up floor, {label}: {secs * 1000:.0f}")
    print()
    try:
        starts, stops = cluster_startup(starts_n)
        print(
            f"EphemeralCluster: start median {median_ms(starts):.0f} ms, stop median "
            f"{median_ms(stops):.0f} ms (starts: {', '.join(f'{x * 1000:.0f}' for x in starts)})"
        )
    except Exception as exc:  # no server binaries: the other figures still stand
        print(f"EphemeralCluster: could not start one: {exc}")
    print(f"\n{load_note()}; total {time.monotonic() - began:.1f} s")


if __name__ == "__main__":
    main()
