"""`wesley blade`: transform → plan → rehearse → cert create → sign (keys from wesley.toml; the
HOLMES and WATSON signers with their reports) → verify, in one command; it stops at the first
step that fails with that step's exit code."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers import UPSTREAM
from tests.lifecycle import SIGNERS, TOML_KEYS, ok, runs, wes
from wesley.cert.shipme import split

BLADE_V1, BLADE_V2 = UPSTREAM / "blade-v1.graphql", UPSTREAM / "blade-v2.graphql"


def _keys(toml: str = TOML_KEYS) -> None:
    Path("wesley.toml").write_text(toml, encoding="utf-8")
    for signer in SIGNERS:
        ok("cert", "keygen", "--signer", signer, "--out", f"keys/{signer}", "--quiet")


def test_blade_certifies_in_one_run_and_the_certificate_deploys(
    pg_admin_dsn: str, pg_dsn: str
) -> None:
    from tests.lifecycle import scratch_database

    _keys()
    shutil.copy(BLADE_V2, "schema.graphql")
    with scratch_database(pg_admin_dsn) as shadow:
        result = ok("blade", "--dsn", shadow, "--env", "prod", "--seed-rows", "10")
    for stage in ("transform", "plan", "rehearse", "cert", "sign", "verify"):
        assert f"blade: {stage}" in result.stdout, result.stdout
    assert "holmes (HOLMES ELEMENTARY)" in result.stdout
    assert "wat-sum (WATSON PASSED)" in result.stdout
    assert "nothing seeded: there is no old schema" in result.stderr  # first rehearsal
    _, block = split(Path("SHIPME.md").read_text(encoding="utf-8"))
    assert [s["signer"] for s in block["signatures"]] == ["holmes", "wat-sum"]
    assert all("attestation" in s for s in block["signatures"])
    assert Path(".wesley/holmes.json").is_file() and Path(".wesley/watson.json").is_file()
    ok("cert", "verify")
    # the files for other runners, after certifying: the rehearsed plan.json (evidence the
    # certificate binds) is kept, so the certificate still verifies and deploys
    rehearsed = Path(".wesley/plan.json").read_bytes()
    written = ok("plan", "--write", "migrations")
    if "kept .wesley/plan.json" not in written.stderr:  # the preview is the rehearsed plan
        assert Path(".wesley/plan.json").read_bytes() == rehearsed
    assert Path(".wesley/plan.json").read_bytes() == rehearsed
    assert sorted(p.name for p in Path("migrations").glob("*.sql"))
    ok("cert", "verify")
    ok("deploy", "--dsn", pg_dsn, "--env", "prod")
    assert [r["status"] for r in runs(pg_dsn)] == ["applied"]


def test_blade_reads_stdin_once_and_private_keys_from_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _keys(
        TOML_KEYS.replace('"keys/holmes.pub"', '"pub/holmes.pub"')
        + '\n[cert.signing_keys]\nholmes = "keys/holmes"\n'
    )
    Path("pub").mkdir()
    shutil.move("keys/holmes.pub", "pub/holmes.pub")
    monkeypatch.setattr(sys, "stdin", io.StringIO(BLADE_V2.read_text(encoding="utf-8")))
    done = ok("blade", "--schema", "-", "--from", str(BLADE_V1), "--json").json()
    assert done["signers"] == ["holmes", "wat-sum"] and done["readiness"] == "ELEMENTARY"
    assert done["realm"]["verdict"] == "PASS"


def test_blade_says_which_key_is_missing_before_any_work() -> None:
    Path("wesley.toml").write_text(
        '[cert]\nrequire = ["holmes", "release"]\n[cert.keys]\nholmes = "keys/holmes.pub"\n'
    )
    shutil.copy(BLADE_V2, "schema.graphql")
    missing = wes("blade")
    assert missing.code == 8 and "error[KEY_MISSING]" in missing.stderr, missing.stderr
    assert "signer release" in missing.stderr
    assert not Path(".wesley").exists() and not Path("out").exists()


def test_blade_stops_at_a_failed_rehearsal_with_its_exit_code(pg_dsn: str) -> None:
    _keys()
    bad = BLADE_V2.read_text().replace("@wes_unique", '@wes_unique @wes_check(expr: "false")')
    Path("schema.graphql").write_text(bad, encoding="utf-8")
    failed = wes("blade", "--dsn", pg_dsn, "--from", str(BLADE_V1), "--seed-rows", "3")
    assert failed.code == 13, failed.stderr
    assert "blade: rehearse  [REALM] FAIL" in failed.stdout, failed.stdout
    assert "blade: cert" not in failed.stdout
    assert not Path("SHIPME.md").exists()
