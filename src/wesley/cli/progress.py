"""Progress of a run: a rich display per phase and step on a terminal, plain lines on stderr
otherwise (CI logs), nothing with --quiet or --json."""

from __future__ import annotations

import sys
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
                status.update(f"[bold]{step.phase}[/] {step.id}: {rec.rows} rows")
            elif rec is not None:
                mark = "[green]✓[/]" if rec.status == "applied" else "[dim]·[/]"
                retries = f", {rec.retries} retries" if rec.retries else ""
                console.print(f"{mark} {step.phase:<8} {step.id} ({rec.ms} ms{retries})")

        yield show


def _lines(event: str, step: Step, rec: StepRecord | None) -> None:
    if event in ("done", "skipped") and rec is not None:
        retries = f", {rec.retries} retries" if rec.retries else ""
        rows = f", {rec.rows} rows" if rec.rows is not None else ""
        print(
            f"[{step.phase}] {step.id}: {rec.status} ({rec.ms} ms{retries}{rows})", file=sys.stderr
        )
