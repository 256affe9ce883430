"""The generated RLS probes on schemas where several tenant tables share their parents
(issue 9, item 1): every probe block inserts rows of its own, whatever the depth of the
tenant/FK chain, self-references, unique and check constraints on the parents; and when a
probe's own set-up dies, rehearse says it is Wesley's bug (PROBE_SETUP_FAILED, an internal
hint), never that the database differs from the schema."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.helpers import REPO, cli
from wesley.db.apply import apply_script
from wesley.db.pgtap import TapResult, parse_tap, run_suite, suite_failure
from wesley.ir import IR
from wesley.sdl import parse_sdl
from wesley.sdl.parser import ParseOptions
from wesley.targets.pgtap import PROBE_ASSERTIONS, PROBE_SETUP, pgtap
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls

GENERATED = REPO / "tests" / "fixtures" / "generated"
PROBED = sorted(GENERATED.glob("*.graphql"))


def _suite(ir: IR, dsn: str) -> TapResult:
    with psycopg.connect(dsn, autocommit=True) as conn:
        apply_script(conn, postgres(ir)[0].text, "schema.sql")
        apply_script(conn, rls(ir)[0].text, "rls.sql")
        return run_suite(conn, pgtap(ir)[0].text)


@pytest.mark.parametrize("path", PROBED, ids=lambda p: p.name)
def test_every_probe_block_passes_on_shared_parents(path: Path, pg_dsn: str) -> None:
    ir = parse_sdl(path.read_text(encoding="utf-8")).ir
    result = _suite(ir, pg_dsn)
    assert result.ok, result.failures
    assert result.skipped == 0, result.tap
    passed = [ln for ln in result.tap.splitlines() if ln.startswith("ok")]
    for table in (t for t in ir.tables if t.tenant_by):
        tenant_probe = [ln for ln in passed if f"RLS {table.name}:" in ln]
        # a table with an owner, a preset or keywords has the rule probes (issue 15) instead,
        # which check the other tenant's rows stay invisible too
        rule_probe = [ln for ln in passed if f"RLS {table.name} (" in ln]
        assert len(tenant_probe) == PROBE_ASSERTIONS or any(
            "user A SELECT row of B: not seen" in ln for ln in rule_probe
        ), (table.name, tenant_probe, rule_probe)


def test_no_two_probe_blocks_insert_the_same_row() -> None:
    """Deterministic, and no INSERT of the whole suite repeats (the bug was the same parent
    row in every block)."""
    path = GENERATED / "multi-tenant-shared-parents.graphql"
    ir = parse_sdl(path.read_text(encoding="utf-8")).ir
    text = pgtap(ir)[0].text
    assert text == pgtap(ir)[0].text
    inserts = [
        part.strip()
        for line in text.splitlines()
        if line.startswith("SELECT lives_ok(")
        for part in line.split("; ")
        if "INSERT INTO" in part
    ]
    probed = [t.name for t in ir.tables if t.tenant_by]
    for table in probed:  # two tenants' rows each
        assert sum(f"INSERT INTO {table} " in i for i in inserts) >= 2, table
    assert len(inserts) == len(set(inserts))
    ids = [i.split("VALUES (", 1)[1].split(",", 1)[0] for i in inserts]
    assert len(ids) == len(set(ids))


def test_shared_parents_rehearse_to_pass(
    pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    schema = GENERATED / "multi-tenant-shared-parents.graphql"
    result = cli(capsys, "rehearse", "--schema", str(schema), "--dsn", pg_dsn, "--json")
    assert result.code == 0, result.stdout + result.stderr
    realm = result.json()["realm"]
    assert realm["verdict"] == "PASS"
    assert realm["tests"]["failed"] == 0 and realm["tests"]["skipped"] == 0


# A check the probe's sample values cannot meet (its evaluator does not know md5): the
# probe's own rows die, which is ours.
UNMEETABLE = """
type Org @wes_table {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  name: String! @wes_check(expr: "md5(name) = '0'")
}
type Member @wes_table @wes_tenant(by: "orgId") {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  orgId: ID! @wes_fk(ref: "Org.id")
}
"""


def test_a_probe_whose_setup_dies_is_reported_as_wesleys_bug(
    pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("schema.graphql").write_text(UNMEETABLE, encoding="utf-8")
    result = cli(capsys, "rehearse", "--schema", "schema.graphql", "--dsn", pg_dsn, "--json")
    assert result.code == 13, result.stdout + result.stderr
    error = result.json()["error"]
    assert error["code"] == "PROBE_SETUP_FAILED"
    assert error["message"].startswith("internal error: the generated RLS probe for member")
    assert "org_name_check" in error["message"]  # PostgreSQL's own words name the check
    assert error["hint"].startswith("internal:")
    assert "differs" not in error["hint"]
    realm = json.loads(Path(".wesley/realm.json").read_text(encoding="utf-8"))
    assert realm["verdict"] == "FAIL"
    assert realm["failure"]["code"] == "PROBE_SETUP_FAILED"


def test_the_probe_still_catches_a_missing_restrictive_tenant_policy(pg_dsn: str) -> None:
    """The probe opens a table that has rules of its own with a policy of its own: the tenant
    policy alone must still keep tenant B's rows from tenant A."""
    ir = parse_sdl((GENERATED / "tenant-with-owner-and-rules.graphql").read_text()).ir
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        apply_script(conn, postgres(ir)[0].text, "schema.sql")
        apply_script(conn, rls(ir)[0].text, "rls.sql")
        conn.execute("DROP POLICY doc_tenant ON doc")
        result = run_suite(conn, pgtap(ir)[0].text)
    failed = {f.splitlines()[0] for f in result.failures}
    assert "RLS doc: tenant A cannot see tenant B rows" in failed
    assert "RLS project: tenant A cannot see tenant B rows" not in failed
    assert not any(PROBE_SETUP in f for f in failed)


def test_probe_values_fit_sized_types(pg_dsn: str) -> None:
    """Counterexample: the probe's numbers (701000...) overflowed numeric(5,2) and its text
    did not fit varchar(3) (wesley.toml [scalars])."""
    text = """
    scalar Money
    scalar Code
    type Org @wes_table { id: ID! @wes_pk  code: Code! @wes_unique  budget: Money! }
    type Member @wes_table @wes_tenant(by: "orgId") {
      id: ID! @wes_pk
      orgId: ID! @wes_fk(ref: "Org.id")
      price: Money!
      tag: Code! @wes_unique
    }
    """
    scalars = {"Money": "numeric(5,2)", "Code": "varchar(3)"}
    ir = parse_sdl(text, options=ParseOptions(scalars=scalars)).ir
    result = _suite(ir, pg_dsn)
    assert result.ok, result.failures


def test_failures_of_the_probe_itself_are_internal() -> None:
    """How a failed suite is read: a probe set-up assertion, or the suite stopping at one of
    the probe's own statements, is Wesley's bug; any other failure is the database's."""
    setup = parse_tap(
        f"1..3\nok 1 - table org exists\nnot ok 2 - RLS member: {PROBE_SETUP}\n"
        '#     died: 23505: duplicate key value violates unique constraint "org_name_key"\n'
        "not ok 3 - RLS member: tenant A sees its own rows\n"
    )
    why = suite_failure(setup, "differs")
    assert why.code == "PROBE_SETUP_FAILED" and why.hint.startswith("internal:")
    assert "member" in why.message and "org_name_key" in why.message
    stopped = parse_tap(
        f"1..3\nok 1 - x\nnot ok - the suite stopped (at the RLS probe's own statement: "
        f"{PROBE_SETUP}): permission denied\n"
    )
    assert suite_failure(stopped, "differs").code == "PROBE_SETUP_FAILED"
    other = parse_tap("1..2\nok 1 - x\nnot ok 2 - member.email is text\n")
    why = suite_failure(other, "differs")
    assert (why.code, why.hint, why.test) == ("TESTS_FAILED", "differs", "member.email is text")
