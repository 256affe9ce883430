"""Value refinements (`@wes_email`, `@wes_url`, `@wes_ip`, `@wes_min`, `@wes_max`,
`@wes_length`, `@wes_regex`) and generated columns, proven by the real tools: PostgreSQL's
CHECK constraints, the generated zod.ts compiled by tsc and run under node with zod 3 and
zod 4 (they must accept exactly the same values as the database), and the pgTAP suite."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.schemas_refined import REFINED_SDL as SDL
from tests.test_target_ts_zod import ZODS, _generate, _node, _project, _tsc
from wesley.db.apply import apply_script
from wesley.db.pgtap import run_suite
from wesley.errors import WesleyError
from wesley.ir import IR
from wesley.sdl import parse_sdl
from wesley.targets.pgtap import pgtap
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls

SQL_TYPES = {"n": "integer", "ratio": "double precision", "price": "numeric", "big": "bigint"}

CANDIDATES: dict[str, list[Any]] = {
    "email": [
        "a@b.co",
        "first.last+tag@sub.example.org",
        "o'neil@example.ie",
        "not-an-email",
        "a@b",
        "a@b.c",
        "@b.co",
        "a b@c.de",
        "a@-b.co",
        "a@b-.co",
        "a@b..co",
        "",
        "ä@b.co",
    ],
    "site": [
        "https://example.com",
        "http://x.y/path?q=1#f",
        "ftp://files.example.org/a",
        "postgres://u@h:5432/db",
        "not a url",
        "https://",
        "https:// space.com",
        "example.com",
        "https://a b",
        "mailto:a@b.co",
        "",
    ],
    "ip": [
        "10.0.0.1",
        "255.255.255.255",
        "0.0.0.0",
        "999.1.2.3",
        "1.2.3",
        "01.2.3.4",
        "::1",
        "::",
        "2001:db8::8a2e:370:7334",
        "fe80::1:2:3:4",
        "::ffff:10.0.0.1",
        "2001:db8:::1",
        "12345::",
        "1.2.3.4/24",
        "",
    ],
    "name": ["ab", "abcd", "a", "abcde", "", "😀😀", "😀😀😀😀", "😀😀😀😀😀", "é" * 4],
    "code": ["AB", "AB123", "ab", "A1", "ABC", "AB12c", ""],
    "n": [-5, 10, 0, -6, 11],
    "ratio": [-0.5, 0, 1e300, -0.51, -1],
    "price": ["0.01", "99.99", "0.010", "50", "0.009", "100", "99.991", "0", "-1"],
    "big": ["9007199254740993", "9007199254740994", "-9007199254740999", "9007199254740992"],
    "shout": ["abc", "ab"],  # check: false: zod refuses "ab", the database keeps it
}


def _random_strings(seed: int, alphabet: str, count: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(count)]


# a property over generated strings (fixed seeds): zod and PostgreSQL agree on every one
CANDIDATES["email"] += _random_strings(1, "ab.@-_+'c1 ", 150)
CANDIDATES["site"] += _random_strings(2, "ab:/.?# h1-", 150)
CANDIDATES["ip"] += _random_strings(3, "0123456789.:abf", 150)
CANDIDATES["code"] += _random_strings(4, "ABab01", 100)


def _ir() -> IR:
    return parse_sdl(SDL, "contacts.graphql").ir


def _database_verdicts(dsn: str, ir: IR) -> dict[str, list[bool]]:
    out: dict[str, list[bool]] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        apply_script(conn, postgres(ir)[0].text, "schema.sql")
        org = conn.execute("INSERT INTO org (name) VALUES ('o') RETURNING id").fetchone()
        assert org is not None
        for field, values in CANDIDATES.items():
            cast = SQL_TYPES.get(field, "text")
            verdicts = []
            for v in values:
                try:
                    with conn.transaction(force_rollback=True):
                        conn.execute(
                            f"INSERT INTO contact (org_id, {field}) VALUES (%s, %s::{cast})",
                            (org[0], str(v) if not isinstance(v, str) else v),
                        )
                    verdicts.append(True)
                except psycopg.errors.CheckViolation:
                    verdicts.append(False)
            out[field] = verdicts
    return out


RUNNER = r"""
const path = require("path");
const Z = require(path.join(__dirname, "js", "zod.js"));
const cases = JSON.parse(require("fs").readFileSync(path.join(__dirname, "cases.json"), "utf8"));
const out = { zod_version: require("zod/package.json").version, verdicts: {} };
for (const [field, values] of Object.entries(cases)) {
  out.verdicts[field] = values.map((v) => Z.ContactUpdateSchema.safeParse({ [field]: v }).success);
}
out.generated = {
  update: Z.ContactUpdateSchema.safeParse({ total: 4 }).success,
  insert: Z.ContactInsertSchema.safeParse({ orgId: "00000000-0000-0000-0000-000000000001",
    label: "X" }).success,
  insert_without: Z.ContactInsertSchema.safeParse({
    orgId: "00000000-0000-0000-0000-000000000001" }).success,
  row: Z.ContactSchema.shape.total.safeParse(4).success,
};
process.stdout.write(JSON.stringify(out));
"""


@pytest.fixture(scope="module", params=list(ZODS))
def zod_verdicts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp(f"refine_{request.param}")
    for path, artifact in _generate(_ir()).items():
        (root / path).write_text(artifact.text, encoding="utf-8")
    (root / "cases.json").write_text(json.dumps(CANDIDATES), encoding="utf-8")
    _project(root, ["*.ts"], out_dir="js", zod=request.param)
    done = _tsc("-p", "tsconfig.json", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    (root / "runner.js").write_text(RUNNER, encoding="utf-8")
    run = subprocess.run(
        [_node(), "runner.js"], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["zod_version"].startswith(request.param.removeprefix("zod") + ".")
    return result


def test_zod_and_postgresql_accept_the_same_values(zod_verdicts: Any, pg_dsn: str) -> None:
    database = _database_verdicts(pg_dsn, _ir())
    for field, values in CANDIDATES.items():
        zod = zod_verdicts["verdicts"][field]
        if field == "shout":  # opted out of the CHECK: the database takes both
            assert database[field] == [True, True] and zod == [True, False]
            continue
        differ = [
            (v, zod[i], database[field][i])
            for i, v in enumerate(values)
            if zod[i] != database[field][i]
        ]
        assert differ == [], f"{field}: (value, zod, postgres) {differ}"
        # neither side accepts or refuses everything: the comparison means something
        assert True in zod and False in zod, (field, zod)


def test_known_verdicts(zod_verdicts: Any) -> None:
    v = {
        f: dict(zip(map(str, CANDIDATES[f]), zod_verdicts["verdicts"][f], strict=False))
        for f in CANDIDATES
    }
    assert v["email"]["a@b.co"] and not v["email"]["not-an-email"]
    assert v["site"]["https://example.com"] and not v["site"]["not a url"]
    assert v["ip"]["::ffff:10.0.0.1"] and not v["ip"]["999.1.2.3"]
    # code points, as char_length counts them (JavaScript's .length says 8 for four emoji)
    assert v["name"]["😀😀😀😀"] and not v["name"]["😀😀😀😀😀"]
    assert v["price"]["0.010"] and not v["price"]["99.991"]
    # beyond 2^53: compared exactly as decimal text, not as a double
    assert v["big"]["9007199254740993"] and not v["big"]["9007199254740994"]


def test_generated_columns_cannot_be_written(zod_verdicts: Any, pg_dsn: str) -> None:
    g = zod_verdicts["generated"]
    assert g == {"update": False, "insert": False, "insert_without": True, "row": True}
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        apply_script(conn, postgres(_ir())[0].text, "schema.sql")
        org = conn.execute("INSERT INTO org (name) VALUES ('o') RETURNING id").fetchone()
        assert org is not None
        with pytest.raises(psycopg.errors.GeneratedAlways):
            conn.execute("INSERT INTO contact (org_id, total) VALUES (%s, 4)", org)
        row = conn.execute(
            "INSERT INTO contact (org_id, n, name) VALUES (%s, 3, 'ab') RETURNING total, label",
            org,
        ).fetchone()
        assert row == (6, "AB")
        conn.execute("UPDATE contact SET n = 5, name = NULL")
        assert conn.execute("SELECT total, label FROM contact").fetchone() == (10, "NONE")


def test_pgtap_suite_passes_and_rejects_each_bad_value(pg_dsn: str) -> None:
    ir = _ir()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        apply_script(conn, postgres(ir)[0].text, "schema.sql")
        apply_script(conn, rls(ir)[0].text, "rls.sql")
        result = run_suite(conn, pgtap(ir)[0].text)
    assert result.failed == 0, result.failures
    assert result.skipped == 0
    lines = result.tap.splitlines()
    rejects = [ln for ln in lines if "the database rejects" in ln]
    checks = [r for c in ir.tables[1].columns for r in c.refinements if r.check]
    assert len(rejects) == len(checks) == 11
    assert all(ln.startswith("ok") for ln in rejects)
    assert any("contact: a valid row is accepted" in ln for ln in lines)
    assert any("contact.total is computed on insert" in ln for ln in lines)
    assert any("contact.label is a stored generated column" in ln for ln in lines)


@pytest.mark.parametrize(
    ("sabotage", "failing"),
    [
        ("ALTER TABLE contact DROP CONSTRAINT contact_email_email_check", "contact.email @email"),
        ("ALTER TABLE contact DROP CONSTRAINT contact_n_max_check", "contact.n @max"),
        (
            "ALTER TABLE contact DROP CONSTRAINT contact_name_length_check;"
            "ALTER TABLE contact ADD CONSTRAINT contact_name_length_check "
            "CHECK (char_length(name) >= 0)",
            "contact.name @length",
        ),
    ],
)
def test_pgtap_fails_when_a_check_is_missing(pg_dsn: str, sabotage: str, failing: str) -> None:
    ir = _ir()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        apply_script(conn, postgres(ir)[0].text, "schema.sql")
        apply_script(conn, rls(ir)[0].text, "rls.sql")
        conn.execute(sabotage.encode())
        result = run_suite(conn, pgtap(ir)[0].text)
    failed = [ln for ln in result.tap.splitlines() if ln.startswith("not ok")]
    assert any(failing in ln for ln in failed), failed


def test_refinements_reach_the_ir_and_sql() -> None:
    ir = _ir()
    contact = ir.tables[1]
    email = contact.column("email")
    assert email is not None and [r.kind for r in email.refinements] == ["email"]
    shout = contact.column("shout")
    assert shout is not None and shout.refinements[0].check is None
    assert not any(c.column == "shout" for c in contact.checks)
    sql = postgres(ir)[0].text
    assert "  total integer GENERATED ALWAYS AS (n * 2) STORED," in sql
    assert "CONSTRAINT contact_n_min_check CHECK (n >= -5)" in sql


@pytest.mark.parametrize(
    ("field", "code", "needle"),
    [
        ("x: Int @wes_email", "INVALID_ARGUMENT", "not a text column"),
        ("x: [String] @wes_email", "INVALID_ARGUMENT", "not lists"),
        ("x: Boolean @wes_min(value: 1)", "INVALID_ARGUMENT", "no order"),
        ('x: Int @wes_min(value: "abc")', "INVALID_ARGUMENT", "not a number"),
        ("x: Int @wes_max(value: 1.5)", "INVALID_ARGUMENT", "whole number"),
        ("x: String @wes_length", "MISSING_ARGUMENT", "min:, max:"),
        ("x: String @wes_length(min: 5, max: 2)", "INVALID_ARGUMENT", "greater than"),
        ('x: String @wes_regex(pattern: "\\\\bword")', "INVALID_PATTERN", "\\\\b"),
        ('x: String @wes_regex(pattern: "(?i)abc")', "INVALID_PATTERN", "(?i"),
        ('x: String @wes_regex(pattern: "[a-")', "INVALID_PATTERN", "not a regular"),
        ('x: String @wes_regex(pattern: "\\\\w+")', "INVALID_PATTERN", "\\\\w"),
        ('x: DateTime @wes_generated(expr: "now()")', "INVALID_EXPRESSION", "now"),
        ('x: DateTime @wes_generated(expr: "CURRENT_TIMESTAMP")', "INVALID_EXPRESSION", "CURRENT"),
        ('x: Int @wes_generated(expr: "nope + 1")', "UNKNOWN_COLUMN", "nope"),
        ('x: Int @wes_generated(expr: "x + 1")', "INVALID_EXPRESSION", "reads itself"),
        ('x: Int @wes_generated(expr: "(SELECT 1)")', "INVALID_EXPRESSION", "subquery"),
        ('x: Int @wes_generated(expr: "1; DROP TABLE t")', "INVALID_EXPRESSION", ";"),
        (
            'x: Int @wes_generated(expr: "n + 1") @wes_default(value: 1)',
            "INVALID_EXPRESSION",
            "@wes_default",
        ),
        ("x: Int @wes_generated", "MISSING_ARGUMENT", "expr"),
        ("x: String @wes_email(nope: true)", "UNKNOWN_ARGUMENT", "nope"),
    ],
)
def test_bad_arguments_are_coded_errors(field: str, code: str, needle: str) -> None:
    head = 'type T @wes_table { id: ID! @wes_pk\n n: Int\n g: Int @wes_generated(expr: "n")\n'
    sdl = f"{head} {field} }}"
    with pytest.raises(WesleyError) as info:
        parse_sdl(sdl, "t.graphql")
    assert info.value.code == code, info.value.message
    assert needle.replace("\\\\", "\\") in info.value.message
    assert info.value.location is not None and info.value.location.line >= 1


def test_generated_reading_a_generated_column_is_refused() -> None:
    sdl = (
        'type T @wes_table { id: ID! @wes_pk\n n: Int\n g: Int @wes_generated(expr: "n")\n'
        ' h: Int @wes_generated(expr: "g + 1") }'
    )
    with pytest.raises(WesleyError) as info:
        parse_sdl(sdl, "t.graphql")
    assert info.value.code == "INVALID_EXPRESSION"
    assert "another generated column" in info.value.message


def test_pattern_examples_feed_sample_rows(tmp_path: Path) -> None:
    """A NOT NULL column with a pattern gets a sample value that matches it."""
    from wesley.refinements import example_of

    for pattern in ("^[A-Z]{3}-[0-9]{2,}$", "^(ab|cd)+x?$", "^[^a-z]+$", "^\\d{4}$", "z"):
        example = example_of(pattern, 1)
        assert example is not None, pattern
        import re

        assert re.search(pattern, example), (pattern, example)


# --- plans -------------------------------------------------------------------------------------

V1 = """
type T @wes_table { id: ID! @wes_pk
  email: String
  n: Int
  EXTRA
}
"""


def _v(extra: str = "", email: str = "email: String", n: str = "n: Int") -> IR:
    text = V1.replace("EXTRA", extra).replace("email: String", email).replace("n: Int", n)
    return parse_sdl(text, "t.graphql").ir


def test_adding_a_refinement_is_a_not_valid_check_then_validate() -> None:
    from wesley.plan.build import build_plan

    plan = build_plan(_v(), _v(email="email: String @wes_email"))
    sqls = [s.sql for s in plan.steps]
    assert any(
        s.startswith("ALTER TABLE t ADD CONSTRAINT t_email_email_check CHECK (email ~ ")
        and s.endswith("NOT VALID")
        for s in sqls
    ), sqls
    assert "ALTER TABLE t VALIDATE CONSTRAINT t_email_email_check" in sqls
    add = next(s for s in plan.steps if "NOT VALID" in s.sql)
    check = next(s for s in plan.steps if "VALIDATE" in s.sql)
    # a brief ACCESS EXCLUSIVE without reading a row, then a scan that lets writes go on
    assert [lk.mode for lk in add.locks] == ["ACCESS EXCLUSIVE"] and not add.scan
    assert [lk.mode for lk in check.locks] == ["SHARE UPDATE EXCLUSIVE"] and check.scan
    assert not plan.destructive
    # opted out: nothing for the database, but zod still changes
    assert build_plan(_v(), _v(email="email: String @wes_email(check: false)")).steps == []


def test_a_generated_column_on_an_existing_table_is_refused_without_the_flag() -> None:
    from wesley.plan.build import build_plan

    new = _v(extra='twice: Int @wes_generated(expr: "n * 2")')
    plan = build_plan(_v(), new)
    assert [r.change for r in plan.destructive] == ["add_column"]
    assert "rewriting t under ACCESS EXCLUSIVE" in plan.destructive[0].risk
    assert plan.steps == [] or all("twice" not in s.sql for s in plan.steps)
    allowed = build_plan(_v(), new, allow_destructive=True)
    step = next(s for s in allowed.steps if "GENERATED" in s.sql)
    assert step.sql == "ALTER TABLE t ADD COLUMN twice integer GENERATED ALWAYS AS (n * 2) STORED"
    assert [lk.mode for lk in step.locks] == ["ACCESS EXCLUSIVE"] and step.rewrite


def test_changing_a_generated_expression_is_blocked() -> None:
    from wesley.plan.build import build_plan

    old = _v(extra='twice: Int @wes_generated(expr: "n * 2")')
    new = _v(extra='twice: Int @wes_generated(expr: "n * 3")')
    plan = build_plan(old, new, allow_destructive=True)
    assert [b.change for b in plan.blocked] == ["alter_generated"]
    assert "cannot change that in place" in plan.blocked[0].risk
