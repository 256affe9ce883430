"""For every kind of change: the plan, applied step by step to a database built from the old
schema (with rows), yields exactly the new schema, and planning again from that database
gives an empty plan. On every PostgreSQL major (pg15, pg18), planned for that version: each
transactional step's locks and rewrites are checked against what the server does."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
import pytest

from tests.gen.properties import safe_rewrite_violations
from tests.helpers import UPSTREAM
from tests.plan_apply import apply_plan
from tests.schema_compare import assert_database_matches
from wesley.db.apply import apply_script
from wesley.db.facts import gather
from wesley.db.introspect import introspect
from wesley.ir import IR
from wesley.naming import snake_case
from wesley.plan.build import build_plan
from wesley.plan.models import Plan, Step
from wesley.plan.operations.base import IDEMPOTENT
from wesley.samples import RowPlan
from wesley.sdl import ParseOptions, parse_sdl
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls

BASE = """
enum Status { DRAFT LIVE }
type Org @wes_table { id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")  name: String! }
type Item @wes_table {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  orgId: ID! @wes_fk(ref: "Org.id") @wes_index
  title: String! @wes_unique
  price: Int @wes_check(expr: "price >= 0")
  status: Status! @wes_default(value: "DRAFT")
  note: String
  ownerId: ID
  X
}
"""


def item(
    extra: str = "",
    *,
    drop: tuple[str, ...] = (),
    sub: dict[str, str] | None = None,
    head: str = "",
) -> str:
    text = BASE.replace("  X\n", extra + ("\n" if extra else ""))
    for line in drop:
        text = "\n".join(ln for ln in text.splitlines() if not ln.strip().startswith(line))
    for a, b in (sub or {}).items():
        assert a in text, a
        text = text.replace(a, b)
    return head + text


@dataclass(frozen=True)
class Pair:
    id: str
    old: str
    new: str
    destructive: bool = False
    prepare: str = ""  # SQL run on the old database after seeding
    old_options: ParseOptions = field(default_factory=ParseOptions)
    new_options: ParseOptions = field(default_factory=ParseOptions)


B = item()
PAIRS = [
    Pair("identical", B, B),
    Pair("add-nullable-column", B, item("  sku: String")),
    Pair("add-not-null-constant-default", B, item("  qty: Int! @wes_default(value: 1)")),
    Pair("add-not-null-now-default", B, item('  seen: DateTime! @wes_default(expr: "now()")')),
    Pair(
        "add-not-null-volatile-default-backfill",
        B,
        item('  token: UUID! @wes_default(expr: "gen_random_uuid()")'),
    ),
    Pair("add-nullable-volatile-default", B, item('  r: Float @wes_default(expr: "random()")')),
    Pair("add-column-with-index-and-unique", B, item("  code: String @wes_unique @wes_index")),
    Pair("drop-column", B, item(drop=("note:",)), destructive=True),
    Pair(
        "rename-column",
        B,
        item(sub={"  note: String": '  memo: String @wes_renamedFrom(name: "note")'}),
    ),
    Pair(
        "rename-table",
        B,
        item(
            sub={
                "type Org @wes_table {": 'type Company @wes_table @wes_renamedFrom(name: "Org") {',
                'ref: "Org.id"': 'ref: "Company.id"',
            }
        ),
    ),
    Pair("type-change-rewrite", B, item(sub={"price: Int ": "price: BigInt "})),
    # two versions live (issue 11): renames and rewriting type changes, no --allow-destructive
    Pair(
        "rename-unique-column",
        B,
        item(
            sub={
                "  title: String! @wes_unique": '  heading: String! @wes_unique @wes_renamedFrom(name: "title")'
            }
        ),
    ),
    Pair(
        "rename-column-with-check-and-type-change",
        B,
        item(
            sub={
                '  price: Int @wes_check(expr: "price >= 0")': '  cost: BigInt @wes_check(expr: "cost >= 0") @wes_renamedFrom(name: "price")'
            }
        ),
    ),
    Pair(
        "text-to-int-with-cast",
        B,
        item(
            sub={
                "  note: String": "  note: Int @wes_cast(using: \"NULLIF(trim(note), '')::integer\")"
            }
        ),
        prepare="UPDATE item SET note = CASE WHEN ctid = (SELECT min(ctid) FROM item) THEN '' ELSE ' 42 ' END",
    ),
    Pair(
        "varchar-narrowing",
        "scalar Short\n" + item(),
        "scalar Short\n" + item(sub={"  note: String": "  note: Short"}),
        new_options=ParseOptions(scalars={"Short": "varchar(40)"}),
        prepare="UPDATE item SET note = left(note, 40)",
    ),
    Pair(
        "enum-to-text-drops-the-type",
        B,
        item(
            sub={
                "enum Status { DRAFT LIVE }\n": "",
                '  status: Status! @wes_default(value: "DRAFT")': '  status: String! @wes_default(value: "DRAFT")',
            }
        ),
    ),
    Pair(
        "int-to-bigint-key-with-fks-pointing-at-it",
        'type A @wes_table { id: Int! @wes_pk  code: Int! @wes_unique @wes_index }\ntype B @wes_table { id: Int! @wes_pk  aId: Int @wes_fk(ref: "A.id", onDelete: CASCADE) @wes_index  aCode: Int @wes_fk(ref: "A.code") }',
        'type A @wes_table { id: BigInt! @wes_pk  code: BigInt! @wes_unique @wes_index }\ntype B @wes_table { id: Int! @wes_pk  aId: BigInt @wes_fk(ref: "A.id", onDelete: CASCADE) @wes_index  aCode: BigInt @wes_fk(ref: "A.code") }',
    ),
    Pair(
        "rename-table-and-its-column",
        B,
        item(
            sub={
                'type Org @wes_table { id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")  name: String! }': 'type Company @wes_table @wes_renamedFrom(name: "Org") { id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")  label: String! @wes_unique @wes_renamedFrom(name: "name") }',
                'ref: "Org.id"': 'ref: "Company.id"',
            }
        ),
    ),
    # counterexamples the property test (test_expand_contract_property.py) found
    Pair(
        "rename-onto-a-dropped-columns-name",
        "type A @wes_table { id: Int! @wes_pk  x: Int  y: Int }",
        'type A @wes_table { id: Int! @wes_pk  y: Int @wes_renamedFrom(name: "x") }',
        destructive=True,
    ),
    Pair(
        "rename-a-table-and-widen-the-key-a-foreign-key-points-at",
        'type T0 @wes_table { id: Int! @wes_pk  a: Int }\ntype T1 @wes_table { id: Int! @wes_pk  parentId: Int @wes_fk(ref: "T0.id") @wes_index }',
        'type Renamed0 @wes_table @wes_renamedFrom(name: "T0") { id: BigInt! @wes_pk  a: Int }\ntype T1 @wes_table { id: Int! @wes_pk  parentId: BigInt @wes_fk(ref: "Renamed0.id") @wes_index }',
    ),
    Pair(
        "type-change-binary-coercible",
        "scalar Short\n" + item("  short: Short"),
        "scalar Short\n" + item("  short: Short"),
        old_options=ParseOptions(scalars={"Short": "varchar(20)"}),
        new_options=ParseOptions(scalars={"Short": "varchar(40)"}),
    ),
    Pair(
        "set-not-null",
        B,
        item(sub={"  note: String": "  note: String!"}),
        prepare="UPDATE item SET note = 'n'",
    ),
    Pair(
        "tighten-with-default-backfills-the-nulls",
        B,
        item(sub={"  price: Int @wes_check": "  price: Int! @wes_default(value: 0) @wes_check"}),
        prepare="UPDATE item SET price = NULL WHERE ctid IN (SELECT ctid FROM item LIMIT 2)",
    ),
    Pair(
        "two-not-null-volatile-columns-in-one-table",
        B,
        item(
            '  t1: UUID! @wes_default(expr: "gen_random_uuid()")\n'
            '  t2: UUID! @wes_default(expr: "gen_random_uuid()")'
        ),
    ),
    Pair(
        "remove-enum-value-rebuilds-the-type",
        item("  tags: [Status!]"),
        item("  tags: [Status!]", sub={"enum Status { DRAFT LIVE }": "enum Status { DRAFT }"}),
        destructive=True,
        prepare="UPDATE item SET status = 'DRAFT', tags = ARRAY['DRAFT']::status[]",
    ),
    Pair("drop-not-null", B, item(sub={"  title: String!": "  title: String"})),
    Pair("set-default", B, item(sub={"  note: String": '  note: String @wes_default(value: "x")'})),
    Pair(
        "drop-default",
        B,
        item(sub={'  status: Status! @wes_default(value: "DRAFT")': "  status: Status!"}),
    ),
    Pair(
        "change-default",
        B,
        item(sub={'@wes_default(value: "DRAFT")': '@wes_default(value: "LIVE")'}),
    ),
    Pair("add-index", B, item(sub={"  note: String": "  note: String @wes_index"})),
    Pair(
        "add-partial-composite-index",
        B,
        item(
            head="",
            sub={
                "type Item @wes_table {": 'type Item @wes_table @wes_index(columns: ["orgId", "status"], where: "note IS NOT NULL") {'
            },
        ),
    ),
    Pair("add-gin-index", B, item('  tags: [String!] @wes_index(using: "gin")')),
    Pair(
        "drop-index", B, item(sub={'@wes_fk(ref: "Org.id") @wes_index': '@wes_fk(ref: "Org.id")'})
    ),
    Pair("add-unique", B, item(sub={"  note: String": "  note: String @wes_unique"})),
    Pair("drop-unique", B, item(sub={"  title: String! @wes_unique": "  title: String!"})),
    Pair(
        "add-fk-on-existing-column",
        B,
        item(sub={"  ownerId: ID": '  ownerId: ID @wes_fk(ref: "Org.id", onDelete: SET_NULL)'}),
    ),
    Pair("add-fk-new-column", B, item('  parentId: ID @wes_fk(ref: "Item.id")')),
    Pair(
        "drop-fk",
        B,
        item(sub={'  orgId: ID! @wes_fk(ref: "Org.id") @wes_index': "  orgId: ID! @wes_index"}),
    ),
    Pair(
        "add-check",
        B,
        item(sub={"  note: String": '  note: String @wes_check(expr: "length(note) < 100")'}),
    ),
    Pair("drop-check", B, item(sub={' @wes_check(expr: "price >= 0")': ""})),
    Pair(
        "add-enum-value",
        B,
        item(sub={"enum Status { DRAFT LIVE }": "enum Status { DRAFT REVIEW LIVE }"}),
    ),
    Pair("add-enum-and-column", B, item("  level: Level", head="enum Level { LOW HIGH }\n")),
    Pair(
        "create-table",
        B,
        item()
        + '\ntype Tag @wes_table { id: ID! @wes_pk  itemId: ID! @wes_fk(ref: "Item.id", onDelete: CASCADE) @wes_index  label: String! @wes_unique }',
    ),
    Pair(
        "create-tables-with-fk-cycle",
        B,
        item()
        + '\ntype P @wes_table { id: ID! @wes_pk  qId: ID @wes_fk(ref: "Q.id") }\ntype Q @wes_table { id: ID! @wes_pk  pId: ID @wes_fk(ref: "P.id") }',
    ),
    Pair("drop-table", item() + "\ntype Old @wes_table { id: ID! @wes_pk }", B, destructive=True),
    Pair(
        "enable-tenant-rls",
        B,
        item(sub={"type Item @wes_table {": 'type Item @wes_table @wes_tenant(by: "orgId") {'}),
    ),
    Pair(
        "add-rls-expressions",
        B,
        item(
            sub={
                "type Item @wes_table {": 'type Item @wes_table @wes_rls(select: "true", update: "note IS NULL") {'
            }
        ),
    ),
    Pair(
        "change-policy",
        item(sub={"type Item @wes_table {": 'type Item @wes_table @wes_rls(select: "true") {'}),
        item(
            sub={
                "type Item @wes_table {": "type Item @wes_table @wes_rls(select: \"status = 'LIVE'\") {"
            }
        ),
    ),
    Pair(
        "drop-rls",
        item(sub={"type Item @wes_table {": 'type Item @wes_table @wes_rls(select: "true") {'}),
        B,
    ),
    Pair(
        "change-uid",
        B,
        item(sub={"  note: String": '  note: String @wes_uid(value: "col:item.memo")'}),
    ),
    Pair(
        "add-updated-at",
        B,
        item('  updatedAt: DateTime! @wes_default(expr: "now()") @wes_updatedAt'),
    ),
    Pair(
        "change-primary-key",
        item("  code: String!"),
        item(
            "  code: String!",
            sub={
                '  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")\n  orgId': '  id: ID! @wes_default(expr: "gen_random_uuid()")\n  orgId',
                "  code: String!": "  code: String! @wes_pk",
            },
        ),
        destructive=True,
        prepare="UPDATE item SET code = id::text",
    ),
    Pair(
        "blade-v1-to-v2",
        (UPSTREAM / "blade-v1.graphql").read_text(),
        (UPSTREAM / "blade-v2.graphql").read_text(),
    ),
    Pair(
        "ecommerce-to-v2",
        (UPSTREAM / "ecommerce.graphql").read_text(),
        (UPSTREAM / "ecommerce-v2.graphql").read_text(),
    ),
    Pair("upstream-schema-from-nothing", "", (UPSTREAM / "schema.graphql").read_text()),
    # refinements (issue 15): their CHECKs are added NOT VALID, then validated
    Pair(
        "add-refinements-to-existing-columns",
        B,
        item(
            sub={
                "  title: String! @wes_unique": (
                    "  title: String! @wes_unique @wes_email @wes_length(min: 3, max: 200)"
                ),
                "  price: Int @wes_check": "  price: Int @wes_min(value: -5) @wes_max(value: 9) "
                "@wes_check",
                "  note: String": '  note: String @wes_regex(pattern: "^[a-z]+$") @url(check: false)',
            }
        ),
    ),
    Pair("drop-a-refinement", item(sub={"  note: String": "  note: String @wes_email"}), B),
    Pair(
        "rename-a-refined-column",
        item(sub={"  note: String": "  note: String @wes_email @wes_max(value: 40)"}),
        item(
            sub={
                "  note: String": (
                    '  memo: String @wes_email @wes_max(value: 40) @wes_renamedFrom(name: "note")'
                )
            }
        ),
    ),
    Pair(
        "new-table-with-refinements-and-generated",
        B,
        item(
            head="type Tag @wes_table { id: ID! @wes_pk  name: String! @wes_length(min: 1, max: 9)"
            '  slug: String! @wes_generated(expr: "lower(name)") @wes_index }\n'
        ),
    ),
    # a stored generated column is computed for every existing row: a rewrite, so destructive
    Pair(
        "add-generated-column-rewrites",
        B,
        item('  double: Int @wes_generated(expr: "price * 2")'),
        destructive=True,
    ),
]


def ir(text: str, options: ParseOptions) -> IR:
    return parse_sdl(text, options=options).ir if text else IR()


def seed(conn: psycopg.Connection[tuple[object, ...]], old: IR, rows: int = 3) -> None:
    plan = RowPlan(old)
    for table in old.tables:
        for _ in range(rows):
            plan.row(table, {})
    for sql in plan.inserts:
        conn.execute(sql.encode())


def plan_step(plan: Plan, step_id: str) -> Step:
    return next(s for s in plan.steps if s.id == step_id)


def test_there_are_at_least_30_pairs() -> None:
    assert len(PAIRS) >= 30


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p.id)
def test_plan_turns_old_into_new(pair: Pair, pg_dsn: str) -> None:
    old, new = ir(pair.old, pair.old_options), ir(pair.new, pair.new_options)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        if old.tables:
            apply_script(conn, postgres(old)[0].text, "old schema.sql")
            apply_script(conn, rls(old)[0].text, "old rls.sql")
            seed(conn, old)
        if pair.prepare:
            conn.execute(pair.prepare.encode())
        # the row counts `plan --from-db` would gather (NULLs, enum values in use)
        data = gather(conn, old if pair.old else None, new)
        # predicted for the server's version: what that major does is checked per step
        plan = build_plan(
            old if pair.old else None,
            new,
            allow_destructive=pair.destructive,
            data=data,
            server_version=conn.info.server_version,
        )
        assert bool(plan.destructive) == pair.destructive, plan.destructive
        assert not plan.blocked
        assert safe_rewrite_violations(old, new, plan) == []
        counts = {
            t.name: conn.execute(f'SELECT count(*) FROM "{t.name}"').fetchone() for t in old.tables
        }
        apply_plan(conn, plan, observe=True)  # locks and rewrites checked per step
        have = introspect(conn)
        assert_database_matches(new, have, policies=True, ordered=False)
        again = build_plan(have, new, allow_destructive=True)
        assert again.steps == [] and again.destructive == [], [s.sql for s in again.steps]
        rerun = apply_plan(conn, plan)  # a second run: guards say done (idempotent steps may rerun)
        assert [i for i in rerun if plan_step(plan, i).guard != IDEMPOTENT] == []
        assert build_plan(introspect(conn), new).steps == []
        for t in new.tables:  # no rows lost in tables that stay
            before = counts.get(snake_case(t.renamed_from or t.name)) or counts.get(t.name)
            if before is not None:
                assert conn.execute(f'SELECT count(*) FROM "{t.name}"').fetchone() == before
