"""`plan --explain` as a reader meets it: it fits the width (or `--wide`, one full line per
step), groups runs of comment and helper steps, gives each step's risk and the plan's MRI
(the one `cert create` scores), marks locks on tables the plan creates as harmless (and keeps
them out of SHIPME.md's write-blocking locks), and says whether the server version is known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import UPSTREAM
from tests.lifecycle import ok
from wesley.cert.shipme import split
from wesley.evidence.scores import migration_risk
from wesley.plan.models import Plan

ECOM, ECOM2 = str(UPSTREAM / "ecommerce.graphql"), str(UPSTREAM / "ecommerce-v2.graphql")
BLADE_V1 = str(UPSTREAM / "blade-v1.graphql")
WITH_POSTS = (
    (UPSTREAM / "blade-v1.graphql").read_text(encoding="utf-8")
    + '\ntype Post @wes_table {\n  id: ID! @wes_pk\n  authorId: ID! @wes_fk(ref: "User.id")'
    + "\n  title: String!\n}\n"
)


def _saved_plan() -> Plan:
    return Plan.model_validate_json(Path(".wesley/plan.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("width", [60, 80, 120])
def test_explain_fits_the_width_and_wide_does_not_cut(
    width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    args = ("plan", "--schema", ECOM2, "--from", ECOM, "--allow-destructive", "--explain")
    text = ok(*args).stdout
    assert max(len(line) for line in text.splitlines()) <= width, text
    wide = ok(*args, "--wide").stdout
    plan = _saved_plan()
    for step in plan.steps:  # one full line per step, with its whole why
        [line] = [ln for ln in wide.splitlines() if ln.startswith(f"  {step.id.split('-')[0]} ")]
        assert step.why in line and f"risk {step.risk}" in line
    assert max(len(line) for line in wide.splitlines()) > width


def test_explain_groups_comments_and_gives_risk_and_mri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    text = ok("plan", "--schema", ECOM2, "--from", ECOM, "--allow-destructive", "--explain").stdout
    plan = _saved_plan()
    comments = [s for s in plan.steps if s.op == "comment"]
    assert len(comments) > 1
    assert text.count(" comment") == 1 and f"comment, {len(comments)} steps" in text, text
    for step in plan.steps:
        if step.op != "comment":
            assert f"{step.id.split('-')[0]} {step.op} " in text
            assert f"· risk {step.risk} ·" in text
    # the MRI in the head line is the certificate's
    assert f"MRI {migration_risk(plan).score:.2f}" in text.splitlines()[0]
    assert migration_risk(plan).score > 0


def test_new_tables_are_harmless_in_explain_and_shipme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    Path("v2.graphql").write_text(WITH_POSTS, encoding="utf-8")
    text = ok("plan", "--schema", "v2.graphql", "--from", BLADE_V1, "--explain").stdout
    create = next(ln for ln in text.splitlines() if " create_table post " in ln)
    assert "new table (harmless): post ACCESS EXCLUSIVE" in create
    assert "blocks nobody (new table)" in create and "blocks reads" not in create
    fk = next(ln for ln in text.splitlines() if " add_fk post " in ln)
    assert "user: SHARE ROW EXCLUSIVE" in fk and "(harmless): post SHARE ROW EXCLUSIVE" in fk
    # SHIPME.md: the existing table's lock is listed, the new table's are not
    ok("transform", "--schema", "v2.graphql", "--quiet")
    ok("rehearse", "--schema", "v2.graphql", "--from", BLADE_V1, "--dry-run", "--quiet")
    ok("cert", "create", "--env", "dev", "--quiet")
    _, block = split(Path("SHIPME.md").read_text(encoding="utf-8"))
    locks = block["plan"]["summary"]["write_blocking_locks"]
    assert locks == ["user: SHARE ROW EXCLUSIVE"], locks
    assert "post:" not in Path("SHIPME.md").read_text(encoding="utf-8").split("<!--")[0]


def test_server_version_is_assumed_unless_known(pg_dsn: str) -> None:
    head = ok("plan", "--schema", BLADE_V1, "--explain").stdout.splitlines()[0]
    assert "PostgreSQL 15 (assumed" in head, head
    given = ok("plan", "--schema", BLADE_V1, "--explain", "--server-version", "160004").stdout
    assert "PostgreSQL 16.4 (--server-version)" in given
    live = ok("plan", "--schema", BLADE_V1, "--explain", "--from-db", pg_dsn).stdout
    assert "(read from the database)" in live and "assumed" not in live
    assert json.loads(Path(".wesley/plan.json").read_text())["server_version"] >= 150000
