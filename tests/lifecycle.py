"""The lifecycle as a user runs it, in one directory: transform, rehearse, keygen, cert create,
sign, verify, deploy. Helpers shared by test_cert.py, test_deploy.py and test_deploy_kill.py.

`certified(...)` runs the flow once per session into a template directory; a test copies it
into its own cwd (`use(...)`), so every test starts from a freshly certified directory."""

from __future__ import annotations

import atexit
import functools
import io
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from tests.helpers import UPSTREAM, CliResult
from wesley.cli.app import run
from wesley.db.apply import apply_script
from wesley.db.cluster import create_database, drop_database
from wesley.db.seed import seed_rows as seed_tables
from wesley.ir import IR
from wesley.sdl import parse_sdl
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls

SIGNERS = ("holmes", "wat-sum")
TOML_KEYS = """
[cert]
require = ["holmes", "wat-sum"]

[cert.keys]
holmes = "keys/holmes.pub"
wat-sum = "keys/wat-sum.pub"
"""


def wes(*args: str) -> CliResult:
    """`wesley ARGS` in-process, in the current directory, with its stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run(list(args))
    return CliResult(code, out.getvalue(), err.getvalue())


def ok(*args: str) -> CliResult:
    result = wes(*args)
    assert result.code == 0, (
        f"wesley {' '.join(args)}: {result.code}\n{result.stdout}{result.stderr}"
    )
    return result


def ir_of(path: Path | str) -> IR:
    p = Path(path)
    return parse_sdl(p.read_text(encoding="utf-8"), str(p)).ir


@contextmanager
def chdir(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@contextmanager
def scratch_database(admin_dsn: str) -> Iterator[str]:
    name = f"wesley_t_{uuid.uuid4().hex[:16]}"
    dsn = create_database(admin_dsn, name)
    try:
        yield dsn
    finally:
        drop_database(admin_dsn, name)


def build_old(dsn: str, old: IR, rows: int = 0) -> None:
    """The old schema (schema.sql + rls.sql as transform writes them), seeded with rows."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        apply_script(conn, postgres(old)[0].text, "old schema.sql")
        apply_script(conn, rls(old)[0].text, "old rls.sql")
        if rows:
            seed_tables(conn, old, rows)


def checksums(dsn: str, old: IR) -> dict[str, tuple[int, str | None]]:
    """Per table of the old schema: row count and md5 over its old columns, in key order."""
    out: dict[str, tuple[int, str | None]] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in old.tables:
            cols = [c.name for c in table.columns]
            order = table.primary_key or cols
            query = sql.SQL(
                "SELECT count(*), md5(string_agg(ROW({cols})::text, ',' ORDER BY {order})) "
                "FROM {table}"
            ).format(
                cols=sql.SQL(", ").join(sql.Identifier(c) for c in cols),
                order=sql.SQL(", ").join(sql.Identifier(c) for c in order),
                table=sql.Identifier(table.name),
            )
            row = conn.execute(query).fetchone()
            assert row is not None
            out[table.name] = (int(row[0]), row[1])
    return out


def has_run_records(dsn: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass('wesley.migration_runs') IS NOT NULL").fetchone()
    return bool(row and row[0])


def runs(dsn: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(
            "SELECT run_id, plan_hash, ir_hash, mode, status, operator, cert_hash, forced, error "
            "FROM wesley.migration_runs ORDER BY run_id"
        )
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@dataclass(frozen=True)
class Flow:
    """A certified directory: copy it with `use`."""

    template: Path
    old: str  # file names inside the directory
    new: str


def use(flow: Flow, into: Path | None = None) -> Path:
    target = into or Path.cwd()
    shutil.copytree(flow.template, target, dirs_exist_ok=True, symlinks=True)
    return target


def _tempdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="wesley-flow-"))
    atexit.register(shutil.rmtree, path, True)
    return path


def certify(
    admin_dsn: str,
    old_sdl: Path,
    new_sdl: Path,
    *,
    seed_rows: int = 20,
    allow_destructive: bool = False,
    batch_size: int | None = None,
    toml: str = TOML_KEYS,
    force: bool = False,
) -> Flow:
    """transform, rehearse (on a scratch database of the test server), keygen, cert create
    and sign by both signers, in a new directory, as a user does (`force`: sign although the
    investigation is not ELEMENTARY)."""
    directory = _tempdir()
    shutil.copy(old_sdl, directory / old_sdl.name)
    shutil.copy(new_sdl, directory / new_sdl.name)
    (directory / "wesley.toml").write_text(toml, encoding="utf-8")
    with chdir(directory):
        ok("transform", "--schema", new_sdl.name, "--quiet")
        args = ["rehearse", "--schema", new_sdl.name, "--from", old_sdl.name, "--quiet"]
        args += ["--seed-rows", str(seed_rows)]
        if allow_destructive:
            args.append("--allow-destructive")
        if batch_size:
            args += ["--batch-size", str(batch_size)]
        with scratch_database(admin_dsn) as dsn:
            ok(*args, "--dsn", dsn)
        for signer in SIGNERS:
            ok("cert", "keygen", "--signer", signer, "--out", f"keys/{signer}", "--quiet")
        ok("cert", "create", "--env", "prod", "--quiet")
        for signer in SIGNERS:
            forced = ("--force",) if force else ()
            ok("cert", "sign", "--signer", signer, "--key", f"keys/{signer}", "--quiet", *forced)
    return Flow(directory, old_sdl.name, new_sdl.name)


@functools.cache
def blade(admin_dsn: str) -> Flow:
    """blade-v1 → blade-v2, rehearsed PASS, signed by holmes and wat-sum (once a session)."""
    return certify(admin_dsn, UPSTREAM / "blade-v1.graphql", UPSTREAM / "blade-v2.graphql")


def insert_users(dsn: str, n: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO \"user\" (id, email) SELECT gen_random_uuid(), 'u' || i || '@x.io' "
            "FROM generate_series(1, %s) i",
            (n,),
        )
