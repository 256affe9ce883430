"""`wesley check`: pinned ORM files that no longer match the schema fail CI (exit 5, named)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import cli

SCHEMA = """
type Org @wes_table { id: ID! @wes_pk  name: String! }
type Member @wes_table { id: ID! @wes_pk  orgId: ID! @wes_fk(ref: "Org.id") }
"""


def _project(capsys: pytest.CaptureFixture[str]) -> None:
    Path("schema.graphql").write_text(SCHEMA, encoding="utf-8")
    r = cli(capsys, "transform", "--schema", "schema.graphql", "--target", "prisma,drizzle")
    assert r.code == 0, r.stderr
    Path("prisma").mkdir()
    shutil.copy("out/schema.prisma", "prisma/schema.prisma")
    Path("src/db").mkdir(parents=True)
    shutil.copy("out/schema.ts", "src/db/schema.ts")
    Path("node_modules/x").mkdir(parents=True)  # never searched
    Path("node_modules/x/schema.ts").write_text("// wesley:pin target=drizzle ir_hash=" + "0" * 64)


def test_current_pins_pass(capsys: pytest.CaptureFixture[str]) -> None:
    _project(capsys)
    r = cli(capsys, "--json", "check", "--schema", "schema.graphql")
    assert r.code == 0, r.stdout + r.stderr
    files = {f["path"]: f["status"] for f in r.json()["files"]}
    assert files == {
        "out/schema.prisma": "current",
        "out/schema.ts": "current",
        "prisma/schema.prisma": "current",
        "src/db/schema.ts": "current",
    }


def test_a_schema_change_makes_every_copy_stale(capsys: pytest.CaptureFixture[str]) -> None:
    _project(capsys)
    Path("schema.graphql").write_text(SCHEMA.replace("name: String!", "name: String"))
    r = cli(capsys, "check", "--schema", "schema.graphql")
    assert r.code == 5
    assert "error[PIN_STALE]" in r.stderr
    for path in ("prisma/schema.prisma", "src/db/schema.ts", "out/schema.prisma"):
        assert f"{path} (" in r.stderr
    assert "generated from IR" in r.stderr
    # transform rewrites out/; the copies stay stale until copied again
    assert cli(capsys, "transform", "--schema", "schema.graphql").code == 0
    r = cli(capsys, "--json", "check", "--schema", "schema.graphql")
    assert r.code == 5
    stale = sorted(f["path"] for f in r.json()["error"]["details"]["files"])
    assert stale == ["prisma/schema.prisma", "src/db/schema.ts"]


def test_a_hand_edit_is_caught(capsys: pytest.CaptureFixture[str]) -> None:
    _project(capsys)
    p = Path("src/db/schema.ts")
    p.write_text(p.read_text().replace('"name"', '"title"'))
    r = cli(capsys, "check", "src/db/schema.ts", "--schema", "schema.graphql")
    assert r.code == 5
    assert "src/db/schema.ts (drizzle): edited since it was generated" in r.stderr


def test_unpinned_file_named_explicitly_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    _project(capsys)
    Path("other.ts").write_text("export {};\n")
    r = cli(capsys, "check", "other.ts", "--schema", "schema.graphql")
    assert r.code == 2 and "error[NOT_PINNED]" in r.stderr


def test_no_pinned_files_is_not_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    Path("schema.graphql").write_text(SCHEMA, encoding="utf-8")
    r = cli(capsys, "check", "--schema", "schema.graphql")
    assert r.code == 0 and "no pinned files" in r.stdout
    assert json.loads(cli(capsys, "--json", "check", "--schema", "schema.graphql").stdout)["ok"]
