"""HOLMES, WATSON and MORIARTY on real evidence (a rehearsed, certified blade-v1 → blade-v2
flow): every verdict path, every citation kind re-opened, tampering of every kind of file,
weights and their overrides, forecasts on synthetic histories, signatures that are refused,
forced, and checked by `cert verify`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.lifecycle import TOML_KEYS, blade, ok, use, wes
from wesley.cert import certificate
from wesley.holmes.models import Citation, Investigation
from wesley.schemas import load

REPORT = Path(".wesley/holmes.json")
KINDS = ("sql", "types", "validation", "test", "tap", "risk", "status", "lock", "rehearsal")


@pytest.fixture
def flow(pg_admin_dsn: str) -> Path:
    """This test's cwd holds the blade flow: transformed, rehearsed (PASS), certified and
    signed by holmes and wat-sum (whose signing wrote holmes.json and watson.json)."""
    return use(blade(pg_admin_dsn))


def _report() -> Investigation:
    return Investigation.model_validate_json(REPORT.read_bytes())


def _citations(r: Investigation) -> list[Citation]:
    out: list[Citation] = []
    for e in r.elements:
        out += [c for cs in e.evidence.values() for c in cs]
        out += [c for a in e.assertions for c in (a.test, a.result) if c]
    out += [c for t in r.tables for a in t.assertions for c in (a.test, a.result) if c]
    out += [c for s in r.steps for c in s.citations] + r.rehearsal
    return out


def _cited_bytes(c: Citation) -> bytes:
    """The test's own reading of a citation (not Wesley's)."""
    if c.member is None:
        lines = Path(c.file).read_bytes().split(b"\n")
        return b"".join(line + b"\n" for line in lines[c.line - 1 : c.end])
    text = json.loads(Path(c.file).read_text())
    for part in c.member.split("."):
        text = text[part]
    return "".join(f"{line}\n" for line in text.split("\n")[c.line - 1 : c.end]).encode()


def _mismatch(*args: str) -> str:
    """`wesley holmes verify` exits 8 (WATSON_MISMATCH); its message."""
    result = wes("holmes", "verify", *args)
    assert result.code == 8, f"{result.code}: {result.stdout}{result.stderr}"
    assert "WATSON_MISMATCH" in result.stderr, result.stderr
    return result.stderr


def _investigate() -> dict[str, Any]:
    data: dict[str, Any] = ok("holmes", "investigate", "--json").json()["report"]
    return data


# ---- HOLMES: the report ----------------------------------------------------------------


def test_elementary_report_cites_every_kind_and_agrees_with_the_certificate(flow: Path) -> None:
    human = ok("holmes", "investigate")
    assert "### 🕵️ HOLMES investigation: ✅ ELEMENTARY" in human.stdout
    assert "#### Per table" in human.stdout and "| user | 1.00 (" in human.stdout
    assert "`out/schema.sql:" in human.stdout and "#tests.tap:" in human.stdout
    first = REPORT.read_bytes()
    r = _report()
    assert r.verdict == "ELEMENTARY" and not r.problems and not r.missing
    # every column of the IR is an element, with a weight and the reasons for it
    ir = json.loads(Path(".wesley/ir.json").read_text())
    assert [e.uid for e in r.elements] == [c["uid"] for t in ir["tables"] for c in t["columns"]]
    email = next(e for e in r.elements if e.column == "email")
    assert (email.weight, email.reasons) == (8, ["unique 8", "name *email* 8"])
    created = next(e for e in r.elements if e.column == "created_at")
    assert (created.weight, created.reasons) == (5, ["indexed 5"])
    # every kind of citation, each hash the SHA-256 of the bytes it cites
    cites = _citations(r)
    assert {c.kind for c in cites} == set(KINDS)
    for c in cites:
        raw = _cited_bytes(c)
        assert hashlib.sha256(raw).hexdigest() == c.sha256, c.where()
        assert all(claim in raw.decode() for claim in c.claims), c.where()
    # a lock the rehearsal observed, cited from realm.json, on every step
    step = next(s for s in r.steps if s.id.startswith("001-add_column"))
    assert step.observed_locks == ["user: ACCESS EXCLUSIVE"]
    assert any(c.kind == "lock" and '"ACCESS EXCLUSIVE"' in c.claims[0] for c in step.citations)
    # the scores are the scoring module's: the same numbers cert create put in the certificate
    block = certificate.read(Path("SHIPME.md").read_text())
    assert block["scores"] == {"scs": r.scores.scs.score, "mri": r.scores.mri.score,
                               "tci": r.scores.tci.score}  # fmt: skip
    assert sum(s.risk for s in r.steps) == int(r.scores.mri.breakdown["points"])
    # per table: the breakdown adds up to the scores
    [user] = r.tables
    assert (user.scs, user.mri_points) == (1.0, sum(s.risk for s in r.steps))
    assert sum(t for _, t in user.tci.values()) == block["tests"]["summary"]["passed"]
    # deterministic (its hash names it in the certificate) and valid against its schema
    ok("holmes", "investigate", "--quiet")
    assert REPORT.read_bytes() == first
    jsonschema.validate(json.loads(first), load("holmes.schema.json"))
    assert Path(".wesley/holmes.md").read_text() in ok("holmes", "investigate").stdout


def test_requires_investigation_one_gate(flow: Path) -> None:
    Path("wesley.toml").write_text("[thresholds]\nmri = 0.01\n" + TOML_KEYS)
    r = _investigate()
    assert r["verdict"] == "REQUIRES INVESTIGATION"
    assert "MRI 0.02 is above 0.01: fails" in r["reasons"]
    assert "SCS 1.00 >= 0.80: passes" in r["reasons"]
    assert "⚠️ REQUIRES INVESTIGATION" in Path(".wesley/holmes.md").read_text()
    ok("holmes", "verify")  # WATSON agrees: the verdict follows from the evidence


def test_you_shall_not_pass_two_gates(flow: Path) -> None:
    """No Zod schemas (a partial transform) and a tight MRI gate: two gates fail."""
    ok("transform", "--schema", "blade-v2.graphql", "--target", "postgres,pgtap,typescript")
    Path("wesley.toml").write_text("[thresholds]\nmri = 0.01\n" + TOML_KEYS)
    r = _investigate()
    assert r["verdict"] == "YOU SHALL NOT PASS"
    assert "SCS 0.00 is below 0.80: fails" in r["reasons"], r["reasons"]
    assert "MRI 0.02 is above 0.01: fails" in r["reasons"]
    assert "col:user.email: no validation evidence" in r["missing"]
    assert all(not e["covered"] for e in r["elements"])
    ok("holmes", "verify")


def test_you_shall_not_pass_when_evidence_does_not_hold(flow: Path) -> None:
    """Every gate passes, but a generated file was edited after transform."""
    with Path("out/types.ts").open("a") as fh:
        fh.write("// edited by hand\n")
    r = _investigate()
    assert r["verdict"] == "YOU SHALL NOT PASS"
    assert r["scores"]["readiness"] == "ELEMENTARY"  # the gates alone would pass
    assert "out/types.ts changed after wesley transform wrote it" in r["problems"]
    assert any("piece(s) of evidence do not hold" in x for x in r["reasons"])
    refused = wes("cert", "sign", "--signer", "holmes", "--key", "keys/holmes")
    assert refused.code == 8 and "out/types.ts changed after wesley transform" in refused.stderr


def test_no_rehearsal_is_you_shall_not_pass_and_says_what_is_missing() -> None:
    Path("s.graphql").write_text("type A @wes_table { id: ID! @wes_pk\n name: String }\n")
    ok("transform", "--schema", "s.graphql", "--quiet")
    r = _investigate()
    assert r["verdict"] == "YOU SHALL NOT PASS"
    assert "no rehearsal: nothing was executed" in r["reasons"]
    assert "no rehearsal (.wesley/realm.json): run wesley rehearse" in r["missing"]
    assert "col:a.name: assertion never ran: a.name exists" in r["missing"]
    ok("holmes", "verify")
    missing = wes("holmes", "investigate", "--dir", "elsewhere")
    assert missing.code == 8 and "EVIDENCE_MISSING" in missing.stderr


def test_a_big_schema_report_fits_a_pull_request_comment() -> None:
    tables = [f"type T{i} @wes_table {{ id: ID! @wes_pk\n a: String\n b: Int }}" for i in range(70)]
    Path("s.graphql").write_text("\n".join(tables))
    ok("transform", "--schema", "s.graphql", "--quiet")
    ok("holmes", "report", "--quiet")
    text = Path(".wesley/report.md").read_text()
    assert len(text) < 60_000, len(text)
    assert "… and 10 more tables in the JSON" in text
    assert "… and 150 more columns in the JSON" in text
    assert len(_report().elements) == 210  # the JSON has them all


def test_failed_rehearsal_assertion_is_missing_evidence(flow: Path) -> None:
    """A TAP line that says `not ok`: the assertion failed, HOLMES says which."""
    realm = json.loads(Path(".wesley/realm.json").read_text())
    tap = realm["tests"]["tap"].split("\n")
    i = next(i for i, line in enumerate(tap) if line.endswith("user.email is NOT NULL"))
    number = tap[i].split()[1]
    tap[i] = tap[i].replace("ok ", "not ok ", 1)
    realm["tests"]["tap"] = "\n".join(tap)
    Path(".wesley/realm.json").write_text(json.dumps(realm, indent=2, sort_keys=True) + "\n")
    r = _investigate()
    assert f"col:user.email: TAP {number} failed: user.email is NOT NULL" in r["missing"]
    assert r["scores"]["tci"]["score"] < 1.0
    ok("holmes", "verify")


# ---- WATSON: re-open every citation ----------------------------------------------------


_JSON_EDITS = (
    ('"applied"', '"skipped"'),
    ('"ACCESS EXCLUSIVE"', '"SHARE"'),
    ('"SHARE UPDATE EXCLUSIVE"', '"SHARE"'),
    ('"PASS"', '"FAIL"'),
    ("true", "false"),
)


def _edit_cited(c: Citation) -> None:
    """Change what the cited bytes say, keeping every file valid for its schema."""
    if c.member is not None:  # a TAP line inside realm.json
        data = json.loads(Path(c.file).read_text())
        lines = data["tests"]["tap"].split("\n")
        lines[c.line - 1] = (
            "not " + lines[c.line - 1]
            if lines[c.line - 1].startswith("ok")
            else lines[c.line - 1] + "0"
        )
        data["tests"]["tap"] = "\n".join(lines)
        Path(c.file).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        return
    lines = Path(c.file).read_text().split("\n")
    for n in range(c.line - 1, c.end):
        line = lines[n]
        if c.file.endswith(".json"):
            edit = next(((a, b) for a, b in _JSON_EDITS if a in line), None)
            if edit:
                lines[n] = line.replace(*edit, 1)
                break
            digits = [j for j, ch in enumerate(line) if ch.isdigit()]
            if digits:
                j = digits[-1]
                lines[n] = line[:j] + str((int(line[j]) + 1) % 10) + line[j + 1 :]
                break
            continue
        letters = [j for j, ch in enumerate(line) if ch.isalpha()]
        if letters:
            j = letters[-1]
            lines[n] = line[:j] + line[j].swapcase() + line[j + 1 :]
            break
    else:
        raise AssertionError(f"nothing to edit in {c.where()}")
    Path(c.file).write_text("\n".join(lines))


@pytest.mark.parametrize("kind", KINDS)
def test_each_citation_kind_tampered_is_caught(flow: Path, kind: str) -> None:
    ok("holmes", "verify")
    r = _report()
    cited = [c for c in _citations(r) if c.kind == kind]
    assert cited, kind
    c = cited[len(cited) // 2]
    _edit_cited(c)
    message = _mismatch()
    assert f"{c.where()}: the cited bytes changed" in message, message
    exam = json.loads(Path(".wesley/watson.json").read_text())
    assert exam["verdict"] == "FAILED" and exam["verified"] < exam["citations"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("out/schema.sql", "out/schema.sql changed since the investigation"),
        ("out/rls.sql", "out/rls.sql changed after wesley transform wrote it"),
        (".wesley/ir.json", ".wesley/ir.json changed since the investigation"),
        (".wesley/evidence-map.json", ".wesley/evidence-map.json changed since the investigation"),
        (".wesley/plan.json", ".wesley/plan.json changed since the investigation"),
        (".wesley/realm.json", ".wesley/realm.json changed since the investigation"),
        (".wesley/scores.json", ".wesley/scores.json changed after wesley cert create wrote it"),
    ],
)
def test_tampered_artifact_or_evidence_file(flow: Path, path: str, expected: str) -> None:
    """A change anywhere in the file, even outside every cited line."""
    ok("holmes", "verify")
    p = Path(path)
    p.write_bytes(p.read_bytes() + (b" " if path.endswith(".json") else b"-- edited\n"))
    assert expected in _mismatch()


def _sql(r: dict[str, Any]) -> dict[str, Any]:
    cite: dict[str, Any] = r["elements"][0]["evidence"]["sql"][0]
    return cite


REPORT_EDITS: dict[str, tuple[Any, str]] = {
    "weight": (
        lambda r: r["elements"][1].update(weight=10),
        "col:user.email: the report claims weight 10",
    ),
    "score": (
        lambda r: r["scores"]["mri"].update(score=0.01),
        "MRI: the report claims 0.01, derived 0.02",
    ),
    "step risk": (
        lambda r: max(r["steps"], key=lambda s: s["risk"]).update(risk=0),
        "risk points, .wesley/plan.json:",
    ),
    "verdict": (
        lambda r: r.update(verdict="REQUIRES INVESTIGATION"),
        "VERDICT: the report claims REQUIRES INVESTIGATION, derived ELEMENTARY",
    ),
    "hash": (lambda r: _sql(r).update(sha256="0" * 64), "the cited bytes changed"),
    "claim": (lambda r: _sql(r).update(claims=["DROP TABLE"]), "no longer says 'DROP TABLE'"),
    "element dropped": (
        lambda r: r["elements"].pop(),
        "the report leaves out col:user.created_at",
    ),
    "input": (
        lambda r: r["inputs"].update({"out/schema.sql": "0" * 64}),
        "out/schema.sql changed since the investigation",
    ),
    "table": (
        lambda r: r["tables"][0].update(scs=0.5),
        "table user: the report claims SCS 0.5",
    ),
}


@pytest.mark.parametrize("name", REPORT_EDITS)
def test_tampered_report(flow: Path, name: str) -> None:
    edit, expected = REPORT_EDITS[name]
    ok("holmes", "investigate", "--quiet")
    data = json.loads(REPORT.read_text())
    edit(data)
    REPORT.write_text(json.dumps(data, indent=2))
    Path(".wesley/holmes.md").unlink()  # only the JSON is edited here
    assert expected in _mismatch()


def test_tampered_markdown_and_unreadable_report(flow: Path) -> None:
    ok("holmes", "investigate", "--quiet")
    md = Path(".wesley/holmes.md")
    md.write_text(md.read_text().replace("ELEMENTARY", "ELEMENTARY!", 1))
    assert ".wesley/holmes.md is not the rendering of .wesley/holmes.json" in _mismatch()
    REPORT.write_text('{"version": 1}')
    assert ".wesley/holmes.json is not a HOLMES report" in _mismatch()
    REPORT.unlink()
    missing = wes("holmes", "verify")
    assert missing.code == 8 and "EVIDENCE_MISSING" in missing.stderr
    assert "run wesley holmes investigate first" in missing.stderr


def test_watson_report_and_json(flow: Path) -> None:
    ok("holmes", "investigate", "--quiet")
    data = ok("holmes", "verify", "--json").json()["report"]
    assert data["verdict"] == "PASSED" and data["mismatches"] == []
    assert data["verified"] == data["citations"] == len(_citations(_report()))
    assert data["report_sha256"] == hashlib.sha256(REPORT.read_bytes()).hexdigest()
    assert all(d["agrees"] for d in data["scores"].values())
    jsonschema.validate(
        json.loads(Path(".wesley/watson.json").read_text()), load("watson.schema.json")
    )
    assert "### 🩺 WATSON verification: ✅ PASSED" in ok("holmes", "verify").stdout


# ---- weights ---------------------------------------------------------------------------


def test_weights_overrides_in_wesley_toml(flow: Path) -> None:
    Path("wesley.toml").write_text(
        TOML_KEYS.replace("[cert]", "[weights]\nunique = 6\nindexed = 2\n\n"
                          "[weights.overrides]\n\"user.id\" = 4\n\"col:ghost.*\" = 9\n\n[cert]")
    )  # fmt: skip
    r = _investigate()
    weights = {e["column"]: (e["weight"], e["reasons"]) for e in r["elements"]}
    assert weights["id"] == (4, ["[weights.overrides] 'user.id' 4"])
    assert weights["email"] == (8, ["unique 6", "name *email* 8"])
    assert weights["created_at"] == (2, ["indexed 2"])
    assert r["unused_overrides"] == ["col:ghost.*"]
    warned = ok("holmes", "investigate", "--quiet")
    assert warned.stderr == ""  # --quiet
    warned = ok("holmes", "investigate")
    assert (
        "warning[W_WEIGHT_UNUSED]: wesley.toml: [weights.overrides] 'col:ghost.*'" in warned.stderr
    )
    assert r["weights"]["source"] == "wesley.toml [weights]"
    assert "overrides that match no column: col:ghost.*" in Path(".wesley/holmes.md").read_text()
    ok("holmes", "verify")
    # the rules change after the investigation: WATSON re-derives and disagrees
    Path("wesley.toml").write_text(TOML_KEYS.replace("[cert]", "[weights]\nunique = 7\n\n[cert]"))
    message = _mismatch()
    assert "the weight rules differ from wesley.toml's [weights]" in message
    assert "col:user.email: the report claims weight 8 (unique 6, name *email* 8)" in message


@pytest.mark.parametrize(
    "toml",
    ["[weights]\npk = 11", "[weights]\npk = true", "[weights]\nprimary = 3",
     '[weights.names]\n"*_id" = "high"', "[weights]\nnames = 3", "weights = 3"],
)  # fmt: skip
def test_bad_weights_config_is_bad_input(toml: str) -> None:
    Path("s.graphql").write_text("type A @wes_table { id: ID! @wes_pk }\n")
    Path("wesley.toml").write_text(toml + "\n")
    result = wes("transform", "--schema", "s.graphql")
    assert result.code == 2, result.stderr
    assert "CONFIG_INVALID" in result.stderr and "weights" in result.stderr
    assert not Path("out").exists() and not Path(".wesley").exists()  # refused before work
    rehearse = wes("rehearse", "--schema", "s.graphql", "--dry-run")
    assert rehearse.code == 2 and "CONFIG_INVALID" in rehearse.stderr


@pytest.mark.parametrize(
    ("roles", "expected"),
    [('lestrade = "x"', "'lestrade' is not a role"), ('holmes = "wat-sum"', "both roles"),
     ("holmes = 3", "must name a signer")],
)  # fmt: skip
def test_bad_roles_config_is_bad_input(flow: Path, roles: str, expected: str) -> None:
    Path("wesley.toml").write_text(TOML_KEYS + f"\n[cert.roles]\n{roles}\n")
    result = wes("cert", "sign", "--signer", "holmes", "--key", "keys/holmes")
    assert result.code == 2 and "CONFIG_INVALID" in result.stderr, result.stderr
    assert expected in result.stderr


# ---- signatures mean something ---------------------------------------------------------


def test_signatures_carry_the_reports(flow: Path) -> None:
    block = certificate.read(Path("SHIPME.md").read_text())
    by = {s["signer"]: s["attestation"] for s in block["signatures"]}
    holmes, watson = by["holmes"], by["wat-sum"]
    assert holmes["role"] == "holmes" and holmes["verdict"] == "ELEMENTARY"
    assert holmes["sha256"] == hashlib.sha256(REPORT.read_bytes()).hexdigest()
    assert watson["role"] == "watson" and watson["verdict"] == "PASSED"
    assert watson["holmes_sha256"] == holmes["sha256"]
    assert watson["sha256"] == hashlib.sha256(Path(".wesley/watson.json").read_bytes()).hexdigest()
    assert "forced" not in holmes and "forced" not in watson
    assert "holmes (" in Path("SHIPME.md").read_text()
    assert f"HOLMES ELEMENTARY, report {holmes['sha256'][:12]}" in Path("SHIPME.md").read_text()
    ok("cert", "verify")


def _verify_refused() -> str:
    result = wes("cert", "verify")
    assert result.code == 8, result.stderr
    return result.stderr


def test_cert_verify_checks_the_report_hashes(flow: Path) -> None:
    original = REPORT.read_bytes()
    REPORT.write_bytes(original.replace(b'"ELEMENTARY"', b'"ELEMENTARY" ', 1))
    assert (
        "the HOLMES report .wesley/holmes.json changed since holmes signed it" in _verify_refused()
    )
    REPORT.unlink()
    assert (
        "the HOLMES report .wesley/holmes.json that holmes signed is missing" in _verify_refused()
    )
    REPORT.write_bytes(original)
    ok("cert", "verify")
    Path(".wesley/watson.json").unlink()
    assert (
        "the WATSON report .wesley/watson.json that wat-sum signed is missing" in _verify_refused()
    )


def test_a_signature_without_report_is_refused(flow: Path) -> None:
    """A role signer's signature made without an investigation (library, older Wesley)."""
    block = certificate.read(Path("SHIPME.md").read_text())
    from wesley.cert.keys import load_private

    plain = certificate.sign(block, "holmes", load_private(Path("keys/holmes")))
    Path("SHIPME.md").write_text(certificate.write(plain))
    assert "signature of holmes carries no HOLMES report" in _verify_refused()


def test_signing_refused_then_forced(flow: Path) -> None:
    Path("wesley.toml").write_text("[thresholds]\nmri = 0.01\n" + TOML_KEYS)
    ok("cert", "create", "--env", "prod", "--quiet")
    refused = wes("cert", "sign", "--signer", "holmes", "--key", "keys/holmes")
    assert refused.code == 8 and "SIGN_REFUSED" in refused.stderr
    assert "the investigation says REQUIRES INVESTIGATION" in refused.stderr
    assert "MRI 0.02 is above 0.01" in refused.stderr
    assert certificate.read(Path("SHIPME.md").read_text())["signatures"] == []
    forced = ok("cert", "sign", "--signer", "holmes", "--key", "keys/holmes", "--force")
    assert "--force: holmes signs for HOLMES despite" in forced.stderr
    assert "[FORCED]" in forced.stdout
    text = Path("SHIPME.md").read_text()
    assert "HOLMES REQUIRES INVESTIGATION" in text and "FORCED" in text
    [entry] = certificate.read(text)["signatures"]
    assert entry["attestation"]["forced"] is True
    agrees = ok("cert", "sign", "--signer", "wat-sum", "--key", "keys/wat-sum")  # WATSON agrees
    # the REALM verdict is PASS, so no --force is needed, but the failing gate is said
    assert "warning: signing although MRI 0.02 is above 0.01: verify will refuse" in (agrees.stderr)
    message = _verify_refused()
    assert "MRI 0.02 is above 0.01" in message  # the gate still refuses it
    # a policy that accepts the MRI: the forced signature verifies, and verify says so
    Path("wesley.toml").write_text("[thresholds]\nmri = 0.5\n" + TOML_KEYS)
    result = ok("cert", "verify")
    assert "holmes signed for HOLMES with --force: its report says REQUIRES INVESTIGATION" in (
        result.stdout
    )


def test_wat_sum_refused_when_watson_finds_a_mismatch(flow: Path) -> None:
    ok("cert", "create", "--env", "prod", "--quiet")
    ok("cert", "sign", "--signer", "holmes", "--key", "keys/holmes", "--quiet")
    data = json.loads(REPORT.read_text())
    data["elements"][0]["weight"] = 1
    REPORT.write_text(json.dumps(data, indent=2))
    refused = wes("cert", "sign", "--signer", "wat-sum", "--key", "keys/wat-sum")
    assert refused.code == 8 and "SIGN_REFUSED" in refused.stderr
    assert "WATSON's verification FAILED" in refused.stderr
    assert "col:user.id: the report claims weight 1" in refused.stderr
    ok("cert", "sign", "--signer", "wat-sum", "--key", "keys/wat-sum", "--force", "--quiet")
    message = _verify_refused()
    assert "changed since holmes signed it" in message  # the edited HOLMES report


def test_the_bundle_must_be_the_certificates(flow: Path) -> None:
    """A certificate made, then the evidence changes: HOLMES investigates another bundle."""
    ok("cert", "create", "--env", "prod", "--quiet")
    ok("transform", "--schema", "blade-v1.graphql", "--quiet")  # another schema
    refused = wes("cert", "sign", "--signer", "holmes", "--key", "keys/holmes")
    assert refused.code == 8, refused.stderr
    assert "investigates another schema (ir_hash) than the certificate's" in refused.stderr


def test_roles_map_to_configured_signer_names(flow: Path) -> None:
    for name in ("alice", "bob"):
        ok("cert", "keygen", "--signer", name, "--out", f"keys/{name}", "--quiet")
    Path("wesley.toml").write_text(
        '[cert]\nrequire = ["alice", "bob"]\n\n[cert.roles]\nholmes = "alice"\nwatson = "Bob"\n\n'
        '[cert.keys]\nalice = "keys/alice.pub"\nbob = "keys/bob.pub"\nholmes = "keys/holmes.pub"\n'
    )
    ok("cert", "create", "--env", "prod", "--quiet")
    ok("cert", "sign", "--signer", "alice", "--key", "keys/alice", "--quiet")
    ok("cert", "sign", "--signer", "bob", "--key", "keys/bob", "--quiet")
    ok("cert", "sign", "--signer", "holmes", "--key", "keys/holmes", "--quiet")  # no role now
    signatures = certificate.read(Path("SHIPME.md").read_text())["signatures"]
    by = {s["signer"]: s.get("attestation") for s in signatures}
    assert by["alice"]["role"] == "holmes" and by["bob"]["role"] == "watson"
    assert by["holmes"] is None
    ok("cert", "verify")
    Path(".wesley/holmes.json").write_text("{}")
    assert "changed since alice signed it" in _verify_refused()


# ---- MORIARTY: history and the CLI -----------------------------------------------------


def test_history_from_transform_and_rehearse(flow: Path) -> None:
    history = json.loads(Path(".wesley/history.json").read_text())
    jsonschema.validate(history, load("history.schema.json"))
    kinds = [p["kind"] for p in history["points"]]
    assert kinds == ["transform", "rehearse"], kinds
    rehearsal = history["points"][1]
    assert rehearsal["scores"] == {"scs": 1.0, "mri": 0.02, "tci": 1.0}
    assert rehearsal["readiness"] == "ELEMENTARY" and rehearsal["counts"]["tests_passed"] == 16
    ok("transform", "--schema", "blade-v2.graphql", "--quiet")  # nothing changed: no point
    assert len(json.loads(Path(".wesley/history.json").read_text())["points"]) == 2
    fc = ok("holmes", "predict", "--json").json()["forecast"]
    assert fc["status"] == "OK" and fc["points"] == 2 and fc["ready_now"] is True
    assert fc["summary"] == "ready now: every gate is met", fc["summary"]
    assert [t["trend"] for t in fc["trends"]] == ["plateau", "insufficient", "insufficient"]
    ok("transform", "--schema", "blade-v1.graphql", "--quiet")  # a change: a point
    assert len(json.loads(Path(".wesley/history.json").read_text())["points"]) == 3


def test_report_command_writes_all_three(flow: Path) -> None:
    result = ok("holmes", "report", "--out", "pr-comment.md")
    text = Path("pr-comment.md").read_text()
    assert text == result.stdout
    assert text.startswith("## Wesley HOLMES report\n")
    for part in ("HOLMES investigation: ✅ ELEMENTARY", "WATSON verification: ✅ PASSED",
                 "MORIARTY forecast", "<details>"):  # fmt: skip
        assert part in text, part
    data = ok("holmes", "report", "--json").json()
    assert set(data) >= {"investigation", "verification", "forecast", "investigation_sha256"}
    assert Path(".wesley/report.md").is_file()
    Path("out/zod.ts").write_text("// emptied\n")
    failed = wes("holmes", "report")
    assert failed.code == 8 and "WATSON_MISMATCH" not in failed.stdout  # Markdown on stdout
    assert "HOLMES investigation: ⛔ YOU SHALL NOT PASS" in Path(".wesley/report.md").read_text()
