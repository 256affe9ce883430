"""`transform --ops DIR`: the original's query operations compiled into `wes_ops`, proven on
PostgreSQL: the original's own expectations for its three fixture ops (functions
`op_products_by_name(text)` and `op_orders_by_user(uuid)`, views, one published 'Al%'
product), nested lists, joins, every filter op against rows whose answer is known, the
generated pgTAP suite (passing, and failing when an op's SQL is broken), the three ways to
name a table or column, and coded errors with file and JSON path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.helpers import UPSTREAM, cli
from wesley.api import transform
from wesley.db.apply import apply_script
from wesley.db.pgtap import run_suite
from wesley.errors import WesleyError
from wesley.qir import compile_ops
from wesley.sdl import parse_sdl

ECOMMERCE = UPSTREAM / "ecommerce.graphql"
OPS = UPSTREAM / "ops"


def _apply(conn: psycopg.Connection[Any], out: Path) -> None:
    apply_script(conn, (out / "schema.sql").read_text(encoding="utf-8"), "schema.sql")
    apply_script(conn, (out / "rls.sql").read_text(encoding="utf-8"), "rls.sql")
    for kind in ("view", "fn"):
        for f in sorted((out / "ops").glob(f"*.{kind}.sql")):
            apply_script(conn, f.read_text(encoding="utf-8"), f.name)


def _build(tmp_path: Path, schema: Path, ops: Path) -> Path:
    out = tmp_path / "out"
    transform(schema, out=out, bundle_dir=tmp_path / ".wesley", ops=ops)
    return out


def test_the_originals_expectations_hold(tmp_path: Path, pg_dsn: str) -> None:
    out = _build(tmp_path, ECOMMERCE, OPS)
    assert sorted(p.name for p in (out / "ops").iterdir()) == [
        "op_orders_by_user.fn.sql",
        "op_orders_by_user.view.sql",
        "op_orders_with_items_by_user.fn.sql",
        "op_orders_with_items_by_user.view.sql",
        "op_products_by_name.fn.sql",
        "op_products_by_name.view.sql",
        "tests.sql",
    ]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        _apply(conn, out)
        for signature in ("op_products_by_name(text)", "op_orders_by_user(uuid)"):
            found = conn.execute("SELECT to_regprocedure(%s)", (f"wes_ops.{signature}",))
            assert found.fetchone() != (None,), signature
        views = conn.execute(
            "SELECT table_name FROM information_schema.views WHERE table_schema = 'wes_ops' "
            "ORDER BY 1"
        ).fetchall()
        assert [v[0] for v in views] == [
            "op_orders_by_user",
            "op_orders_with_items_by_user",
            "op_products_by_name",
        ]
        # the original's CI seed and its assertion: exactly one published product like 'Al%'
        conn.execute(
            "INSERT INTO product (id, sku, name, slug, price_cents, stock_quantity, published, "
            "created_at) VALUES (gen_random_uuid(), 'SKU1', 'Alpha', 'alpha', 100, 10, true, "
            "now()), (gen_random_uuid(), 'SKU2', 'Beta', 'beta', 200, 0, false, now())"
        )
        count = conn.execute("SELECT count(*) FROM wes_ops.op_products_by_name('Al%')")
        assert count.fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM wes_ops.op_products_by_name('%')").fetchone() == (
            1,
        )  # Beta is not published
        assert conn.execute("SELECT count(*) FROM wes_ops.op_products_by_name").fetchone() == (1,)
        zero = "00000000-0000-0000-0000-000000000000"
        assert conn.execute(
            "SELECT count(*) FROM wes_ops.op_orders_by_user(%s)", (zero,)
        ).fetchone() == (0,)
        plan = conn.execute(
            f"EXPLAIN (FORMAT JSON) SELECT * FROM wes_ops.op_orders_by_user('{zero}')"
        ).fetchone()
        assert plan is not None and plan[0][0]["Plan"]
        # orders with their items, newest first, items by id, an order without items → []
        user = conn.execute(
            "INSERT INTO \"user\" (email, password_hash) VALUES ('u@x', 'h') RETURNING id"
        ).fetchone()
        assert user is not None
        pid = conn.execute("SELECT id FROM product WHERE sku = 'SKU1'").fetchone()
        assert pid is not None
        o1 = conn.execute(
            'INSERT INTO "order" (order_number, user_id, status, total_cents, created_at) '
            "VALUES ('A1', %s, 'paid', 100, now() - interval '1 day') RETURNING id",
            (user[0],),
        ).fetchone()
        o2 = conn.execute(
            'INSERT INTO "order" (order_number, user_id, status, total_cents) '
            "VALUES ('A2', %s, 'new', 50) RETURNING id",
            (user[0],),
        ).fetchone()
        assert o1 and o2
        for qty in (3, 1):
            conn.execute(
                "INSERT INTO order_item (order_id, product_id, quantity, unit_price_cents) "
                "VALUES (%s, %s, %s, 10)",
                (o1[0], pid[0], qty),
            )
        rows = conn.execute(
            "SELECT order_number, items FROM wes_ops.op_orders_with_items_by_user(%s)", (user[0],)
        ).fetchall()
        assert [r[0] for r in rows] == ["A2", "A1"]
        assert rows[0][1] == []
        items = rows[1][1]
        assert sorted(i["quantity"] for i in items) == [1, 3]
        assert [i["id"] for i in items] == sorted(i["id"] for i in items)
        assert set(items[0]) == {"id", "product_id", "quantity"}
        # the generated pgTAP suite passes on top of these rows
        result = run_suite(conn, (out / "ops" / "tests.sql").read_text(encoding="utf-8"))
        assert result.ok and result.failed == 0, result.failures
        assert result.planned == 19


def test_the_suite_fails_when_an_op_is_broken(tmp_path: Path, pg_dsn: str) -> None:
    out = _build(tmp_path, ECOMMERCE, OPS)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        _apply(conn, out)
        # the function returns every row twice: it no longer agrees with its view
        body = "SELECT id, name, slug FROM product WHERE published AND name ILIKE $1"
        conn.execute(
            "CREATE OR REPLACE FUNCTION wes_ops.op_products_by_name(p_q text) RETURNS TABLE "
            f"(id uuid, name text, slug text) LANGUAGE sql STABLE AS $$ {body} UNION ALL {body} $$"
        )
        result = run_suite(conn, (out / "ops" / "tests.sql").read_text(encoding="utf-8"))
    failed = [ln for ln in result.tap.splitlines() if ln.startswith("not ok")]
    assert any("op_products_by_name returns as many rows as its view shows" in ln for ln in failed)


SHOP = """
type Shop @wes_table { id: Int! @wes_pk  title: String! }
type OrderItem @wes_table {
  id: Int! @wes_pk
  shopId: Int @wes_fk(ref: "Shop.id")
  label: String!
  qty: Int!
  tags: [String!]
  meta: JSON
  createdAt: DateTime! @wes_default(expr: "now()")
}
"""
ROWS = [
    # id, shop, label, qty, tags, meta
    (1, 1, "apple", 5, ["red", "fruit"], {"k": 1}),
    (2, 1, "Avocado", 2, ["green"], None),
    (3, 2, "banana", 7, ["fruit"], {"k": 2}),
    (4, None, "cherry", 1, None, None),
]
CASES: list[tuple[dict[str, Any], list[Any], list[int]]] = [
    # (op without name/table, arguments, expected ids in order)
    ({"filters": [{"column": "qty", "op": "gt", "value": 2}]}, [], [1, 3]),
    ({"filters": [{"column": "qty", "op": "lte", "param": {"name": "n"}}]}, [2], [2, 4]),
    ({"filters": [{"column": "label", "op": "like", "value": "a%"}]}, [], [1]),
    ({"filters": [{"column": "label", "op": "ilike", "value": "a%"}]}, [], [1, 2]),
    ({"filters": [{"column": "id", "op": "in", "value": [4, 2, 9]}]}, [], [2, 4]),
    ({"filters": [{"column": "id", "op": "in", "value": []}]}, [], []),
    (
        {"filters": [{"column": "id", "op": "in", "param": {"name": "ids", "type": "int"}}]},
        [[3, 1]],
        [1, 3],
    ),
    ({"filters": [{"column": "shopId", "op": "isNull"}]}, [], [4]),
    ({"filters": [{"column": "shop_id", "op": "eq", "value": None}]}, [], [4]),
    ({"filters": [{"column": "shopid", "op": "ne", "value": 1}]}, [], [3]),
    ({"filters": [{"column": "tags", "op": "contains", "value": ["fruit"]}]}, [], [1, 3]),
    (
        {"filters": [{"column": "meta", "op": "contains", "param": {"name": "m"}}]},
        [json.dumps({"k": 2})],
        [3],
    ),
    ({"orderBy": [{"column": "qty", "dir": "desc"}], "limit": 2, "offset": 1}, [], [1, 2]),
    ({"orderBy": [{"column": "shopId", "dir": "desc", "nulls": "last"}]}, [], [3, 1, 2, 4]),
    (
        {
            "joins": [{"table": "Shop", "alias": "s", "on": {"left": "shopId", "right": "s.id"}}],
            "filters": [{"column": "s.title", "op": "eq", "param": {"name": "t"}}],
        },
        ["north"],
        [1, 2],
    ),
    (
        {
            "joins": [
                {
                    "table": "shop",
                    "alias": "s",
                    "type": "left",
                    "on": {"left": "shop_id", "right": "id"},
                }
            ],
            "filters": [{"column": "s.id", "op": "isNull"}],
        },
        [],
        [4],
    ),
]


def test_filters_joins_and_ordering_on_known_rows(tmp_path: Path, pg_dsn: str) -> None:
    schema = tmp_path / "shop.graphql"
    schema.write_text(SHOP, encoding="utf-8")
    ops = tmp_path / "ops"
    ops.mkdir()
    for n, (body, _, _) in enumerate(CASES):
        # tables and columns by GraphQL name, SQL name or lower-cased: all three work
        table = ["OrderItem", "order_item", "orderitem"][n % 3]
        column = ["createdAt", "created_at", "createdat"][n % 3]
        op: dict[str, Any] = {"name": f"case {n}", "table": table, "columns": ["id", column]}
        op |= body
        (ops / f"c{n:02d}.op.json").write_text(json.dumps(op), encoding="utf-8")
    out = _build(tmp_path, schema, ops)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        _apply(conn, out)
        conn.execute("INSERT INTO shop VALUES (1, 'north'), (2, 'south')")
        for rid, shop, label, qty, tags, meta in ROWS:
            conn.execute(
                "INSERT INTO order_item (id, shop_id, label, qty, tags, meta) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (rid, shop, label, qty, tags, None if meta is None else json.dumps(meta)),
            )
        for n, (_, args, expected) in enumerate(CASES):
            marks = ", ".join(["%s"] * len(args))
            got = conn.execute(f"SELECT id FROM wes_ops.op_case_{n}({marks})", args).fetchall()
            assert [r[0] for r in got] == expected, (n, CASES[n][0])
        result = run_suite(conn, (out / "ops" / "tests.sql").read_text(encoding="utf-8"))
        assert result.ok, result.failures


def _err(sources: list[tuple[str, str]], allow: bool = False) -> WesleyError:
    ir = parse_sdl(ECOMMERCE.read_text(encoding="utf-8")).ir
    with pytest.raises(WesleyError) as err:
        compile_ops(ir, sources, allow)
    return err.value


GOOD = {"name": "g", "table": "product", "columns": ["id"]}


@pytest.mark.parametrize(
    ("op", "code", "path"),
    [
        ({"table": "product"}, "OPS_INVALID", "$.name"),
        ({**GOOD, "table": "nope"}, "OPS_UNKNOWN_TABLE", "$.table"),
        ({**GOOD, "columns": ["id", "nope"]}, "OPS_UNKNOWN_COLUMN", "$.columns[1]"),
        (
            {**GOOD, "filters": [{"column": "name", "op": "regex", "value": "x"}]},
            "OPS_INVALID",
            "$.filters[0].op",
        ),
        ({**GOOD, "filters": [{"column": "name"}]}, "OPS_INVALID", "$.filters[0]"),
        (
            {
                **GOOD,
                "filters": [{"column": "sku", "op": "eq", "param": {"name": "q", "type": "uuid"}}],
            },
            "OPS_PARAM_TYPE_MISMATCH",
            "$.filters[0].param.type",
        ),
        (
            {**GOOD, "filters": [{"column": "published", "op": "eq", "value": "yes"}]},
            "OPS_VALUE_TYPE_MISMATCH",
            "$.filters[0].value",
        ),
        ({**GOOD, "limit": 0}, "OPS_INVALID", "$.limit"),
        ({**GOOD, "offset": -1}, "OPS_INVALID", "$.offset"),
        ({**GOOD, "orderBy": [{"column": "name", "dir": "up"}]}, "OPS_INVALID", "$.orderBy[0].dir"),
        ({**GOOD, "extra": 1}, "OPS_INVALID", "$.extra"),
        ({**GOOD, "lists": [{"table": "orderitem"}]}, "OPS_INVALID", "$.lists[0]"),
        (
            {**GOOD, "joins": [{"table": "order", "on": {"left": "id", "right": "x.id"}}]},
            "OPS_UNKNOWN_TABLE",
            "$.joins[0].on.right",
        ),
    ],
)
def test_invalid_ops_are_coded_errors_with_file_and_path(
    op: dict[str, Any], code: str, path: str
) -> None:
    err = _err([("bad.op.json", json.dumps(op))])
    assert err.code == code
    assert err.details == {"file": "bad.op.json", "path": path}
    assert err.message.startswith(f"bad.op.json: {path}: ")
    assert int(err.exit_code) == 2


def test_every_failure_is_listed_and_allow_errors_skips_them() -> None:
    bad1 = ("a.op.json", "{not json")
    bad2 = ("b.op.json", json.dumps({**GOOD, "table": "nope"}))
    good = ("c.op.json", json.dumps(GOOD))
    err = _err([bad1, bad2, good])
    assert err.code == "OPS_COMPILE_FAILED"
    assert [f["code"] for f in err.details["failures"]] == ["OPS_INVALID_JSON", "OPS_UNKNOWN_TABLE"]
    ir = parse_sdl(ECOMMERCE.read_text(encoding="utf-8")).ir
    done = compile_ops(ir, [bad1, bad2, good], allow_errors=True)
    assert done.compiled == ["op_g"]
    assert [w.code for w in done.warnings] == ["W_OP_SKIPPED", "W_OP_SKIPPED"]
    assert "OPS_UNKNOWN_TABLE" in done.warnings[1].message
    # a name too long for PostgreSQL stops the run even with allow_errors (as the original)
    long = ("d.op.json", json.dumps({**GOOD, "name": "x" * 70}))
    assert _err([long, good], allow=True).code == "OPS_IDENTIFIER_TOO_LONG"
    clash = ("e.op.json", json.dumps({**GOOD, "name": "G!"}))
    assert _err([good, clash]).code == "OPS_COLLISION"


def test_cli_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ops = tmp_path / "ops"
    shutil.copytree(OPS, ops)
    (ops / "broken.op.json").write_text(json.dumps({**GOOD, "table": "nope"}), encoding="utf-8")
    args = [
        "transform",
        "--schema",
        str(ECOMMERCE),
        "--out",
        str(tmp_path / "out"),
        "--ops",
        str(ops),
    ]
    monkeypatch.delenv("CI", raising=False)
    failed = cli(capsys, "--json", *args)
    assert failed.code == 2 and failed.json()["error"]["code"] == "OPS_UNKNOWN_TABLE"
    assert failed.json()["error"]["details"] == {"file": "broken.op.json", "path": "$.table"}
    skipped = cli(capsys, *args, "--ops-allow-errors")
    assert skipped.code == 0 and "W_OP_SKIPPED" in skipped.stderr
    assert (tmp_path / "out" / "ops" / "op_products_by_name.fn.sql").is_file()
    monkeypatch.setenv("CI", "true")
    refused = cli(capsys, *args, "--ops-allow-errors")
    assert refused.code == 2 and "OPS_ALLOW_ERRORS_FORBIDDEN" in refused.stderr
    assert cli(capsys, *args, "--ops-allow-errors", "--i-know-what-im-doing").code == 0
    missing = cli(capsys, "transform", "--schema", str(ECOMMERCE), "--ops", str(tmp_path / "no"))
    assert missing.code == 2 and "FILE_NOT_FOUND" in missing.stderr


def test_output_is_deterministic_and_names_are_relative(tmp_path: Path) -> None:
    ir = parse_sdl(ECOMMERCE.read_text(encoding="utf-8")).ir
    sources = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(OPS.glob("*.op.json"))]
    first = compile_ops(ir, sources).artifacts
    again = compile_ops(ir, sources).artifacts
    assert [(a.path, a.text) for a in first] == [(a.path, a.text) for a in again]
    assert all(str(tmp_path) not in a.text and "/work/" not in a.text for a in first)
