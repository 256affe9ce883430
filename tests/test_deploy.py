"""`wesley deploy`, end to end: a certified plan applied to a second database holding the old
schema and rows; the refusals (no certificate, stale, plan B, drift) and `--force`."""

from __future__ import annotations

import base64
import getpass
import hashlib
import json
import re
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from psycopg.conninfo import conninfo_to_dict

from tests.helpers import UPSTREAM, CliResult
from tests.lifecycle import (
    TOML_KEYS,
    blade,
    build_old,
    certify,
    checksums,
    has_run_records,
    insert_users,
    ir_of,
    ok,
    runs,
    scratch_database,
    use,
    wes,
)
from tests.schema_compare import assert_database_matches
from wesley.cert.keys import load_private
from wesley.db.introspect import introspect
from wesley.plan.build import build_plan

BLADE_V1 = UPSTREAM / "blade-v1.graphql"
BLADE_V2 = UPSTREAM / "blade-v2.graphql"
USERS = 500


def _blade_target(dsn: str) -> dict[str, tuple[int, str | None]]:
    build_old(dsn, ir_of(BLADE_V1))
    insert_users(dsn, USERS)
    return checksums(dsn, ir_of(BLADE_V1))


def _assert_migrated(dsn: str, new_sdl: Path, old_sdl: Path, before: object) -> None:
    new = ir_of(new_sdl)
    assert checksums(dsn, ir_of(old_sdl)) == before
    with psycopg.connect(dsn, autocommit=True) as conn:
        have = introspect(conn)
    assert_database_matches(new, have, ordered=False)
    assert build_plan(have, new, allow_destructive=True).steps == []


def _assert_untouched(dsn: str, before: object) -> None:
    assert not has_run_records(dsn), "deploy refused but created its run records"
    assert checksums(dsn, ir_of(BLADE_V1)) == before
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert_database_matches(ir_of(BLADE_V1), introspect(conn))


def test_blade_end_to_end(pg_admin_dsn: str, pg_dsn: str, pg_bin: Path) -> None:
    """The whole lifecycle in one directory, rehearsed on rehearse's own ephemeral cluster
    (of the target's major: `pg_bin`)."""
    Path("blade-v1.graphql").write_bytes(BLADE_V1.read_bytes())
    Path("blade-v2.graphql").write_bytes(BLADE_V2.read_bytes())
    ok("transform", "--schema", "blade-v2.graphql")
    rehearsal = ok(
        "rehearse", "--schema", "blade-v2.graphql", "--from", "blade-v1.graphql",
        "--seed-rows", "25", "--json",
    ).json()  # fmt: skip
    assert rehearsal["realm"]["verdict"] == "PASS"
    assert rehearsal["realm"]["ephemeral"] is True
    for signer in ("holmes", "wat-sum"):
        ok("cert", "keygen", "--signer", signer, "--out", f"keys/{signer}")
    ok("cert", "create", "--env", "prod")
    for signer in ("holmes", "wat-sum"):
        ok("cert", "sign", "--signer", signer, "--key", f"keys/{signer}")
    pubs = ("--pubkey", "keys/holmes.pub", "--pubkey", "keys/wat-sum.pub")
    verified = ok("cert", "verify", *pubs, "--require", "holmes,wat-sum", "--json").json()
    assert verified["signers"] == ["holmes", "wat-sum"]
    # the same with the keys and required signers from wesley.toml
    Path("wesley.toml").write_text(TOML_KEYS, encoding="utf-8")
    ok("cert", "verify")
    ok("cert", "verify", "--require", "holmes,wat-sum")
    assert "PASS" in ok("cert", "badge").stdout

    before = _blade_target(pg_dsn)
    result = ok("deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", "blade-v2.graphql")
    assert "3 steps applied" in result.stdout, result.stdout
    assert "pgTAP 16/16 passed" in result.stdout, result.stdout
    _assert_migrated(pg_dsn, BLADE_V2, BLADE_V1, before)
    [run] = runs(pg_dsn)
    cert_hash = hashlib.sha256(Path("SHIPME.md").read_bytes()).hexdigest()
    assert run["mode"] == "deploy"
    assert run["status"] == "applied"
    assert run["cert_hash"] == cert_hash
    assert run["operator"] == getpass.getuser()
    assert run["forced"] is False
    assert run["plan_hash"] == verified["plan_hash"]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        steps = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'applied') "
            "FROM wesley.migration_steps WHERE plan_hash = %s",
            (run["plan_hash"],),
        ).fetchone()
    assert steps == (3, 3)
    # validate-bundle is happy with what the whole flow left behind
    ok("validate-bundle")
    # a second deploy of the same certificate (a re-run CI job) has nothing to do: exit 0,
    # "already deployed", nothing run (no new run record, no step)
    again = wes("deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", "blade-v2.graphql")
    assert again.code == 0, again.stderr
    assert "already deployed" in again.stdout and "nothing was run" in again.stdout, again.stdout
    assert len(runs(pg_dsn)) == 1


def _shrunk_ecommerce(directory: Path) -> Path:
    """ecommerce.graphql without its OrderItem table and Product.stock_quantity: a drop of a
    table and of a column, destructive, with a migration risk above the default gate."""
    text = (UPSTREAM / "ecommerce.graphql").read_text()
    drop = ("order_items: [OrderItem", "items: [OrderItem", "stock_quantity:")
    lines = [ln for ln in text.splitlines() if not ln.strip().startswith(drop)]
    text = "\n".join(lines)
    start = text.index("# Order line items")
    end = text.index("}", text.index("type OrderItem")) + 1
    path = directory / "ecommerce-shrunk.graphql"
    path.write_text(text[:start] + text[end:] + "\n")
    return path


def test_destructive_needs_raised_mri_threshold(
    pg_admin_dsn: str, pg_dsn: str, tmp_path: Path
) -> None:
    old_sdl, new_sdl = UPSTREAM / "ecommerce.graphql", _shrunk_ecommerce(tmp_path)
    # default thresholds: HOLMES refuses to sign (the MRI gate fails); signed with --force, the
    # MRI gate refuses the certificate
    flow = certify(pg_admin_dsn, old_sdl, new_sdl, allow_destructive=True, force=True)
    use(flow)
    unsigned = wes("cert", "sign", "--signer", "holmes", "--key", "keys/holmes")
    assert unsigned.code == 8 and "SIGN_REFUSED" in unsigned.stderr, unsigned.stderr
    assert "REQUIRES INVESTIGATION" in unsigned.stderr and "MRI" in unsigned.stderr
    refused = wes("cert", "verify", "--require", "holmes,wat-sum")
    assert refused.code == 8, refused.stderr
    assert "MRI" in refused.stderr and "above 0.4" in refused.stderr, refused.stderr
    scores = json.loads(Path(".wesley/scores.json").read_text())
    assert scores["mri"]["score"] > 0.4 and not scores["gates"]["mri"]["passed"], scores["mri"]
    assert scores["gates"]["scs"]["passed"] and scores["gates"]["tci"]["passed"]
    assert f"MRI {scores['mri']['score']} is above 0.4" in refused.stderr
    assert "❌" in ok("cert", "badge", "--json").json()["badge"]
    denied = wes("deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", new_sdl.name)
    assert denied.code == 8 and "MRI" in denied.stderr, denied.stderr
    assert not has_run_records(pg_dsn)

    # thresholds raised in wesley.toml: the same certificate verifies (the policy is the
    # verifier's); made again, it records them and reads ELEMENTARY; it deploys
    Path("wesley.toml").write_text("[thresholds]\nmri = 1.0\n" + TOML_KEYS)
    forced = ok("cert", "verify", "--require", "holmes,wat-sum", "--json").json()
    assert any("holmes signed for HOLMES with --force" in n for n in forced["notes"]), forced
    ok("cert", "create", "--env", "prod")
    for signer in ("holmes", "wat-sum"):
        ok("cert", "sign", "--signer", signer, "--key", f"keys/{signer}")
    ok("cert", "verify", "--require", "holmes,wat-sum")
    assert "- readiness: ELEMENTARY" in Path("SHIPME.md").read_text()
    assert "drop_table order_item" in Path("SHIPME.md").read_text()
    assert "- stages: two" in Path("SHIPME.md").read_text()
    old = ir_of(old_sdl)
    build_old(pg_dsn, old, rows=40)
    before = checksums(pg_dsn, ir_of(new_sdl))
    # the drops remove what the old application version uses: deploy stops before them
    result = ok("deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", new_sdl.name)
    assert "two stages" in result.stdout and "--complete" in result.stdout, result.stdout
    [run] = runs(pg_dsn)
    assert (run["mode"], run["status"]) == ("deploy", "expanded")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('order_item') IS NOT NULL").fetchone() == (True,)
    done = ok("deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", new_sdl.name, "--complete")
    assert "completed the migration" in done.stdout and "passed" in done.stdout, done.stdout
    _assert_migrated(pg_dsn, new_sdl, new_sdl, before)
    first, second = runs(pg_dsn)
    assert (first["status"], second["mode"], second["status"]) == (
        "completed",
        "deploy --complete",
        "applied",
    )


def test_ecommerce_type_change_deploys_in_two_stages(pg_admin_dsn: str, pg_dsn: str) -> None:
    """price_cents: Int -> BigInt, no --allow-destructive: deploy expands and stops (the old
    version still runs), another deploy is refused while it is in flight, --complete swaps."""
    old_sdl, new_sdl = UPSTREAM / "ecommerce.graphql", UPSTREAM / "ecommerce-v2.graphql"
    use(certify(pg_admin_dsn, old_sdl, new_sdl))
    plan = json.loads(Path(".wesley/plan.json").read_text())
    assert plan["two_stage"] and plan["compat"]["old_search_path"] == "public"
    assert plan["destructive"] == []
    old = ir_of(old_sdl)
    build_old(pg_dsn, old, rows=40)
    before = checksums(pg_dsn, old)
    started = ok("deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", new_sdl.name, "--json")
    doc = started.json()
    assert doc["stage"] == "expanded" and doc["compat"] == plan["compat"]
    assert doc["tests"]["planned"] == doc["tests"]["passed"] > 0  # the new version's suite
    assert not Path(".wesley/deployed.json").exists()
    [run] = runs(pg_dsn)
    assert (run["mode"], run["status"]) == ("deploy", "expanded")
    # the old version's view of the database is intact while the migration is in flight
    assert checksums(pg_dsn, old) == before
    again = wes("deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", new_sdl.name)
    assert again.code == 13 and "MIGRATION_IN_FLIGHT" in again.stderr, again.stderr
    assert "--complete" in again.stderr
    # the certificate's plan_hash covers the contract: a stored contract step edited in the
    # database is refused, --force included
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE wesley.migration_runs SET plan = jsonb_set(plan, '{steps,-1,sql}', "
            "'\"DROP TABLE product\"') WHERE status = 'expanded'"
        )
    for extra in ((), ("--force",)):
        edited = wes(
            "deploy",
            "--dsn",
            pg_dsn,
            "--env",
            "prod",
            "--schema",
            new_sdl.name,
            "--complete",
            *extra,
        )
        assert edited.code == 8 and "STORED_PLAN_MISMATCH" in edited.stderr, edited.stderr
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE wesley.migration_runs SET plan = %s WHERE status = 'expanded'",
            (Path(".wesley/plan.json").read_text(),),
        )
    # rolled back, then deployed again and completed
    back = ok("deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", new_sdl.name, "--abort")
    assert "rolled the expand back" in back.stdout, back.stdout
    assert checksums(pg_dsn, old) == before
    assert [r["status"] for r in runs(pg_dsn)] == ["aborted", "applied"]
    ok("deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", new_sdl.name)
    done = ok("deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", new_sdl.name, "--complete")
    assert "completed the migration" in done.stdout, done.stdout
    _assert_migrated(pg_dsn, new_sdl, old_sdl, before)
    assert Path(".wesley/deployed.json").exists()
    statuses = [(r["mode"], r["status"]) for r in runs(pg_dsn)]
    assert statuses == [
        ("deploy", "aborted"),
        ("deploy --abort", "applied"),
        ("deploy", "completed"),
        ("deploy --complete", "applied"),
    ]
    nothing = wes("deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", new_sdl.name, "--abort")
    assert nothing.code == 13 and "NOTHING_IN_FLIGHT" in nothing.stderr, nothing.stderr


def test_without_certificate_refused_then_forced(pg_admin_dsn: str, pg_dsn: str) -> None:
    use(blade(pg_admin_dsn))
    Path("SHIPME.md").unlink()
    before = _blade_target(pg_dsn)
    refused = wes("deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", "blade-v2.graphql")
    assert refused.code == 8, refused.stderr
    assert "no certificate at SHIPME.md" in refused.stderr
    _assert_untouched(pg_dsn, before)

    forced = ok(
        "deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", "blade-v2.graphql", "--force"
    )
    assert "[FORCED]" in forced.stdout
    assert "no certificate" in forced.stderr  # the reason is logged
    _assert_migrated(pg_dsn, BLADE_V2, BLADE_V1, before)
    [run] = runs(pg_dsn)
    assert (run["mode"], run["status"], run["forced"], run["cert_hash"]) == (
        "deploy",
        "applied",
        True,
        None,
    )


def test_stale_certificate_refused_then_forced(pg_admin_dsn: str, pg_dsn: str) -> None:
    use(blade(pg_admin_dsn))
    schema = Path("blade-v2.graphql")
    schema.write_text(schema.read_text() + "\ntype Audit @wes_table { id: ID! @wes_pk }\n")
    before = _blade_target(pg_dsn)
    refused = wes("deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", str(schema))
    assert refused.code == 8, refused.stderr
    assert "stale: the schema changed since it was made" in refused.stderr, refused.stderr
    _assert_untouched(pg_dsn, before)

    ok("deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", str(schema), "--force")
    _assert_migrated(pg_dsn, schema, BLADE_V1, before)
    [run] = runs(pg_dsn)
    assert run["forced"] is True
    assert run["cert_hash"] == hashlib.sha256(Path("SHIPME.md").read_bytes()).hexdigest()


def test_plan_a_certificate_does_not_deploy_plan_b(pg_admin_dsn: str, pg_dsn: str) -> None:
    use(blade(pg_admin_dsn))
    Path("blade-v3.graphql").write_text(
        BLADE_V2.read_text().replace("}", "  nickname: String\n}"), encoding="utf-8"
    )
    before = _blade_target(pg_dsn)
    for env in ("prod", "staging"):
        refused = wes("deploy", "--dsn", pg_dsn, "--env", env, "--schema", "blade-v3.graphql")
        assert refused.code == 8, refused.stderr
        assert "is not the certified plan" in refused.stderr, refused.stderr
        assert "stale" in refused.stderr
    assert "is for 'prod', not 'staging'" in refused.stderr
    _assert_untouched(pg_dsn, before)
    # the right schema for another environment is refused too
    other_env = wes("deploy", "--dsn", pg_dsn, "--env", "staging", "--schema", "blade-v2.graphql")
    assert other_env.code == 8 and "not 'staging'" in other_env.stderr, other_env.stderr
    _assert_untouched(pg_dsn, before)


def test_drifted_database_refused_then_forced(pg_admin_dsn: str, pg_dsn: str) -> None:
    use(blade(pg_admin_dsn))
    build_old(pg_dsn, ir_of(BLADE_V1))
    insert_users(pg_dsn, USERS)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # someone adds a column by hand
        conn.execute('ALTER TABLE "user" ADD COLUMN legacy_note text')
        conn.execute("UPDATE \"user\" SET legacy_note = 'kept ' || email")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        drifted = introspect(conn)
    before = checksums(pg_dsn, drifted)
    refused = wes("deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", "blade-v2.graphql")
    assert refused.code == 8, refused.stderr
    assert "drifted from the certificate's starting point" in refused.stderr, refused.stderr
    assert not has_run_records(pg_dsn)
    assert checksums(pg_dsn, drifted) == before

    forced = ok(
        "deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", "blade-v2.graphql", "--force"
    )
    assert "drifted" in forced.stderr and "[FORCED]" in forced.stdout
    # --force skips the certificate, not the rule against destructive changes: the column
    # someone added by hand, and its data, are still there
    assert checksums(pg_dsn, drifted) == before
    assert "not deployed: drop_column user.legacy_note is destructive" in forced.stderr
    Path("kept.graphql").write_text(
        BLADE_V2.read_text().replace("}", "  legacy_note: String\n}"), encoding="utf-8"
    )
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert_database_matches(ir_of("kept.graphql"), introspect(conn), ordered=False)
    [run] = runs(pg_dsn)
    assert (run["status"], run["forced"]) == ("applied", True)


@pytest.mark.parametrize("variant", ["missing signer", "tampered", "holmes report"])
def test_deploy_runs_verify(pg_admin_dsn: str, pg_dsn: str, variant: str) -> None:
    """Deploy checks the certificate exactly as `cert verify` does."""
    use(blade(pg_admin_dsn))
    before = _blade_target(pg_dsn)
    cert = Path("SHIPME.md")
    if variant == "tampered":
        text = cert.read_text()
        tampered = re.sub(r'"mri": [0-9.]+', '"mri": 0.99', text)
        assert tampered != text
        cert.write_text(tampered)
        reason = "summary does not match"
    elif variant == "holmes report":  # the investigation HOLMES signed was edited since
        report = Path(".wesley/holmes.json")
        report.write_text(report.read_text().replace('"ELEMENTARY"', '"ELEMENTARY" ', 1))
        reason = "the HOLMES report .wesley/holmes.json changed since holmes signed it"
    else:
        Path("wesley.toml").write_text(TOML_KEYS.replace('"wat-sum"]', '"wat-sum", "lestrade"]'))
        reason = "required signer lestrade has no valid signature"
    refused = wes("deploy", "--dsn", pg_dsn, "--env", "prod", "--schema", "blade-v2.graphql")
    assert refused.code == 8, refused.stderr
    assert reason in refused.stderr, refused.stderr
    _assert_untouched(pg_dsn, before)


def _with_password(dsn: str, fallback: str) -> tuple[str, str]:
    """`dsn` as a URL carrying a password: the server's own if it has one, else `fallback`
    (the test server trusts local connections and ignores it)."""
    params = conninfo_to_dict(dsn)
    password = str(params.get("password") or fallback)
    host, port = str(params.get("host", "127.0.0.1")), str(params.get("port", "5432"))
    user, db = quote(str(params.get("user", "postgres"))), quote(str(params["dbname"]))
    if host.startswith("/"):
        return f"postgresql://{user}:{quote(password)}@/{db}?host={host}&port={port}", password
    return f"postgresql://{user}:{quote(password)}@{host}:{port}/{db}", password


def _private_secrets(path: Path) -> list[str]:
    pem = path.read_text()
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    raw = load_private(path).private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return [body, raw.hex(), base64.b64encode(raw).decode(), base64.b64encode(raw).decode()[:24]]


def test_no_secret_appears_anywhere(pg_admin_dsn: str, pg_dsn: str) -> None:
    target, password = _with_password(pg_dsn, "S3cretPW")
    Path("blade-v1.graphql").write_bytes(BLADE_V1.read_bytes())
    Path("blade-v2.graphql").write_bytes(BLADE_V2.read_bytes())
    Path("wesley.toml").write_text(TOML_KEYS)
    outputs: list[CliResult] = []

    def run(*args: str, code: int = 0) -> CliResult:
        result = wes(*args)
        assert result.code == code, f"{args}: {result.stdout}{result.stderr}"
        outputs.append(result)
        return result

    run("transform", "--schema", "blade-v2.graphql")
    with scratch_database(pg_admin_dsn) as shadow:
        shadow_url, _ = _with_password(shadow, password)
        rehearse = ("rehearse", "--schema", "blade-v2.graphql", "--from", "blade-v1.graphql")
        run(*rehearse, "--seed-rows", "10", "--dsn", shadow_url)
    for signer in ("holmes", "wat-sum"):
        run("cert", "keygen", "--signer", signer, "--out", f"keys/{signer}")
        run("cert", "keygen", "--signer", signer, "--out", f"keys/{signer}", code=2)  # exists
    run("cert", "create", "--env", "prod")
    run("deploy", "--dsn", target, "--env", "prod", "--schema", "blade-v2.graphql", code=8)
    for signer in ("holmes", "wat-sum"):
        run("cert", "sign", "--signer", signer, "--key", f"keys/{signer}")
        run("cert", "sign", "--signer", signer, "--key", f"keys/{signer}", "--json")
    run("cert", "verify", "--require", "holmes,wat-sum")
    run("cert", "verify", "--json")
    run("cert", "badge")
    build_old(target, ir_of(BLADE_V1))
    insert_users(target, 50)
    deploy = ("deploy", "--env", "prod", "--schema", "blade-v2.graphql")
    run(*deploy, "--dsn", target)
    assert "***" in outputs[-1].stdout  # the DSN is shown, redacted
    run(*deploy, "--dsn", target, "--json")  # already deployed: nothing to do
    run(*deploy, "--dsn", target, "--resume", "--json")
    run("validate-bundle")
    unreachable = target.replace(str(conninfo_to_dict(pg_dsn).get("port", "5432")), "1", 1)
    run(*deploy, "--dsn", unreachable, "--debug", code=13)
    run(*deploy, "--dsn", unreachable, "--json", code=13)
    run(*rehearse, "--dsn", unreachable, code=13)

    secrets = [
        password,
        *_private_secrets(Path("keys/holmes")),
        *_private_secrets(Path("keys/wat-sum")),
    ]
    files = [Path("SHIPME.md"), *Path(".wesley").rglob("*"), *Path("out").rglob("*")]
    assert len(files) > 10
    texts = {str(f): f.read_text(encoding="utf-8") for f in files if f.is_file()}
    for i, result in enumerate(outputs):
        texts[f"output {i} stdout"], texts[f"output {i} stderr"] = result.stdout, result.stderr
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        texts["run records"] = str(conn.execute("SELECT * FROM wesley.migration_runs").fetchall())
        texts["step records"] = str(conn.execute("SELECT * FROM wesley.migration_steps").fetchall())
    assert any(target.replace(password, "***") in t for t in texts.values())
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret ({secret[:4]}…) appears in {where}"
