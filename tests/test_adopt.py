"""Adopting a database Wesley did not deploy (`wesley baseline`), deploys that are repeated
(an applied plan is a no-op), `deploy --pubkey`: the way a team starts using Wesley on a
database it already has."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.helpers import UPSTREAM
from tests.lifecycle import (
    SIGNERS,
    build_old,
    checksums,
    has_run_records,
    insert_users,
    ir_of,
    ok,
    runs,
    scratch_database,
    wes,
)
from wesley.plan.build import build_plan
from wesley.plan.explain import differences

BLADE_V1 = UPSTREAM / "blade-v1.graphql"
BLADE_V2 = UPSTREAM / "blade-v2.graphql"
# required signers, but no [cert.keys]: the keys come from deploy --pubkey
TOML_NO_KEYS = '[cert]\nrequire = ["holmes", "wat-sum"]\n'


def _certify(admin_dsn: str) -> None:
    """transform, rehearse (old schema: .wesley/deployed.json if any), create, sign twice."""
    ok("transform", "--schema", "v2.graphql", "--quiet")
    with scratch_database(admin_dsn) as shadow:
        ok("rehearse", "--schema", "v2.graphql", "--seed-rows", "10", "--dsn", shadow, "--quiet")
    ok("cert", "create", "--env", "prod", "--quiet")
    for signer in SIGNERS:
        ok("cert", "sign", "--signer", signer, "--key", f"keys/{signer}", "--quiet")


def test_adopt_a_hand_built_database_then_deploy_twice(pg_admin_dsn: str, pg_dsn: str) -> None:
    shutil.copy(BLADE_V1, "v1.graphql")
    shutil.copy(BLADE_V2, "v2.graphql")
    Path("wesley.toml").write_text(TOML_NO_KEYS, encoding="utf-8")
    for signer in SIGNERS:
        ok("cert", "keygen", "--signer", signer, "--out", f"keys/{signer}", "--quiet")
    pubkeys = ("--pubkey", "keys/holmes.pub", "--pubkey", "keys/wat-sum.pub")
    # the Quick start's manual path: schema.sql and rls.sql of v1 applied by hand, with rows
    build_old(pg_dsn, ir_of(BLADE_V1))
    insert_users(pg_dsn, 200)
    before = checksums(pg_dsn, ir_of(BLADE_V1))

    # without an adoption, the certificate plans v2 from nothing: deploy says how to adopt
    _certify(pg_admin_dsn)
    deploy = ("deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", "v2.graphql")
    refused = wes(*deploy, *pubkeys)
    assert refused.code == 8, refused.stderr
    assert "not deployed by Wesley" in refused.stderr, refused.stderr
    assert "wesley baseline --dsn DSN --schema" in refused.stderr, refused.stderr
    assert not has_run_records(pg_dsn)

    # baseline against the wrong schema: every difference named, nothing recorded
    differs = wes("baseline", "--dsn", pg_dsn, "--schema", "v2.graphql")
    assert differs.code == 5, differs.stderr
    assert "error[BASELINE_DIFFERS]" in differs.stderr
    assert "add_column user.created_at" in differs.stderr, differs.stderr
    assert "create_index user" in differs.stderr, differs.stderr
    assert not has_run_records(pg_dsn) and not Path(".wesley/deployed.json").exists()
    as_json = wes("baseline", "--dsn", pg_dsn, "--schema", "v2.graphql", "--json")
    assert as_json.code == 5
    expected = differences(build_plan(ir_of(BLADE_V1), ir_of(BLADE_V2), allow_destructive=True))
    assert as_json.json()["error"]["details"]["differences"] == expected

    # baseline against the schema it was built from: adopted, recorded in the database
    adopted = ok("baseline", "--dsn", pg_dsn, "--schema", "v1.graphql")
    assert "adopted" in adopted.stdout, adopted.stdout
    [record] = runs(pg_dsn)
    assert (record["mode"], record["status"]) == ("baseline", "applied")
    assert (
        record["ir_hash"] == ok("transform", "--schema", "v1.graphql", "--json").json()["ir_hash"]
    )
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT snapshot->>'ir_hash' FROM wesley.migration_runs WHERE mode = 'baseline'"
        ).fetchone()
    assert row is not None and row[0] == record["ir_hash"]
    assert Path(".wesley/deployed.json").is_file()

    # now the certificate starts from the adopted schema and deploys
    _certify(pg_admin_dsn)
    untrusted = wes(*deploy)  # no [cert.keys]: without --pubkey no key is trusted
    assert untrusted.code == 8 and "is not trusted" in untrusted.stderr, untrusted.stderr
    first = ok(*deploy, *pubkeys)
    assert f"{len(expected)} steps applied" in first.stdout, first.stdout
    assert checksums(pg_dsn, ir_of(BLADE_V1)) == before
    assert [r["mode"] for r in runs(pg_dsn)] == ["baseline", "deploy"]

    # a re-run CI job: exit 0, "already deployed", nothing run
    second = ok(*deploy, *pubkeys)
    assert "already deployed" in second.stdout and "nothing was run" in second.stdout
    again = ok(*deploy, *pubkeys, "--json").json()
    assert again["already_deployed"] is True and again["applied"] == 0
    assert [r["mode"] for r in runs(pg_dsn)] == ["baseline", "deploy"]

    # applied, then changed by hand: no longer "already deployed", a refusal naming it
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute('ALTER TABLE "user" ADD COLUMN note text')
    changed = wes(*deploy, *pubkeys)
    assert changed.code == 8, changed.stderr
    assert "already deployed to this database, and it has changed since" in changed.stderr


def test_baseline_names_what_was_added_by_hand(pg_dsn: str) -> None:
    shutil.copy(BLADE_V1, "v1.graphql")
    build_old(pg_dsn, ir_of(BLADE_V1))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute('ALTER TABLE "user" ADD COLUMN legacy text')
        conn.execute("CREATE TABLE audit (id int PRIMARY KEY)")
    differs = wes("baseline", "--dsn", pg_dsn, "--schema", "v1.graphql", "--json")
    assert differs.code == 5
    found = differs.json()["error"]["details"]["differences"]
    assert any(d.startswith("drop_column user.legacy") for d in found), found
    assert any(d.startswith("drop_table audit") for d in found), found
    assert not has_run_records(pg_dsn)


def test_baseline_takes_the_schema_from_stdin(pg_dsn: str) -> None:
    build_old(pg_dsn, ir_of(BLADE_V1))
    proc = subprocess.run(
        [sys.executable, "-m", "wesley", "baseline", "--dsn", pg_dsn, "--schema", "-"],
        input=BLADE_V1.read_bytes(),
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"adopted" in proc.stdout
    assert [r["mode"] for r in runs(pg_dsn)] == ["baseline"]
