"""The unchanged-run cache of `transform`: a rerun with nothing changed verifies the files by
hash and returns without parsing or writing; anything changed (the schema, wesley.toml, the
targets, an output edited or deleted) runs the transform in full and repairs the files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wesley.api import transform, transform_cache
from wesley.api._transform import TransformResult
from wesley.errors import WesleyError

SCHEMA = """
type Org @table {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  name: String! @wes_unique
}
"""


def _mtimes() -> dict[str, int]:
    return {
        p.as_posix(): p.stat().st_mtime_ns
        for root in ("out", ".wesley")
        for p in Path(root).rglob("*")
        if p.is_file() and p.name != "history.json" and "cache" not in p.parts
    }


def _run(**kw: object) -> TransformResult:
    return transform("schema.graphql", out="out", **kw)  # type: ignore[arg-type]


@pytest.fixture
def first() -> TransformResult:
    Path("schema.graphql").write_text(SCHEMA, encoding="utf-8")
    result = _run()
    assert not result.cached and result.changed
    return result


def test_unchanged_rerun_is_cached_and_writes_nothing(first: TransformResult) -> None:
    before = _mtimes()
    again = _run()
    assert again.cached and not again.changed
    assert _mtimes() == before
    assert again.ir_hash == first.ir_hash
    assert (again.tables, again.enums) == (1, 0)
    assert [(w.path, w.sha256) for w in again.artifacts] == [
        (w.path, w.sha256) for w in first.artifacts
    ]
    # the deprecated spelling is warned about on every run, cached or not
    assert [w.code for w in again.warnings] == [w.code for w in first.warnings]
    assert "W_DEPRECATED_DIRECTIVE" in [w.code for w in again.warnings]
    assert again.ir == first.ir  # read from the snapshot when asked for


def test_an_edited_or_deleted_output_is_regenerated(first: TransformResult) -> None:
    sql = Path("out/schema.sql")
    good = sql.read_bytes()
    sql.write_bytes(good + b"-- edited\n")
    again = _run()
    assert not again.cached and sql.read_bytes() == good
    Path(".wesley/evidence-map.json").unlink()
    again = _run()
    assert not again.cached and Path(".wesley/evidence-map.json").is_file()
    assert _run().cached


def test_schema_config_and_options_are_in_the_key(first: TransformResult) -> None:
    Path("schema.graphql").write_text(SCHEMA.replace("name:", "title:"), encoding="utf-8")
    changed = _run()
    assert not changed.cached and changed.ir_hash != first.ir_hash
    assert _run().cached
    Path("wesley.toml").write_text('[naming]\nsql = "preserve"\n', encoding="utf-8")
    assert not _run().cached
    assert _run().cached
    assert not _run(targets="postgres").cached
    assert not _run(cache=False).cached


def test_another_wesley_is_a_miss(first: TransformResult, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transform_cache, "_wesley_fingerprint", lambda: "another build")
    assert not _run().cached


def test_a_broken_cache_file_is_only_a_miss(first: TransformResult) -> None:
    cache = Path(".wesley") / transform_cache.CACHE_FILE
    cache.write_text("{not json", encoding="utf-8")
    outputs = {p: os.stat(p).st_size for p in _mtimes()}
    again = _run()
    assert not again.cached and not again.changed
    assert {p: os.stat(p).st_size for p in _mtimes()} == outputs
    assert _run().cached


def test_query_operations_are_in_the_key(
    first: TransformResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)  # CI runs the suite with CI=true: set it below
    ops = Path("ops")
    ops.mkdir()
    op = ops / "a.op.json"
    op.write_text('{"name": "g", "table": "org", "columns": ["id"]}', encoding="utf-8")
    assert not _run(ops="ops").cached
    assert _run(ops="ops").cached
    view = Path("out/ops/op_g.view.sql")
    op.write_text('{"name": "g", "table": "org", "columns": ["id", "name"]}', encoding="utf-8")
    edited = _run(ops="ops")
    assert not edited.cached and "name" in view.read_text(encoding="utf-8")
    # a skipped operation's warning is replayed by a cached run
    (ops / "b.op.json").write_text('{"name": "h", "table": "nope"}', encoding="utf-8")
    assert "W_OP_SKIPPED" in [w.code for w in _run(ops="ops", ops_allow_errors=True).warnings]
    again = _run(ops="ops", ops_allow_errors=True)
    assert again.cached and "W_OP_SKIPPED" in [w.code for w in again.warnings]
    # CI=true is not in the key: a cached run still refuses --ops-allow-errors there
    monkeypatch.setenv("CI", "true")
    with pytest.raises(WesleyError) as err:
        _run(ops="ops", ops_allow_errors=True)
    assert err.value.code == "OPS_ALLOW_ERRORS_FORBIDDEN"
