"""`cert create`: score the evidence bundle, refresh bundle.json, write SHIPME.md (unsigned)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wesley.cert import certificate
from wesley.cert.settings import cert_error, cert_settings
from wesley.evidence.models import Bundle, EvidenceMap
from wesley.evidence.scores import Scores, compute_scores
from wesley.evidence.weights import weights_from
from wesley.files import write_atomic
from wesley.ir import ir_from_json, sha256_hex
from wesley.plan.models import Plan
from wesley.realm.models import Realm


def read_evidence(directory: Path, name: str, step: str) -> Any:
    path = directory / name
    if not path.is_file():
        raise cert_error("EVIDENCE_MISSING", f"{path} does not exist", f"run {step} first")
    return json.loads(path.read_text(encoding="utf-8"))


def git_commit() -> str:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return proc.stdout.strip() if proc.returncode == 0 else "unknown"


def dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class Created:
    block: dict[str, Any]
    scores: Scores
    realm: Realm
    thresholds: dict[str, float]


def create_certificate(
    *,
    environment: str,
    out_path: Path,
    commit: str | None,
    bundle_dir: Path,
    target: dict[str, str] | None,
    config: dict[str, Any],
) -> Created:
    ir = ir_from_json(read_evidence(bundle_dir, "ir.json", "wesley transform"))
    evidence = EvidenceMap.model_validate(
        read_evidence(bundle_dir, "evidence-map.json", "wesley transform")
    )
    plan = Plan.model_validate(read_evidence(bundle_dir, "plan.json", "wesley rehearse"))
    realm = Realm.model_validate(read_evidence(bundle_dir, "realm.json", "wesley rehearse"))
    bundle = Bundle.model_validate(read_evidence(bundle_dir, "bundle.json", "wesley transform"))
    if realm.plan_hash != plan.plan_hash:
        raise cert_error(
            "EVIDENCE_MISMATCH",
            "realm.json rehearsed another plan than plan.json holds",
            "run wesley rehearse again",
        )
    if realm.ir_hash != bundle.ir_hash:
        raise cert_error(
            "EVIDENCE_MISMATCH",
            "the rehearsal was for another schema than the last transform",
            "run wesley transform and wesley rehearse on the same schema",
        )
    thresholds = cert_settings(config).thresholds
    scores = compute_scores(ir, evidence, plan, realm, thresholds, weights_from(config))
    write_atomic(bundle_dir / "scores.json", dump(scores.model_dump(mode="json")))
    files = dict(bundle.files)
    for name in ("plan.json", "realm.json", "scores.json"):
        files[name] = sha256_hex((bundle_dir / name).read_bytes())
    bundle = bundle.model_copy(update={"files": dict(sorted(files.items()))})
    write_atomic(bundle_dir / "bundle.json", dump(bundle.model_dump(mode="json")))
    artifacts = {a.path: a.sha256 for a in bundle.artifacts}
    artifacts.update({f"{bundle_dir.as_posix()}/{k}": v for k, v in bundle.files.items()})
    block = certificate.build_block(
        environment=environment,
        commit=commit or git_commit(),
        timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
        ir_hash=bundle.ir_hash,
        plan=plan,
        realm=realm,
        scores=scores,
        thresholds=thresholds,
        artifacts=artifacts,
        target=target,
    )
    write_atomic(out_path, certificate.write(block))
    return Created(block, scores, realm, thresholds)
