"""Progress of a run, for the person watching it: on a terminal a rich display (the current
step, and a bar with total, rate and ETA for long work: seeding, index builds, backfills);
otherwise plain lines on stderr (CI logs): one per finished step, and while long work runs a
line at least every 5 s (`WESLEY_PROGRESS_EVERY` seconds) with rows done / total, rate and
ETA, even when nothing moved. Nothing with --quiet or --json.

`progress_for` yields a `Display`: call it as the executor's `Progress`; `meter` is the
executor's and seeding's `Meter`."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from wesley.cli.output import Output
from wesley.db.records import StepRecord
from wesley.plan.models import Step


def interval_s() -> float:
    try:
        return max(0.1, float(os.environ.get("WESLEY_PROGRESS_EVERY", "5")))
    except ValueError:
        return 5.0


@dataclass
class _Work:
    label: str
    done: int
    total: int | None
    unit: str
    started: float

    def line(self, now: float) -> str:
        text = f"{self.label}: {self.done:,}"
        text += f" / {self.total:,} {self.unit}" if self.total else f" {self.unit}"
        if self.total:
            text += f" ({min(1.0, self.done / self.total):.0%})"
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        if rate > 0:
            text += f", {rate:,.0f} {self.unit}/s"
            if self.total and self.total > self.done:
                text += f", ETA {(self.total - self.done) / rate:,.0f} s"
        return text + f", {elapsed:,.0f} s so far"


def rows_line(rec: StepRecord) -> str:
    """`120,000 / ≈300,000 rows (40%), 52,000 rows/s, ETA 3 s` (a backfill's estimate)"""
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


class Display:
    """The base: says nothing (--quiet, --json)."""

    def __call__(self, event: str, step: Step, rec: StepRecord | None) -> None:
        return None

    def meter(self, key: str, label: str, done: int, total: int | None, unit: str) -> None:
        return None

    def seed(self, table: str, done: int, total: int) -> None:
        self.meter(f"seed:{table}", f"[seed] {table}", done, total, "rows")

    def close(self) -> None:
        return None


class Lines(Display):
    """Plain lines on stderr; a heartbeat thread keeps long work from going quiet."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.lock = threading.Lock()
        self.work: dict[str, _Work] = {}
        self.running: tuple[Step, float] | None = None
        self.last_line = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()

    def _print(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)
        self.last_line = time.monotonic()

    def __call__(self, event: str, step: Step, rec: StepRecord | None) -> None:
        with self.lock:
            if event == "start":
                self.running = (step, time.monotonic())
            elif event == "batch" and rec is not None:  # a backfill: its total is estimated
                label = f"[{step.phase}] {step.id}"
                self._update(step.id, label, rec.rows or 0, rec.rows_total, "rows", False)
            elif event in ("done", "skipped") and rec is not None:
                self.running = None
                self.work.pop(step.id, None)
                retries = f", {rec.retries} retries" if rec.retries else ""
                rows = f", {rec.rows} rows" if rec.rows is not None else ""
                self._print(f"[{step.phase}] {step.id}: {rec.status} ({rec.ms} ms{retries}{rows})")

    def meter(self, key: str, label: str, done: int, total: int | None, unit: str) -> None:
        with self.lock:
            self._update(key, label, done, total, unit)

    def _update(
        self, key: str, label: str, done: int, total: int | None, unit: str, ends: bool = True
    ) -> None:
        now = time.monotonic()
        work = self.work.get(key)
        if work is None:
            work = self.work[key] = _Work(label, done, total, unit, now)
        work.label, work.done, work.total, work.unit = label, done, total, unit
        if ends and total is not None and done >= total:
            self._print(work.line(now))  # finished: said once, then forgotten
            del self.work[key]
        elif now - self.last_line >= self.every:
            self._print(work.line(now))

    def _beat(self) -> None:
        while not self._stop.wait(min(self.every / 4, 1.0)):
            with self.lock:
                now = time.monotonic()
                if now - self.last_line < self.every:
                    continue
                if self.work:
                    for work in self.work.values():
                        self._print(work.line(now))
                elif self.running is not None:
                    step, since = self.running
                    self._print(f"[{step.phase}] {step.id}: running, {now - since:,.0f} s so far")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class Bars(Display):
    """A rich display on a terminal: a spinner with the current step, a bar per long work."""

    def __init__(self) -> None:
        self.console = Console(stderr=True)
        self.bars = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.step_task = self.bars.add_task("starting", total=None)
        self.tasks: dict[str, TaskID] = {}
        self.bars.start()

    def __call__(self, event: str, step: Step, rec: StepRecord | None) -> None:
        if event == "start":
            self.bars.update(self.step_task, description=f"[bold]{step.phase}[/] {step.id}")
        elif event == "batch" and rec is not None:
            self.meter(
                step.id, f"{step.id}: {rows_line(rec)}", rec.rows or 0, rec.rows_total, "rows"
            )
        elif rec is not None:
            task = self.tasks.pop(step.id, None)
            if task is not None:
                self.bars.remove_task(task)
            mark = "[green]✓[/]" if rec.status == "applied" else "[dim]·[/]"
            retries = f", {rec.retries} retries" if rec.retries else ""
            self.console.print(f"{mark} {step.phase:<8} {step.id} ({rec.ms} ms{retries})")

    def meter(self, key: str, label: str, done: int, total: int | None, unit: str) -> None:
        task = self.tasks.get(key)
        if task is None:
            task = self.tasks[key] = self.bars.add_task(label, total=total)
        self.bars.update(task, description=f"{label} ({unit})", completed=done, total=total)

    def close(self) -> None:
        self.bars.stop()


@contextmanager
def progress_for(out: Output) -> Iterator[Display]:
    if out.quiet or out.json_mode:
        display: Display = Display()
    elif sys.stderr.isatty():
        display = Bars()
    else:
        display = Lines(interval_s())
    try:
        yield display
    finally:
        display.close()
