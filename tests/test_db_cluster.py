"""The ephemeral cluster, the per-test database fixtures and DSN redaction, on real servers."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from wesley.db.cluster import EphemeralCluster, create_database, drop_database, find_pg_bindir
from wesley.db.dsn import connect_error, redact, with_dbname
from wesley.errors import ExitCode, WesleyError

SECRET = "s3cr3t-Pw"


def _pg_binaries_available() -> bool:
    try:
        find_pg_bindir()
    except WesleyError:
        return False
    return True


# With an external server (WESLEY_TEST_DSN) local binaries are optional; without one they are
# required anyway, so a missing install fails loudly instead of skipping.
requires_binaries = pytest.mark.skipif(
    bool(os.environ.get("WESLEY_TEST_DSN")) and not _pg_binaries_available(),
    reason="no local PostgreSQL binaries and WESLEY_TEST_DSN is set",
)


@pytest.fixture
def private_tmp(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A temp root of our own, so we see exactly what a cluster leaves behind.

    World-readable: run as root, the server runs as `postgres` and must reach its dir.
    """
    # Pin pytest's own temp root first, or a later `tmp_path` would be created in ours.
    tmp_path_factory.getbasetemp()
    root = Path(tempfile.mkdtemp(prefix="wesley-test-tmp-"))
    root.chmod(0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _postmaster_pid(workdir: Path) -> int:
    return int((workdir / "data" / "postmaster.pid").read_text().splitlines()[0])


def _alive(pid: int) -> bool:
    """Whether `pid` runs; a zombie (exited, not yet reaped by init) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def _dbname(dsn: str) -> str:
    return str(conninfo_to_dict(dsn)["dbname"])


# -- the cluster ---------------------------------------------------------------------------


@requires_binaries
def test_cluster_starts_serves_and_stops(private_tmp: Path) -> None:
    cluster = EphemeralCluster()
    cluster.start()
    try:
        workdir, dsn = cluster.workdir, cluster.dsn
        assert workdir.parent == private_tmp
        assert workdir.name.startswith("wesley-pg-")
        assert cluster.host == "127.0.0.1"
        assert conninfo_to_dict(dsn) == {
            "host": "127.0.0.1",
            "port": str(cluster.port),
            "user": "postgres",
            "dbname": "postgres",
        }
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT current_user, current_database(),"
                " current_setting('server_version_num')::int, current_setting('fsync')"
            ).fetchone()
        assert row == ("postgres", "postgres", cluster.server_version, "off")
        assert cluster.server_version >= 150000
        pid = _postmaster_pid(workdir)
        assert _alive(pid)
    finally:
        cluster.stop()

    assert not cluster.running
    assert not workdir.exists()
    assert list(private_tmp.iterdir()) == []
    assert not _alive(pid)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, connect_timeout=3)
    cluster.stop()  # idempotent
    assert not cluster.running
    with pytest.raises(RuntimeError):
        _ = cluster.port


@requires_binaries
def test_context_manager_stops_even_when_the_body_raises(private_tmp: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), EphemeralCluster() as cluster:
        workdir = cluster.workdir
        pid = _postmaster_pid(workdir)
        raise RuntimeError("boom")
    assert not workdir.exists()
    assert not _alive(pid)
    assert list(private_tmp.iterdir()) == []


@requires_binaries
def test_interpreter_exit_stops_a_forgotten_cluster(private_tmp: Path) -> None:
    script = (
        "from wesley.db.cluster import EphemeralCluster\n"
        "c = EphemeralCluster().start()\n"
        "pid = open(c.workdir / 'data' / 'postmaster.pid').readline().strip()\n"
        "print(c.workdir, pid)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "TMPDIR": str(private_tmp)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    workdir, pid = Path(out[0]), int(out[1])
    assert workdir.parent == private_tmp
    assert not workdir.exists()
    assert not _alive(pid)


def test_empty_bindir_fails_with_a_code_and_leaves_nothing(
    private_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WESLEY_PG_BIN", str(tmp_path))
    cluster = EphemeralCluster()
    with pytest.raises(WesleyError) as info:
        cluster.start()
    assert info.value.code == "PG_BINARIES_NOT_FOUND"
    assert info.value.exit_code == ExitCode.EXECUTION_FAILED
    assert info.value.hint
    assert not cluster.running
    assert list(private_tmp.iterdir()) == []
    cluster.stop()


@requires_binaries
def test_initdb_failure_fails_with_a_code_and_leaves_nothing(
    private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Real initdb and pg_ctl, copied away from `postgres`: initdb fails after the temp dir exists.
    bindir = Path(tempfile.mkdtemp(prefix="wesley-test-bin-", dir=private_tmp.parent))
    try:
        bindir.chmod(0o755)
        for tool in ("initdb", "pg_ctl"):
            shutil.copy2(find_pg_bindir() / tool, bindir / tool)
        monkeypatch.setenv("WESLEY_PG_BIN", str(bindir))
        with pytest.raises(WesleyError) as info:
            EphemeralCluster().start()
    finally:
        shutil.rmtree(bindir)
    assert info.value.code == "CLUSTER_START_FAILED"
    assert info.value.exit_code == ExitCode.EXECUTION_FAILED
    assert "initdb" in info.value.message
    assert "postgres" in info.value.message  # initdb's own complaint is quoted
    assert list(private_tmp.iterdir()) == []


@requires_binaries
def test_server_start_failure_quotes_the_log_and_leaves_nothing(private_tmp: Path) -> None:
    cluster = EphemeralCluster(settings={"shared_buffers": "not-a-size"})
    with pytest.raises(WesleyError) as info:
        cluster.start()
    assert info.value.code == "CLUSTER_START_FAILED"
    assert info.value.exit_code == ExitCode.EXECUTION_FAILED
    assert 'invalid value for parameter "shared_buffers"' in info.value.message
    assert not cluster.running
    assert list(private_tmp.iterdir()) == []


@requires_binaries
def test_find_pg_bindir_honours_the_override(monkeypatch: pytest.MonkeyPatch) -> None:
    found = find_pg_bindir()
    assert (found / "initdb").is_file()
    assert (found / "pg_ctl").is_file()
    monkeypatch.setenv("WESLEY_PG_BIN", str(found))
    assert find_pg_bindir() == found


# -- per-test databases --------------------------------------------------------------------

_databases_seen: dict[str, str] = {}


@pytest.mark.parametrize("run", ["first", "second"])
def test_each_test_gets_a_fresh_database(run: str, pg_dsn: str, pg_admin_dsn: str) -> None:
    # Runs twice; whichever run comes second sees the first one's traces, or their absence.
    name = _dbname(pg_dsn)
    assert name.startswith("wesley_t_")
    assert name != _dbname(pg_admin_dsn)
    assert name not in _databases_seen.values()
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT to_regclass('public.probe')").fetchone() == (None,)
        conn.execute("CREATE TABLE probe (id int)")
    with psycopg.connect(pg_admin_dsn) as admin:
        for earlier in _databases_seen.values():
            dropped = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (earlier,))
            assert dropped.fetchone() is None
    _databases_seen[run] = name


def test_databases_are_isolated(pg_dsn: str, pg_admin_dsn: str) -> None:
    other_name = "wesley_t_other_" + _dbname(pg_dsn).removeprefix("wesley_t_")
    other_dsn = create_database(pg_admin_dsn, other_name)
    try:
        assert _dbname(other_dsn) == other_name
        with psycopg.connect(pg_dsn) as conn:
            conn.execute("CREATE TABLE only_here (id int)")
        session = psycopg.connect(other_dsn, autocommit=True)
        try:
            row = session.execute("SELECT to_regclass('public.only_here')").fetchone()
            assert row == (None,)
            # A session still open in the database must not block the drop (WITH (FORCE)).
            drop_database(pg_admin_dsn, other_name)
        finally:
            session.close()
    finally:
        drop_database(pg_admin_dsn, other_name)  # IF EXISTS: a second drop is fine
    with psycopg.connect(pg_admin_dsn) as admin:
        gone = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (other_name,))
        assert gone.fetchone() is None


def test_database_names_are_quoted(pg_admin_dsn: str) -> None:
    name = 'wesley_t_Odd "name"; DROP'
    dsn = create_database(pg_admin_dsn, name)
    try:
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (name,)
    finally:
        drop_database(pg_admin_dsn, name)


# -- DSNs ----------------------------------------------------------------------------------


def test_with_dbname_keeps_the_rest_of_the_connection() -> None:
    for dsn in (
        f"postgresql://alice:{SECRET}@db.example.com:6543/app?sslmode=require",
        f"host=db.example.com port=6543 user=alice password={SECRET} dbname=app sslmode=require",
    ):
        assert conninfo_to_dict(with_dbname(dsn, "other")) == {
            "host": "db.example.com",
            "port": "6543",
            "user": "alice",
            "password": SECRET,
            "dbname": "other",
            "sslmode": "require",
        }


def test_with_dbname_rejects_an_invalid_dsn_without_showing_it() -> None:
    with pytest.raises(WesleyError) as info:
        with_dbname(f"host='db password={SECRET}", "x")
    assert info.value.code == "DSN_INVALID"
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        (
            f"postgresql://alice:{SECRET}@db.example.com:5432/app?sslmode=require",
            "postgresql://alice:***@db.example.com:5432/app?sslmode=require",
        ),
        (f"postgres://alice:{SECRET}@h/app", "postgres://alice:***@h/app"),
        (
            f"postgresql://alice@h/app?password={SECRET}&sslmode=require",
            "postgresql://alice@h/app?password=***&sslmode=require",
        ),
        ("postgresql://alice:s3%40cr3t-Pw@h/app", "postgresql://alice:***@h/app"),
        ("postgresql://alice@h:5432/app", "postgresql://alice@h:5432/app"),
        ("host=h dbname=app", "host=h dbname=app"),
        # '/' unescaped in a URL password: not a valid URL, masked whole rather than guessed at.
        ("postgresql://alice:s3cr3t/-Pw@h/app", "***"),
        # Unparsable key=value: masked whole.
        (f"host='h password={SECRET}", "***"),
    ],
)
def test_redact(dsn: str, expected: str) -> None:
    assert redact(dsn) == expected


@pytest.mark.parametrize(
    "dsn",
    [
        f"host=h user=alice password={SECRET} dbname=app",
        f"host=h password='my {SECRET}' dbname=app",
        f"password = {SECRET} host=h",
    ],
)
def test_redact_key_value(dsn: str) -> None:
    redacted = redact(dsn)
    assert SECRET not in redacted
    params = conninfo_to_dict(redacted)
    assert params["password"] == "***"
    assert params["host"] == "h"


@pytest.mark.parametrize("form", ["url", "key=value"])
def test_connect_error_never_shows_the_password(form: str) -> None:
    port = _unused_port()
    if form == "url":
        dsn = f"postgresql://postgres:{SECRET}@127.0.0.1:{port}/postgres?connect_timeout=3"
    else:
        dsn = make_conninfo(
            "", host="127.0.0.1", port=port, user="postgres", password=SECRET, connect_timeout=3
        )
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(dsn)
    err = connect_error(info.value, dsn)
    assert err.code == "DB_CONNECT_FAILED"
    assert err.exit_code == ExitCode.EXECUTION_FAILED
    assert err.details["cause"] == "unreachable"
    assert str(port) in err.message
    assert "***" in err.message
    for text in (str(err), err.message, err.hint or "", json.dumps(err.to_json())):
        assert SECRET not in text


def test_connect_error_scrubs_a_password_echoed_in_the_reason() -> None:
    dsn = f"postgresql://alice:{SECRET}@h/app"
    echoed = psycopg.OperationalError(f"bad: {SECRET} and password={SECRET}")
    assert SECRET not in str(connect_error(echoed, dsn))


def test_connect_error_hint_for_a_missing_database(pg_admin_dsn: str) -> None:
    dsn = with_dbname(pg_admin_dsn, "wesley_no_such_database")
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(dsn, connect_timeout=5)
    err = connect_error(info.value, dsn)
    assert err.details["cause"] == "database_missing"
    assert err.hint is not None
    assert "does not exist" in err.hint


def test_connect_error_hint_for_rejected_credentials(pg_admin_dsn: str) -> None:
    dsn = make_conninfo(pg_admin_dsn, user="wesley_no_such_role")
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(dsn, connect_timeout=5)
    err = connect_error(info.value, dsn)
    assert err.details["cause"] == "auth_failed"
    assert err.hint is not None
    assert "password" in err.hint


def test_create_database_on_an_unreachable_server_is_a_coded_error() -> None:
    dsn = f"postgresql://postgres:{SECRET}@127.0.0.1:{_unused_port()}/postgres?connect_timeout=3"
    with pytest.raises(WesleyError) as info:
        create_database(dsn, "wesley_t_never")
    assert info.value.code == "DB_CONNECT_FAILED"
    assert SECRET not in str(info.value)
