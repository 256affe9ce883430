"""The evidence HOLMES and WATSON read (`.wesley/`), and the rules that say whether it
belongs together. Both read it through the same `Sources`, so every byte is read once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from wesley.errors import ExitCode, WesleyError
from wesley.evidence.models import Bundle, EvidenceMap
from wesley.holmes.cite import Sources
from wesley.ir import IR, ir_hash
from wesley.plan.models import Plan
from wesley.realm.models import Realm

M = TypeVar("M", bound=BaseModel)


def evidence_error(code: str, message: str, hint: str) -> WesleyError:
    return WesleyError(code, message, hint, exit_code=ExitCode.CERT_INVALID)


@dataclass
class Evidence:
    dir: str  # '/'-separated, as citations name it
    sources: Sources
    ir: IR
    evidence: EvidenceMap
    record: Bundle | None
    plan: Plan | None
    realm: Realm | None

    def path(self, name: str) -> str:
        return f"{self.dir}/{name}"

    @property
    def files(self) -> list[str]:
        """The evidence files read (bundle.json aside: cert create rewrites it)."""
        names = ["ir.json", "evidence-map.json"]
        names += ["plan.json"] if self.plan else []
        names += ["realm.json"] if self.realm else []
        return [self.path(n) for n in names]


def _model(sources: Sources, path: str, model: type[M], step: str, required: bool) -> M | None:
    data: Any = sources.json(path)
    if data is None:
        if sources.raw(path) is None:
            if not required:
                return None
            raise evidence_error("EVIDENCE_MISSING", f"{path} does not exist", f"run {step} first")
        raise evidence_error(
            "EVIDENCE_INVALID", f"{path} is not JSON", f"run {step} again; do not edit .wesley"
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise evidence_error(
            "EVIDENCE_INVALID",
            f"{path} is not a valid {model.__name__} ({where}: {first['msg']})",
            f"run {step} again; do not edit .wesley",
        ) from None


def load(bundle_dir: Path, sources: Sources | None = None) -> Evidence:
    src = sources or Sources()
    d = bundle_dir.as_posix().rstrip("/") or "."
    ir = _model(src, f"{d}/ir.json", IR, "wesley transform", True)
    evidence = _model(src, f"{d}/evidence-map.json", EvidenceMap, "wesley transform", True)
    assert ir is not None and evidence is not None
    return Evidence(
        dir=d,
        sources=src,
        ir=ir,
        evidence=evidence,
        record=_model(src, f"{d}/bundle.json", Bundle, "wesley transform", False),
        plan=_model(src, f"{d}/plan.json", Plan, "wesley rehearse", False),
        realm=_model(src, f"{d}/realm.json", Realm, "wesley rehearse", False),
    )


def integrity(ev: Evidence) -> list[str]:
    """What does not belong together: each entry is evidence that does not hold."""
    problems: list[str] = []
    digest = ir_hash(ev.ir)
    if ev.evidence.ir_hash != digest:
        problems.append(
            f"{ev.path('evidence-map.json')} is for another schema than {ev.path('ir.json')}"
        )
    if ev.record is None:
        problems.append(f"{ev.path('bundle.json')} is missing: nothing records the artifacts")
    else:
        if ev.record.ir_hash != digest:
            problems.append(f"{ev.path('bundle.json')} is for another schema")
        for a in ev.record.artifacts:
            found = ev.sources.sha256(a.path)
            if found is None:
                problems.append(f"{a.path} (in bundle.json) is missing")
            elif found != a.sha256:
                problems.append(f"{a.path} changed after wesley transform wrote it")
        for name in ("ir.json", "evidence-map.json"):
            recorded = ev.record.files.get(name)
            if recorded is not None and recorded != ev.sources.sha256(ev.path(name)):
                problems.append(f"{ev.path(name)} changed after wesley transform wrote it")
    if ev.plan is not None and ev.plan.to_ir_hash != digest:
        problems.append(f"{ev.path('plan.json')} plans another schema than the last transform")
    if ev.realm is not None:
        if ev.realm.ir_hash != digest:
            problems.append(f"{ev.path('realm.json')} rehearsed another schema")
        if ev.plan is not None and ev.realm.plan_hash != ev.plan.plan_hash:
            problems.append(f"{ev.path('realm.json')} rehearsed another plan than plan.json")
    return problems
