"""Progress on long work: without a terminal a line at least every interval (5 s by default,
`WESLEY_PROGRESS_EVERY` here) with done / total, rate and ETA during seeding and index builds,
and a heartbeat while any step runs; on a terminal a rich bar with total and ETA."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.helpers import UPSTREAM
from wesley.cli.progress import Bars, Lines
from wesley.db.executor import ExecOptions, Executor
from wesley.ir import ir_hash
from wesley.plan.build import build_plan
from wesley.sdl import parse_sdl

BLADE_V1, BLADE_V2 = str(UPSTREAM / "blade-v1.graphql"), str(UPSTREAM / "blade-v2.graphql")
LINE = re.compile(r"\d[\d,]* / [\d,]+ (rows|blocks|tuples) \(\d+%\), [\d,]+ \w+/s(, ETA [\d,]+ s)?")


def _timed_stderr(argv: list[str], env: dict[str, str]) -> tuple[int, list[tuple[float, str]]]:
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    lines: list[tuple[float, str]] = []

    def pump() -> None:
        for line in proc.stderr or []:
            lines.append((time.monotonic(), line.rstrip("\n")))

    reader = threading.Thread(target=pump)
    reader.start()
    code = proc.wait(timeout=300)
    reader.join()
    return code, lines


EVENT_OLD = "type Event @wes_table {\n  id: Int! @wes_pk\n  name: String\n}\n"
EVENT_NEW = (
    "type Event @wes_table {\n  id: Int! @wes_pk\n  name: String\n"
    '  token: UUID! @wes_default(expr: "gen_random_uuid()")\n}\n'
)


def test_seeding_and_backfill_print_a_line_at_least_every_interval(pg_dsn: str) -> None:
    Path("old.graphql").write_text(EVENT_OLD, encoding="utf-8")
    Path("new.graphql").write_text(EVENT_NEW, encoding="utf-8")
    env = {**os.environ, "WESLEY_PROGRESS_EVERY": "0.5"}
    argv = [sys.executable, "-m", "wesley", "rehearse", "--schema", "new.graphql",
            "--from", "old.graphql", "--seed-rows", "600000", "--batch-size", "2000",
            "--dsn", pg_dsn]  # fmt: skip
    code, lines = _timed_stderr(argv, env)
    assert code == 0, lines
    seeding = [(t, ln) for t, ln in lines if ln.startswith("[seed] event: ")]
    assert len(seeding) >= 2, lines  # the first chunk and the last, and between: see gaps
    assert all(LINE.search(ln) for _, ln in seeding), seeding
    assert "ETA" in seeding[0][1] and "600,000 / 600,000 rows (100%)" in seeding[-1][1]
    backfill = [(t, ln) for t, ln in lines if ln.startswith("[backfill] ") and "rows/s" in ln]
    assert len(backfill) >= 2, lines
    assert all(re.search(r"[\d,]+ / [\d,]+ rows \(\d+%\).*ETA", ln) for _, ln in backfill[:-1]), (
        backfill
    )
    for series in (seeding, backfill):
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(series)]
        assert max(gaps) <= 0.5 + 0.7, gaps


def test_an_index_build_reports_its_progress(pg_dsn: str) -> None:
    old = parse_sdl("type Item @wes_table {\n  id: Int! @wes_pk\n  name: String\n}\n").ir
    new = parse_sdl("type Item @wes_table {\n  id: Int! @wes_pk\n  name: String @wes_index\n}\n").ir
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE item (id integer PRIMARY KEY, name text)")
        conn.execute(
            "INSERT INTO item SELECT g, md5(g::text) || md5((g * 7)::text) "
            "FROM generate_series(1, 1500000) g"
        )
    plan = build_plan(old, new)
    seen: list[tuple[str, str, int, int | None, str]] = []
    display = Lines(every=0.3)
    try:

        def meter(key: str, label: str, done: int, total: int | None, unit: str) -> None:
            seen.append((key, label, done, total, unit))
            display.meter(key, label, done, total, unit)

        with Executor(pg_dsn, plan, ir_hash(new), ExecOptions(), display, meter) as ex:
            ex.run()
    finally:
        display.close()
    building = [s for s in seen if s[1].startswith("index item_name_idx")]
    assert building, seen
    assert any(total and unit in ("blocks", "tuples") for _, _, _, total, unit in building)


def test_a_quiet_step_still_gets_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    from wesley.plan.models import Blocks, Step

    step = Step(
        id="001-validate_fk-x",
        phase="validate",
        op="validate_fk",
        sql="SELECT 1",
        blocks=Blocks(reads=False, writes=False),
        risk=0,
        why="",
        guard="SELECT false",
    )
    display = Lines(every=0.3)
    display("start", step, None)
    time.sleep(1.1)
    display.close()
    running = [ln for ln in capsys.readouterr().err.splitlines() if "running" in ln]
    assert len(running) >= 2, running
    assert running[0].startswith("[validate] 001-validate_fk-x: running, ")


def test_the_terminal_bar_has_total_and_eta() -> None:
    bars = Bars()
    try:
        bars.seed("user", 2500, 10000)
        [task] = [t for t in bars.bars.tasks if t.description.startswith("[seed] user")]
        assert (task.completed, task.total) == (2500, 10000)
        columns = {type(c).__name__ for c in bars.bars.columns}
        assert {"BarColumn", "MofNCompleteColumn", "TimeRemainingColumn"} <= columns
    finally:
        bars.close()
