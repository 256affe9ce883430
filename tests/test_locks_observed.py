"""The lock classifier against what PostgreSQL really does (tests/lock_harness.py).

For every case the statement runs on a live server; the classifier, given the context a
planner would read from the catalog, must name exactly the relations PostgreSQL locked, each
with the strongest mode PostgreSQL held, and agree on rewrite, scan, transaction block and
what the lock on the target blocks.

Statements that run in a transaction share one database, set up once: each is rolled back
after it is observed. CONCURRENTLY statements commit, so each gets a fresh one (`pg_dsn`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.conftest import EXTERNAL, SERVERS
from tests.helpers import REPO
from tests.lock_harness import (
    CASES,
    VERSION_RULES,
    LockCase,
    Observation,
    Observed,
    document,
    generated_part,
    observe,
    observe_all,
    setup,
    table_context,
)
from wesley.db.cluster import create_database, drop_database
from wesley.plan import lockmodes
from wesley.plan.locks import (
    NON_VOLATILE_FUNCTIONS,
    VOLATILE_FUNCTIONS,
    LockFacts,
    TableContext,
    classify,
)

IN_TRANSACTION = [case for case in CASES if case.blocker is None]
CONCURRENT = [case for case in CASES if case.blocker is not None]


@pytest.fixture(scope="module")
def lock_db(pg_admin_dsn: str) -> Iterator[str]:
    """One database with the harness tables, for every statement that is rolled back."""
    name = f"wesley_locks_{uuid.uuid4().hex[:12]}"
    dsn = create_database(pg_admin_dsn, name)
    try:
        setup(dsn)
        yield dsn
    finally:
        drop_database(pg_admin_dsn, name)


@pytest.fixture(scope="module")
def lock_context(lock_db: str) -> dict[str, TableContext]:
    return table_context(lock_db)


def test_server_is_of_the_major_under_test(pg_dsn: str, pg_major: int) -> None:
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    assert int(row[0]) // 10000 == pg_major


def test_cases_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 40


def _assert_agrees(case: LockCase, observed: Observation, facts: LockFacts) -> None:
    expected = {lock.relation: lock.mode for lock in facts.locks}
    assert expected == observed.relevant_locks(frozenset(expected)), facts.notes
    assert facts.rewrite == (case.target in observed.rewritten)
    assert not observed.rewritten - {case.target}
    if case.check_scan and observed.scanned is not None:
        assert facts.scan == (case.scanned_table in observed.scanned)
    assert facts.transactional == observed.transactional
    mode = observed.locks.get(case.target) if case.target else None
    assert facts.blocks_reads == (mode is not None and lockmodes.blocks_reads(mode))
    assert facts.blocks_writes == (mode is not None and lockmodes.blocks_writes(mode))


def _server_version(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.info.server_version


def _assert_rejected(dsn: str, case: LockCase, version: int) -> None:
    """A statement newer than the server: PostgreSQL refuses it, and where the syntax is what
    is new, the classifier says which version it needs."""
    with pytest.raises(psycopg.Error) as info:
        observe(dsn, case)
    if isinstance(info.value, psycopg.errors.SyntaxError):
        notes = classify(case.sql, version, table_context(dsn)).notes
        assert any(f"needs PostgreSQL {case.since // 10000}" in n for n in notes), notes


@pytest.mark.parametrize("case", IN_TRANSACTION, ids=[case.id for case in IN_TRANSACTION])
def test_classifier_matches_postgres(
    lock_db: str, lock_context: dict[str, TableContext], case: LockCase
) -> None:
    version = _server_version(lock_db)
    if version < case.since:
        _assert_rejected(lock_db, case, version)
        return
    observed = observe(lock_db, case)
    _assert_agrees(case, observed, classify(case.sql, observed.server_version, lock_context))


@pytest.mark.parametrize("case", CONCURRENT, ids=[case.id for case in CONCURRENT])
def test_classifier_matches_postgres_concurrently(pg_dsn: str, case: LockCase) -> None:
    setup(pg_dsn)
    version = _server_version(pg_dsn)
    if version < case.since:
        _assert_rejected(pg_dsn, case, version)
        return
    context = table_context(pg_dsn)
    observed = observe(pg_dsn, case)
    _assert_agrees(case, observed, classify(case.sql, observed.server_version, context))


def test_function_volatility_matches_pg_proc(pg_dsn: str) -> None:
    """The classifier's lists of volatile / non-volatile functions, against pg_proc (for the
    ones this server has: extension functions like uuid_generate_v4 are not installed)."""
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            "SELECT proname, array_agg(DISTINCT provolatile::text) FROM pg_proc"
            " WHERE proname = ANY (%s) GROUP BY proname",
            (sorted(VOLATILE_FUNCTIONS | NON_VOLATILE_FUNCTIONS),),
        ).fetchall()
    volatility = {name: set(kinds) for name, kinds in rows}
    for name in VOLATILE_FUNCTIONS & volatility.keys():
        assert volatility[name] == {"v"}, name
    for name in NON_VOLATILE_FUNCTIONS:
        assert name in volatility, name
        assert "v" not in volatility[name], name


def test_every_version_rule_names_cases_that_exist() -> None:
    ids = {case.id for case in CASES}
    for rule in VERSION_RULES:
        assert set(rule.cases) <= ids, rule


@pytest.mark.skipif(
    bool(EXTERNAL) or not {15, 18} <= set(SERVERS),
    reason="docs/locks.md is observed on PostgreSQL 15 and 18; both must be installed",
)
def test_docs_locks_md_is_current(pg_clusters: Any) -> None:
    """The generated part of docs/locks.md is what PostgreSQL 15 and 18 do today."""
    observed: Observed = {
        major: observe_all(pg_clusters.admin_dsn(major), f"wesley_docs_{uuid.uuid4().hex[:8]}")
        for major in (15, 18)
    }
    for cases in observed.values():  # what the doc says is also what the classifier says
        for case in CASES:
            got = cases[case.id]
            if got is not None:
                _assert_agrees(case, *got)
    written = generated_part((REPO / "docs" / "locks.md").read_text(encoding="utf-8"))
    assert written == document(observed), (
        f"docs/locks.md is stale on {sorted(observed)}: regenerate its generated part with "
        "python -m tests.lock_harness"
    )
