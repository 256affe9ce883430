"""Limits of the commands that run a plan (`rehearse`, `deploy`, `up`; the files `plan`
writes carry them too): lock and statement timeouts, retries, backfill pacing. A flag wins
over `wesley.toml`, which wins over the defaults (wesley.plan.timeouts):

    [timeouts]
    lock_timeout_ms = 500          # --lock-timeout
    lock_retries = 10              # --lock-retries
    retry_backoff_ms = 100         # --retry-backoff (first delay, doubled, jittered)
    retry_backoff_max_ms = 5000
    statement_timeout_ms = 5000    # --statement-timeout (catalog-only steps, backfill batches)
    scan_timeout_ms = 3600000      # --scan-timeout (validation, index builds, rewrites)

    [backfill]
    pause_ms = 0                   # base pause between batches
    max_pause_ms = 2000            # the most it grows to while the application waits
    max_replication_lag_ms = 5000  # batches wait while a standby is further behind
"""

from __future__ import annotations

from dataclasses import fields

from wesley.config import CONFIG_FILE, Config
from wesley.errors import input_error
from wesley.plan.timeouts import Pacing, Timeouts

# (toml key, dataclass field, flag, help); flags only for the first five
TIMEOUT_SETTINGS = (
    ("lock_timeout_ms", "lock_ms", "--lock-timeout", "lock_timeout per step (ms) [500]."),
    ("lock_retries", "retries", "--lock-retries", "Retries after a lock timeout [10]."),
    (
        "retry_backoff_ms",
        "backoff_ms",
        "--retry-backoff",
        "First retry delay (ms), doubled per retry, jittered [100].",
    ),
    (
        "statement_timeout_ms",
        "statement_ms",
        "--statement-timeout",
        "statement_timeout of catalog-only steps and backfill batches (ms) [5000].",
    ),
    (
        "scan_timeout_ms",
        "scan_ms",
        "--scan-timeout",
        "statement_timeout of steps that scan or rewrite a table (ms) [3600000].",
    ),
    ("retry_backoff_max_ms", "backoff_max_ms", None, None),
)
_PACING = (
    ("pause_ms", "pause_ms"),
    ("max_pause_ms", "max_pause_ms"),
    ("max_replication_lag_ms", "max_lag_ms"),
)


def _section(config: Config, name: str, keys: set[str]) -> dict[str, int]:
    data = config.raw.get(name, {})
    if not isinstance(data, dict):
        raise input_error("CONFIG_INVALID", f"{CONFIG_FILE}: [{name}] must be a table")
    out: dict[str, int] = {}
    for key, value in data.items():
        if key not in keys:
            raise input_error(
                "CONFIG_INVALID",
                f"{CONFIG_FILE}: unknown setting [{name}] {key}",
                f"known: {', '.join(sorted(keys))}",
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise input_error(
                "CONFIG_INVALID",
                f"{CONFIG_FILE}: [{name}] {key} = {value!r}",
                "use a whole number of milliseconds (or of retries), 0 or more",
            )
        out[key] = value
    return out


def run_settings(config: Config, flags: dict[str, int | None]) -> tuple[Timeouts, Pacing]:
    """Timeouts and pacing from the defaults, then wesley.toml, then the flags given."""
    toml = _section(config, "timeouts", {k for k, *_ in TIMEOUT_SETTINGS})
    values: dict[str, int] = {}
    for key, attr, flag, _help in TIMEOUT_SETTINGS:
        given = flags.get(attr) if flag else None
        if given is not None:
            values[attr] = given
        elif key in toml:
            values[attr] = toml[key]
    pacing_toml = _section(config, "backfill", {k for k, _ in _PACING})
    pacing = {attr: pacing_toml[key] for key, attr in _PACING if key in pacing_toml}
    assert {f.name for f in fields(Timeouts)} >= values.keys()
    return Timeouts(**values), Pacing(**pacing)
