"""`watch`: transform again (and optionally `up` a development database) whenever the schema
or wesley.toml changes, using watchfiles (a maintained watcher over the OS's file events).
The directory is watched rather than the file, so an editor's save-by-rename is seen. An
error in one round (a schema that does not parse, a database that refuses) is reported and
the watch goes on."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import watchfiles

from wesley.api._transform import TransformResult, transform
from wesley.api._up import UpResult, up
from wesley.config import CONFIG_FILE, load_config
from wesley.db.executor import Progress
from wesley.db.progress import Meter
from wesley.errors import WesleyError


@dataclass(frozen=True)
class Round:
    """One run after a change (the first one at start)."""

    number: int
    changed: list[str]
    transform: TransformResult | None = None
    up: UpResult | None = None
    error: WesleyError | None = None


def watch(
    schema: str | Path | None = None,
    *,
    dsn: str | None = None,
    allow_destructive: bool = False,
    on_round: Callable[[Round], None] = lambda r: None,
    stop: threading.Event | None = None,
    debounce_ms: int = 300,
    progress: Progress | None = None,
    meter: Meter | None = None,
) -> int:
    """Run until `stop` is set (or Ctrl-C, also during a round); returns the number of
    rounds. With `dsn`, each round also brings that database to the schema (`up`)."""
    path = Path(schema) if schema is not None else Path(load_config().schema)
    watched = {path.resolve(), (Path.cwd() / CONFIG_FILE).resolve()}
    rounds = 0

    def one(changed: list[str]) -> None:
        nonlocal rounds
        rounds += 1
        made: TransformResult | None = None
        try:
            made = transform(path)
            brought = (
                up(dsn, path, allow_destructive=allow_destructive, progress=progress, meter=meter)
                if dsn
                else None
            )
            on_round(Round(rounds, changed, made, brought))
        except WesleyError as err:
            on_round(Round(rounds, changed, made, None, err))

    dirs = sorted({str(p.parent) for p in watched})
    events = watchfiles.watch(
        *dirs,
        watch_filter=lambda _change, name: Path(name).resolve() in watched,
        debounce=debounce_ms,
        stop_event=stop,
        recursive=False,
        raise_interrupt=False,
        # wakes every 200 ms with nothing: the first wake-up says the watcher is armed
        rust_timeout=200,
        yield_on_timeout=True,
    )
    try:
        # armed before the first round, so a save during it (or right after) is not missed;
        # what it sees before that round is in that round anyway
        next(events, None)
        one([])
        for changes in events:
            if changes:
                one(sorted({name for _, name in changes}))
    except KeyboardInterrupt:  # Ctrl-C during a round stops the watch as it does between them
        pass
    return rounds
