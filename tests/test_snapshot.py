""".wesley/snapshot.json (version 2): the schema's source with the ir_hash it gives, read back
from the ir.json beside it or by parsing again, refused when it no longer gives that IR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import UPSTREAM, cli
from wesley.api.schema import load_ir_file
from wesley.evidence.models import Snapshot
from wesley.ir import ir_hash
from wesley.sdl import ParseOptions, parse_sdl

SCHEMA = UPSTREAM / "blade-v1.graphql"
SNAPSHOT = Path(".wesley/snapshot.json")


def _transform(capsys: pytest.CaptureFixture[str], schema: Path = SCHEMA) -> None:
    Path("schema.graphql").write_text(schema.read_text(encoding="utf-8"), encoding="utf-8")
    assert cli(capsys, "transform", "-q").code == 0


def _plan_ops(capsys: pytest.CaptureFixture[str], new: Path) -> list[str]:
    result = cli(capsys, "plan", "--json", "--from", str(SNAPSHOT), "--schema", str(new))
    assert result.code == 0, result.stdout
    return [s["op"] for s in result.json()["plan"]["steps"]]


def test_the_snapshot_is_the_schema_text_not_the_ir(capsys: pytest.CaptureFixture[str]) -> None:
    _transform(capsys)
    data = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert data["version"] == 2
    assert data["sdl"] == SCHEMA.read_text(encoding="utf-8")
    assert data["file"] == "schema.graphql"
    assert data["ir_hash"] == ir_hash(parse_sdl(data["sdl"], "schema.graphql").ir)
    # proportional to the schema (issue 13: <= 5x the SDL); version 1 was ~29x
    assert SNAPSHOT.stat().st_size < 1.5 * SCHEMA.stat().st_size + 1024


@pytest.mark.parametrize("beside", ["kept", "removed", "another schema's"])
def test_a_plan_from_the_snapshot_diffs_against_the_recorded_schema(
    capsys: pytest.CaptureFixture[str], beside: str
) -> None:
    _transform(capsys)
    ir_file = Path(".wesley/ir.json")
    if beside == "removed":
        ir_file.unlink()
    elif beside == "another schema's":
        # an ir.json of another schema beside it is not read as the snapshot's IR
        other = parse_sdl((UPSTREAM / "blade-v2.graphql").read_text(encoding="utf-8")).ir
        ir_file.write_text(other.model_dump_json(by_alias=True), encoding="utf-8")
    assert _plan_ops(capsys, SCHEMA) == []
    ops = _plan_ops(capsys, UPSTREAM / "blade-v2.graphql")
    assert {"add_column", "create_index"} <= set(ops) and "create_table" not in ops


def test_parse_settings_come_from_the_snapshot_not_the_current_config(
    capsys: pytest.CaptureFixture[str],
) -> None:
    Path("wesley.toml").write_text('[naming]\nsql = "preserve"\n', encoding="utf-8")
    _transform(capsys)
    recorded = json.loads(Path(".wesley/ir.json").read_text(encoding="utf-8"))
    Path(".wesley/ir.json").unlink()
    Path("wesley.toml").unlink()  # today's settings differ: the snapshot keeps its own
    ir = load_ir_file(str(SNAPSHOT), ParseOptions())
    assert (
        ir.model_dump(mode="json", by_alias=True, exclude_defaults=False)["tables"]
        == (recorded["tables"])
    )
    assert any(t.name != t.name.lower() for t in ir.tables)  # "preserve" kept


def test_a_snapshot_this_wesley_reads_differently_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _transform(capsys)
    Path(".wesley/ir.json").unlink()
    data = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    # as if an earlier Wesley had derived another IR from the same text
    SNAPSHOT.write_text(json.dumps({**data, "ir_hash": "0" * 64}), encoding="utf-8")
    result = cli(capsys, "plan", "--from", str(SNAPSHOT), "--schema", str(SCHEMA))
    assert result.code == 2
    assert "SNAPSHOT_STALE" in result.stderr and "--from-db" in result.stderr
    # and a schema text the current parser rejects says so, with the parser's message
    SNAPSHOT.write_text(json.dumps({**data, "sdl": "type T { id: ID! @wes_nope }"}))
    result = cli(capsys, "plan", "--from", str(SNAPSHOT), "--schema", str(SCHEMA))
    assert result.code == 2
    assert "SNAPSHOT_STALE" in result.stderr and "no longer parses" in result.stderr


def test_a_version_1_snapshot_still_reads(capsys: pytest.CaptureFixture[str]) -> None:
    _transform(capsys)
    ir = parse_sdl(SCHEMA.read_text(encoding="utf-8"), "schema.graphql").ir
    old = Snapshot(ir_hash=ir_hash(ir), ir=ir).model_dump(mode="json", by_alias=True)
    Path("old.json").write_text(json.dumps(old), encoding="utf-8")
    result = cli(capsys, "plan", "--json", "--from", "old.json", "--schema", str(SCHEMA))
    assert result.code == 0 and result.json()["plan"]["steps"] == []
