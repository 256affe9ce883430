"""Shared fixtures.

Database tests take `pg_dsn`: a fresh, empty database per test, dropped afterwards. The server
is `$WESLEY_TEST_DSN` (an admin DSN) when set, else one ephemeral cluster for the whole session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from wesley.db.cluster import EphemeralCluster, create_database, drop_database


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    """A DSN with the right to create and drop databases."""
    external = os.environ.get("WESLEY_TEST_DSN")
    if external:
        yield external
        return
    with EphemeralCluster() as cluster:
        yield cluster.dsn


@pytest.fixture
def pg_dsn(pg_admin_dsn: str) -> Iterator[str]:
    """A DSN to a new database `wesley_t_<hex>` that only this test uses."""
    name = f"wesley_t_{uuid.uuid4().hex[:16]}"
    dsn = create_database(pg_admin_dsn, name)
    try:
        yield dsn
    finally:
        drop_database(pg_admin_dsn, name)


@pytest.fixture(autouse=True)
def _run_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs in its own directory, so `.wesley/` and `out/` never land in the repo."""
    monkeypatch.chdir(tmp_path)
