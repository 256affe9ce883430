"""What a certificate is bound to beyond its own bytes, checked where it is used.

- A target database (optional, `cert create --target DSN`): the cluster's system identifier
  (pg_control_system(), set once by initdb) and the database's name. Never the DSN: hosts,
  ports, users and passwords change, and a certificate must not carry them.
- On `deploy --resume`, the plan stored in the target's run records: it is executed as
  stored, so it must hash to the certified plan_hash, or someone edited it in the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wesley.plan.models import Plan, with_hash

if TYPE_CHECKING:  # the certificate's summary needs describe_target, not a database driver
    import psycopg


def target_identity(conn: psycopg.Connection[Any]) -> dict[str, str]:
    row = conn.execute(
        "SELECT system_identifier::text, current_database() FROM pg_control_system()"
    ).fetchone()
    assert row is not None
    return {"system_identifier": str(row[0]), "database": str(row[1])}


def describe_target(target: dict[str, Any] | None) -> str:
    if not target:
        return "any target"
    return (
        f"database {target.get('database')!r} of the cluster with system identifier "
        f"{target.get('system_identifier')}"
    )


def target_problem(bound: dict[str, Any] | None, actual: dict[str, str]) -> str | None:
    """Why a certificate bound to `bound` may not deploy to `actual` (None: it may)."""
    if not bound:
        return None
    if (
        bound.get("system_identifier") == actual["system_identifier"]
        and bound.get("database") == actual["database"]
    ):
        return None
    return (
        f"the certificate is bound to {describe_target(bound)}; the DSN reaches "
        f"{describe_target(actual)}"
    )


def stored_plan_problem(stored: Plan, certified: str) -> str | None:
    """Why the plan stored with a run may not be resumed under the certified plan_hash."""
    recomputed = with_hash(stored).plan_hash
    if recomputed == certified and stored.plan_hash == certified:
        return None
    return (
        f"the plan stored in wesley.migration_runs hashes to {recomputed[:12]}, not to the "
        f"certified plan_hash {certified[:12]}: it was changed in the database"
    )
