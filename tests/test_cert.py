"""`wesley cert` and `wesley validate-bundle` on a real, rehearsed blade-v1 → blade-v2 flow:
signatures, required signers, thresholds, verdict, tampering of any byte, unknown keys."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import UPSTREAM
from tests.lifecycle import TOML_KEYS, blade, ok, scratch_database, use, wes
from wesley.cert import certificate
from wesley.cert.keys import load_private
from wesley.cert.settings import cert_settings
from wesley.cert.shipme import BEGIN, END, canonical_bytes, render_block
from wesley.config import load_config
from wesley.evidence.scores import Scores
from wesley.holmes.attest import attestation_for
from wesley.plan.models import Plan
from wesley.realm.models import Realm

CERT = Path("SHIPME.md")
Leaf = tuple[tuple[str | int, ...], Any]


def _text() -> str:
    return CERT.read_text(encoding="utf-8")


def _block() -> dict[str, Any]:
    return certificate.read(_text())


def _refused(*args: str) -> str:
    """`wesley cert verify ARGS` exits 8; its message."""
    result = wes("cert", "verify", *args)
    assert result.code == 8, f"{result.code}: {result.stdout}{result.stderr}"
    assert "does not verify" in result.stderr or "error[" in result.stderr, result.stderr
    return result.stderr


@pytest.fixture
def certified(pg_admin_dsn: str) -> Path:
    """This test's cwd holds a certified blade flow with keys for holmes and wat-sum."""
    return use(blade(pg_admin_dsn))


# ---- the good path -----------------------------------------------------------------------


def test_signed_by_two_verifies_with_pubkeys_toml_and_aliases(certified: Path) -> None:
    block = _block()
    assert [s["signer"] for s in block["signatures"]] == ["holmes", "wat-sum"]
    assert block["realm"]["verdict"] == "PASS"
    ok("cert", "verify")  # keys and required signers from wesley.toml
    ok("cert", "verify", "--require", "holmes,wat-sum")
    Path("wesley.toml").unlink()
    pubs = ("--pubkey", "keys/holmes.pub", "--pub", "keys/wat-sum.pub")
    data = ok("cert", "verify", *pubs, "--require", "holmes,wat-sum", "--json").json()
    assert data["signers"] == ["holmes", "wat-sum"]
    assert data["plan_hash"] == block["plan_hash"]
    ok("cert-verify", "--in", "SHIPME.md", *pubs, "--require", "holmes,wat-sum")
    assert "✅" in ok("cert-badge").stdout
    # signatures are independent of their order: signing again in the other order changes
    # no byte of the block besides the signatures themselves
    ok("cert", "sign", "--signer", "wat-sum", "--key", "keys/wat-sum")
    ok("cert", "sign", "--signer", "holmes", "--key", "keys/holmes")
    assert canonical_bytes(_block()) == canonical_bytes(block)
    ok("cert", "verify", *pubs, "--require", "holmes,wat-sum")


def test_openssl_keys_sign_and_verify(certified: Path) -> None:
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", "k.pem"], check=True)
    subprocess.run(["openssl", "pkey", "-in", "k.pem", "-pubout", "-out", "k.pub"], check=True)
    ok("cert", "create", "--env", "prod")
    ok("cert", "sign", "--signer", "holmes", "--key", "k.pem")
    ok("cert", "sign", "--signer", "wat-sum", "--key", "keys/wat-sum")
    Path("wesley.toml").write_text(TOML_KEYS.replace("keys/holmes.pub", "k.pub"))
    ok("cert", "verify", "--require", "holmes,wat-sum")
    # and openssl verifies Wesley's signature (a key of keygen's) over the canonical JSON of
    # {"attestation": ..., "certificate": <the block without signatures>}
    block = _block()
    entry = next(s for s in block["signatures"] if s["signer"] == "wat-sum")
    body = {k: v for k, v in block.items() if k != "signatures"}
    payload = {"attestation": entry["attestation"], "certificate": body}
    Path("payload.bin").write_bytes(canonical_bytes(payload))
    assert canonical_bytes(payload) == certificate.signed_bytes(block, entry["attestation"])
    Path("sig.bin").write_bytes(base64.b64decode(entry["sig"]))
    proc = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "keys/wat-sum.pub", "-rawin",
         "-in", "payload.bin", "-sigfile", "sig.bin"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and "Verified Successfully" in proc.stdout, proc.stderr
    # an openssl key that nobody trusts is an unknown key
    Path("wesley.toml").write_text(TOML_KEYS)
    assert "is not trusted" in _refused()


# ---- tampering -----------------------------------------------------------------------------


def _leaves(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[Leaf]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    else:
        yield path, value


def _one_char(text: str) -> str:
    """`text` with one character near its middle changed to another valid one."""
    positions = sorted(range(len(text)), key=lambda i: abs(i - len(text) // 2))
    for i in positions:
        c = text[i]
        if c.isdigit():
            return text[:i] + str((int(c) + 1) % 10) + text[i + 1 :]
        if c.isalpha() and c.swapcase() != c:
            return text[:i] + c.swapcase() + text[i + 1 :]
    raise AssertionError(f"nothing to change in {text!r}")


def _set(block: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(block))
    node: Any = copy
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return copy


def _with_block(text: str, old: dict[str, Any], new_body: str) -> str:
    before = render_block(old)
    assert text.count(before) == 1
    return text.replace(before, new_body)


def _expected(path: tuple[str | int, ...], old: dict[str, Any], new: dict[str, Any]) -> str:
    """What verify must name for a changed value."""
    try:
        if certificate.summary(new) != certificate.summary(old):
            return "summary does not match its JSON block"
    except (KeyError, TypeError, ValueError):
        return "lacks required fields"
    if path[0] == "signatures":
        signer = old["signatures"][path[1]]["signer"]
        return {
            "key_id": "is not trusted",
            "sig": f"signature of {signer} does not match the certificate",
            "alg": f"signature of {signer}: algorithm",
            # what the signer vouches for (its role's report) is covered by its signature
            "attestation": f"signature of {signer} does not match the certificate",
        }[str(path[2])]
    return "signature of holmes does not match the certificate; signature of wat-sum does not"


def _edit_line(text: str, block: dict[str, Any], index: int, line: str) -> str:
    """`text` with line `index` of the JSON block replaced."""
    lines = render_block(block).split("\n")
    lines[index] = line
    return _with_block(text, block, "\n".join(lines))


def test_every_field_of_the_json_block_changed_by_one_character(certified: Path) -> None:
    text, block = _text(), _block()
    leaves = list(_leaves(block))
    assert {str(p[0]) for p, _ in leaves} == set(block)  # every top-level key has a leaf
    nested = {".".join(map(str, p)) for p, _ in leaves}
    for must in (
        "scores.mri",
        "plan.summary.steps",
        "tests.summary.passed",
        "realm.verdict",
        "artifact_hashes.out/schema.sql",
        "signatures.0.sig",
        "signatures.1.key_id",
        "plan.summary.write_blocking_locks.0",
        "thresholds.tci",
        "realm.timings.total_ms",
    ):
        assert must in nested, must  # fmt: skip
    checked = 0
    for path, value in leaves:
        where = ".".join(map(str, path))
        if value is None or isinstance(value, bool):  # one character of true/null: not JSON
            lines = render_block(block).split("\n")
            [i] = [i for i, ln in enumerate(lines) if ln.strip().startswith(f'"{path[-1]}": ')]
            line = lines[i]
            lit = json.dumps(value)
            CERT.write_text(_edit_line(text, block, i, line.replace(lit, _one_char(lit), 1)))
            assert "JSON is broken" in _refused(), where
            checked += 1
            continue
        raw = json.dumps(value, ensure_ascii=False)
        changed = json.loads(_one_char(raw))
        assert changed != value, where
        new = _set(block, path, changed)
        edited = _with_block(text, block, render_block(new))
        diff = [i for i, (a, b) in enumerate(zip(text, edited, strict=True)) if a != b]
        assert len(diff) == 1, (where, raw, diff)  # exactly one character of the file
        CERT.write_text(edited, encoding="utf-8")
        message = _refused()
        for part in _expected(path, block, new).split("; "):
            assert part in message, f"{where}: {raw} -> {changed!r}: {message}"
        checked += 1
    # and every key, renamed by one character
    for i, line in enumerate(render_block(block).split("\n")):
        stripped = line.strip()
        if not stripped.startswith('"') or '": ' not in stripped:
            continue
        key = stripped.split('": ', 1)[0] + '"'
        CERT.write_text(_edit_line(text, block, i, line.replace(key, _one_char(key), 1)))
        message = _refused()
        assert any(
            why in message
            for why in (
                "does not match",
                "lacks required fields",
                "algorithm",
                "not trusted",
                "byte-for-byte",  # the keys are sorted: a renamed one can move
                "is malformed",
            )
        ), f"key {key}: {message}"
        checked += 1
    assert checked > 100, checked


def test_signature_and_key_id_changed(certified: Path) -> None:
    text, block = _text(), _block()
    sig = block["signatures"][0]["sig"]
    i = len(sig) // 2
    other = "A" if sig[i] != "A" else "B"
    CERT.write_text(text.replace(sig, sig[:i] + other + sig[i + 1 :]))
    message = _refused()
    assert "signature of holmes does not match the certificate" in message, message
    assert "required signer holmes has no valid signature" in message, message

    kid = block["signatures"][1]["key_id"]
    changed = kid[:-1] + ("0" if kid[-1] != "0" else "1")
    CERT.write_text(text.replace(kid, changed))
    message = _refused()
    assert f"signature of wat-sum: key {changed[:12]} is not trusted" in message, message


@pytest.mark.parametrize(
    "edit",
    [
        ('"commit": "unknown"', '"commit":  "unknown"'),  # a second space
        ('"environment": "prod",', '"environment": "prod", '),  # trailing space
        ('  "environment"', '   "environment"'),  # indentation
        ('  "environment"', '\t"environment"'),  # a tab
        ('"environment": "prod",\n', '"environment": "prod",\r\n'),  # CRLF on one line
        ('"environment": "prod",\n', '"environment": "prod",\n\n'),  # a blank line
        ("```json\n{", "```json\n {"),
        ("}\n```", "}\n\n```"),
    ],
    ids=["space", "trailing", "indent", "tab", "crlf", "blank", "leading", "closing"],
)
def test_whitespace_only_change_inside_the_block(certified: Path, edit: tuple[str, str]) -> None:
    text = _text()
    assert text.count(edit[0]) == 1, edit
    CERT.write_bytes(text.replace(*edit).encode("utf-8"))
    message = _refused()
    assert "is not byte-for-byte as Wesley wrote it" in message, message


@pytest.mark.parametrize(
    "edit",
    [
        ("- environment: prod", "- environment: staging"),
        ("# SHIPME", "# SHIP IT"),
        ("16/16 pgTAP", "17/16 pgTAP"),
        ("- destructive: none\n", ""),
        ("- readiness: ELEMENTARY", "- readiness: ELEMENTARY\n- approved by: the CTO"),
        ("MRI 0.02", "MRI 0.03"),
    ],
    ids=["environment", "title", "tests", "line removed", "line added", "badge"],
)
def test_human_summary_edited(certified: Path, edit: tuple[str, str]) -> None:
    text = _text()
    assert text.count(edit[0]) == 1, edit
    CERT.write_text(text.replace(*edit))
    assert "summary does not match its JSON block" in _refused()


@pytest.mark.parametrize(
    "edit",
    [
        (BEGIN, "\n" + BEGIN),  # a blank line before the block
        (END + "\n", END + "\n\n"),  # after it
        (END + "\n", END + "  \n"),  # trailing spaces
        ("# SHIPME\n", "# SHIPME \n"),
    ],
    ids=["before", "after", "trailing", "title-space"],
)
def test_whitespace_around_the_block(certified: Path, edit: tuple[str, str]) -> None:
    text = _text()
    CERT.write_text(text.replace(*edit, 1))
    message = _refused()
    assert "byte-for-byte" in message or "summary does not match" in message, message


def test_any_single_byte_changed_fails(certified: Path) -> None:
    """Every byte of the file, changed: verify never accepts it (the library, then the CLI
    for a byte that breaks UTF-8)."""
    raw = CERT.read_bytes()
    settings = cert_settings(load_config().raw)
    thresholds, require, keys = settings.thresholds, settings.require, settings.keys
    trusted = certificate.trusted_keys(list(keys.values()))
    names = certificate.signer_names(keys)
    assert certificate.verify(raw.decode(), trusted, require, thresholds, names).ok
    for i in range(len(raw)):
        changed = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]
        result = certificate.verify(changed.decode("utf-8"), trusted, require, thresholds, names)
        assert not result.ok and result.failures, f"byte {i} ({raw[i : i + 1]!r}) changed: accepted"
    # a byte that breaks UTF-8 (in the badge's ✅) is refused too, with exit 8, not a crash
    i = raw.index("✅".encode())
    CERT.write_bytes(raw[:i] + b"\xff" + raw[i + 1 :])
    assert "not valid UTF-8" in _refused()


@pytest.mark.parametrize("field", ["sig", "key_id", "signer", "alg"])
def test_malformed_signature_entry_is_refused_not_a_crash(certified: Path, field: str) -> None:
    """A crafted block (rendered as Wesley would) whose signature holds a non-text value."""
    block = _block()
    bad = {**block["signatures"][0], field: [1] if field == "key_id" else 12345}
    CERT.write_text(certificate.write({**block, "signatures": [bad, block["signatures"][1]]}))
    message = _refused()
    assert "signature 1 is malformed" in message, message
    assert "required signer holmes has no valid signature" in message, message


# ---- signers, keys, thresholds, verdict ------------------------------------------------------


def test_missing_required_signer(certified: Path) -> None:
    ok("cert", "create", "--env", "prod")
    ok("cert", "sign", "--signer", "holmes", "--key", "keys/holmes")
    message = _refused()
    assert "required signer wat-sum has no valid signature" in message, message
    assert "holmes" not in message  # holmes's signature is fine
    message = _refused("--require", "holmes,wat-sum,lestrade")
    assert "required signer lestrade" in message
    ok("cert", "verify", "--require", "holmes")
    # unsigned
    ok("cert", "create", "--env", "prod")
    assert "the certificate is not signed" in _refused()


def test_one_key_cannot_sign_for_two(certified: Path) -> None:
    """holmes signs a second time, calling himself wat-sum."""
    ok("cert", "create", "--env", "prod")
    ok("cert", "sign", "--signer", "holmes", "--key", "keys/holmes")
    ok("cert", "sign", "--signer", "wat-sum", "--key", "keys/holmes")
    message = _refused()  # keys named in wesley.toml
    assert "signature of wat-sum was made with the key of holmes" in message, message
    assert "required signer wat-sum has no valid signature" in message, message
    Path("wesley.toml").unlink()  # nameless keys: one key still counts once
    message = _refused("--pubkey", "keys/holmes.pub", "--require", "holmes,wat-sum")
    assert "same key as holmes's" in message, message
    assert "required signer wat-sum has no valid signature" in message, message


def test_unknown_key(certified: Path) -> None:
    ok("cert", "keygen", "--signer", "moriarty", "--out", "keys/moriarty")
    ok("cert", "sign", "--signer", "moriarty", "--key", "keys/moriarty")
    message = _refused()
    assert "signature of moriarty: key" in message and "is not trusted" in message, message
    # trusted only for what wesley.toml or --pubkey names: without them nothing verifies
    Path("wesley.toml").unlink()
    message = _refused("--require", "holmes")
    assert "signature of holmes: key" in message and "is not trusted" in message, message


def test_failed_threshold(certified: Path) -> None:
    Path("wesley.toml").write_text("[thresholds]\nmri = 0.01\nscs = 0.99\n" + TOML_KEYS)
    message = _refused()
    assert "MRI 0.02 is above 0.01" in message, message
    assert "SCS" not in message  # 1.0 passes 0.99
    assert "❌" in ok("cert", "badge").stdout


@pytest.mark.parametrize("value", ['"high"', "true", "1.5", "-0.1"])
def test_threshold_that_is_not_a_number_is_bad_input(certified: Path, value: str) -> None:
    Path("wesley.toml").write_text(f"[thresholds]\nmri = {value}\n" + TOML_KEYS)
    for args in (("cert", "verify"), ("cert", "create", "--env", "prod"), ("cert", "badge")):
        result = wes(*args)
        assert result.code == 2, f"{args}: {result.code} {result.stderr}"
        assert "CONFIG_INVALID" in result.stderr and "[thresholds] mri" in result.stderr


def test_verdict_fail_from_a_failed_rehearsal(pg_admin_dsn: str) -> None:
    """A rehearsal that really fails (a new CHECK the existing rows violate), certified and
    signed anyway: verify refuses it and names the verdict."""
    new = Path("blade-bad.graphql")
    new.write_text(
        (UPSTREAM / "blade-v1.graphql")
        .read_text()
        .replace("@wes_unique", '@wes_unique @wes_check(expr: "length(email) > 500")')
    )
    Path("blade-v1.graphql").write_bytes((UPSTREAM / "blade-v1.graphql").read_bytes())
    ok("transform", "--schema", str(new), "--quiet")
    with scratch_database(pg_admin_dsn) as dsn:
        failed = wes("rehearse", "--schema", str(new), "--from", "blade-v1.graphql",
                     "--seed-rows", "5", "--dsn", dsn)  # fmt: skip
    assert failed.code == 13, failed.stderr
    assert "FAIL" in failed.stdout
    Path("wesley.toml").write_text(TOML_KEYS)
    for signer in ("holmes", "wat-sum"):
        ok("cert", "keygen", "--signer", signer, "--out", f"keys/{signer}", "--quiet")
    ok("cert", "create", "--env", "prod", "--quiet")
    # HOLMES does not sign what the investigation calls YOU SHALL NOT PASS
    refused = wes("cert", "sign", "--signer", "holmes", "--key", "keys/holmes")
    assert refused.code == 8 and "SIGN_REFUSED" in refused.stderr, refused.stderr
    assert "the investigation says YOU SHALL NOT PASS" in refused.stderr, refused.stderr
    assert "the rehearsal verdict is FAIL" in refused.stderr, refused.stderr
    assert _block()["signatures"] == []  # nothing was signed
    # a signer without a role is warned too: it needs --force to sign a FAIL
    ok("cert", "keygen", "--signer", "release", "--out", "keys/release", "--quiet")
    plain = wes("cert", "sign", "--signer", "release", "--key", "keys/release")
    assert plain.code == 8 and "error[SIGN_REFUSED]" in plain.stderr, plain.stderr
    assert "REALM verdict is FAIL, not PASS" in plain.stderr, plain.stderr
    assert _block()["signatures"] == []
    forced = ok("cert", "sign", "--signer", "release", "--key", "keys/release", "--force")
    assert "warning: signing although its REALM verdict is FAIL" in forced.stderr, forced.stderr
    assert "(--force)" in forced.stderr
    assert [s["signer"] for s in _block()["signatures"]] == ["release"]
    for signer in ("holmes", "wat-sum"):  # --force signs, and the certificate says so
        ok("cert", "sign", "--signer", signer, "--key", f"keys/{signer}", "--force", "--quiet")
    assert "HOLMES YOU SHALL NOT PASS" in _text() and "FORCED" in _text()
    message = _refused()
    assert "the REALM verdict is FAIL, not PASS" in message, message


def test_verdict_fail_alone_is_refused(certified: Path) -> None:
    """A block whose only fault is a FAIL verdict, signed by both trusted keys."""
    args = _build_args(Path(".wesley"))
    args["artifacts"] = _block()["artifact_hashes"]  # the reports name these files
    config = load_config().raw
    for verdict in ("FAIL", "PASS"):
        realm = args["realm"].model_copy(update={"verdict": verdict})
        block = certificate.build_block(**{**args, "realm": realm})
        for signer in ("holmes", "wat-sum"):
            att = attestation_for(signer, block, Path(".wesley"), config, False, print)
            block = certificate.sign(block, signer, load_private(Path(f"keys/{signer}")), att)
        CERT.write_text(certificate.write(block))
        if verdict == "PASS":  # the same block with PASS verifies: the verdict was the fault
            ok("cert", "verify")
            continue
        message = _refused()
        assert "does not verify: the REALM verdict is FAIL, not PASS\n" in message, message


def _build_args(d: Path) -> dict[str, Any]:
    realm = Realm.model_validate_json((d / "realm.json").read_text())
    return {
        "environment": "prod",
        "commit": "abc123",
        "timestamp": "2026-01-01T00:00:00+00:00",
        "ir_hash": realm.ir_hash,
        "plan": Plan.model_validate_json((d / "plan.json").read_text()),
        "realm": realm,
        "scores": Scores.model_validate_json((d / "scores.json").read_text()),
        "thresholds": {"scs": 0.8, "mri": 0.4, "tci": 0.7},
        "artifacts": {},
    }


# ---- validate-bundle -------------------------------------------------------------------------


def _invalid_bundle() -> str:
    result = wes("validate-bundle")
    assert result.code == 5, f"{result.code}: {result.stdout}{result.stderr}"
    return result.stderr


def test_validate_bundle_passes_after_a_good_flow(certified: Path) -> None:
    result = ok("validate-bundle", "--json").json()
    assert {"plan.json", "realm.json", "scores.json", "bundle.json"} <= set(result["files"])
    assert "thresholds met" in ok("validate-bundle").stdout


def test_validate_bundle_edited_artifact(certified: Path) -> None:
    with Path("out/schema.sql").open("a") as fh:
        fh.write("-- edited by hand\n")
    message = _invalid_bundle()
    assert "out/schema.sql: its SHA-256 differs from bundle.json" in message, message


def test_validate_bundle_file_fails_its_schema(certified: Path) -> None:
    realm = Path(".wesley/realm.json")
    realm.write_text(realm.read_text().replace('"verdict": "PASS"', '"verdict": "MAYBE"'))
    message = _invalid_bundle()
    assert ".wesley/realm.json: 'MAYBE' is not one of" in message, message


def test_validate_bundle_threshold_fails(certified: Path) -> None:
    Path("wesley.toml").write_text("[thresholds]\nmri = 0.01\n" + TOML_KEYS)
    ok("cert", "create", "--env", "prod")  # scores.json records the failing gate
    message = _invalid_bundle()
    assert ".wesley/scores.json: gate mri: 0.02 fails MRI <= 0.01" in message, message
