"""IR hashing, the checked-in JSON Schema, and directive semantics beyond the fixtures."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import UPSTREAM, VALID_FIXTURES
from wesley.errors import WesleyError
from wesley.ir import ir_from_json, ir_hash
from wesley.schemas import GENERATORS, load, render, schema_dir
from wesley.sdl import Naming, ParseOptions, parse_sdl

HASH_SCRIPT = (
    "import sys; from wesley.sdl import parse_sdl; from wesley.ir import ir_hash; "
    "p = sys.argv[1]; print(ir_hash(parse_sdl(open(p, encoding='utf-8').read(), p).ir))"
)


@pytest.mark.parametrize("path", VALID_FIXTURES, ids=lambda p: p.name)
def test_same_ir_hash_in_two_processes(path: object) -> None:
    hashes = {
        subprocess.run(
            [sys.executable, "-c", HASH_SCRIPT, str(path)],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(hashes) == 1 and len(next(iter(hashes))) == 64


def test_ir_round_trips_through_json() -> None:
    path = UPSTREAM / "ecommerce-v2.graphql"
    ir = parse_sdl(path.read_text(encoding="utf-8")).ir
    again = ir_from_json(ir.to_json_data())
    assert again == ir and ir_hash(again) == ir_hash(ir)


def test_checked_in_schemas_are_current() -> None:
    for name, generate in GENERATORS.items():
        on_disk = (schema_dir() / name).read_text(encoding="utf-8")
        assert on_disk == render(generate()), f"{name} is stale: run python -m wesley.schemas"
        assert load(name)["title"]


def test_file_path_does_not_change_the_hash() -> None:
    text = (UPSTREAM / "blade-v1.graphql").read_text(encoding="utf-8")
    assert ir_hash(parse_sdl(text, "a.graphql").ir) == ir_hash(parse_sdl(text, "b/c.graphql").ir)


def test_a_real_change_changes_the_hash() -> None:
    text = (UPSTREAM / "blade-v1.graphql").read_text(encoding="utf-8")
    changed = text.replace("email: String!", "email: String")
    assert ir_hash(parse_sdl(text).ir) != ir_hash(parse_sdl(changed).ir)


RICH = """
enum Status { DRAFT LIVE }
scalar Money
type Org @wes_table(name: "orgs") { id: ID! @wes_pk  code: String! @wes_unique }
type Item @wes_table @wes_tenant(by: "orgId") @wes_uid(value: "tbl:item")
  @wes_pk(columns: ["orgId", "sku"])
  @wes_unique(columns: ["orgId", "slug"])
  @wes_index(columns: ["orgId", "createdAt"], name: "item_recent", where: "status = 'LIVE'")
  @wes_check(expr: "price_cents >= 0") {
  orgId: ID! @wes_fk(ref: "Org.id", onDelete: CASCADE, onUpdate: "set null")
  orgCode: String @wes_fk(ref: "orgs.code")
  sku: String!
  slug: String!
  status: Status! @wes_default(value: "DRAFT")
  tags: [String!]! @wes_index(using: "gin")
  price: Money @wes_column(name: "price_cents") @wes_renamedFrom(name: "cost")
  payload: JSON @wes_default(value: {a: 1})
  flag: Boolean @wes_default(value: true) @wes_sensitive @wes_weight(value: 4)
  createdAt: DateTime! @wes_default(expr: "CURRENT_TIMESTAMP")
  org: Org! @wes_belongsTo
}
"""


def test_directive_semantics() -> None:
    result = parse_sdl(RICH, options=ParseOptions(scalars={"Money": "numeric(12, 2)"}))
    ir = result.ir
    assert [e.name for e in ir.enums] == ["status"]
    item = ir.table("item")
    assert item is not None and item.uid == "tbl:item"
    assert item.primary_key == ["org_id", "sku"]
    assert item.tenant_by == "org_id" and item.rls is not None  # tenant implies RLS
    assert [(u.name, u.columns) for u in item.uniques] == [
        ("item_org_id_slug_key", ["org_id", "slug"])
    ]
    recent = next(i for i in item.indexes if i.name == "item_recent")
    assert recent.columns == ["org_id", "created_at"] and recent.where == "status = 'LIVE'"
    gin = next(i for i in item.indexes if i.columns == ["tags"])
    assert gin.using == "gin"
    fks = {f.columns[0]: f for f in item.foreign_keys}
    assert (fks["org_id"].ref_table, fks["org_id"].on_delete, fks["org_id"].on_update) == (
        "orgs",
        "CASCADE",
        "SET NULL",
    )
    assert fks["org_code"].ref_columns == ["code"]  # SQL table.column spelling
    cols = {c.name: c for c in item.columns}
    assert cols["status"].type == "status" and cols["status"].enum == "status"
    assert cols["status"].default is not None and cols["status"].default.sql == "'DRAFT'"
    assert (cols["tags"].type, cols["tags"].array, cols["tags"].nullable) == ("text[]", True, False)
    assert cols["price_cents"].type == "numeric(12, 2)"
    assert cols["price_cents"].renamed_from == "cost"
    assert cols["payload"].default is not None and cols["payload"].default.sql == "'{\"a\":1}'"
    assert cols["flag"].default is not None and cols["flag"].default.sql == "true"
    assert cols["flag"].classification == ["sensitive"] and cols["flag"].weight == 4
    assert cols["created_at"].default is not None
    assert cols["created_at"].default.sql == "CURRENT_TIMESTAMP"
    assert [c.expr for c in item.checks] == ["price_cents >= 0"]
    assert "org" not in cols and item.relations[0].kind == "belongsTo"


def test_preserve_naming() -> None:
    ir = parse_sdl(
        RICH, options=ParseOptions(naming=Naming(preserve=True), scalars={"Money": "numeric"})
    ).ir
    assert [t.name for t in ir.tables] == ["orgs", "Item"]
    item = ir.table("Item")
    assert item is not None and item.column("orgId") is not None


def test_user_declared_directives_and_scalars_are_respected() -> None:
    sdl = (UPSTREAM / "directives.graphql").read_text(encoding="utf-8") + (
        '\nscalar UUID\ntype T @table { id: UUID! @primaryKey @uid(value: "c:t.id") }\n'
    )
    result = parse_sdl(sdl)
    t = result.ir.table("t")
    assert t is not None and t.primary_key == ["id"] and t.columns[0].uid == "c:t.id"
    codes = [w.message for w in result.warnings if w.code == "W_DEPRECATED_DIRECTIVE"]
    assert any("@primaryKey is a deprecated spelling of @wes_pk" in m for m in codes)


def test_long_constraint_names_are_cut_with_a_hash() -> None:
    col = "c" * 40
    sdl = f'type A @wes_table(name: "{"t" * 40}") {{ id: ID! @wes_pk\n {col}: Int @wes_index }}'
    ir = parse_sdl(sdl).ir
    name = ir.tables[0].indexes[0].name
    assert len(name.encode()) == 63 and name.endswith("_idx")


def test_errors_are_wesley_errors() -> None:
    with pytest.raises(WesleyError) as info:
        parse_sdl("type A @wes_table { id: ID @wes_pk }", "f.graphql")
    assert info.value.code == "PK_NULLABLE" and str(info.value.location) == "f.graphql:1:21"
