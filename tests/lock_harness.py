"""Lock-observation harness: what PostgreSQL really does when it runs one DDL statement.

The ground truth for `wesley.plan.locks`. `observe()` runs a statement on a live server in a
database made by `setup()` (tables `parent`, `other`, `child` with rows, foreign keys, checks,
indexes, a policy, an enum) and reads, before its transaction ends:

- `pg_locks` for the statement's backend, relation locks only, strongest mode per relation;
  relations are named as they were before the statement, so a dropped or renamed table keeps
  its name; only objects in `public` count (no catalogs, no TOAST, no pg_locks itself);
- `pg_class.relfilenode` of every existing table before and after: a change is a rewrite;
- `pg_stat_xact_user_tables.seq_scan`: a table read by a sequential scan in the statement's
  transaction (validation, index build, rewrite) was scanned.

The transaction is then rolled back, so one database set up once serves every case (a fresh
database per case made the suite slow: CREATE DATABASE costs 60-200 ms).

CONCURRENTLY statements can't run in a transaction block nor be rolled back (give each its
own database). They run in autocommit on their own connection while a third connection holds
a lock they must wait for (CREATE INDEX CONCURRENTLY waits for writers, DROP INDEX
CONCURRENTLY for every user of the table); a watcher polls `pg_locks` until the statement
waits, then reads its locks. Their scans are not observable from another backend.

`table_context()` reads the `TableContext` the classifier needs from the catalog, so the test
compares the classifier with PostgreSQL on the same knowledge a planner would have.

Run `python -m tests.lock_harness` to print the generated part of docs/locks.md (every case
on every PostgreSQL major this machine has: the system's and the embedded one).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import psycopg
from psycopg.rows import TupleRow

from wesley.plan.lockmodes import LockMode, from_pg_locks, strength
from wesley.plan.locks import LockFacts, TableContext, not_null_check_column

SETUP_SQL = """
CREATE TABLE parent (id int PRIMARY KEY, name text);
CREATE TABLE other (id int PRIMARY KEY);
CREATE TABLE child (
    id int NOT NULL,
    parent_id int,
    other_id int,
    note varchar(10),
    amount numeric(10, 2),
    c text,
    email text,
    ts timestamptz(3),
    n int
);
INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 20) g;
INSERT INTO other SELECT g FROM generate_series(1, 20) g;
INSERT INTO child SELECT g, g, g, 'n', g, 'x', 'e' || g, now(), g FROM generate_series(1, 20) g;
ALTER TABLE child ADD CONSTRAINT child_parent_fk FOREIGN KEY (parent_id) REFERENCES parent (id);
ALTER TABLE child ADD CONSTRAINT child_other_fk FOREIGN KEY (other_id) REFERENCES other (id)
    NOT VALID;
ALTER TABLE child ADD CONSTRAINT child_c_not_null CHECK (c IS NOT NULL);
ALTER TABLE child ADD CONSTRAINT child_amount_positive CHECK (amount > 0) NOT VALID;
CREATE INDEX child_note_idx ON child (note);
CREATE UNIQUE INDEX child_email_key ON child (email);
CREATE POLICY child_policy ON child USING (true);
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE SEQUENCE child_seq;
CREATE TABLE events (id int NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO events SELECT g, date '2024-01-01' + g * 20 FROM generate_series(1, 20) g;
CREATE TABLE events_2026 (id int NOT NULL, at date NOT NULL);
INSERT INTO events_2026 SELECT g, date '2026-01-01' + g FROM generate_series(1, 20) g;
CREATE TABLE gen (id int NOT NULL, g int GENERATED ALWAYS AS (id * 2) STORED);
INSERT INTO gen SELECT g FROM generate_series(1, 20) g;
CREATE UNIQUE INDEX child_id_unique ON child (id);
CREATE SCHEMA wes_v_probe;
CREATE SCHEMA wes_v_empty;
CREATE VIEW wes_v_probe.parent AS SELECT id, name AS label FROM public.parent;
CREATE FUNCTION wes_v_probe.sync() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN new; END';
CREATE TRIGGER child_sync BEFORE INSERT OR UPDATE ON child
    FOR EACH ROW EXECUTE FUNCTION wes_v_probe.sync();
"""
# PostgreSQL 18 keeps NOT NULL as a constraint that can be NOT VALID: one to validate
SETUP_SQL_18 = """
ALTER TABLE child ADD CONSTRAINT child_n_not_null NOT NULL n NOT VALID;
"""

TABLE_KINDS = frozenset("rpvmf")  # tables, partitioned tables, views, matviews, foreign tables
WAIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class LockCase:
    id: str
    sql: str
    target: str | None  # the table whose lock says what the statement blocks
    # CONCURRENTLY: SQL a third connection runs in an open transaction so that the statement
    # has to wait for it, and can be watched while it holds its locks
    blocker: str | None = None
    # False where a sequential scan is not the statement's own work (an UPDATE's plan)
    check_scan: bool = True
    # the table whose sequential scan is the statement's work, when not `target`
    scan_table: str | None = None
    # the first server version that has the statement; older ones must reject it
    since: int = 0

    @property
    def scanned_table(self) -> str | None:
        return self.scan_table or self.target


_ALTER = "ALTER TABLE child "
_RE = "LOCK TABLE child IN ROW EXCLUSIVE MODE"
_AS = "LOCK TABLE child IN ACCESS SHARE MODE"

CASES: tuple[LockCase, ...] = (
    # CREATE TABLE
    LockCase(
        "create_table_references",
        "CREATE TABLE t (id int PRIMARY KEY, parent_id int REFERENCES parent (id))",
        "t",
    ),
    LockCase(
        "create_table_foreign_keys",
        "CREATE TABLE t (id int, parent_id int, other_id int,"
        " FOREIGN KEY (parent_id) REFERENCES parent (id),"
        " CONSTRAINT t_other_fk FOREIGN KEY (other_id) REFERENCES other (id))",
        "t",
    ),
    LockCase("create_table_like", "CREATE TABLE t (LIKE child)", "t"),
    LockCase("create_table_inherits", "CREATE TABLE t () INHERITS (parent)", "t"),
    # ADD COLUMN
    LockCase("add_column_nullable", _ALTER + "ADD COLUMN x int", "child"),
    LockCase(
        "add_column_constant_default", _ALTER + "ADD COLUMN x int NOT NULL DEFAULT 0", "child"
    ),
    LockCase(
        "add_column_expression_default", _ALTER + "ADD COLUMN x text DEFAULT lower('A')", "child"
    ),
    LockCase("add_column_now", _ALTER + "ADD COLUMN x timestamptz DEFAULT now()", "child"),
    LockCase(
        "add_column_current_timestamp",
        _ALTER + "ADD COLUMN x timestamptz DEFAULT CURRENT_TIMESTAMP",
        "child",
    ),
    LockCase(
        "add_column_txid_current", _ALTER + "ADD COLUMN x bigint DEFAULT txid_current()", "child"
    ),
    LockCase("add_column_random", _ALTER + "ADD COLUMN x float8 DEFAULT random()", "child"),
    LockCase(
        "add_column_gen_random_uuid",
        _ALTER + "ADD COLUMN x uuid DEFAULT gen_random_uuid()",
        "child",
    ),
    LockCase(
        "add_column_clock_timestamp",
        _ALTER + "ADD COLUMN x timestamptz DEFAULT clock_timestamp()",
        "child",
    ),
    LockCase(
        "add_column_nextval", _ALTER + "ADD COLUMN x bigint DEFAULT nextval('child_seq')", "child"
    ),
    LockCase("add_column_bigserial", _ALTER + "ADD COLUMN x bigserial", "child"),
    LockCase(
        "add_column_identity", _ALTER + "ADD COLUMN x int GENERATED ALWAYS AS IDENTITY", "child"
    ),
    LockCase(
        "add_column_stored_generated",
        _ALTER + "ADD COLUMN x int GENERATED ALWAYS AS (id * 2) STORED",
        "child",
    ),
    LockCase("add_column_references", _ALTER + "ADD COLUMN x int REFERENCES parent (id)", "child"),
    LockCase(
        "add_column_references_with_default",
        _ALTER + "ADD COLUMN x int DEFAULT 1 REFERENCES parent (id)",
        "child",
    ),
    LockCase("add_column_unique", _ALTER + "ADD COLUMN x int UNIQUE", "child"),
    LockCase("add_column_check", _ALTER + "ADD COLUMN x int CHECK (x > 0)", "child"),
    # ALTER COLUMN TYPE
    LockCase("alter_type_varchar_wider", _ALTER + "ALTER COLUMN note TYPE varchar(20)", "child"),
    LockCase("alter_type_varchar_to_text", _ALTER + "ALTER COLUMN note TYPE text", "child"),
    LockCase("alter_type_varchar_narrower", _ALTER + "ALTER COLUMN note TYPE varchar(5)", "child"),
    LockCase(
        "alter_type_using_plain_cast",
        _ALTER + "ALTER COLUMN note TYPE varchar(20) USING note::varchar(20)",
        "child",
    ),
    LockCase(
        "alter_type_numeric_wider", _ALTER + "ALTER COLUMN amount TYPE numeric(12, 2)", "child"
    ),
    LockCase(
        "alter_type_numeric_scale", _ALTER + "ALTER COLUMN amount TYPE numeric(12, 3)", "child"
    ),
    LockCase("alter_type_numeric_unbounded", _ALTER + "ALTER COLUMN amount TYPE numeric", "child"),
    LockCase(
        "alter_type_timestamptz_precision", _ALTER + "ALTER COLUMN ts TYPE timestamptz(6)", "child"
    ),
    LockCase("alter_type_int_to_bigint", _ALTER + "ALTER COLUMN id TYPE bigint", "child"),
    LockCase("alter_type_text_to_varchar_checked", _ALTER + "ALTER COLUMN c TYPE varchar", "child"),
    # NOT NULL, defaults
    LockCase("set_not_null", _ALTER + "ALTER COLUMN note SET NOT NULL", "child"),
    LockCase("set_not_null_with_valid_check", _ALTER + "ALTER COLUMN c SET NOT NULL", "child"),
    LockCase(
        "set_not_null_and_drop_check",
        _ALTER + "ALTER COLUMN c SET NOT NULL, DROP CONSTRAINT child_c_not_null",
        "child",
    ),
    LockCase("drop_not_null", _ALTER + "ALTER COLUMN id DROP NOT NULL", "child"),
    LockCase("set_default", _ALTER + "ALTER COLUMN amount SET DEFAULT 1", "child"),
    LockCase(
        "set_volatile_default", _ALTER + "ALTER COLUMN ts SET DEFAULT clock_timestamp()", "child"
    ),
    LockCase("drop_default", _ALTER + "ALTER COLUMN amount DROP DEFAULT", "child"),
    LockCase(
        "add_identity_to_column",
        _ALTER + "ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY",
        "child",
    ),
    # constraints
    LockCase("add_check", _ALTER + "ADD CONSTRAINT child_id_positive CHECK (id > 0)", "child"),
    LockCase(
        "add_check_not_valid",
        _ALTER + "ADD CONSTRAINT child_id_positive CHECK (id > 0) NOT VALID",
        "child",
    ),
    LockCase(
        "add_not_null_check_not_valid",
        _ALTER + "ADD CONSTRAINT child_note_not_null CHECK (note IS NOT NULL) NOT VALID",
        "child",
    ),
    LockCase(
        "add_foreign_key_not_valid",
        _ALTER + "ADD CONSTRAINT child_parent_fk2 FOREIGN KEY (parent_id) REFERENCES parent (id)"
        " NOT VALID",
        "child",
    ),
    LockCase(
        "add_foreign_key",
        _ALTER + "ADD CONSTRAINT child_parent_fk2 FOREIGN KEY (parent_id) REFERENCES parent (id)",
        "child",
    ),
    LockCase("validate_check", _ALTER + "VALIDATE CONSTRAINT child_amount_positive", "child"),
    LockCase("validate_foreign_key", _ALTER + "VALIDATE CONSTRAINT child_other_fk", "child"),
    LockCase("add_unique", _ALTER + "ADD CONSTRAINT child_email_unique UNIQUE (email)", "child"),
    LockCase("add_primary_key", _ALTER + "ADD PRIMARY KEY (id)", "child"),
    LockCase(
        "add_unique_using_index",
        _ALTER + "ADD CONSTRAINT child_email_key UNIQUE USING INDEX child_email_key",
        "child",
    ),
    LockCase(
        "add_primary_key_using_index",
        _ALTER + "ADD CONSTRAINT child_pkey PRIMARY KEY USING INDEX child_email_key",
        "child",
    ),
    LockCase("drop_check", _ALTER + "DROP CONSTRAINT child_amount_positive", "child"),
    LockCase("drop_foreign_key", _ALTER + "DROP CONSTRAINT child_parent_fk", "child"),
    LockCase("drop_not_valid_foreign_key", _ALTER + "DROP CONSTRAINT child_other_fk", "child"),
    # columns and names
    LockCase("drop_column", _ALTER + "DROP COLUMN note", "child"),
    LockCase("drop_foreign_key_column", _ALTER + "DROP COLUMN parent_id", "child"),
    LockCase(
        "drop_referenced_column_cascade", "ALTER TABLE parent DROP COLUMN id CASCADE", "parent"
    ),
    LockCase("rename_column", _ALTER + "RENAME COLUMN note TO remark", "child"),
    LockCase("rename_table", _ALTER + "RENAME TO kid", "child"),
    LockCase(
        "rename_constraint", _ALTER + "RENAME CONSTRAINT child_parent_fk TO child_fk", "child"
    ),
    LockCase(
        "rename_index", "ALTER INDEX child_note_idx RENAME TO child_remark_idx", "child_note_idx"
    ),
    # two versions live (issue 11): the version schema, the sync trigger, the swap
    LockCase(
        "create_view_in_a_version_schema",
        "CREATE VIEW wes_v_probe.child WITH (security_invoker = true) AS "
        "SELECT id, note AS remark FROM public.child",
        "child",
    ),
    LockCase("drop_view_in_a_version_schema", "DROP VIEW wes_v_probe.parent", None),
    LockCase(
        "grant_on_a_version_schema_view",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON wes_v_probe.parent TO PUBLIC",
        None,
    ),
    LockCase(
        "create_sync_function",
        "CREATE OR REPLACE FUNCTION wes_v_probe.sync() RETURNS trigger LANGUAGE plpgsql AS "
        "$f$BEGIN new.note := new.c; RETURN new; END$f$",
        None,
    ),
    LockCase(
        "create_sync_trigger",
        "CREATE TRIGGER child_sync2 BEFORE INSERT OR UPDATE ON child FOR EACH ROW "
        "EXECUTE FUNCTION wes_v_probe.sync()",
        "child",
    ),
    LockCase("drop_sync_trigger", "DROP TRIGGER child_sync ON child", "child"),
    LockCase("alter_sequence_owned_by", "ALTER SEQUENCE child_seq OWNED BY child.id", None),
    LockCase(
        "probe_both_conversions",
        "SELECT (SELECT CAST((c) AS integer) FROM (SELECT NULL::text AS c) AS probe)",
        None,
    ),
    LockCase(
        "swap_shadow_column",
        _ALTER + "DISABLE TRIGGER child_sync, DROP COLUMN email, "
        "ADD CONSTRAINT child_pkey PRIMARY KEY USING INDEX child_id_unique",
        "child",
    ),
    LockCase("drop_version_schema", "DROP SCHEMA wes_v_empty", None),
    # row level security, other subcommands
    LockCase("enable_rls", _ALTER + "ENABLE ROW LEVEL SECURITY", "child"),
    LockCase("force_rls", _ALTER + "FORCE ROW LEVEL SECURITY", "child"),
    LockCase("disable_rls", _ALTER + "DISABLE ROW LEVEL SECURITY", "child"),
    LockCase("no_force_rls", _ALTER + "NO FORCE ROW LEVEL SECURITY", "child"),
    LockCase("set_statistics", _ALTER + "ALTER COLUMN note SET STATISTICS 200", "child"),
    LockCase("set_fillfactor", _ALTER + "SET (fillfactor = 70)", "child"),
    LockCase("disable_triggers", _ALTER + "DISABLE TRIGGER ALL", "child"),
    LockCase("owner", _ALTER + "OWNER TO CURRENT_USER", "child"),
    LockCase(
        "several_subcommands",
        _ALTER + "ADD COLUMN x int, ALTER COLUMN note SET DEFAULT 'b'",
        "child",
    ),
    LockCase(
        "several_subcommands_strongest",
        _ALTER + "VALIDATE CONSTRAINT child_other_fk, ADD COLUMN x float8 DEFAULT random()",
        "child",
    ),
    # indexes
    LockCase("create_index", "CREATE INDEX child_amount_idx ON child (amount)", "child"),
    LockCase("create_unique_index", "CREATE UNIQUE INDEX child_id_key ON child (id)", "child"),
    LockCase(
        "create_index_concurrently",
        "CREATE INDEX CONCURRENTLY child_amount_idx ON child (amount)",
        "child",
        blocker=_RE,
    ),
    LockCase(
        "create_unique_index_concurrently",
        "CREATE UNIQUE INDEX CONCURRENTLY child_id_key ON child (id)",
        "child",
        blocker=_RE,
    ),
    LockCase("drop_index", "DROP INDEX child_note_idx", "child"),
    LockCase(
        "drop_index_concurrently", "DROP INDEX CONCURRENTLY child_note_idx", "child", blocker=_AS
    ),
    LockCase("reindex_index", "REINDEX INDEX child_note_idx", "child"),
    LockCase("reindex_table", "REINDEX TABLE child", "child"),
    LockCase(
        "reindex_index_concurrently",
        "REINDEX INDEX CONCURRENTLY child_note_idx",
        "child",
        blocker=_RE,
    ),
    LockCase(
        "reindex_table_concurrently", "REINDEX TABLE CONCURRENTLY child", "child", blocker=_RE
    ),
    # partitions
    LockCase(
        "create_partition",
        "CREATE TABLE events_2027 PARTITION OF events"
        " FOR VALUES FROM ('2027-01-01') TO ('2028-01-01')",
        "events",
    ),
    LockCase(
        "attach_partition",
        "ALTER TABLE events ATTACH PARTITION events_2026"
        " FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
        "events",
        scan_table="events_2026",
    ),
    LockCase("detach_partition", "ALTER TABLE events DETACH PARTITION events_2024", "events"),
    LockCase(
        "detach_partition_concurrently",
        "ALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY",
        "events",
        # the second of its two transactions waits for the partition's ACCESS EXCLUSIVE
        blocker="LOCK TABLE events_2024 IN ACCESS SHARE MODE",
    ),
    LockCase(
        "alter_foreign_key_deferrable",
        _ALTER + "ALTER CONSTRAINT child_parent_fk DEFERRABLE",
        "child",
    ),
    # statement forms newer than 15
    LockCase(
        "set_generated_expression",
        "ALTER TABLE gen ALTER COLUMN g SET EXPRESSION AS (id * 3)",
        "gen",
        since=170000,
    ),
    LockCase(
        "add_column_virtual_generated",
        _ALTER + "ADD COLUMN x int GENERATED ALWAYS AS (id * 2) VIRTUAL",
        "child",
        since=180000,
    ),
    LockCase(
        "add_not_null_constraint_not_valid",
        _ALTER + "ADD CONSTRAINT child_note_nn NOT NULL note NOT VALID",
        "child",
        since=180000,
    ),
    LockCase(
        "add_not_null_constraint",
        _ALTER + "ADD CONSTRAINT child_note_nn NOT NULL note",
        "child",
        since=180000,
    ),
    LockCase(
        "add_not_null_constraint_with_valid_check",
        _ALTER + "ADD CONSTRAINT child_c_nn NOT NULL c",
        "child",
        since=180000,
    ),
    LockCase(
        "validate_not_null_constraint",
        _ALTER + "VALIDATE CONSTRAINT child_n_not_null",
        "child",
        since=180000,
    ),
    LockCase(
        # on 18 a NOT VALID NOT NULL constraint is there, and is validated; on 15, plain
        "set_not_null_over_not_valid_constraint",
        _ALTER + "ALTER COLUMN n SET NOT NULL",
        "child",
    ),
    LockCase(
        "add_check_not_enforced",
        _ALTER + "ADD CONSTRAINT child_id_positive CHECK (id > 0) NOT ENFORCED",
        "child",
        since=180000,
    ),
    LockCase(
        "add_foreign_key_not_enforced",
        _ALTER + "ADD CONSTRAINT child_parent_fk2 FOREIGN KEY (parent_id) REFERENCES parent (id)"
        " NOT ENFORCED",
        "child",
        since=180000,
    ),
    LockCase(
        "alter_foreign_key_not_enforced",
        _ALTER + "ALTER CONSTRAINT child_parent_fk NOT ENFORCED",
        "child",
        since=180000,
    ),
    # tables
    LockCase("drop_table", "DROP TABLE child", "child"),
    LockCase("drop_table_cascade", "DROP TABLE parent CASCADE", "parent"),
    # policies, triggers, comments
    LockCase("create_policy", "CREATE POLICY child_read ON child FOR SELECT USING (true)", "child"),
    LockCase("alter_policy", "ALTER POLICY child_policy ON child USING (false)", "child"),
    LockCase("rename_policy", "ALTER POLICY child_policy ON child RENAME TO child_all", "child"),
    LockCase("drop_policy", "DROP POLICY child_policy ON child", "child"),
    LockCase(
        "create_trigger",
        "CREATE TRIGGER child_same BEFORE UPDATE ON child FOR EACH ROW"
        " EXECUTE FUNCTION suppress_redundant_updates_trigger()",
        "child",
    ),
    LockCase("comment_table", "COMMENT ON TABLE child IS 'kids'", "child"),
    LockCase("comment_column", "COMMENT ON COLUMN child.note IS 'a note'", "child"),
    LockCase(
        "comment_constraint", "COMMENT ON CONSTRAINT child_parent_fk ON child IS 'fk'", "child"
    ),
    LockCase("comment_index", "COMMENT ON INDEX child_note_idx IS 'by note'", "child_note_idx"),
    # types, grants, session settings
    LockCase("create_enum", "CREATE TYPE status AS ENUM ('draft', 'live')", None),
    LockCase("enum_add_value", "ALTER TYPE mood ADD VALUE 'calm'", None),
    LockCase("create_schema", "CREATE SCHEMA app", None),
    LockCase(
        "create_sql_function",
        "CREATE FUNCTION child_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM child'",
        None,
    ),
    LockCase(
        "create_plpgsql_function",
        "CREATE FUNCTION child_total() RETURNS bigint LANGUAGE plpgsql"
        " AS $$BEGIN RETURN (SELECT count(*) FROM child); END$$",
        None,
    ),
    # @wes_rpc functions: a PL/pgSQL body that reads and writes child locks nothing at CREATE
    LockCase(
        "create_rpc_function",
        "CREATE OR REPLACE FUNCTION public.get_child(id integer) RETURNS jsonb LANGUAGE plpgsql"
        " STABLE SECURITY INVOKER AS $$ DECLARE r public.child; BEGIN"
        " SELECT * INTO r FROM public.child WHERE child.id = $1; RETURN to_jsonb(r); END $$",
        None,
    ),
    LockCase("comment_function", "COMMENT ON FUNCTION wes_v_probe.sync() IS 'x'", None),
    LockCase("grant_execute", "GRANT EXECUTE ON FUNCTION wes_v_probe.sync() TO PUBLIC", None),
    LockCase("revoke_execute", "REVOKE ALL ON FUNCTION wes_v_probe.sync() FROM PUBLIC", None),
    LockCase("grant", "GRANT SELECT ON child TO PUBLIC", None),
    LockCase("revoke", "REVOKE SELECT ON child FROM PUBLIC", None),
    # the statements of the plan's grant / revoke steps (issue 9): several privileges, a column
    LockCase("grant_privileges", "GRANT SELECT, INSERT, UPDATE, DELETE ON child TO PUBLIC", None),
    LockCase("grant_column", "GRANT SELECT (note), UPDATE (note) ON child TO PUBLIC", None),
    LockCase("revoke_column", "REVOKE SELECT (note) ON child FROM PUBLIC", None),
    LockCase("set_lock_timeout", "SET lock_timeout = '2s'", None),
    # batched backfill
    LockCase(
        "update_backfill",
        "UPDATE child SET note = 'z' WHERE id BETWEEN 1 AND 5",
        "child",
        check_scan=False,
    ),
    LockCase(
        "update_batch_subquery",
        "UPDATE child SET note = 'z' WHERE id IN"
        " (SELECT id FROM child WHERE note IS DISTINCT FROM 'z' LIMIT 5)",
        "child",
        check_scan=False,
    ),
    LockCase(
        "update_batch_cte",
        "WITH batch AS (SELECT id FROM child WHERE note = 'n' LIMIT 5)"
        " UPDATE child SET note = 'z' FROM batch WHERE batch.id = child.id",
        "child",
        check_scan=False,
    ),
    LockCase(
        "update_from",
        "UPDATE child SET note = p.name FROM parent p WHERE p.id = child.parent_id",
        "child",
        check_scan=False,
    ),
    LockCase(
        "update_foreign_key_column",
        "UPDATE child SET parent_id = 2 WHERE id = 1",
        "child",
        check_scan=False,
    ),
)


@dataclass(frozen=True)
class Observation:
    locks: Mapping[str, LockMode]  # strongest granted mode per relation in `public`
    kinds: Mapping[str, str]  # pg_class.relkind per locked relation
    rewritten: frozenset[str]  # existing tables whose relfilenode changed
    scanned: frozenset[str] | None  # existing tables read by a seq scan; None: not observable
    transactional: bool  # the statement runs inside a transaction block
    server_version: int

    def relevant_locks(self, named: frozenset[str] = frozenset()) -> dict[str, LockMode]:
        """Locks on tables, and on other relations (indexes) only when `named`."""
        return {
            rel: mode
            for rel, mode in self.locks.items()
            if self.kinds.get(rel) in TABLE_KINDS or rel in named
        }


Conn = psycopg.Connection[TupleRow]
_Relations = dict[int, tuple[str, str, int]]  # oid -> (name, relkind, relfilenode)

_RELATIONS_SQL = """
SELECT oid::int8, relname, relkind::text, relfilenode::int8 FROM pg_class
WHERE relnamespace = 'public'::regnamespace
"""
_LOCKS_SQL = """
SELECT l.relation::int8, l.mode FROM pg_locks l
WHERE l.pid = %s AND l.locktype = 'relation' AND (l.granted OR %s)
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
_SCANS_SQL = "SELECT relid::int8 FROM pg_stat_xact_user_tables WHERE seq_scan > 0"


def setup(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SETUP_SQL)
        if conn.info.server_version >= 180000:
            conn.execute(SETUP_SQL_18)


def table_context(dsn: str) -> dict[str, TableContext]:
    """The classifier's context for every table in `public`, read from the catalog."""
    with psycopg.connect(dsn) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT relname FROM pg_class"
                " WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')"
            )
        ]
        types: dict[str, dict[str, str]] = {t: {} for t in tables}
        for table, column, type_ in conn.execute(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)"
            " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')"
            " AND a.attnum > 0 AND NOT a.attisdropped"
        ):
            types[table][column] = type_
        checks: dict[str, set[str]] = {t: set() for t in tables}
        for table, definition in conn.execute(
            "SELECT c.relname, pg_get_constraintdef(k.oid) FROM pg_constraint k"
            " JOIN pg_class c ON c.oid = k.conrelid"
            " WHERE c.relnamespace = 'public'::regnamespace AND k.contype = 'c'"
            " AND k.convalidated"
        ):
            column = not_null_check_column(definition)
            if column is not None:
                checks[table].add(column)
        fks: dict[str, dict[str, str]] = {t: {} for t in tables}
        fk_columns: dict[str, dict[str, frozenset[str]]] = {t: {} for t in tables}
        referenced_by: dict[str, set[str]] = {t: set() for t in tables}
        for table, name, referenced, columns in conn.execute(
            "SELECT c.relname, k.conname, r.relname, ARRAY(SELECT a.attname FROM pg_attribute a"
            "   WHERE a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey))::text[]"
            " FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
            " JOIN pg_class r ON r.oid = k.confrelid"
            " WHERE c.relnamespace = 'public'::regnamespace AND k.contype = 'f'"
        ):
            fks[table][name] = referenced
            fk_columns[table][name] = frozenset(columns)
            referenced_by[referenced].add(table)
        indexes: dict[str, set[str]] = {t: set() for t in tables}
        index_columns: dict[str, dict[str, frozenset[str]]] = {t: {} for t in tables}
        for table, index, columns in conn.execute(
            "SELECT t.relname, i.relname, ARRAY(SELECT a.attname FROM pg_attribute a"
            "   WHERE a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey))::text[]"
            " FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
            " WHERE t.relnamespace = 'public'::regnamespace"
        ):
            indexes[table].add(index)
            index_columns[table][index] = frozenset(columns)
        not_null: dict[str, set[str]] = {t: set() for t in tables}
        for table, column in conn.execute(
            "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c"
            " ON c.oid = a.attrelid WHERE c.relnamespace = 'public'::regnamespace"
            " AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND a.attnotnull"
            " AND NOT a.attisdropped"
        ):
            not_null[table].add(column)
    return {
        t: TableContext(
            valid_not_null_checks=frozenset(checks[t]),
            column_types=types[t],
            foreign_keys=fks[t],
            foreign_key_columns=fk_columns[t],
            referenced_by=frozenset(referenced_by[t]),
            indexes=frozenset(indexes[t]),
            index_columns=index_columns[t],
            not_null_columns=frozenset(not_null[t]),
        )
        for t in tables
    }


def observe(dsn: str, case: LockCase) -> Observation:
    if case.blocker is None:
        return _observe_in_transaction(dsn, case.sql)
    return _observe_concurrently(dsn, case.sql, case.blocker)


def _relations(conn: Conn) -> _Relations:
    return {oid: (name, kind, node) for oid, name, kind, node in conn.execute(_RELATIONS_SQL)}


def _locks(
    conn: Conn, pid: int, before: _Relations, waiting: bool = False
) -> tuple[dict[str, LockMode], dict[str, str]]:
    """The locks backend `pid` holds (and, with `waiting`, the one it waits for: a statement
    watched while it waits will take it next)."""
    now = _relations(conn)
    locks: dict[str, LockMode] = {}
    kinds: dict[str, str] = {}
    for oid, pg_mode in conn.execute(_LOCKS_SQL, (pid, waiting)):
        # named as before the statement (a dropped or renamed table), else as created
        known = before.get(oid) or now.get(oid)
        if known is None:
            continue  # catalogs, TOAST, transient relations of a rewrite
        name, kind = known[0], known[1]
        mode = from_pg_locks(pg_mode)
        if name not in locks or strength(mode) > strength(locks[name]):
            locks[name] = mode
        kinds[name] = kind
    return locks, kinds


def _rewritten(before: _Relations, after: _Relations) -> frozenset[str]:
    return frozenset(
        name
        for oid, (name, kind, node) in before.items()
        if kind in TABLE_KINDS and oid in after and after[oid][2] != node
    )


def _observe_in_transaction(dsn: str, sql: str) -> Observation:
    with psycopg.connect(dsn) as conn:
        before = _relations(conn)
        conn.commit()  # the statement gets a transaction (and transaction stats) of its own
        conn.execute(sql)
        locks, kinds = _locks(conn, conn.info.backend_pid, before)
        scanned = frozenset(before[oid][0] for (oid,) in conn.execute(_SCANS_SQL) if oid in before)
        after = _relations(conn)
        # rolled back, not committed: the database is left as it was for the next case
        conn.rollback()
        if _relations(conn) != before:
            raise AssertionError(f"{sql!r} changed the database outside its transaction")
        return Observation(
            locks=locks,
            kinds=kinds,
            rewritten=_rewritten(before, after),
            scanned=scanned,
            transactional=True,
            server_version=conn.info.server_version,
        )


def _observe_concurrently(dsn: str, sql: str, blocker: str) -> Observation:
    with psycopg.connect(dsn) as probe:
        before = _relations(probe)
        probe.commit()
        try:
            probe.execute(sql)
            transactional = True
        except psycopg.errors.ActiveSqlTransaction:
            transactional = False
        probe.rollback()
        version = probe.info.server_version
    if transactional:
        raise AssertionError(f"{sql!r} ran inside a transaction block: not a CONCURRENTLY case")
    with (
        psycopg.connect(dsn) as holder,
        psycopg.connect(dsn, autocommit=True) as runner,
        psycopg.connect(dsn, autocommit=True) as watcher,
    ):
        holder.execute(blocker)  # stays open: the statement must wait for it
        failures: list[BaseException] = []
        pid = runner.info.backend_pid

        def run() -> None:
            try:
                runner.execute(sql)
            except BaseException as exc:  # re-raised in the test thread
                failures.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            _wait_until_waiting(watcher, pid, thread)
            locks, kinds = _locks(watcher, pid, before, waiting=True)
        finally:
            holder.commit()
            thread.join(WAIT_TIMEOUT_S)
        if failures:
            raise failures[0]
        after = _relations(watcher)
    return Observation(
        locks=locks,
        kinds=kinds,
        rewritten=_rewritten(before, after),
        scanned=None,
        transactional=False,
        server_version=version,
    )


def _wait_until_waiting(watcher: Conn, pid: int, thread: threading.Thread) -> None:
    """Poll until backend `pid` waits for a lock it has not been granted."""
    deadline = time.monotonic() + WAIT_TIMEOUT_S
    while time.monotonic() < deadline:
        row = watcher.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted)", (pid,)
        ).fetchone()
        if row and row[0]:
            return
        if not thread.is_alive():
            raise AssertionError("the statement finished without waiting for the blocker")
        time.sleep(0.002)
    raise AssertionError(f"backend {pid} never waited for the blocker")


# --- docs/locks.md ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionRule:
    """A rule of the classifier that depends on the server version, and the harness cases that
    show on the servers here which side of it they are on."""

    versions: str
    rule: str
    classifier: str
    cases: tuple[str, ...] = ()


VERSION_RULES: tuple[VersionRule, ...] = (
    VersionRule(
        "< 11",
        "ADD COLUMN with any non-NULL DEFAULT rewrites the table",
        "`rewrite`, note",
        ("add_column_constant_default", "add_column_now"),
    ),
    VersionRule(
        ">= 11",
        "a non-volatile DEFAULT is stored in the catalog: no rewrite; a volatile one rewrites",
        "volatile or unknown function → `rewrite`",
        ("add_column_now", "add_column_txid_current", "add_column_random"),
    ),
    VersionRule(
        "< 12",
        "SET NOT NULL always scans; a valid CHECK (c IS NOT NULL) does not help",
        "`scan`, note",
        ("set_not_null", "set_not_null_with_valid_check"),
    ),
    VersionRule(
        "< 12",
        "ALTER TYPE ... ADD VALUE cannot run in a transaction block",
        "`transactional = False`, note",
        ("enum_add_value",),
    ),
    VersionRule(
        "< 12",
        "ATTACH PARTITION locks the partitioned table ACCESS EXCLUSIVE (SHARE UPDATE EXCLUSIVE"
        " from 12)",
        "ACCESS EXCLUSIVE on the parent, note",
        ("attach_partition",),
    ),
    VersionRule(
        ">= 12",
        "REINDEX ... CONCURRENTLY exists: SHARE UPDATE EXCLUSIVE, outside a transaction",
        "older: note that the server rejects it",
        ("reindex_index_concurrently", "reindex_table_concurrently"),
    ),
    VersionRule(
        "14.0-14.3",
        "indexes built or rebuilt CONCURRENTLY can be corrupted (a bug, not a lock)",
        "note on CREATE INDEX / REINDEX CONCURRENTLY: upgrade to 14.4+",
    ),
    VersionRule(
        ">= 14",
        "DETACH PARTITION ... CONCURRENTLY / FINALIZE exist: SHARE UPDATE EXCLUSIVE on the"
        " parent, ACCESS EXCLUSIVE on the partition, two transactions",
        "older: note that the server rejects it",
        ("detach_partition_concurrently",),
    ),
    VersionRule(
        ">= 16",
        "GRANT / REVOKE on a table take ACCESS SHARE on it (none on 15; 16 and 17 are not"
        " observed here and assumed like 18)",
        "ACCESS SHARE from 16 on, note on 16 and 17",
        ("grant", "revoke", "grant_privileges", "grant_column", "revoke_column"),
    ),
    VersionRule(
        ">= 17",
        "ALTER COLUMN ... SET EXPRESSION exists: ACCESS EXCLUSIVE, rewrite",
        "older: note that the server rejects it",
        ("set_generated_expression",),
    ),
    VersionRule(
        ">= 18",
        "generated columns are VIRTUAL unless STORED: ADD COLUMN does not rewrite",
        "no `rewrite` for VIRTUAL; older: note that the server rejects it",
        ("add_column_virtual_generated",),
    ),
    VersionRule(
        ">= 18",
        "NOT NULL is a constraint: ADD CONSTRAINT ... NOT NULL [NOT VALID] and VALIDATE it"
        " later; a valid CHECK (c IS NOT NULL) spares the scan; SET NOT NULL validates a NOT"
        " VALID one",
        "`scan` unless NOT VALID or proven; note on SET NOT NULL and CHECK (c IS NOT NULL)",
        (
            "add_not_null_constraint_not_valid",
            "add_not_null_constraint",
            "add_not_null_constraint_with_valid_check",
            "validate_not_null_constraint",
            "set_not_null_over_not_valid_constraint",
        ),
    ),
    VersionRule(
        ">= 18",
        "CHECK and FOREIGN KEY constraints can be NOT ENFORCED: no scan; ALTER CONSTRAINT ..."
        " [NOT] ENFORCED adds or drops an FK's triggers (ACCESS EXCLUSIVE on both tables)",
        "no `scan`; referenced table ACCESS EXCLUSIVE; older: note that the server rejects it",
        (
            "add_check_not_enforced",
            "add_foreign_key_not_enforced",
            "alter_foreign_key_not_enforced",
        ),
    ),
)

BEGIN_GENERATED = "<!-- generated by `python -m tests.lock_harness`; a test keeps it current -->"
END_GENERATED = "<!-- end of generated part -->"

# per major: case id -> (what PostgreSQL did, the classifier's facts), None when rejected
Observed = dict[int, dict[str, tuple[Observation, LockFacts] | None]]


def observe_all(admin_dsn: str, name: str) -> dict[str, tuple[Observation, LockFacts] | None]:
    """Every case on the server of `admin_dsn`, each database named `name` + a number."""
    from wesley.db.cluster import create_database, drop_database
    from wesley.plan.locks import classify

    made = [f"{name}_shared"]
    shared = create_database(admin_dsn, made[0])
    try:
        setup(shared)
        context = table_context(shared)
        out: dict[str, tuple[Observation, LockFacts] | None] = {}
        for number, case in enumerate(CASES):
            dsn = shared
            if case.blocker is not None:
                made.append(f"{name}_{number}")
                dsn = create_database(admin_dsn, made[-1])
                setup(dsn)
            try:
                obs = observe(dsn, case)
            except psycopg.Error:
                if case.since == 0:
                    raise
                out[case.id] = None
                continue
            out[case.id] = (obs, classify(case.sql, obs.server_version, context))
        return out
    finally:
        for db in made:
            drop_database(admin_dsn, db)


def _flag(value: bool | None) -> str:
    return "n/a" if value is None else ("yes" if value else "no")


def _facts_cells(case: LockCase, obs: Observation, facts: LockFacts) -> str:
    named = frozenset(lock.relation for lock in facts.locks)
    locks = obs.relevant_locks(named)
    shown = "; ".join(f"{rel}: {mode}" for rel, mode in sorted(locks.items())) or "none"
    scanned = (
        None if obs.scanned is None or not case.check_scan else case.scanned_table in obs.scanned
    )
    return (
        f"{shown} | {_flag(case.target in obs.rewritten)} | {_flag(scanned)} "
        f"| {_flag(obs.transactional)}"
    )


def _majors(majors: list[int]) -> str:
    return ", ".join(str(m) for m in majors)


def statement_rows(observed: Observed) -> list[str]:
    """One row per statement and outcome: identical outcomes on several majors share a row."""
    rows = []
    for case in CASES:
        outcomes: dict[str, list[int]] = {}
        rejected: list[int] = []
        for major, cases in sorted(observed.items()):
            got = cases[case.id]
            if got is None:
                rejected.append(major)
            else:
                outcomes.setdefault(_facts_cells(case, *got), []).append(major)
        sql = case.sql.replace("|", "\\|")
        for cells, majors in outcomes.items():
            on = _majors(majors) + (f" ({_majors(rejected)}: rejected)" if rejected else "")
            rows.append(f"| `{sql}` | {cells} | {on} |")
    return rows


def rule_rows(observed: Observed) -> list[str]:
    rows = []
    for rule in VERSION_RULES:
        if not rule.cases:
            seen = "nothing to observe"
        else:
            parts = []
            for major, cases in sorted(observed.items()):
                rejected = [c for c in rule.cases if cases[c] is None]
                if not rejected:
                    parts.append(f"{major}: observed")
                elif len(rejected) == len(rule.cases):
                    parts.append(f"{major}: rejected")
                else:
                    parts.append(f"{major}: rejected " + ", ".join(f"`{c}`" for c in rejected))
            seen = "; ".join(parts) + " — " + ", ".join(f"`{c}`" for c in rule.cases)
        rows.append(f"| {rule.versions} | {rule.rule} | {rule.classifier} | {seen} |")
    return rows


def document(observed: Observed) -> str:
    """The generated part of docs/locks.md."""
    majors = _majors(sorted(observed))
    lines = [
        BEGIN_GENERATED,
        "",
        f"## Observed on PostgreSQL {majors}",
        "",
        "Each statement ran on a server of every major listed; a row names the majors it holds"
        " for (several rows: the majors differ; `rejected`: that server does not know the"
        " statement, and the classifier says which version it needs).",
        "",
        "| statement | locks (strongest per relation) | rewrite | scan | in a transaction | on |",
        "| --- | --- | --- | --- | --- | --- |",
        *statement_rows(observed),
        "",
        "## Version rules",
        "",
        "Every rule of the classifier that depends on the server version, and the harness cases"
        f" that show it on the servers here ({majors}). A rule for older servers is shown from"
        " its other side: the cases observe the newer behaviour; no older server runs here.",
        "",
        "| server | rule | classifier | observed here (cases) |",
        "| --- | --- | --- | --- |",
        *rule_rows(observed),
        "",
        END_GENERATED,
    ]
    return "\n".join(lines) + "\n"


def generated_part(text: str) -> str:
    """The generated part of a docs/locks.md text (markers included), or ''."""
    begin, end = text.find(BEGIN_GENERATED), text.find(END_GENERATED)
    if begin < 0 or end < 0:
        return ""
    return text[begin : end + len(END_GENERATED)] + "\n"


def main() -> None:
    """Print the generated part of docs/locks.md, observed on every major this machine has."""
    from wesley.db.cluster import EphemeralCluster, servers_by_major

    observed: Observed = {}
    for major, bindir in servers_by_major().items():
        with EphemeralCluster(bindir=bindir) as cluster:
            observed[major] = observe_all(cluster.dsn, "locks")
    print(document(observed), end="")


if __name__ == "__main__":
    main()
