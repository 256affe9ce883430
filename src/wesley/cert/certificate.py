"""Create, sign and verify SHIPME.md (DESIGN §7)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from wesley import __version__
from wesley.cert.binding import describe_target
from wesley.cert.keys import key_id
from wesley.cert.shipme import canonical_bytes, invalid, render, split
from wesley.evidence.scores import Scores
from wesley.plan.build import DEFAULT_BATCH_SIZE
from wesley.plan.models import Plan
from wesley.plan.summary import blocking_locks, created_tables
from wesley.realm.models import Realm

BADGE_OK, BADGE_BAD = "✅", "❌"


def build_block(
    *,
    environment: str,
    commit: str,
    timestamp: str,
    ir_hash: str,
    plan: Plan,
    realm: Realm,
    scores: Scores,
    thresholds: dict[str, float],
    artifacts: dict[str, str],
    target: dict[str, str] | None = None,
) -> dict[str, Any]:
    phases: dict[str, int] = {}
    for s in plan.steps:
        phases[s.phase] = phases.get(s.phase, 0) + 1
    new = created_tables(plan)  # a lock on a table the plan creates blocks nobody
    strongest = sorted(
        {f"{lk.relation}: {lk.mode}" for s in plan.steps for lk in blocking_locks(s, new)}
    )
    return {
        "tool_version": __version__,
        "commit": commit,
        "environment": environment,
        "target": target,  # None: any target
        "timestamp": timestamp,
        "ir_hash": ir_hash,
        "plan_hash": plan.plan_hash,
        "artifact_hashes": dict(sorted(artifacts.items())),
        "scores": {"scs": scores.scs.score, "mri": scores.mri.score, "tci": scores.tci.score},
        "thresholds": thresholds,
        "readiness": scores.readiness,
        "plan": {
            "summary": {
                "steps": len(plan.steps),
                "phases": phases,
                "destructive": [
                    f"{r.change} {r.table}{'.' + r.column if r.column else ''}"
                    for r in plan.destructive
                ],
                "allow_destructive": plan.allow_destructive,
                "behaviour_changes": [f"{b.kind} {b.table}" for b in plan.behaviour_changes],
                # deploy rebuilds the plan with it: the hash covers the batches' SQL
                "batch_size": next(
                    (s.backfill.batch_size for s in plan.steps if s.backfill), DEFAULT_BATCH_SIZE
                ),
                "server_version": plan.server_version,
                "write_blocking_locks": strongest,
                # deploy stops after the switch; deploy --complete runs the contract
                "two_stage": plan.two_stage,
                "search_paths": {
                    "old": plan.compat.old_search_path,
                    "new": plan.compat.new_search_path,
                }
                if plan.compat
                else None,
            }
        },
        "tests": {
            "summary": {
                "planned": realm.tests.planned,
                "passed": realm.tests.passed,
                "failed": realm.tests.failed,
                "skipped": realm.tests.skipped,
            }
        },
        "realm": {
            "verdict": realm.verdict,
            "server_version": realm.server_version,
            "timings": realm.timings,
            # deploy insists on a passed rehearsal on the target's major, of its plan
            "rehearsals": [
                {
                    "major": r.major,
                    "server_version": r.server_version,
                    "verdict": r.verdict,
                    "plan_hash": r.plan_hash,
                }
                for r in realm.rehearsals
            ],
        },
        "signatures": [],
    }


def gates_pass(block: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """The gates the block fails under `thresholds`, in words (empty: all pass)."""
    s = block.get("scores", {})
    failed = []
    if not s.get("scs", 0) >= thresholds["scs"]:
        failed.append(f"SCS {s.get('scs')} is below {thresholds['scs']}")
    if not s.get("mri", 1) <= thresholds["mri"]:
        failed.append(f"MRI {s.get('mri')} is above {thresholds['mri']}")
    if not s.get("tci", 0) >= thresholds["tci"]:
        failed.append(f"TCI {s.get('tci')} is below {thresholds['tci']}")
    return failed


def unfit(block: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """Why verify would refuse this certificate whatever its signatures: a REALM verdict
    other than PASS, failed gates (empty: fit to sign)."""
    verdict = block.get("realm", {}).get("verdict")
    problems = [] if verdict == "PASS" else [f"its REALM verdict is {verdict}, not PASS"]
    return problems + gates_pass(block, thresholds)


def badge(block: dict[str, Any], thresholds: dict[str, float]) -> str:
    s = block.get("scores", {})
    verdict = block.get("realm", {}).get("verdict", "?")
    ok = verdict == "PASS" and not gates_pass(block, thresholds)
    return (
        f"[REALM] {verdict} — SCS {s.get('scs', 0):.2f} · MRI {s.get('mri', 0):.2f} · "
        f"TCI {s.get('tci', 0):.2f} {BADGE_OK if ok else BADGE_BAD}"
    )


def summary(block: dict[str, Any]) -> str:
    """The human part, derived from the block alone (verify checks it was not edited)."""
    p, t = block["plan"]["summary"], block["tests"]["summary"]
    lines = [
        "# SHIPME",
        "",
        badge(block, block["thresholds"]),
        "",
        f"- environment: {block['environment']}",
        # certificates made before targets existed have no such key (and no line)
        *([f"- target: {describe_target(block['target'])}"] if "target" in block else []),
        f"- readiness: {block['readiness']}",
        f"- commit: {block['commit']}",
        f"- plan: {p['steps']} steps ("
        + ", ".join(f"{k} {v}" for k, v in sorted(p["phases"].items()))
        + ")"
        + f", plan_hash {block['plan_hash'][:12]}",
        f"- destructive: {', '.join(p['destructive']) or 'none'}",
        "- behaviour changes (rows the application sees change, without an error): "
        + (", ".join(p.get("behaviour_changes", [])) or "none"),
        f"- write-blocking locks: {', '.join(p['write_blocking_locks']) or 'none'}",
        *_stage_lines(p),
        f"- tests: {t['passed']}/{t['planned']} pgTAP assertions passed in the rehearsal",
        *_rehearsed_on(block),
        "- signed by: " + (", ".join(_signed_by(s) for s in block["signatures"]) or "nobody yet"),
    ]
    return "\n".join(lines)


def _stage_lines(p: dict[str, Any]) -> list[str]:
    """Certificates made before two-stage plans existed have no such keys (and no line)."""
    if "two_stage" not in p:
        return []
    if not p["two_stage"]:
        return ["- stages: one (deploy runs the whole plan)"]
    line = "- stages: two (deploy runs expand -> switch; deploy --complete runs the contract"
    paths = p.get("search_paths")
    if paths:
        line += f"; search_path old version: {paths['old']}, new version: {paths['new']}"
    return [line + ")"]


def _signed_by(s: dict[str, Any]) -> str:
    text = f"{s['signer']} ({s['key_id'][:12]}"
    att = s.get("attestation")
    if isinstance(att, dict):  # what the signer vouches for: its role's report
        text += f"; {str(att['role']).upper()} {att['verdict']}, report {str(att['sha256'])[:12]}"
        text += ", FORCED" if att.get("forced") else ""
    return text + ")"


def signed_bytes(block: dict[str, Any], attestation: dict[str, Any] | None = None) -> bytes:
    """What a signer signs: the block without signatures; with an attestation, the canonical
    JSON of {"attestation": ..., "certificate": <the block without signatures>}."""
    if attestation is None:
        return canonical_bytes(block)
    body = {k: v for k, v in block.items() if k != "signatures"}
    return canonical_bytes({"attestation": attestation, "certificate": body})


def _rehearsed_on(block: dict[str, Any]) -> list[str]:
    # only certificates that record them: older summaries stay byte-identical
    done = block["realm"].get("rehearsals")
    if not done:
        return []
    return [
        "- rehearsed on: "
        + ", ".join(f"PostgreSQL {_version(r['server_version'])} {r['verdict']}" for r in done)
    ]


def _version(number: int) -> str:
    return f"{number // 10000}.{number % 10000}"


def rehearsals(block: dict[str, Any]) -> list[dict[str, Any]]:
    """The majors the certified plan was rehearsed on: `{major, server_version, verdict,
    plan_hash}` each. A certificate made before these were recorded has one: its shadow's
    major, with the plan it names."""
    realm = block.get("realm", {})
    recorded = realm.get("rehearsals")
    if isinstance(recorded, list):
        return [r for r in recorded if isinstance(r, dict)]
    shadow = realm.get("server_version")
    planned = block.get("plan", {}).get("summary", {}).get("server_version")
    if not isinstance(shadow, int) or not isinstance(planned, int):
        return []
    return [
        {
            "major": shadow // 10000,
            "server_version": planned,
            "verdict": realm.get("verdict"),
            "plan_hash": block.get("plan_hash"),
        }
    ]


def write(block: dict[str, Any]) -> str:
    return render(summary(block), block)


def read(text: str) -> dict[str, Any]:
    head, block = split(text)
    try:
        expected = summary(block)
    except (KeyError, TypeError, AttributeError, ValueError):
        raise invalid(
            "the certificate's JSON lacks required fields", "recreate it with wesley cert create"
        ) from None
    if head != expected:
        raise invalid(
            "the certificate's summary does not match its JSON block",
            "the file was edited: recreate and sign it again",
        )
    if text != render(expected, block):  # any other byte: blank lines, trailing space
        raise invalid(
            "the certificate is not byte-for-byte as Wesley wrote it",
            "the file was edited: recreate and sign it again",
        )
    return block


def strict_b64decode(text: str) -> bytes:
    """Base64 with exactly one spelling: padding bits must be zero (`AQ==`, never `Ab==`),
    so a signature cannot be re-spelled into a second valid-looking certificate."""
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return raw


def sign(
    block: dict[str, Any],
    signer: str,
    key: Ed25519PrivateKey,
    attestation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    sig = key.sign(signed_bytes(block, attestation))
    entry = {
        "signer": signer,
        "key_id": key_id(key.public_key()),
        "alg": "ed25519",
        "sig": base64.b64encode(sig).decode("ascii"),
        **({"attestation": attestation} if attestation is not None else {}),
    }
    others = [s for s in block.get("signatures", []) if s.get("signer") != signer]
    return {**block, "signatures": sorted([*others, entry], key=lambda s: s["signer"])}


@dataclass
class Verification:
    ok: bool
    signers: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    block: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def verify(
    text: str,
    trusted: dict[str, Ed25519PublicKey],
    require: list[str],
    thresholds: dict[str, float],
    names: dict[str, str] | None = None,
) -> Verification:
    """`trusted`: key_id → public key; `names`: key_id → the signer a key belongs to (from
    wesley.toml). Every signature must verify with a trusted key, a named key only for its
    signer, and one key counts for one signer only; the required signers must be among them;
    the gates must pass; the REALM verdict must be PASS."""
    names = names or {}
    used: dict[str, str] = {}
    result = Verification(ok=False)
    try:
        block = read(text)
    except Exception as exc:
        result.failures.append(str(getattr(exc, "message", exc)))
        return result
    result.block = block
    signatures = block.get("signatures", [])
    if not isinstance(signatures, list) or not signatures:
        result.failures.append("the certificate is not signed")
    for n, s in enumerate(signatures if isinstance(signatures, list) else [], 1):
        fields = ("signer", "key_id", "alg", "sig")
        if not isinstance(s, dict) or not all(isinstance(s.get(f), str) for f in fields):
            result.failures.append(f"signature {n} is malformed: {', '.join(fields)} are text")
            continue
        name, kid = s["signer"], s["key_id"]
        attestation = s.get("attestation")
        if attestation is not None and not isinstance(attestation, dict):
            result.failures.append(f"signature {n} is malformed: its attestation is not an object")
            continue
        key = trusted.get(kid)
        if key is None:
            result.failures.append(f"signature of {name}: key {str(kid)[:12]} is not trusted")
            continue
        try:
            sig = strict_b64decode(str(s.get("sig", "")))
        except ValueError:
            result.failures.append(f"signature of {name} is not canonical base64")
            continue
        try:
            key.verify(sig, signed_bytes(block, attestation))
        except InvalidSignature:
            result.failures.append(f"signature of {name} does not match the certificate")
            continue
        if s.get("alg") != "ed25519":
            result.failures.append(f"signature of {name}: algorithm {s.get('alg')!r}")
            continue
        owner = names.get(kid)
        if owner is not None and owner.lower() != str(name).lower():
            result.failures.append(f"signature of {name} was made with the key of {owner}")
            continue
        if kid in used:
            result.failures.append(
                f"signature of {name} was made with the same key as {used[kid]}'s: "
                "one key counts for one signer"
            )
            continue
        used[kid] = str(name)
        result.signers.append(str(name))
    for needed in require:
        if needed.lower() not in (n.lower() for n in result.signers):
            result.failures.append(f"required signer {needed} has no valid signature")
    result.failures.extend(gates_pass(block, thresholds))
    verdict = block.get("realm", {}).get("verdict")
    if verdict != "PASS":
        result.failures.append(f"the REALM verdict is {verdict}, not PASS")
    result.ok = not result.failures
    return result


def trusted_keys(paths: list[Path]) -> dict[str, Ed25519PublicKey]:
    from wesley.cert.keys import load_public

    keys = {}
    for path in paths:
        key = load_public(path)
        keys[key_id(key)] = key
    return keys


def signer_names(named: dict[str, Path]) -> dict[str, str]:
    """key_id → signer, for keys configured by name (`[cert.keys] holmes = "holmes.pub"`)."""
    from wesley.cert.keys import load_public

    return {key_id(load_public(path)): name for name, path in named.items()}
