"""Progress of a run: a rich display per phase and step on a terminal, plain lines on stderr
otherwise (CI logs), nothing with --quiet or --json."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from wesley.cli.output import Output
from wesley.db.executor import Progress
from wesley.plan.models import Step
from wesley.realm.models import StepRecord


@contextmanager
def progress_for(out: Output) -> Iterator[Progress]:
    if out.quiet or out.json_mode:
        yield lambda event, step, rec: None
        return
    console = Console(stderr=True)
    if not sys.stderr.isatty():
        yield _lines
        return
    with console.status("starting") as status:

        def show(event: str, step: Step, rec: StepRecord | None) -> None:
            if event == "start":
                status.update(f"[bold]{step.phase}[/] {step.id}")
            elif event == "batch" and rec is not None:
                status.update(f"[bold]{step.phase}[/] {step.id}: {rows_line(rec)}")
            elif rec is not None:
                mark = "[green]✓[/]" if rec.status == "applied" else "[dim]·[/]"
                retries = f", {rec.retries} retries" if rec.retries else ""
                console.print(f"{mark} {step.phase:<8} {step.id} ({rec.ms} ms{retries})")

        yield show


def rows_line(rec: StepRecord) -> str:
    """`120,000 / ≈300,000 rows (40%), 52,000 rows/s, ETA 3 s`"""
    text = f"{rec.rows or 0:,}"
    if rec.rows_total:
        share = min(1.0, (rec.rows or 0) / rec.rows_total)
        text += f" / ≈{rec.rows_total:,} rows ({share:.0%})"
    else:
        text += " rows"
    if rec.rows_per_s:
        text += f", {rec.rows_per_s:,.0f} rows/s"
        if rec.rows_total and rec.rows_total > (rec.rows or 0):
            text += f", ETA {(rec.rows_total - (rec.rows or 0)) / rec.rows_per_s:,.0f} s"
    return text


_BATCH_LINE_S = 5.0  # without a terminal, a backfill prints a progress line this often
_last_line = [0.0]


def _lines(event: str, step: Step, rec: StepRecord | None) -> None:
    if event == "batch" and rec is not None:
        now = time.monotonic()
        if now - _last_line[0] >= _BATCH_LINE_S:
            _last_line[0] = now
            print(f"[{step.phase}] {step.id}: {rows_line(rec)}", file=sys.stderr)
        return
    if event == "start":
        _last_line[0] = time.monotonic()
    if event in ("done", "skipped") and rec is not None:
        retries = f", {rec.retries} retries" if rec.retries else ""
        rows = f", {rec.rows} rows" if rec.rows is not None else ""
        print(
            f"[{step.phase}] {step.id}: {rec.status} ({rec.ms} ms{retries}{rows})", file=sys.stderr
        )
