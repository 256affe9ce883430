"""JSON Schemas shipped with Wesley. Generated ones come from the models; the checked-in
files are what users and `validate-bundle` read. `python -m wesley.schemas` rewrites them and
a test fails when a checked-in file differs from its generator."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from wesley.evidence.models import Bundle, EvidenceMapFile, SchemaSnapshot, Snapshot
from wesley.evidence.scores import Scores
from wesley.holmes.models import Examination, History, Investigation
from wesley.ir import IR
from wesley.plan.models import Plan
from wesley.realm.models import Realm

# file name → (model, title, whether JSON keys are the models' camelCase aliases)
MODELS: dict[str, tuple[type[BaseModel], str, bool]] = {
    "ir.schema.json": (IR, "Wesley IR", True),
    "evidence-map.schema.json": (EvidenceMapFile, "Wesley evidence map", False),
    "bundle.schema.json": (Bundle, "Wesley bundle", False),
    "plan.schema.json": (Plan, "Wesley migration plan", False),
    "realm.schema.json": (Realm, "Wesley REALM rehearsal record", False),
    "scores.schema.json": (Scores, "Wesley scores", False),
    "snapshot.schema.json": (SchemaSnapshot, "Wesley schema snapshot", False),
    "deployed.schema.json": (Snapshot, "Wesley deployed IR snapshot", True),
    "holmes.schema.json": (Investigation, "Wesley HOLMES investigation", False),
    "watson.schema.json": (Examination, "Wesley WATSON verification", False),
    "history.schema.json": (History, "Wesley score history", False),
}


def generate(name: str) -> dict[str, Any]:
    model, title, by_alias = MODELS[name]
    schema = model.model_json_schema(by_alias=by_alias)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://wesley.dev/schemas/{name}"
    schema["title"] = title
    return schema


GENERATORS: dict[str, Callable[[], dict[str, Any]]] = {
    name: partial(generate, name) for name in MODELS
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
