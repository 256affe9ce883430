"""The planner's choices that decide whether a live application notices a migration
(issue 10): what runs before what, what is refused and why, what is flagged. Pure: no
database (tests/test_traffic.py and tests/test_executor_limits.py run them for real)."""

from __future__ import annotations

import pytest

from wesley.evidence.scores import migration_risk
from wesley.plan.build import build_plan
from wesley.plan.explain import explain
from wesley.plan.facts import Facts, questions
from wesley.plan.models import PHASES, Plan, Step
from wesley.plan.timeouts import Timeouts, set_statements, step_kind
from wesley.sdl import parse_sdl

OLD = """
enum Status { DRAFT LIVE GONE }
type Account @wes_table { id: BigInt! @wes_pk  name: String! }
type Item @wes_table {
  id: BigInt! @wes_pk
  accountId: BigInt
  qty: Int
  price: Float
  status: Status! @wes_default(value: "DRAFT")
}
"""


def plan_for(new_item_body: str, *, old: str = OLD, **kwargs: object) -> Plan:
    new = old.split("type Item")[0] + "type Item @wes_table {\n" + new_item_body + "\n}\n"
    return build_plan(parse_sdl(old).ir, parse_sdl(new).ir, **kwargs)  # type: ignore[arg-type]


BASE = """  id: BigInt! @wes_pk
  accountId: BigInt
  qty: Int
  price: Float
  status: Status! @wes_default(value: "DRAFT")"""


def position(plan: Plan, step: Step) -> tuple[int, int]:
    return PHASES.index(step.phase), plan.steps.index(step)


def of(plan: Plan, op: str, column: str | None = None) -> list[Step]:
    return [s for s in plan.steps if s.op == op and (column is None or s.column == column)]


def test_not_null_helper_checks_come_after_every_backfill_of_the_table() -> None:
    # two NOT NULL columns with volatile defaults: the backfill of one must not run into the
    # other's check, and no application UPDATE of a row not yet filled may meet a check
    plan = plan_for(
        BASE + '\n  a: UUID! @wes_default(expr: "gen_random_uuid()")'
        '\n  b: Float! @wes_default(expr: "random()")'
    )
    backfills = of(plan, "backfill")
    checks = [s for s in of(plan, "add_check") if "IS NOT NULL" in s.sql]
    assert {s.column for s in backfills} == {s.column for s in checks} == {"a", "b"}
    last_backfill = max(position(plan, s) for s in backfills)
    assert all(position(plan, c) > last_backfill for c in checks)
    for col in ("a", "b"):
        add = of(plan, "add_column", col)[0]
        assert "NOT NULL" not in add.sql and "DEFAULT" not in add.sql  # nullable first
        default = of(plan, "set_default", col)[0]
        assert position(plan, default) < position(plan, of(plan, "backfill", col)[0])
        [check] = [c for c in checks if c.column == col]
        [validate] = of(plan, "validate_check", col)
        assert position(plan, check) < position(plan, validate)
        assert validate.undo is not None and validate.undo.reopen == [check.id]
        assert f"DROP CONSTRAINT IF EXISTS item_{col}_not_null" in validate.undo.sql
        [set_nn] = of(plan, "set_not_null", col)
        assert position(plan, validate) < position(plan, set_nn) and not set_nn.scan


def test_a_new_check_is_added_after_the_backfills_too() -> None:
    plan = plan_for(
        BASE.replace("qty: Int", 'qty: Int @wes_check(expr: "qty >= 0")')
        + '\n  a: UUID! @wes_default(expr: "gen_random_uuid()")'
    )
    [check] = [s for s in of(plan, "add_check") if "qty >= 0" in s.sql]
    assert position(plan, check) > position(plan, of(plan, "backfill", "a")[0])


def test_not_null_with_a_stable_default_is_one_catalog_only_step() -> None:
    plan = plan_for(
        BASE + '\n  seen: DateTime! @wes_default(expr: "now()")\n  n: Int! @wes_default(value: 3)'
    )
    for col, default in (("seen", "now()"), ("n", "3")):
        steps = [s for s in plan.steps if s.column == col]
        assert [s.op for s in steps] == ["add_column", "comment"]
        add = steps[0]
        assert add.sql.endswith(f"NOT NULL DEFAULT {default}")
        assert not add.rewrite and not add.scan and add.transactional
    assert not of(plan, "validate_check") and not of(plan, "backfill")


def test_tightening_a_column_that_has_a_default_backfills_its_nulls_first() -> None:
    plan = plan_for(BASE.replace("price: Float", "price: Float! @wes_default(value: 0)"))
    assert plan.destructive == []
    ops = [s.op for s in plan.steps if s.column == "price"]
    assert ops == [
        "set_default",
        "backfill",
        "add_check",
        "validate_check",
        "set_not_null",
        "drop_not_null_check",
    ]
    [fill] = of(plan, "backfill", "price")
    assert fill.backfill is not None and "SET price = 0" in str(fill.backfill.batch_sql)
    assert "price IS NULL" in str(fill.backfill.batch_sql)


def test_tightening_without_a_default_needs_the_null_count() -> None:
    body = BASE.replace("qty: Int", "qty: Int!")
    unknown = plan_for(body)
    [refusal] = unknown.destructive
    assert (refusal.change, refusal.column, refusal.blocking) == ("set_not_null", "qty", False)
    assert "plan --from-db" in refusal.risk and not of(unknown, "add_check")
    assert unknown.refused
    # what plan --from-db would ask
    [q] = questions(parse_sdl(OLD).ir, parse_sdl(OLD.replace("qty: Int", "qty: Int!")).ir)
    assert q.sql == "SELECT count(*) FROM item WHERE qty IS NULL" and q.key == ("item", "qty")
    # counted: none are NULL, so it is planned, and says so
    clean = plan_for(body, data=Facts(null_rows={("item", "qty"): 0}))
    assert clean.destructive == [] and not clean.refused
    [check] = of(clean, "add_check", "qty")
    assert "plan --from-db counted 0 NULL rows" in check.notes
    # counted: 3 are NULL: refused with the count, even with --allow-destructive
    for allow in (False, True):
        dirty = plan_for(body, data=Facts(null_rows={("item", "qty"): 3}), allow_destructive=allow)
        [blocked] = dirty.blocked
        assert "3 rows of item.qty are NULL" in blocked.risk
        assert dirty.refused and not [s for s in dirty.steps if s.column == "qty"]
        assert "cannot be planned until the data changes" in explain(dirty)


def test_removing_an_enum_value_rebuilds_the_type_or_is_refused() -> None:
    old = OLD
    new = OLD.replace("enum Status { DRAFT LIVE GONE }", "enum Status { DRAFT LIVE }")
    old_ir, new_ir = parse_sdl(old).ir, parse_sdl(new).ir
    refused = build_plan(old_ir, new_ir)
    assert refused.refused and [r.change for r in refused.destructive] == ["drop_enum_value"]
    assert refused.steps == []  # never an empty plan that pretends to be done: it is refused
    plan = build_plan(old_ir, new_ir, allow_destructive=True)
    assert not plan.refused
    sqls = [s.sql for s in plan.steps]
    assert sqls[0] == "CREATE TYPE status_wesley_new AS ENUM ('DRAFT', 'LIVE')"
    [alter] = of(plan, "alter_column_type")
    assert alter.sql == (
        "ALTER TABLE item ALTER COLUMN status DROP DEFAULT, ALTER COLUMN status TYPE "
        "status_wesley_new USING status::text::status_wesley_new, ALTER COLUMN status SET "
        "DEFAULT 'DRAFT'"
    )
    assert alter.rewrite and alter.destructive and alter.phase == "contract"
    assert sqls[-2:] == ["DROP TYPE status", "ALTER TYPE status_wesley_new RENAME TO status"]
    # rows holding the value (counted by plan --from-db): refused with the count
    q = questions(old_ir, new_ir)
    assert [x.key for x in q] == [("item", "status")]
    assert "status::text IN ('GONE')" in q[0].sql
    held = build_plan(
        old_ir, new_ir, allow_destructive=True, data=Facts(value_rows={("item", "status"): 4})
    )
    assert held.blocked and "4 rows of item.status" in held.blocked[0].risk
    # a policy reading the column: PostgreSQL cannot change its type, so refused
    with_policy = new.replace(
        "type Item @wes_table {", "type Item @wes_table @wes_rls(select: \"status = 'LIVE'\") {"
    )
    policy_old = old.replace(
        "type Item @wes_table {", "type Item @wes_table @wes_rls(select: \"status = 'LIVE'\") {"
    )
    blocked = build_plan(
        parse_sdl(policy_old).ir, parse_sdl(with_policy).ir, allow_destructive=True
    )
    assert blocked.blocked and "reads item.status" in blocked.blocked[0].risk


def test_enabling_rls_on_an_existing_table_is_a_behaviour_change() -> None:
    body = BASE
    old_ir = parse_sdl(OLD).ir
    new_ir = parse_sdl(
        OLD.replace("type Item @wes_table {", 'type Item @wes_table @wes_tenant(by: "accountId") {')
    ).ir
    plan = build_plan(old_ir, new_ir)
    [change] = plan.behaviour_changes
    assert (change.kind, change.table, change.force) == ("enable_rls", "item", True)
    enable = next(s for s in plan.steps if "ENABLE ROW LEVEL SECURITY" in s.sql)
    assert enable.risk >= 15 and any("behaviour change" in n for n in enable.notes)
    text = explain(plan)
    assert "behaviour changes (what the application sees changes, without an error):" in text
    assert "item: row-level security on item applies to every role except its owner" in text
    # a risk of its own in the MRI: more than the lock points of the same statements
    assert migration_risk(plan).score >= 0.15
    # a new table with RLS changes nothing anyone saw
    fresh = build_plan(None, new_ir)
    assert fresh.behaviour_changes == []
    assert body  # the base schema is the one above


def test_a_new_fk_column_without_an_index_gets_a_note_not_a_step() -> None:
    plan = plan_for(
        BASE.replace("accountId: BigInt", 'accountId: BigInt @wes_fk(ref: "Account.id")')
    )
    [fk] = of(plan, "add_fk")
    assert any(
        "no index on item(account_id)" in n and "@wes_index on accountId" in n for n in fk.notes
    )
    assert not of(plan, "create_index")
    indexed = plan_for(
        BASE.replace("accountId: BigInt", 'accountId: BigInt @wes_fk(ref: "Account.id") @wes_index')
    )
    assert not any("no index" in n for s in of(indexed, "add_fk") for n in s.notes)


@pytest.mark.parametrize(
    ("body", "op", "kind", "statement_ms"),
    [
        ('  a: UUID! @wes_default(expr: "gen_random_uuid()")', "backfill", "batches", 5_000),
        ('  a: UUID! @wes_default(expr: "gen_random_uuid()")', "validate_check", "scan", 3_600_000),
        ('  a: UUID! @wes_default(expr: "gen_random_uuid()")', "set_not_null", "catalog", 5_000),
        ("  n: Int @wes_index", "create_index", "scan", 3_600_000),
    ],
)
def test_every_step_has_a_lock_and_a_statement_timeout(
    body: str, op: str, kind: str, statement_ms: int
) -> None:
    plan = plan_for(BASE + "\n" + body)
    step = of(plan, op)[0]
    assert step_kind(step) == kind
    assert set_statements(step, Timeouts()) == [
        "SET lock_timeout = '500ms'",
        f"SET statement_timeout = '{statement_ms}ms'",
    ]


def test_backoff_is_exponential_jittered_and_capped() -> None:
    t = Timeouts()
    assert [t.backoff(n, 0.5) for n in (1, 2, 3, 4)] == [100, 200, 400, 800]
    assert t.backoff(1, 0.0) == 50 and t.backoff(1, 0.999) < 150
    assert t.backoff(20, 0.5) == t.backoff_max_ms


def test_shipme_lists_the_behaviour_changes() -> None:
    from wesley.cert import certificate
    from wesley.evidence.models import EvidenceMap
    from wesley.evidence.scores import DEFAULT_THRESHOLDS, compute_scores
    from wesley.realm.models import Realm

    old_ir = parse_sdl(OLD).ir
    new_ir = parse_sdl(
        OLD.replace("type Item @wes_table {", 'type Item @wes_table @wes_tenant(by: "accountId") {')
    ).ir
    plan = build_plan(old_ir, new_ir)
    realm = Realm(verdict="PASS", plan_hash=plan.plan_hash, ir_hash="x", database="shadow")
    evidence = EvidenceMap(ir_hash="x", uids={})
    scores = compute_scores(new_ir, evidence, plan, realm, dict(DEFAULT_THRESHOLDS))
    block = certificate.build_block(
        environment="prod",
        commit="abc",
        timestamp="2026-01-01T00:00:00+00:00",
        ir_hash="x",
        plan=plan,
        realm=realm,
        scores=scores,
        thresholds=dict(DEFAULT_THRESHOLDS),
        artifacts={},
    )
    assert block["plan"]["summary"]["behaviour_changes"] == ["enable_rls item"]
    assert (
        "- behaviour changes (rows the application sees change, without an error): "
        "enable_rls item" in certificate.summary(block)
    )
