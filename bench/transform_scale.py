"""How `transform` scales: 100 and 1,000 generated tables of 20 columns (bench/scale_schemas),
each against graphql-core's own parse + build of the same text (`graphql.build_schema` on the
schema plus Wesley's directive prelude: the floor under any tool built on graphql-core).

Printed, with the targets of issue 13:
  - a full (cold) transform, in process, best of --runs: ratio to the floor <= 1.5 x at 1,000
    tables; its growth 100 -> 1,000 tables <= 12 x;
  - peak memory of each, in a child process (VmHWM after the imports, reset before the work):
    transform <= 3 x the floor's;
  - an unchanged rerun (the cache: files verified by hash), in process and as a whole
    `wesley transform` process: < 0.3 s at any size;
  - the size of each evidence file against the SDL (<= 5 x at 1,000 tables);
  - `wesley transform` of the `wesley init` template as a whole process: <= 0.25 s.

Both sides run with the collector as Python sets it (graphql-core's floor too); the floor with
the cyclic collector paused is printed as well, since Wesley pauses it during a transform.
Times are CPU seconds of the process (time.process_time; for whole processes the children's
user + system time from getrusage): the machine this runs on is shared, and wall time there
measures the neighbours as much as the code. Everything measured is single-threaded.

    .venv/bin/python bench/transform_scale.py            # 100 and 1,000 tables, 3 runs each
    .venv/bin/python bench/transform_scale.py --sizes 100,300 --runs 1
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_schemas import schema

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "src" / "wesley" / "templates" / "schema.graphql"


def floor_text(sdl: str) -> str:
    from wesley.sdl.registry import prelude

    return sdl + "\n" + prelude(set(), set())


def best(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def floor_once(sdl: str) -> None:
    import graphql

    graphql.build_schema(floor_text(sdl))


def floor_paused(sdl: str) -> None:
    gc.disable()
    try:
        floor_once(sdl)
    finally:
        gc.enable()


def transform_cold(sdl: str, work: Path) -> None:
    from wesley.api import transform

    work.mkdir(parents=True)
    os.chdir(work)
    Path("schema.graphql").write_text(sdl, encoding="utf-8")
    transform("schema.graphql", out="out")


def _cold_next(sdl: str, dirs: Iterator[Path]) -> None:
    transform_cold(sdl, next(dirs))


# child process: peak memory of one job (run as `python transform_scale.py --child KIND N`)
def child(kind: str, tables: int) -> None:
    import graphql  # noqa: F401  (imports are not the job)

    import wesley.api  # noqa: F401

    sdl = schema(tables)
    work = Path(tempfile.mkdtemp(prefix="wesley-bench-mem-"))
    before = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:  # VmHWM := VmRSS
        fh.write("5")
    if kind == "floor":
        floor_once(sdl)
    else:
        transform_cold(sdl, work / "w")
    print(json.dumps({"peak_mb": (_status("VmHWM") - before) / 1024}))


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])  # kB
    raise RuntimeError(field)


def peak_mb(kind: str, tables: int) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(tables)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["peak_mb"])


def wesley_process(cwd: Path, *args: str) -> float:
    """CPU seconds (user + system) of one whole `wesley transform` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-m", "wesley", "transform", "-q", *args],
        cwd=cwd,
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""},
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    from wesley.api import transform

    root = Path(tempfile.mkdtemp(prefix="wesley-bench-scale-"))
    sizes = [int(s) for s in args.sizes.split(",")]
    cold: dict[int, float] = {}
    print(
        f"{'tables':>6} {'SDL KB':>7} {'floor s':>8} {'(no gc)':>8} {'transform s':>11} "
        f"{'ratio':>6} {'rerun s':>8} {'rerun proc s':>12}"
    )
    for n in sizes:
        sdl = schema(n)
        floor = best(partial(floor_once, sdl), args.runs)
        paused = best(partial(floor_paused, sdl), args.runs)
        dirs = iter([root / f"t{n}-{i}" for i in range(args.runs)])
        cold[n] = best(partial(_cold_next, sdl, dirs), args.runs)
        work = root / f"t{n}-0"
        os.chdir(work)
        rerun = best(lambda: transform("schema.graphql", out="out"), args.runs)
        assert transform("schema.graphql", out="out").cached
        proc = min(wesley_process(work, "--out", "out") for _ in range(args.runs))
        print(
            f"{n:6d} {len(sdl.encode()) / 1024:7.0f} {floor:8.2f} {paused:8.2f} "
            f"{cold[n]:11.2f} {cold[n] / floor:5.2f}x {rerun:8.3f} {proc:12.3f}"
        )
        sizes_line = ", ".join(
            f"{p.name} {p.stat().st_size / len(sdl.encode()):.1f}x"
            for p in sorted((work / ".wesley").glob("*.json"))
            if p.name != "history.json"
        )
        print(f"{'':6} evidence files / SDL size: {sizes_line}")
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        print(
            f"growth {lo} -> {hi} tables: {cold[hi] / cold[lo]:.1f}x "
            f"(target <= {12 * hi / lo / 10:.0f}x)"
        )
    n = sizes[-1]
    floor_mb, wesley_mb = peak_mb("floor", n), peak_mb("transform", n)
    print(
        f"peak memory at {n} tables: floor {floor_mb:.0f} MB, transform {wesley_mb:.0f} MB "
        f"({wesley_mb / floor_mb:.2f}x, target <= 3x)"
    )
    init = root / "init"
    init.mkdir()
    (init / "schema.graphql").write_text(TEMPLATE.read_text(encoding="utf-8"), encoding="utf-8")
    wesley_process(init)  # fills the bytecode cache and the transform cache
    first = min(wesley_process(init, "--no-cache") for _ in range(args.runs))
    again = min(wesley_process(init) for _ in range(args.runs))
    print(
        f"init template, whole process: transform {first:.3f} s, unchanged rerun "
        f"{again:.3f} s (target <= 0.25 s)"
    )
    print("targets (issue 13): transform <= 1.5x floor at 1,000 tables; rerun < 0.3 s")


if __name__ == "__main__":
    main()
