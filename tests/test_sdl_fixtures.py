"""Every valid upstream schema parses to IR that validates and holds what the file says."""

from __future__ import annotations

import jsonschema
import pytest

from tests.helpers import UPSTREAM, VALID_FIXTURES
from wesley.ir import IR, Table
from wesley.schemas import load
from wesley.sdl import parse_sdl


def parse_fixture(name: str) -> IR:
    path = UPSTREAM / name
    return parse_sdl(path.read_text(encoding="utf-8"), str(path)).ir


def table(ir: IR, name: str) -> Table:
    found = ir.table(name)
    assert found is not None, f"no table {name}: {[t.name for t in ir.tables]}"
    return found


def test_the_corpus_is_there() -> None:
    names = {p.name for p in VALID_FIXTURES}
    assert {
        "blade-v1.graphql",
        "blade-v2.graphql",
        "ecommerce.graphql",
        "ecommerce-v2.graphql",
        "schema.graphql",
        "directives.graphql",
    } <= names


@pytest.mark.parametrize("path", VALID_FIXTURES, ids=lambda p: p.name)
def test_fixture_ir_validates_against_schema(path: object) -> None:
    from pathlib import Path

    assert isinstance(path, Path)
    ir = parse_sdl(path.read_text(encoding="utf-8"), str(path)).ir
    jsonschema.validate(ir.to_json_data(), load("ir.schema.json"))


def test_blade_v1_and_v2() -> None:
    v1, v2 = parse_fixture("blade-v1.graphql"), parse_fixture("blade-v2.graphql")
    user = table(v1, "user")
    assert [(c.name, c.type, c.nullable) for c in user.columns] == [
        ("id", "uuid", False),
        ("email", "text", False),
    ]
    assert user.primary_key == ["id"]
    assert [u.columns for u in user.uniques] == [["email"]]
    assert user.uniques[0].name == "user_email_key"
    created = table(v2, "user").column("created_at")
    assert created is not None
    assert (created.type, created.nullable) == ("timestamptz", False)
    # upstream wrote value: "now()"; it is the function, not the string 'now()'
    assert created.default is not None
    assert (created.default.kind, created.default.sql) == ("expr", "now()")
    assert [(i.name, i.columns) for i in table(v2, "user").indexes] == [
        ("user_created_at_idx", ["created_at"])
    ]


def test_ecommerce() -> None:
    ir = parse_fixture("ecommerce.graphql")
    assert [t.name for t in ir.tables] == ["user", "product", "order", "order_item"]
    user = table(ir, "user")
    assert user.uid == "tbl:user"
    assert user.classification == ["critical"]
    email = user.column("email")
    assert email is not None
    assert (email.uid, email.weight, email.classification, email.unique) == (
        "col:user.email",
        9,
        ["pii"],
        True,
    )
    pid = user.column("id")
    assert pid is not None and pid.default is not None
    assert (pid.default.kind, pid.default.sql) == ("expr", "gen_random_uuid()")
    assert [r.field for r in user.relations] == ["orders"]
    assert user.column("orders") is None  # virtual: no column
    product = table(ir, "product")
    stock = product.column("stock_quantity")
    assert stock is not None and stock.default is not None
    assert (stock.type, stock.default.sql) == ("integer", "0")
    assert {i.name for i in product.indexes} == {"product_slug_idx", "product_published_idx"}
    item = table(ir, "order_item")
    assert [(f.columns, f.ref_table, f.ref_columns) for f in item.foreign_keys] == [
        (["order_id"], "order", ["id"]),
        (["product_id"], "product", ["id"]),
    ]
    order = table(ir, "order")
    assert [(f.name, f.ref_table, f.on_delete) for f in order.foreign_keys] == [
        ("order_user_id_fkey", "user", "NO ACTION")
    ]
    paid = order.column("paid_at")
    assert paid is not None and (paid.type, paid.nullable) == ("timestamptz", True)


def test_ecommerce_v2() -> None:
    ir = parse_fixture("ecommerce-v2.graphql")
    price = table(ir, "product").column("price_cents")
    assert price is not None and price.type == "bigint"
    review = table(ir, "review")
    assert [(f.columns[0], f.ref_table) for f in review.foreign_keys] == [
        ("product_id", "product"),
        ("user_id", "user"),
        ("order_id", "order"),
    ]
    order_ref = review.column("order_id")
    assert order_ref is not None and order_ref.nullable
    discount = table(ir, "order").column("discount_amount_cents")
    # value: 0 is a non-string literal, accepted by Wesley's prelude
    assert discount is not None and discount.default is not None
    assert (discount.default.kind, discount.default.sql) == ("literal", "0")


def test_blog_schema() -> None:
    ir = parse_fixture("schema.graphql")
    user = table(ir, "user")
    assert [c.name for c in user.columns] == [
        "id",
        "email",
        "password_hash",
        "username",
        "theme",
        "created_at",
        "updated_at",
    ]
    assert [(c.name, c.expr) for c in user.checks] == [
        ("user_password_hash_check", "char_length(password_hash) = 60")
    ]
    theme = user.column("theme")
    assert theme is not None and theme.default is not None and theme.default.sql == "'light'"
    updated = user.column("updated_at")
    assert updated is not None and updated.updated_at
    post = table(ir, "post")
    assert post.rls is not None
    assert post.rls.insert == "auth.uid() = user_id"
    assert post.rls.select is not None and post.rls.select.lower() == "true"
    comment = table(ir, "comment")
    assert {f.ref_table for f in comment.foreign_keys} == {"post", "user"}
    assert {i.name for i in comment.indexes} == {"comment_post_id_idx", "comment_user_id_idx"}


def test_directives_prelude_has_no_tables() -> None:
    ir = parse_fixture("directives.graphql")
    assert ir.tables == [] and ir.enums == []
