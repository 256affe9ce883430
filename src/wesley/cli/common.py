"""Options every command takes, wherever they are written (`wesley --json plan` and
`wesley plan --json` both work)."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

import click

from wesley.cli.output import Output

F = TypeVar("F", bound=Callable[..., Any])


def _merge(flag: str) -> Callable[[click.Context, click.Parameter, bool], bool]:
    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        out = ctx.find_object(Output)
        if out is not None and value:
            setattr(out, flag, True)
        return value

    return callback


def global_options(fn: F) -> F:
    fn = click.option(
        "--json",
        "json_mode",
        is_flag=True,
        expose_value=False,
        callback=_merge("json_mode"),
        help="Print one JSON document on stdout and nothing else.",
    )(fn)
    fn = click.option(
        "--quiet",
        "-q",
        is_flag=True,
        expose_value=False,
        callback=_merge("quiet"),
        help="Print only errors.",
    )(fn)
    fn = click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        callback=_merge("debug"),
        help="Show tracebacks for internal errors.",
    )(fn)
    return fn


def output(ctx: click.Context) -> Output:
    return ctx.ensure_object(Output)


def _sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a command as Ctrl-C does: ephemeral clusters are torn down, run records
    closed."""
    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
