"""JSON Schemas shipped with Wesley. Generated ones come from the models; the checked-in
files are what users and `validate-bundle` read. `python -m wesley.schemas` rewrites them and
a test fails when a checked-in file differs from its generator."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from wesley.evidence.models import Bundle, EvidenceMap, Snapshot, json_schema
from wesley.evidence.scores import scores_json_schema
from wesley.ir import ir_json_schema
from wesley.plan.models import plan_json_schema
from wesley.realm.models import realm_json_schema

GENERATORS: dict[str, Callable[[], dict[str, Any]]] = {
    "ir.schema.json": ir_json_schema,
    "evidence-map.schema.json": lambda: json_schema(
        EvidenceMap, "evidence-map.schema.json", "Wesley evidence map"
    ),
    "bundle.schema.json": lambda: json_schema(Bundle, "bundle.schema.json", "Wesley bundle"),
    "plan.schema.json": plan_json_schema,
    "realm.schema.json": realm_json_schema,
    "scores.schema.json": scores_json_schema,
    "snapshot.schema.json": lambda: json_schema(
        Snapshot, "snapshot.schema.json", "Wesley IR snapshot"
    ),
}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load(name: str) -> dict[str, Any]:
    text = resources.files("wesley.schemas").joinpath(name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def schema_dir() -> Path:
    return Path(__file__).parent


def write_all() -> list[Path]:
    written = []
    for name, generate in GENERATORS.items():
        path = schema_dir() / name
        path.write_text(render(generate()), encoding="utf-8")
        written.append(path)
    return written
