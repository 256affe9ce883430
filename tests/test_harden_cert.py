"""Hardening (issue 12) of the certificate: it covers the files it lists (item 3), it may be
bound to one target database (item 4), signatures are canonical base64 (item 7), and a
private key others can read does not sign (item 8). Each test makes the attack first."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.helpers import UPSTREAM
from tests.lifecycle import (
    SIGNERS,
    blade,
    build_old,
    has_run_records,
    insert_users,
    ir_of,
    ok,
    use,
    wes,
)
from wesley.cert import certificate
from wesley.db.cluster import EphemeralCluster, create_database, drop_database

CERT = Path("SHIPME.md")
DEPLOY = ("deploy", "--env", "prod", "--schema", "blade-v2.graphql")


@pytest.fixture
def certified(pg_admin_dsn: str) -> Path:
    return use(blade(pg_admin_dsn))


def _refused(*args: str) -> str:
    result = wes(*args)
    assert result.code == 8, f"{result.code}: {result.stdout}{result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stderr


def _target(dsn: str) -> None:
    build_old(dsn, ir_of(UPSTREAM / "blade-v1.graphql"))
    insert_users(dsn, 20)


def _sign_all() -> None:
    for signer in SIGNERS:
        ok("cert", "sign", "--signer", signer, "--key", f"keys/{signer}", "--quiet")


# ---- item 3: the listed files are the files -----------------------------------------------

EDITS: dict[str, Callable[[str], str]] = {
    "out/schema.sql": lambda t: t + "DROP TABLE IF EXISTS important;\n",
    "out/rls.sql": lambda t: t + 'ALTER TABLE "user" DISABLE ROW LEVEL SECURITY;\n',
    ".wesley/plan.json": lambda t: t.replace(
        '"allow_destructive": false', '"allow_destructive": true'
    ),
    ".wesley/realm.json": lambda t: re.sub(r'"total_ms": \d+', '"total_ms": 1', t),
}


@pytest.mark.parametrize("name", list(EDITS))
def test_an_edited_listed_file_fails_verify_and_deploy(
    certified: Path, pg_dsn: str, name: str
) -> None:
    ok("cert", "verify")
    path = Path(name)
    edited = EDITS[name](path.read_text())
    assert edited != path.read_text()
    path.write_text(edited)  # the attack: the certificate still verified after this
    message = _refused("cert", "verify")
    assert f"{name} changed since the certificate was made" in message, message
    _target(pg_dsn)
    message = _refused(*DEPLOY, "--dsn", pg_dsn)
    assert f"{name} changed since the certificate was made" in message, message
    assert not has_run_records(pg_dsn)
    path.unlink()
    assert f"{name} is missing" in _refused("cert", "verify")


# ---- item 4: bound to a target ------------------------------------------------------------


def test_an_unbound_certificate_says_any_target(certified: Path) -> None:
    assert "- target: any target" in CERT.read_text()
    assert certificate.read(CERT.read_text())["target"] is None


def test_a_bound_certificate_deploys_only_to_its_target(
    certified: Path, pg_admin_dsn: str, pg_dsn: str
) -> None:
    _target(pg_dsn)
    ok("cert", "create", "--env", "prod", "--target", pg_dsn, "--quiet")
    _sign_all()
    block = certificate.read(CERT.read_text())
    name = str(conninfo_to_dict(pg_dsn)["dbname"])
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT system_identifier::text FROM pg_control_system()").fetchone()
    assert row is not None
    assert block["target"] == {"system_identifier": row[0], "database": name}
    text = CERT.read_text()
    assert f"- target: database '{name}' of the cluster with system identifier {row[0]}" in text
    params = conninfo_to_dict(pg_dsn)
    for part in ("host", "port", "user"):  # never the DSN
        assert f'"{params[part]}"' not in text and f"={params[part]}" not in text, part
    ok("cert", "verify")

    # the attack: replay the certificate on another database holding the same old schema,
    # on the same server, then on another server where a database has the very same name
    other = create_database(pg_admin_dsn, f"{name}_copy")
    try:
        _target(other)
        message = _refused(*DEPLOY, "--dsn", other)
        assert f"the certificate is bound to database '{name}'" in message, message
        assert f"the DSN reaches database '{name}_copy'" in message, message
        assert not has_run_records(other)
    finally:
        drop_database(pg_admin_dsn, f"{name}_copy")
    with EphemeralCluster() as cluster:
        twin = create_database(cluster.dsn, name)
        _target(twin)
        message = _refused(*DEPLOY, "--dsn", twin)
        assert f"the DSN reaches database '{name}' of the cluster with system identifier" in message
        assert row[0] not in message.split("the DSN reaches")[1], message
        assert not has_run_records(twin)
    # its own target
    ok(*DEPLOY, "--dsn", pg_dsn)


# ---- item 7: one spelling of a signature ---------------------------------------------------

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def test_non_canonical_base64_signature_is_refused(certified: Path) -> None:
    text = CERT.read_text()
    sig = certificate.read(text)["signatures"][0]["sig"]
    assert sig.endswith("==")  # 64 bytes: the last character carries 4 unused bits
    last = ALPHABET.index(sig[-3])
    assert last & 0b1111 == 0  # canonical: the unused bits are zero
    respelled = sig[:-3] + ALPHABET[last | 0b0001] + "=="
    assert respelled != sig
    assert base64.b64decode(respelled, validate=True) == base64.b64decode(sig)  # same bytes
    CERT.write_text(text.replace(sig, respelled))
    message = _refused("cert", "verify")
    assert "signature of holmes is not canonical base64" in message, message


# ---- item 8: a private key others can read ------------------------------------------------


def test_a_world_readable_key_does_not_sign(certified: Path) -> None:
    before = CERT.read_bytes()
    os.chmod("keys/holmes", 0o644)
    result = wes("cert", "sign", "--signer", "holmes", "--key", "keys/holmes")
    assert result.code == 8, result.stderr
    assert (
        "error[KEY_PERMISSIONS]: private key keys/holmes is accessible by others (mode 0644)"
        in result.stderr
    )
    assert "chmod 600 keys/holmes" in result.stderr
    assert CERT.read_bytes() == before
    os.chmod("keys/holmes", 0o640)  # group-readable is refused too
    assert wes("cert", "sign", "--signer", "holmes", "--key", "keys/holmes").code == 8
    signed = ok("cert", "sign", "--signer", "holmes", "--key", "keys/holmes", "--insecure-key")
    assert "holmes signed" in signed.stdout
    os.chmod("keys/holmes", 0o600)
    ok("cert", "sign", "--signer", "holmes", "--key", "keys/holmes")
    ok("cert", "verify")
    data = json.loads(ok("cert", "verify", "--json").stdout)
    assert data["signers"] == ["holmes", "wat-sum"]
