"""The lock classifier on its own: version rules, missing context, parse errors, type rules.

What PostgreSQL 15 does is checked against a live server in test_locks_observed.py; these are
the rules that server cannot show (other versions) and the classifier's conservative answers.
"""

from __future__ import annotations

import pytest

from wesley.plan.locks import (
    LockFacts,
    RelationLock,
    TableContext,
    classify,
    not_null_check_column,
)


def locks(facts: LockFacts) -> dict[str, str]:
    return {lock.relation: lock.mode for lock in facts.locks}


def test_facts_shape() -> None:
    facts = classify(
        'ALTER TABLE s.child ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES "Parent" (id)'
    )
    assert facts == LockFacts(
        locks=(
            RelationLock("Parent", "SHARE ROW EXCLUSIVE"),
            RelationLock("child", "SHARE ROW EXCLUSIVE"),
        ),
        rewrite=False,
        scan=True,
        transactional=True,
        blocks_reads=False,
        blocks_writes=True,
        notes=(),
    )


@pytest.mark.parametrize("sql", ["", "SELECT 1; SELECT 2", "ALTER TABLE", "CREATE TABLE t ("])
def test_one_parsable_statement_only(sql: str) -> None:
    with pytest.raises(ValueError):
        classify(sql)


def test_add_column_default_rewrites_before_11() -> None:
    sql = "ALTER TABLE t ADD COLUMN c int DEFAULT 0"
    assert not classify(sql, 110000).rewrite
    old = classify(sql, 100000)
    assert old.rewrite and old.scan
    assert any("before PostgreSQL 11" in note for note in old.notes)
    # DEFAULT NULL is no default at all
    assert not classify("ALTER TABLE t ADD COLUMN c int DEFAULT NULL", 100000).rewrite


@pytest.mark.parametrize(
    ("default", "rewrites"),
    [
        ("now()", False),
        ("CURRENT_TIMESTAMP", False),
        ("pg_catalog.now()", False),
        ("txid_current()", False),
        ("'a' || lower('B')", False),
        ("'{}'::int[]", False),
        ("random()", True),
        ("gen_random_uuid()", True),
        ("uuid_generate_v4()", True),
        ("public.uuid_generate_v4()", True),
        ("clock_timestamp()", True),
        ("timeofday()::timestamptz", True),
        ("nextval('s')", True),
        ("coalesce(null, random())", True),
    ],
)
def test_add_column_default_volatility(default: str, rewrites: bool) -> None:
    facts = classify(f"ALTER TABLE t ADD COLUMN c text DEFAULT {default}")
    assert facts.rewrite is rewrites
    assert locks(facts) == {"t": "ACCESS EXCLUSIVE"}
    assert facts.blocks_reads


def test_unknown_function_in_default_is_assumed_volatile() -> None:
    facts = classify("ALTER TABLE t ADD COLUMN c int DEFAULT my_next_number()")
    assert facts.rewrite
    assert any("my_next_number() is unknown" in note for note in facts.notes)


def test_set_not_null_scan_rules() -> None:
    sql = "ALTER TABLE t ALTER COLUMN c SET NOT NULL"
    proven = {"t": TableContext(valid_not_null_checks=frozenset({"c"}))}
    assert classify(sql).scan  # no context: nothing proves the column
    assert not classify(sql, 150000, proven).scan
    before_12 = classify(sql, 110000, proven)
    assert before_12.scan
    assert any("before PostgreSQL 12" in note for note in before_12.notes)
    other_column = {"t": TableContext(valid_not_null_checks=frozenset({"d"}))}
    assert classify(sql, 150000, other_column).scan


def test_pg18_not_null_not_valid_note() -> None:
    for sql in (
        "ALTER TABLE t ALTER COLUMN c SET NOT NULL",
        "ALTER TABLE t ADD CONSTRAINT t_c CHECK (c IS NOT NULL) NOT VALID",
    ):
        assert not any("PostgreSQL 18" in n for n in classify(sql, 170000).notes)
        assert any("PostgreSQL 18" in n for n in classify(sql, 180000).notes)


@pytest.mark.parametrize(
    ("version", "warned"), [(130000, False), (140000, True), (140003, True), (140004, False)]
)
def test_concurrent_index_bug_in_14_0_to_14_3(version: int, warned: bool) -> None:
    facts = classify("CREATE INDEX CONCURRENTLY i ON t (c)", version)
    assert not facts.transactional
    assert locks(facts) == {"t": "SHARE UPDATE EXCLUSIVE"}
    assert any("14.4" in note for note in facts.notes) is warned


def test_enum_add_value_outside_transaction_before_12() -> None:
    assert classify("ALTER TYPE mood ADD VALUE 'x'", 120000).transactional
    old = classify("ALTER TYPE mood ADD VALUE 'x'", 110000)
    assert not old.transactional
    assert old.locks == ()


@pytest.mark.parametrize(
    ("old", "new", "rewrites"),
    [
        ("character varying(10)", "varchar(20)", False),
        ("character varying(10)", "varchar(10)", False),
        ("character varying(10)", "varchar", False),
        ("character varying(10)", "text", False),
        ("character varying(20)", "varchar(10)", True),
        ("character varying", "varchar(10)", True),
        ("text", "varchar", False),
        ("text", "varchar(10)", True),
        ("numeric(10,2)", "numeric(12,2)", False),
        ("numeric(10,2)", "decimal(12,2)", False),
        ("numeric(10,2)", "numeric", False),
        ("numeric(10,2)", "numeric(12,3)", True),
        ("numeric(10,2)", "numeric(8,2)", True),
        ("numeric(10)", "numeric(12,0)", False),
        ("numeric", "numeric(12,2)", True),
        ("timestamp(3) with time zone", "timestamptz(6)", False),
        ("timestamp(3) with time zone", "timestamptz", False),
        ("timestamp with time zone", "timestamptz(3)", True),
        ("timestamp without time zone", "timestamptz", True),
        ("integer", "bigint", True),
        ("integer", "int4", False),
        ("bigint", "int8", False),
        ("character(5)", "char(10)", True),
        ("text[]", "text[]", False),
        ("character varying(10)[]", "varchar(20)[]", True),
    ],
)
def test_alter_type_rewrite_rules(old: str, new: str, rewrites: bool) -> None:
    context = {"t": TableContext(column_types={"c": old})}
    facts = classify(f"ALTER TABLE t ALTER COLUMN c TYPE {new}", 150000, context)
    assert facts.rewrite is rewrites
    assert locks(facts) == {"t": "ACCESS EXCLUSIVE"}


def test_alter_type_without_context_or_with_using_is_a_rewrite() -> None:
    facts = classify("ALTER TABLE t ALTER COLUMN c TYPE varchar(20)")
    assert facts.rewrite
    assert any("unknown" in note for note in facts.notes)
    context = {"t": TableContext(column_types={"c": "character varying(10)"})}
    using = "ALTER TABLE t ALTER COLUMN c TYPE varchar(20) USING lower(c)"
    assert classify(using, 150000, context).rewrite
    plain = "ALTER TABLE t ALTER COLUMN c TYPE varchar(20) USING c"
    assert not classify(plain, 150000, context).rewrite


def test_validate_without_context_notes_the_fk_case() -> None:
    facts = classify("ALTER TABLE t VALIDATE CONSTRAINT t_fk")
    assert locks(facts) == {"t": "SHARE UPDATE EXCLUSIVE"}
    assert facts.scan and not facts.blocks_writes
    assert any("ROW SHARE" in note for note in facts.notes)
    context = {"t": TableContext(foreign_keys={"t_fk": "p"})}
    assert locks(classify("ALTER TABLE t VALIDATE CONSTRAINT t_fk", 150000, context)) == {
        "t": "SHARE UPDATE EXCLUSIVE",
        "p": "ROW SHARE",
    }


def test_drop_column_uses_foreign_key_columns() -> None:
    context = {
        "t": TableContext(
            foreign_keys={"t_a_fk": "a", "t_b_fk": "b", "t_x_fk": "x"},
            foreign_key_columns={"t_a_fk": frozenset({"a_id"}), "t_b_fk": frozenset({"b_id"})},
        )
    }
    facts = classify("ALTER TABLE t DROP COLUMN a_id", 150000, context)
    # t_x_fk's columns are unknown: assumed to use the column
    assert locks(facts) == {
        "t": "ACCESS EXCLUSIVE",
        "a": "ACCESS EXCLUSIVE",
        "x": "ACCESS EXCLUSIVE",
    }


def test_drop_index_needs_the_index_table() -> None:
    facts = classify("DROP INDEX CONCURRENTLY t_c_idx")
    assert locks(facts) == {"t_c_idx": "ACCESS EXCLUSIVE"}
    assert not facts.transactional
    assert any("unknown" in note for note in facts.notes)
    context = {"t": TableContext(indexes=frozenset({"t_c_idx"}))}
    facts = classify("DROP INDEX CONCURRENTLY public.t_c_idx", 150000, context)
    assert locks(facts) == {"t": "SHARE UPDATE EXCLUSIVE"}
    assert not facts.blocks_writes


def test_drop_table_without_context_notes_foreign_keys() -> None:
    facts = classify("DROP TABLE t")
    assert locks(facts) == {"t": "ACCESS EXCLUSIVE"}
    assert any("foreign keys" in note for note in facts.notes)


def test_update_without_context_notes_foreign_keys() -> None:
    facts = classify("UPDATE t SET c = 1 WHERE id BETWEEN 1 AND 1000")
    assert locks(facts) == {"t": "ROW EXCLUSIVE"}
    assert not (facts.rewrite or facts.scan or facts.blocks_reads or facts.blocks_writes)


def test_unknown_statement_is_conservative() -> None:
    facts = classify("INSERT INTO t SELECT * FROM u")
    assert locks(facts) == {"t": "ACCESS EXCLUSIVE", "u": "ACCESS EXCLUSIVE"}
    assert facts.rewrite and facts.scan and facts.blocks_reads
    assert any("not a statement kind the classifier knows" in note for note in facts.notes)


def test_unknown_alter_table_subcommand_is_conservative() -> None:
    facts = classify("ALTER TABLE t INHERIT p")
    assert locks(facts) == {"t": "ACCESS EXCLUSIVE", "p": "ACCESS EXCLUSIVE"}
    assert any("AT_AddInherit" in note for note in facts.notes)


def test_reloptions_outside_the_known_list_take_access_exclusive() -> None:
    assert locks(classify("ALTER TABLE t SET (autovacuum_enabled = false)")) == {
        "t": "SHARE UPDATE EXCLUSIVE"
    }
    assert locks(classify("ALTER TABLE t SET (user_catalog_table = true)")) == {
        "t": "ACCESS EXCLUSIVE"
    }


def test_no_table_lock_statements() -> None:
    for sql in (
        "CREATE TYPE mood AS ENUM ('a')",
        "GRANT SELECT ON t TO PUBLIC",
        "SET lock_timeout = '2s'",
        "COMMENT ON TYPE mood IS 'x'",
        "CREATE EXTENSION IF NOT EXISTS pgcrypto",
        "CREATE SCHEMA app",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS 'BEGIN RETURN 1; END'",
    ):
        facts = classify(sql)
        assert facts.locks == () and not facts.blocks_reads and facts.transactional, sql


@pytest.mark.parametrize(
    ("definition", "column"),
    [
        ("CHECK ((email IS NOT NULL))", "email"),
        ('CHECK (("Email" IS NOT NULL)) NOT VALID', "Email"),
        ("CHECK ((email IS NULL))", None),
        ("CHECK ((amount > 0))", None),
        ("CHECK (((a IS NOT NULL) AND (b IS NOT NULL)))", None),
        ("FOREIGN KEY (a) REFERENCES p(id)", None),
        ("not sql", None),
    ],
)
def test_not_null_check_column(definition: str, column: str | None) -> None:
    assert not_null_check_column(definition) == column


def test_sql_function_bodies_read_their_tables() -> None:
    for sql in (
        "CREATE FUNCTION f() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM s.t'",
        "CREATE FUNCTION f() RETURNS bigint LANGUAGE sql RETURN (SELECT count(*) FROM t)",
    ):
        facts = classify(sql)
        assert locks(facts) == {"t": "ACCESS SHARE"}, sql
        assert not facts.blocks_reads
