"""`drift`: what differs between a live database and the schema (or the snapshot of the last
deploy from this directory, `.wesley/deployed.json`): extra, missing and changed tables,
columns, types, defaults, constraints, indexes, row-level security, policies and uid comments.
Equal: a result with no differences. Different: WesleyError DRIFT (exit 5) carrying the
result, so a CI job fails and still prints the report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wesley.api.records import DEPLOYED
from wesley.api.schema import deployed_ir, load_schema
from wesley.config import load_config
from wesley.db.dsn import check_dsn, redact
from wesley.db.grants import read_grants
from wesley.db.introspect import introspect
from wesley.db.session import connect
from wesley.drift import Drift, compare, markdown
from wesley.errors import ExitCode, WesleyError, input_error
from wesley.ir import IR, ir_hash

DEFAULT_IGNORE: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DriftResult:
    database: str  # redacted
    against: str  # "schema" or the snapshot file
    ir_hash: str
    drifts: list[Drift]

    @property
    def equal(self) -> bool:
        return not self.drifts

    def markdown(self) -> str:
        return markdown(self.drifts, f"Drift: {self.database} against {self.against}")


def drift_between(dsn: str, expected: IR, ignore: frozenset[str] = DEFAULT_IGNORE) -> list[Drift]:
    """The differences of the database at `dsn` from `expected` (for rehearse and deploy)."""
    with connect(dsn) as conn:
        return compare(expected, introspect(conn), ignore, read_grants(conn))


def drift(
    dsn: str,
    schema: str | Path | None = None,
    *,
    sdl: str | None = None,
    deployed: bool = False,
    ignore: frozenset[str] = DEFAULT_IGNORE,
) -> DriftResult:
    """Compare the database at `dsn` with `schema` (default: wesley.toml's), or with the last
    deploy's snapshot when `deployed`; raises WesleyError DRIFT (exit 5, `result`) when they
    differ."""
    check_dsn(dsn)
    if deployed:
        expected = deployed_ir(load_config().parse_options())
        if expected is None:
            raise input_error(
                "NOTHING_DEPLOYED",
                f"{DEPLOYED} does not exist: nothing was deployed from this directory",
                "compare with the schema instead (drop --deployed)",
            )
        against = str(DEPLOYED)
    else:
        expected = load_schema(schema, sdl=sdl).ir
        against = "the schema"
    result = DriftResult(
        redact(dsn), against, ir_hash(expected), drift_between(dsn, expected, ignore)
    )
    if result.drifts:
        listed = "\n".join(f"  - {d.text()}" for d in result.drifts)
        raise WesleyError(
            "DRIFT",
            f"{result.database} has drifted from {against}: {len(result.drifts)} "
            f"difference(s):\n{listed}",
            "bring the database back (wesley up, or plan --from-db and deploy), or change the "
            "schema to what the database has (wesley introspect writes it)",
            exit_code=ExitCode.REFUSED,
            details={"drift": [d.to_json() for d in result.drifts]},
            result=result,
        )
    return result
