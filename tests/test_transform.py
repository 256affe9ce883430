"""`wesley transform` end to end: artifacts, evidence, bundle hashes, determinism."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import psycopg
import pytest

from tests.helpers import UPSTREAM, VALID_FIXTURES, cli
from wesley.db.apply import apply_script
from wesley.db.pgtap import run_suite
from wesley.evidence.build import source_of
from wesley.evidence.models import EvidenceMap
from wesley.schemas import load
from wesley.sdl import parse_sdl
from wesley.targets.postgres import postgres

ALL_FILES = [
    "schema.sql",
    "rls.sql",
    "types.ts",
    "zod.ts",
    "tests.sql",
    "ir.json",
    "schema.prisma",
    "schema.ts",
]
EVIDENCE = ["ir.json", "snapshot.json", "evidence-map.json", "bundle.json"]


def transform(capsys: pytest.CaptureFixture[str], schema: Path, *extra: str) -> dict[str, Any]:
    result = cli(capsys, "transform", "--json", "--schema", str(schema), "--out", "out", *extra)
    assert result.code == 0, result.stdout + result.stderr
    return result.json()


@pytest.mark.parametrize("path", VALID_FIXTURES, ids=lambda p: p.name)
def test_bundle_hashes_and_schemas(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = transform(capsys, path)
    assert sorted(Path(str(a["path"])).name for a in doc["artifacts"]) == sorted(ALL_FILES)
    bundle = json.loads(Path(".wesley/bundle.json").read_text())
    for record in bundle["artifacts"]:
        assert hashlib.sha256(Path(record["path"]).read_bytes()).hexdigest() == record["sha256"]
    for name, digest in bundle["files"].items():
        assert hashlib.sha256(Path(".wesley", name).read_bytes()).hexdigest() == digest
    for name in ["ir.json", "snapshot.json", "evidence-map.json", "bundle.json"]:
        schema = load(name.replace(".json", ".schema.json"))
        jsonschema.validate(json.loads(Path(".wesley", name).read_text()), schema)


def test_every_column_has_evidence_in_every_group(capsys: pytest.CaptureFixture[str]) -> None:
    path = UPSTREAM / "ecommerce.graphql"
    transform(capsys, path)
    ir = parse_sdl(path.read_text(encoding="utf-8")).ir
    uids = EvidenceMap.model_validate_json(Path(".wesley/evidence-map.json").read_bytes()).uids
    for table in ir.tables:
        for col in table.columns:
            ev = uids[col.uid]
            for group, file in (
                ("sql", "out/schema.sql"),
                ("ts", "out/types.ts"),
                ("zod", "out/zod.ts"),
                ("tests", "out/tests.sql"),
            ):
                ranges = getattr(ev, group)
                assert any(r.file == file for r in ranges), (col.uid, group)
                first, last = ranges[0].lines
                text = Path(ranges[0].file).read_text().splitlines()[first - 1 : last]
                assert any(col.field in ln or col.name in ln for ln in text), (col.uid, group)


def test_a_generated_line_maps_back_to_the_sdl_line() -> None:
    path = UPSTREAM / "ecommerce.graphql"
    sdl = path.read_text(encoding="utf-8")
    ir = parse_sdl(sdl).ir
    (artifact,) = postgres(ir)
    lines = artifact.text.splitlines()
    number = next(i for i, ln in enumerate(lines, 1) if ln.strip().startswith("sku text NOT NULL"))
    found = source_of(ir, artifact, number)
    assert found is not None
    uid, pos = found
    assert uid == "col:product.sku"
    assert sdl.splitlines()[pos.line - 1].strip().startswith("sku: String!")


def test_nothing_changed_means_nothing_rewritten(capsys: pytest.CaptureFixture[str]) -> None:
    path = UPSTREAM / "blade-v2.graphql"
    transform(capsys, path)
    files = [Path("out", f) for f in ALL_FILES] + [Path(".wesley", f) for f in EVIDENCE]
    before = {f: f.stat().st_mtime_ns for f in files}
    doc = transform(capsys, path)
    assert doc["changed"] is False
    assert {f: f.stat().st_mtime_ns for f in files} == before
    human = cli(capsys, "transform", "--schema", str(path), "--out", "out")
    assert "no artifacts changed" in human.stdout


def test_two_processes_give_identical_bytes(tmp_path: Path) -> None:
    schema = UPSTREAM / "ecommerce-v2.graphql"
    outputs = []
    for run in ("a", "b"):
        work = tmp_path / run
        work.mkdir()
        subprocess.run(
            [sys.executable, "-m", "wesley", "transform", "-q", "--schema", str(schema)],
            cwd=work,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": (run == "a" and "1") or "2"},
        )
        # history.json is a journal with timestamps (MORIARTY's), not an output
        journal = json.loads((work / ".wesley/history.json").read_text())
        assert [p["kind"] for p in journal["points"]] == ["transform"]
        outputs.append(
            {
                p.relative_to(work).as_posix(): p.read_bytes()
                for p in sorted(work.rglob("*"))
                if p.is_file() and p.name != "history.json"
            }
        )
    assert outputs[0] == outputs[1]
    # the unchanged-run cache is the same in both too, but not an output
    assert len(outputs[0]) == len(ALL_FILES) + len(EVIDENCE) + 1
    assert ".wesley/cache/transform.json" in outputs[0]


def test_cli_output_applies_and_its_tests_pass(
    capsys: pytest.CaptureFixture[str], pg_dsn: str
) -> None:
    transform(capsys, UPSTREAM / "schema.graphql")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        apply_script(conn, Path("out/schema.sql").read_text(), "schema.sql")
        apply_script(conn, Path("out/rls.sql").read_text(), "rls.sql")
        result = run_suite(conn, Path("out/tests.sql").read_text())
    assert result.ok, result.failures
    assert result.planned > 50


def test_target_subset(capsys: pytest.CaptureFixture[str]) -> None:
    doc = transform(capsys, UPSTREAM / "blade-v1.graphql", "--target", "postgres,pgtap")
    assert [Path(str(a["path"])).name for a in doc["artifacts"]] == ["schema.sql", "tests.sql"]


def test_generation_error_exit_4(capsys: pytest.CaptureFixture[str]) -> None:
    schema = Path("s.graphql")
    schema.write_text(
        "type User @wes_table { id: ID! @wes_pk }\ntype UserInsert @wes_table { id: ID! @wes_pk }\n"
    )
    result = cli(capsys, "transform", "--json", "--schema", str(schema))
    assert result.code == 4
    assert result.json()["error"]["code"] == "TS_NAME_CLASH"
