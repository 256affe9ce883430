"""`validate-bundle`: every evidence file against its JSON Schema, every hash in bundle.json,
and the gates in scores.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from wesley.ir import sha256_hex
from wesley.schemas import load

EVIDENCE_SCHEMAS = {
    "ir.json": "ir.schema.json",
    "snapshot.json": "snapshot.schema.json",
    "deployed.json": "deployed.schema.json",
    "evidence-map.json": "evidence-map.schema.json",
    "bundle.json": "bundle.schema.json",
    "plan.json": "plan.schema.json",
    "realm.json": "realm.schema.json",
    "scores.json": "scores.schema.json",
    "holmes.json": "holmes.schema.json",
    "watson.json": "watson.schema.json",
    "history.json": "history.schema.json",
}
REQUIRED = ("ir.json", "evidence-map.json", "bundle.json")


@dataclass
class BundleCheck:
    present: dict[str, Any] = field(default_factory=dict)  # file name → its data
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def check_bundle(root: Path) -> BundleCheck:
    result = BundleCheck()
    failures = result.failures
    for name, schema in EVIDENCE_SCHEMAS.items():
        path = root / name
        if not path.is_file():
            if name in REQUIRED:
                failures.append(f"{path} is missing")
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            jsonschema.validate(data, load(schema))
            result.present[name] = data
        except (json.JSONDecodeError, jsonschema.ValidationError) as exc:
            failures.append(f"{path}: {str(exc).splitlines()[0]}")
    bundle = result.present.get("bundle.json")
    if bundle:
        for record in bundle["artifacts"]:
            p = Path(record["path"])
            if not p.is_file():
                failures.append(f"{p} (in bundle.json) is missing")
            elif sha256_hex(p.read_bytes()) != record["sha256"]:
                failures.append(f"{p}: its SHA-256 differs from bundle.json")
        for name, digest in bundle["files"].items():
            p = root / name
            if not p.is_file() or sha256_hex(p.read_bytes()) != digest:
                failures.append(f"{p}: its SHA-256 differs from bundle.json")
    scores = result.present.get("scores.json")
    if scores:
        failures += [
            f"{root / 'scores.json'}: gate {k}: {g['value']} fails "
            + g["rule"].replace("threshold", str(g["threshold"]))
            for k, g in scores["gates"].items()
            if not g["passed"]
        ]
    return result
