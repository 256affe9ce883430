"""The limit flags of the commands that run a plan (`rehearse`, `deploy`, `up`, `plan`); what
they mean and how they combine with wesley.toml is in wesley.limits."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from wesley.limits import TIMEOUT_SETTINGS
from wesley.limits import run_settings as run_settings  # re-exported

F = TypeVar("F", bound=Callable[..., Any])


def run_options(fn: F) -> F:
    """Adds the timeout flags; the command receives `timeout_flags`, a dict for run_settings."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["timeout_flags"] = {
            attr: kwargs.pop(attr) for _key, attr, flag, _help in TIMEOUT_SETTINGS if flag
        }
        return fn(*args, **kwargs)

    command: Any = wrapper
    for _key, attr, flag, help_text in reversed(TIMEOUT_SETTINGS):
        if flag:
            # 0 retries and a 0 ms first delay make sense; a 0 ms timeout means none at all
            least = 0 if attr in ("retries", "backoff_ms") else 1
            command = click.option(flag, attr, type=click.IntRange(least), help=help_text)(command)
    return command  # type: ignore[no-any-return]
