"""`wesley rehearse` acceptance, on real PostgreSQL and real processes: every upstream fixture
created fresh, the upstream migrations on seeded data with their locks observed, contention
with lock_timeout and retries, two runs at once, bad input, and DSN passwords kept out of every
output. (SIGKILL and --resume: test_rehearse_kill.py.)"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.helpers import UPSTREAM, VALID_FIXTURES, CliResult, cli
from wesley.db.apply import apply_script
from wesley.db.cluster import EphemeralCluster, create_database, drop_database
from wesley.db.executor import ADVISORY_KEY
from wesley.ir import IR
from wesley.plan.build import build_plan
from wesley.plan.lockmodes import strength
from wesley.schemas import load
from wesley.sdl import parse_sdl
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls

REALM_SCHEMA = load("realm.schema.json")
BLADE_V1, BLADE_V2 = str(UPSTREAM / "blade-v1.graphql"), str(UPSTREAM / "blade-v2.graphql")
SECRET = "S3cretPW"

# A small schema whose changes we control: a nullable column added (and, in NOTE_STRICT,
# an existing column made NOT NULL, which fails on rows that are still NULL).
NOTE_OLD = "type Note @wes_table {\n  id: ID! @wes_pk\n  body: String\n}\n"
NOTE_NEW = "type Note @wes_table {\n  id: ID! @wes_pk\n  body: String\n  title: String\n}\n"
NOTE_STRICT = "type Note @wes_table {\n  id: ID! @wes_pk\n  body: String!\n  title: String\n}\n"

# A plan that lasts a second or so: a volatile-default backfill in many small batches.
EVENT_OLD = "type Event @wes_table {\n  id: Int! @wes_pk\n  name: String\n}\n"
EVENT_NEW = (
    "type Event @wes_table {\n  id: Int! @wes_pk\n  name: String @wes_index\n"
    '  token: UUID! @wes_default(expr: "gen_random_uuid()")\n}\n'
)
EVENT_ROWS, EVENT_BATCH = 50_000, 250


def _ir(text: str) -> IR:
    return parse_sdl(text).ir


def _write(name: str, text: str) -> str:
    Path(name).write_text(text, encoding="utf-8")
    return name


def _realm_file(cwd: Path | None = None) -> dict[str, Any]:
    """`.wesley/realm.json`, checked against its JSON Schema."""
    path = (cwd or Path.cwd()) / ".wesley" / "realm.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(REALM_SCHEMA).validate(data)
    return data


def _realm(result: CliResult) -> dict[str, Any]:
    """The realm in the --json document, which must equal the file written."""
    doc = result.json()
    realm: dict[str, Any] = doc["realm"] if doc["ok"] else doc["error"]["details"]["realm"]
    assert realm == _realm_file()
    return realm


def _build_old(dsn: str, old: IR) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        apply_script(conn, postgres(old)[0].text)
        apply_script(conn, rls(old)[0].text)


# -- ephemeral clusters left behind ----------------------------------------------------------


@pytest.fixture
def private_tmp(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A temp root of our own for the ephemeral clusters Wesley starts in-process, so that a
    leftover `wesley-pg-*` is ours and not another test session's.

    World-readable: run as root, the server runs as `postgres` and must reach its dir.
    """
    tmp_path_factory.getbasetemp()  # pytest's own temp root stays where it was
    root = Path(tempfile.mkdtemp(prefix="wesley-test-tmp-"))
    root.chmod(0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _clusters(root: Path) -> set[str]:
    """`wesley-pg-*` dirs under `root`, and postmasters (`postgres -D root/wesley-pg-*`)."""
    found = {str(p) for p in root.glob("wesley-pg-*")}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        text = [a.decode(errors="replace") for a in args]
        if "-D" in text and text[0].endswith("postgres"):
            data = text[text.index("-D") + 1] if text.index("-D") + 1 < len(text) else ""
            if data.startswith(f"{root}/wesley-pg-"):
                found.add(f"postmaster {cmdline.parent.name}: {data}")
    return found


# -- 1. every upstream fixture, created fresh in an ephemeral cluster ------------------------


@pytest.mark.parametrize("fixture", VALID_FIXTURES, ids=lambda p: p.name)
def test_fresh_create_of_every_upstream_fixture_passes(
    fixture: Path, private_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = cli(capsys, "rehearse", "--fresh", "--schema", str(fixture), "--json")
    assert result.code == 0, result.stdout + result.stderr
    realm = _realm(result)
    assert realm["verdict"] == "PASS"
    assert realm["failure"] is None
    assert realm["ephemeral"] is True
    assert realm["from_ir_hash"] is None
    assert realm["replan_empty"] is True
    assert realm["server_version"] >= 150000
    assert all(s["status"] == "applied" for s in realm["steps"])
    tests = realm["tests"]
    if fixture.name == "directives.graphql":  # declarations only: no table, no suite
        assert realm["steps"] == [] and tests["planned"] == 0
    else:
        assert realm["steps"]
        assert tests["planned"] == tests["passed"] > 0, tests["tap"]
        assert tests["failed"] == 0
    assert _clusters(private_tmp) == set()


# -- 2. the upstream migrations, on seeded data, locks observed ------------------------------


@pytest.mark.parametrize(
    ("old", "new", "extra"),
    [
        ("blade-v1.graphql", "blade-v2.graphql", ()),
        ("ecommerce.graphql", "ecommerce-v2.graphql", ("--allow-destructive",)),
    ],
)
def test_upstream_migration_on_seeded_data_passes_with_the_predicted_locks(
    old: str,
    new: str,
    extra: tuple[str, ...],
    private_tmp: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = cli(
        capsys,
        "rehearse",
        "--from",
        str(UPSTREAM / old),
        "--schema",
        str(UPSTREAM / new),
        "--seed-rows",
        "25",
        "--json",
        *extra,
    )
    assert result.code == 0, result.stdout + result.stderr
    realm = _realm(result)
    assert realm["verdict"] == "PASS" and realm["replan_empty"] is True
    assert realm["seed_rows"] == 25
    assert any(n.startswith("seeded ") for n in realm["notes"]), realm["notes"]
    tests = realm["tests"]
    assert tests["planned"] == tests["passed"] > 0 and tests["failed"] == 0
    plan = json.loads(Path(".wesley/plan.json").read_text(encoding="utf-8"))
    assert plan["plan_hash"] == realm["plan_hash"]
    by_id = {s["id"]: s for s in plan["steps"]}
    assert [s["id"] for s in realm["steps"]] == list(by_id)
    for rec in realm["steps"]:
        assert rec["status"] == "applied", rec
        step = by_id[rec["id"]]
        predicted = {lk["relation"]: lk["mode"] for lk in step["locks"]}
        observed = {lk["relation"]: lk["mode"] for lk in rec["observed_locks"]}
        assert {lk["relation"]: lk["mode"] for lk in rec["predicted_locks"]} == predicted
        for relation, mode in observed.items():
            assert relation in predicted, (rec["id"], observed, predicted)
            assert strength(mode) <= strength(predicted[relation]), (rec["id"], mode)
        # seen from inside the transaction: exactly the prediction (a backfill is batches of
        # its own statements, not observed as one)
        if step["transactional"] and not step["backfill"]:
            assert observed == predicted, (rec["id"], observed, predicted)
            assert rec["rewrite"] == step["rewrite"], rec["id"]
    if old.startswith("blade"):
        concurrent = [s for s in plan["steps"] if "CREATE INDEX CONCURRENTLY" in s["sql"]]
        assert concurrent and not concurrent[0]["transactional"]
        assert any(r["id"] == concurrent[0]["id"] for r in realm["steps"])
    assert _clusters(private_tmp) == set()


# -- 3. contention: lock_timeout, retries, and the application is never blocked for long -----


def test_a_held_lock_makes_steps_wait_without_stalling_the_app(
    pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An old transaction holds a lock the first step needs: Wesley waits and retries
    without queueing (a queued request would stall every writer for up to lock_timeout).
    tests/test_executor_limits.py checks the stall when it does queue."""
    lock_timeout_ms = 400
    _build_old(pg_dsn, _ir(Path(BLADE_V1).read_text(encoding="utf-8")))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO "user" (id, email) SELECT gen_random_uuid(), 'u' || g || '@x.io' """
            "FROM generate_series(1, 200) g"
        )
    holder = psycopg.connect(pg_dsn)  # a transaction, as an application's would be
    holder.execute('LOCK TABLE "user" IN ACCESS SHARE MODE')  # blocks ACCESS EXCLUSIVE
    time.sleep(lock_timeout_ms / 1000)  # an old transaction by the time Wesley asks
    release = threading.Timer(1.5, holder.commit)
    stop = threading.Event()
    latencies: list[float] = []
    app_errors: list[BaseException] = []

    def app() -> None:
        try:
            with psycopg.connect(pg_dsn, autocommit=True) as conn:
                conn.execute("SET statement_timeout = '10s'")
                n = 0
                while not stop.is_set():
                    n += 1
                    t0 = time.monotonic()
                    if n % 2:
                        conn.execute('SELECT count(*) FROM "user"').fetchone()
                    else:
                        conn.execute(
                            'INSERT INTO "user" (id, email) VALUES (gen_random_uuid(), %s)',
                            (f"app{n}@x.io",),
                        )
                    latencies.append((time.monotonic() - t0) * 1000)
                    time.sleep(0.005)
        except BaseException as exc:  # reported by the main thread
            app_errors.append(exc)

    worker = threading.Thread(target=app)
    worker.start()
    release.start()
    try:
        result = cli(
            capsys,
            "rehearse",
            "--from",
            BLADE_V1,
            "--schema",
            BLADE_V2,
            "--dsn",
            pg_dsn,
            "--lock-timeout",
            str(lock_timeout_ms),
            "--json",
        )
    finally:
        release.cancel()
        stop.set()
        worker.join(timeout=30)
        release.join(timeout=5)
        holder.close()
    assert not app_errors, app_errors
    assert result.code == 0, result.stdout + result.stderr
    realm = _realm(result)
    assert realm["verdict"] == "PASS"
    first = realm["steps"][0]
    assert first["id"].startswith("001-add_column-user")
    assert [(lk["relation"], lk["mode"]) for lk in first["predicted_locks"]] == [
        ("user", "ACCESS EXCLUSIVE")
    ]
    assert first["status"] == "applied"
    assert first["retries"] > 0, first  # timed out behind the holder, then got through
    assert first["ms"] >= 500  # it waited for the release at 1.5 s (minus start-up)
    with psycopg.connect(pg_dsn) as conn:
        attempts = conn.execute(
            "SELECT attempts FROM wesley.migration_steps WHERE step_id = %s", (first["id"],)
        ).fetchone()
    assert attempts == (first["retries"] + 1,)
    # The application kept working and never queued behind Wesley's waiting step (queued,
    # it would have waited up to lock_timeout).
    assert len(latencies) > 50
    assert max(latencies) < lock_timeout_ms / 2, sorted(latencies)[-5:]


# -- 4. two rehearsals at once on one database -----------------------------------------------


def _event_database(dsn: str) -> None:
    _build_old(dsn, _ir(EVENT_OLD))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO event (id, name) SELECT g, 'e' || g FROM generate_series(1, %s) g",
            (EVENT_ROWS,),
        )


def _spawn(cwd: Path, dsn: str, *extra: str) -> subprocess.Popen[str]:
    cwd.mkdir()
    (cwd / "old.graphql").write_text(EVENT_OLD, encoding="utf-8")
    (cwd / "new.graphql").write_text(EVENT_NEW, encoding="utf-8")
    args = ["--from", "old.graphql", "--schema", "new.graphql", "--dsn", dsn, "--json", *extra]
    return subprocess.Popen(
        [sys.executable, "-m", "wesley", "rehearse", *args, "--batch-size", str(EVENT_BATCH)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _lock_holders(dsn: str, stop: threading.Event, seen: set[int]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.is_set():
            for (pid,) in conn.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database "
                "= (SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchall():
                seen.add(int(pid))
            time.sleep(0.01)


def _two_at_once(dsn: str, tmp_path: Path, *extra: str) -> tuple[list[Any], set[int]]:
    holders: set[int]
    stop, holders = threading.Event(), set()
    watcher = threading.Thread(target=_lock_holders, args=(dsn, stop, holders))
    watcher.start()
    try:
        procs = [_spawn(tmp_path / name, dsn, *extra) for name in ("a", "b")]
        outcomes = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            outcomes.append((proc.returncode, json.loads(out), err))
    finally:
        stop.set()
        watcher.join()
    return outcomes, holders


def _steps_recorded_once(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        # rehearse plans for the shadow's version
        version = conn.info.server_version
        plan = build_plan(
            _ir(EVENT_OLD), _ir(EVENT_NEW), batch_size=EVENT_BATCH, server_version=version
        )
        rows = conn.execute("SELECT plan_hash, step_id, status FROM wesley.migration_steps")
        recorded = rows.fetchall()
        runs = conn.execute("SELECT status FROM wesley.migration_runs").fetchall()
        assert conn.execute("SELECT count(*) FROM event WHERE token IS NULL").fetchone() == (0,)
    assert sorted(r[1] for r in recorded) == sorted(s.id for s in plan.steps)
    assert {r[0] for r in recorded} == {plan.plan_hash}
    assert {r[2] for r in recorded} == {"applied"}
    assert ("applied",) in runs


def test_a_second_concurrent_rehearsal_is_refused_naming_the_holder(
    pg_dsn: str, tmp_path: Path
) -> None:
    _event_database(pg_dsn)
    outcomes, holders = _two_at_once(pg_dsn, tmp_path)
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 13], outcomes
    (_, won, _), (_, lost, _) = sorted(outcomes, key=lambda o: o[0])
    assert won["realm"]["verdict"] == "PASS"
    assert lost["error"]["code"] == "MIGRATION_LOCKED", lost
    message = lost["error"]["message"]
    match = re.search(r"backend pid (\d+)", message)
    assert match, message
    assert int(match.group(1)) in holders  # the pid of the run that held the lock
    realm = lost["error"]["details"]["realm"]
    assert realm["verdict"] == "FAIL" and realm["failure"]["code"] == "MIGRATION_LOCKED"
    assert realm["steps"] == []
    loser_dir = next(tmp_path / n for n in "ab" if _realm_file(tmp_path / n)["verdict"] == "FAIL")
    assert _realm_file(loser_dir) == realm
    _steps_recorded_once(pg_dsn)


def test_with_wait_the_second_rehearsal_waits_then_finds_everything_done(
    pg_dsn: str, tmp_path: Path
) -> None:
    _event_database(pg_dsn)
    outcomes, _ = _two_at_once(pg_dsn, tmp_path, "--wait")
    assert [code for code, _, _ in outcomes] == [0, 0], outcomes
    realms = sorted((doc["realm"] for _, doc, _ in outcomes), key=lambda r: r["steps"][0]["status"])
    first, second = realms
    assert first["verdict"] == second["verdict"] == "PASS"
    assert {s["status"] for s in first["steps"]} == {"applied"}
    assert {s["status"] for s in second["steps"]} == {"skipped"}
    assert "every step was already applied by an earlier run" in second["notes"]
    assert second["timings"]["lock_ms"] > 100  # it did wait for the first one
    assert second["tests"]["planned"] == second["tests"]["passed"] > 0
    _steps_recorded_once(pg_dsn)


def test_waiting_for_the_lock_is_bounded_by_the_timeout(
    pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_KEY,))
        t0 = time.monotonic()
        result = cli(
            capsys,
            "rehearse",
            "--from",
            BLADE_V1,
            "--schema",
            BLADE_V2,
            "--dsn",
            pg_dsn,
            "--wait",
            "--timeout",
            "1000",
            "--json",
        )
        waited = time.monotonic() - t0
        assert result.code == 13, result.stdout + result.stderr
        error = result.json()["error"]
        assert error["code"] == "TIMEOUT"
        assert f"backend pid {holder.info.backend_pid}" in error["message"]
        assert 1.0 <= waited < 10
        with psycopg.connect(pg_dsn) as conn:  # nothing was built or applied
            assert conn.execute("SELECT to_regclass('public.user')").fetchone() == (None,)


# -- 6. bad input: a clear message, exit 13, a realm.json that says why ----------------------


def _fails(
    capsys: pytest.CaptureFixture[str], code: str, *args: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    result = cli(capsys, "rehearse", *args, "--json")
    assert result.code == 13, result.stdout + result.stderr
    error = result.json()["error"]
    assert error["code"] == code, error
    assert error["exit_code"] == 13
    assert error["message"] and error["hint"]
    realm = _realm(result)
    assert realm["verdict"] == "FAIL"
    assert realm["failure"]["code"] == code
    assert realm["failure"]["message"] == error["message"]
    return error, realm


def test_an_unparsable_dsn_is_named_as_such(
    private_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error, realm = _fails(
        capsys,
        "DSN_INVALID",
        "--from",
        BLADE_V1,
        "--schema",
        BLADE_V2,
        "--dsn",
        f"not a dsn password={SECRET}",
    )
    assert "not a valid connection string" in error["message"]
    assert "postgresql://" in error["hint"]
    assert SECRET not in json.dumps(error) and SECRET not in json.dumps(realm)
    assert _clusters(private_tmp) == set()
    # The human form: the error on stderr, the one-line verdict on stdout.
    result = cli(capsys, "rehearse", "--from", BLADE_V1, "--schema", BLADE_V2, "--dsn", "x y")
    assert result.code == 13
    assert "error[DSN_INVALID]: not a valid connection string" in result.stderr
    assert result.stdout.startswith("[REALM] FAIL") and result.stdout.count("\n") == 1


def test_an_unreachable_server(private_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    error, realm = _fails(
        capsys,
        "DB_CONNECT_FAILED",
        "--from",
        BLADE_V1,
        "--schema",
        BLADE_V2,
        "--dsn",
        "postgresql://127.0.0.1:1/x",
    )
    assert "127.0.0.1" in error["message"] and "refused" in error["message"].lower()
    assert "running" in error["hint"]
    assert realm["steps"] == [] and realm["server_version"] is None
    assert _clusters(private_tmp) == set()


def test_a_wrong_password(private_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with EphemeralCluster() as cluster:
        before = _clusters(private_tmp)
        assert len(before) == 2, before  # the detector sees this cluster's dir and postmaster
        with psycopg.connect(cluster.dsn, autocommit=True) as admin:
            admin.execute("CREATE ROLE wes_pw LOGIN PASSWORD 'right-pw'")
            admin.execute("CREATE DATABASE shadow OWNER wes_pw")
            hba = cluster.workdir / "data" / "pg_hba.conf"
            hba.write_text(
                "host all wes_pw 127.0.0.1/32 scram-sha-256\n" + hba.read_text(),
                encoding="utf-8",
            )
            admin.execute("SELECT pg_reload_conf()")
        base = f"postgresql://wes_pw:%s@127.0.0.1:{cluster.port}/shadow"
        with psycopg.connect(base % "right-pw", connect_timeout=5):
            pass  # the right one works: it is the password that is checked
        error, realm = _fails(
            capsys,
            "DB_CONNECT_FAILED",
            "--from",
            BLADE_V1,
            "--schema",
            BLADE_V2,
            "--dsn",
            base % "wrong-pw",
        )
        assert "password authentication failed" in error["message"]
        assert "password" in error["hint"] and "pg_hba.conf" in error["hint"]
        assert "wrong-pw" not in json.dumps(error) + json.dumps(realm)
        assert "wes_pw:***@" in realm["database"]
        assert _clusters(private_tmp) == before
    assert _clusters(private_tmp) == set()


def test_a_role_that_cannot_install_pgtap(
    pg_dsn: str, pg_admin_dsn: str, private_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # pgTAP's control file says superuser = false: whoever may create objects in the schema
    # it goes to (public) may install it. So: a plain role that owns the application's tables
    # and may create the `wesley` schema (CREATE on the database), but not objects in public
    # (PostgreSQL 15's default for a role that does not own the database); its plan only
    # alters its own table (CREATE INDEX would need CREATE in public).
    role = f"wesley_t_plain_{uuid.uuid4().hex[:8]}"
    dbname = str(conninfo_to_dict(pg_dsn)["dbname"])
    _build_old(pg_dsn, _ir(NOTE_OLD))
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER')
        admin.execute(f'GRANT CREATE ON DATABASE "{dbname}" TO "{role}"')
    try:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f'ALTER TABLE note OWNER TO "{role}"')
            row = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pgtap'")
            assert row.fetchone() == (0,)
            can = conn.execute("SELECT has_schema_privilege(%s, 'public', 'CREATE')", (role,))
            assert can.fetchone() == (False,)
        args = (
            "--from",
            _write("old.graphql", NOTE_OLD),
            "--schema",
            _write("n.graphql", NOTE_NEW),
        )
        dsn = make_conninfo(pg_dsn, user=role)
        error, realm = _fails(capsys, "PGTAP_MISSING", *args, "--dsn", dsn)
        assert "pgTAP" in error["message"] and "permission denied" in error["message"]
        assert "CREATE EXTENSION" in error["hint"]
        assert {s["status"] for s in realm["steps"]} == {"applied"}  # it fails after the plan
        assert realm["tests"]["planned"] == 0
        assert _clusters(private_tmp) == set()
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER')
            conn.execute(f'DROP OWNED BY "{role}"')
        with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP ROLE "{role}"')


def test_a_failing_pgtap_assertion_is_named(
    pg_dsn: str, private_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _build_old(pg_dsn, _ir(NOTE_OLD))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # drift the schema does not have
        conn.execute("ALTER TABLE note ALTER COLUMN body SET NOT NULL")
    args = ("--from", _write("old.graphql", NOTE_OLD), "--schema", _write("new.graphql", NOTE_NEW))
    error, realm = _fails(capsys, "TESTS_FAILED", *args, "--dsn", pg_dsn)
    assert "note.body is nullable" in error["message"]
    assert realm["failure"]["test"] and "note.body is nullable" in realm["failure"]["test"]
    tests = realm["tests"]
    assert tests["failed"] == 1 and tests["passed"] == tests["planned"] - 1
    assert any("note.body is nullable" in f for f in tests["failures"])
    assert "not ok" in tests["tap"]
    assert {s["status"] for s in realm["steps"]} == {"applied"}
    assert _clusters(private_tmp) == set()


def test_a_failing_step_is_named_and_its_check_taken_back(
    pg_dsn: str, private_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _build_old(pg_dsn, _ir(NOTE_OLD))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # rows the NOT NULL cannot take
        conn.execute("INSERT INTO note (id) SELECT gen_random_uuid() FROM generate_series(1, 5)")
    args = (
        "--from",
        _write("old.graphql", NOTE_OLD),
        "--schema",
        _write("new.graphql", NOTE_STRICT),
    )
    # body: String -> String! without a default: nothing could fill a NULL, so it is planned
    # only when asked for (the rows are unknown to a plan made from files)
    error, _realm = _fails(capsys, "PLAN_DESTRUCTIVE", *args, "--dsn", pg_dsn)
    assert "note.body becomes NOT NULL without a default" in error["message"]
    error, realm = _fails(
        capsys, "VALIDATION_FAILED", *args, "--dsn", pg_dsn, "--allow-destructive"
    )
    failed = realm["failure"]["step"]
    assert failed and "validate_check-note.body" in failed
    assert f"step {failed}: " in error["message"]
    assert "violated" in error["message"] and "(5 NULL rows now)" in error["message"]
    assert "took its check back" in error["message"] and "--resume" in error["hint"]
    # The steps before it are listed as applied, the failed one last, with its error.
    assert realm["steps"][-1]["id"] == failed
    assert realm["steps"][-1]["status"] == "failed"
    assert "violated" in realm["steps"][-1]["error"]
    assert {s["status"] for s in realm["steps"][:-1]} == {"applied"}
    assert realm["tests"]["planned"] == 0
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        status = conn.execute("SELECT status, error FROM wesley.migration_runs").fetchall()
        assert status[-1][0] == "failed" and status[-1][1].startswith(f"{failed}: ")
        rows = conn.execute("SELECT step_id, status FROM wesley.migration_steps").fetchall()
        recorded = {str(r[0]): str(r[1]) for r in rows}
        # the NOT VALID helper check is gone again: the application's updates of the NULL
        # rows are not rejected while the data is fixed; --resume will add it again
        helper = conn.execute(
            "SELECT count(*) FROM pg_constraint WHERE conname = 'note_body_not_null'"
        ).fetchone()
        assert helper == (0,)
        conn.execute("UPDATE note SET body = 'x' WHERE id = id")  # an app write goes through
        add_check = next(i for i in recorded if "add_check-note.body" in i)
        assert recorded[add_check] == "undone"
        assert sorted(recorded) == [s["id"] for s in realm["steps"][:-1]]
        conn.execute("UPDATE note SET body = 'filled' WHERE body IS NULL")
    resumed = cli(
        capsys, "rehearse", *args, "--dsn", pg_dsn, "--allow-destructive", "--resume", "--json"
    )
    assert resumed.code == 0, resumed.stdout + resumed.stderr
    with psycopg.connect(pg_dsn) as conn:
        nullable = conn.execute(
            "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'note'::regclass "
            "AND attname = 'body'"
        ).fetchone()
    assert nullable == (True,)
    assert _clusters(private_tmp) == set()


def test_a_timeout_fails_cleanly_and_removes_the_cluster(
    private_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error, realm = _fails(
        capsys, "TIMEOUT", "--from", BLADE_V1, "--schema", BLADE_V2, "--timeout", "1"
    )
    assert "--timeout" in error["message"] and "--timeout" in error["hint"]
    assert realm["ephemeral"] is True
    assert _clusters(private_tmp) == set()


def test_dry_run_executes_nothing(
    pg_dsn: str, private_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = cli(
        capsys,
        "rehearse",
        "--from",
        BLADE_V1,
        "--schema",
        BLADE_V2,
        "--dsn",
        pg_dsn,
        "--dry-run",
        "--json",
    )
    assert result.code == 0, result.stdout + result.stderr
    realm = _realm(result)
    assert realm["verdict"] == "DRY_RUN"
    assert realm["steps"] and {s["status"] for s in realm["steps"]} == {"pending"}
    assert realm["failure"] is None and realm["tests"]["planned"] == 0
    with psycopg.connect(pg_dsn) as conn:
        touched = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname IN ('public', 'wesley')"
        ).fetchone()
        schemas = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'wesley'")
        assert touched == (0,) and schemas.fetchone() == (0,)
    assert _clusters(private_tmp) == set()


# -- 7. the DSN password never appears -------------------------------------------------------


def _secret_dsn(pg_dsn: str, dbname: str | None = None) -> str:
    params = conninfo_to_dict(pg_dsn)
    if params.get("password"):
        pytest.skip("the test server checks passwords: this needs one with trust auth")
    return (
        f"postgresql://{params.get('user', 'postgres')}:{SECRET}@{params['host']}:"
        f"{params['port']}/{dbname or params['dbname']}"
    )


def _run_process(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cwd.mkdir()
    return subprocess.run(
        [sys.executable, "-m", "wesley", "rehearse", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _assert_no_secret(cwd: Path, proc: subprocess.CompletedProcess[str]) -> None:
    texts = {"stdout": proc.stdout, "stderr": proc.stderr}
    for name in ("realm.json", "plan.json"):
        texts[name] = (cwd / ".wesley" / name).read_text(encoding="utf-8")
    for name, text in texts.items():
        assert SECRET not in text, f"the password shows in {name}"


def test_the_dsn_password_never_appears(pg_dsn: str, pg_admin_dsn: str, tmp_path: Path) -> None:
    dsn = _secret_dsn(pg_dsn)
    _build_old(dsn, _ir(NOTE_OLD))
    old, new = str(tmp_path / "old.graphql"), str(tmp_path / "new.graphql")
    Path(old).write_text(NOTE_OLD, encoding="utf-8")
    Path(new).write_text(NOTE_STRICT, encoding="utf-8")
    # body becomes NOT NULL without a default: planned only when allowed
    args = ("--from", old, "--schema", new, "--allow-destructive")

    # PASS, in human form (progress on stderr), then again with --json (all steps done).
    for form, extra in (("human", ()), ("json", ("--json",))):
        cwd = tmp_path / f"pass-{form}"
        passed = _run_process(cwd, *args, "--dsn", dsn, *extra)
        assert passed.returncode == 0, passed.stdout + passed.stderr
        assert ":***@" in passed.stdout
        _assert_no_secret(cwd, passed)
        realm = _realm_file(cwd)
        assert realm["verdict"] == "PASS" and ":***@" in realm["database"]

    # FAIL at a step (NULLs the new NOT NULL cannot take), in --json and in human form.
    for form, extra in (("json", ("--json",)), ("human", ())):
        name = f"wesley_t_{uuid.uuid4().hex[:16]}"
        other = _secret_dsn(create_database(pg_admin_dsn, name), name)
        try:
            _build_old(other, _ir(NOTE_OLD))
            with psycopg.connect(other, autocommit=True) as conn:
                conn.execute("INSERT INTO note (id) VALUES (gen_random_uuid())")
            cwd = tmp_path / f"step-{form}"
            failed = _run_process(cwd, *args, "--dsn", other, *extra)
        finally:
            drop_database(pg_admin_dsn, name)
        assert failed.returncode == 13, failed.stdout + failed.stderr
        assert _realm_file(cwd)["failure"]["code"] == "VALIDATION_FAILED"
        _assert_no_secret(cwd, failed)

    # FAIL to connect: the DSN is quoted in the message, redacted.
    missing = _secret_dsn(pg_dsn, "wesley_no_such_database")
    for form, extra in (("json", ("--json",)), ("human", ())):
        cwd = tmp_path / f"connect-{form}"
        failed = _run_process(cwd, *args, "--dsn", missing, *extra)
        assert failed.returncode == 13, failed.stdout + failed.stderr
        realm = _realm_file(cwd)
        assert realm["failure"]["code"] == "DB_CONNECT_FAILED"
        assert ":***@" in realm["failure"]["message"]
        _assert_no_secret(cwd, failed)
