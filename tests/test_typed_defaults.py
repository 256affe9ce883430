"""Typed defaults (issue 9, item 3): `@wes_default(value: "3")` on an Int is the integer 3.

The literal is typed by the column at SDL → IR time (INVALID_DEFAULT, at the directive, when
it is no value of that type), and the planner compares defaults in one canonical spelling on
both sides, so a database Wesley just built plans to nothing (`plan --from-db`), and a
rehearsal never ends in DRIFT_AFTER_PLAN. The canonical spelling is checked against what
PostgreSQL itself reports (`pg_get_expr`) for generated values of every type.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import cli
from tests.lifecycle import scratch_database
from wesley.db.apply import apply_script
from wesley.db.introspect import introspect
from wesley.db.pgtap import ensure_pgtap, run_suite
from wesley.errors import WesleyError
from wesley.ir import IR
from wesley.plan.build import build_plan
from wesley.sdl import parse_sdl
from wesley.sdl.literals import canonical_default, typed_literal
from wesley.sdl.parser import ParseOptions
from wesley.targets.postgres import postgres

# every scalar, its default written as a GraphQL literal, as a string, and as an expression
TYPED = r"""
enum Mood { CALM ANGRY }
scalar Money

type Typed @wes_table {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  i1: Int! @wes_default(value: 3)
  i2: Int! @wes_default(value: "3")
  i3: Int @wes_default(value: "-7")
  i4: Int @wes_default(expr: "'-7'")
  i5: Int @wes_default(value: -7)
  big1: BigInt @wes_default(value: "9000000000")
  big2: BigInt @wes_default(value: 10)
  f1: Float! @wes_default(value: 1.5)
  f2: Float! @wes_default(value: "1.5")
  f3: Float @wes_default(value: "-2.25e3")
  f4: Float @wes_default(value: "NaN")
  f5: Float @wes_default(value: 3)
  f6: Float @wes_default(expr: "1e20")
  d1: Decimal @wes_default(value: "12.50")
  d2: Decimal @wes_default(value: 3)
  d3: Decimal @wes_default(value: "-0.001")
  d4: Decimal @wes_default(value: "1e3")
  m1: Money @wes_default(value: "1.5")
  b1: Boolean! @wes_default(value: false)
  b2: Boolean! @wes_default(value: "false")
  b3: Boolean @wes_default(value: "TRUE")
  b4: Boolean @wes_default(expr: "'t'")
  s1: String @wes_default(value: "it's")
  s2: String @wes_default(value: "3")
  ts1: DateTime! @wes_default(value: "NOW()")
  ts2: DateTime @wes_default(value: "2024-02-29T12:30:00+02:00")
  ts3: DateTime @wes_default(value: "2024-02-29T10:30:00.25Z")
  ts4: DateTime @wes_default(expr: "'2024-02-29 10:30:00+00'")
  dt1: Date @wes_default(value: "2024-02-29")
  dt2: Date @wes_default(expr: "CURRENT_DATE")
  tm1: Time @wes_default(value: "12:30")
  u1: UUID @wes_default(value: "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11")
  j1: JSON @wes_default(value: {b: [1, 2.5], a: "x"})
  j2: JSON @wes_default(value: "{\"a\": 1e2, \"c\": null}")
  ip1: Inet @wes_default(value: "10.0.0.1/32")
  ip2: Inet @wes_default(value: "10.0.0.0/8")
  mood: Mood @wes_default(value: "CALM")
}
"""
TOML = '[scalars]\nMoney = "numeric(12,2)"\n'
SCALARS = {"Money": "numeric(12,2)"}


def _write(text: str = TYPED) -> None:
    Path("typed.graphql").write_text(text, encoding="utf-8")
    Path("wesley.toml").write_text(TOML, encoding="utf-8")


def _ir(text: str) -> IR:
    return parse_sdl(text, "typed.graphql", ParseOptions(scalars=SCALARS)).ir


def test_a_default_written_as_a_string_is_the_typed_value() -> None:
    _write()
    table = _ir(TYPED).tables[0]
    sql = {c.name: c.default.sql for c in table.columns if c.default}
    # the same value written both ways is one default
    assert sql["i1"] == sql["i2"] == "3"
    assert sql["i3"] == sql["i5"] == "-7"
    assert sql["f1"] == sql["f2"] == "1.5"
    assert sql["b1"] == sql["b2"] == "false"
    assert sql["b3"] == "true"
    assert sql["big1"] == "9000000000"
    assert sql["f3"] == "-2250.0" and sql["f5"] == "3.0" and sql["f4"] == "'NaN'"
    assert sql["d1"] == "12.50" and sql["d4"] == "1000" and sql["m1"] == "1.5"
    assert sql["s2"] == "'3'"  # a string stays a string
    assert sql["ts1"] == "now()"
    assert sql["ts2"] == sql["ts3"].replace(".250000", "") == "'2024-02-29 10:30:00+00:00'"
    assert sql["tm1"] == "'12:30:00'"
    assert sql["u1"] == "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"
    assert sql["j1"] == """'{"a":"x","b":[1,2.5]}'"""
    assert sql["j2"] == """'{"a":100,"c":null}'"""
    assert sql["ip1"] == "'10.0.0.1'" and sql["ip2"] == "'10.0.0.0/8'"
    # schema.sql says what the IR says: no quoted number on a number column
    ddl = postgres(_ir(TYPED))[0].text
    assert "i2 integer NOT NULL DEFAULT 3," in ddl
    assert "b2 boolean NOT NULL DEFAULT false," in ddl
    assert "f2 double precision NOT NULL DEFAULT 1.5," in ddl


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("Int", '"3.5"', "not an integer"),
        ("Int", '"3000000000"', "out of range"),
        ("Int", "1.5", "does not fit"),
        ("BigInt", '"99999999999999999999"', "out of range"),
        ("Boolean", '"maybe"', "not true or false"),
        ("Boolean", "1", "does not fit"),
        ("Float", '"abc"', "could not convert"),
        ("Float", '"1e999"', "out of range"),
        ("Decimal", '"1.2.3"', "not a number"),
        ("DateTime", '"2024-01-01T00:00:00"', "needs its offset"),
        ("DateTime", '"now"', "Invalid isoformat"),
        ("Date", '"2024-02-30"', "day is out of range"),
        ("Time", '"25:00"', "hour must be in"),
        ("UUID", '"not-a-uuid"', "badly formed"),
        ("JSON", '"{"', "Expecting"),
        ("JSON", '"NaN"', "not JSON"),
        ("JSON", r'"{\"\\u0000\": 1}"', "U+0000"),
        ("Inet", '"10.0.0.256"', "does not appear to be"),
        ("String", "3", "does not fit"),
    ],
)
def test_a_default_that_is_no_value_of_the_type_is_invalid_default(
    field: str, value: str, why: str
) -> None:
    sdl = (
        f"type T @wes_table {{\n  id: Int! @wes_pk\n  x: {field} @wes_default(value: {value})\n}}\n"
    )
    with pytest.raises(WesleyError) as err:
        parse_sdl(sdl, "t.graphql")
    e = err.value
    assert e.code == "INVALID_DEFAULT", e.render()
    assert e.location is not None and (e.location.line, e.location.column) == (3, 7 + len(field))
    assert why in e.message, e.message
    assert e.hint


def test_invalid_default_from_the_cli_is_exit_2_with_line_and_column(
    capsys: pytest.CaptureFixture[str],
) -> None:
    Path("bad.graphql").write_text(
        'type T @wes_table {\n  id: Int! @wes_pk\n  n: Int! @wes_default(value: "three")\n}\n',
        encoding="utf-8",
    )
    result = cli(capsys, "transform", "--schema", "bad.graphql")
    assert result.code == 2
    assert "error[INVALID_DEFAULT]: bad.graphql:3:11:" in result.stderr, result.stderr
    assert "hint: an integer" in result.stderr


# -- against PostgreSQL ---------------------------------------------------------------------


def test_a_database_built_from_typed_defaults_plans_to_nothing(
    pg_dsn: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """transform → schema.sql + rls.sql → `plan --from-db` is empty, in a session whose time
    zone is not UTC (PostgreSQL prints a timestamptz default in it); the generated pgTAP suite
    passes."""
    _write()
    monkeypatch.setenv("PGTZ", "Asia/Kolkata")
    ok = cli(capsys, "transform", "--schema", "typed.graphql", "--quiet")
    assert ok.code == 0, ok.stderr
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        apply_script(conn, Path("out/schema.sql").read_text(encoding="utf-8"))
        apply_script(conn, Path("out/rls.sql").read_text(encoding="utf-8"))
        reported: dict[str, str] = dict(
            conn.execute(
                "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN "
                "pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
                "WHERE d.adrelid = 'typed'::regclass"
            ).fetchall()
        )
        ensure_pgtap(conn)
        tap = run_suite(conn, Path("out/tests.sql").read_text(encoding="utf-8"))
    assert tap.ok, tap.tap
    # PostgreSQL's spelling differs from the schema's (the bug this fixes): still no step
    assert reported["i3"] == "'-7'::integer"
    assert reported["ts2"].endswith("+05:30'::timestamp with time zone"), reported["ts2"]
    plan = cli(capsys, "plan", "--schema", "typed.graphql", "--from-db", pg_dsn, "--json")
    assert plan.code == 0, plan.stderr
    assert plan.json()["plan"]["steps"] == [], plan.stdout


def test_a_changed_default_is_one_step_and_an_equal_one_none(
    pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The comparison can fail: a default changed in value plans SET DEFAULT (for it only),
    the same value in another spelling plans nothing."""
    _write()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        apply_script(conn, postgres(_ir(TYPED))[0].text)
        live = introspect(conn)
    changed = (
        TYPED.replace('i2: Int! @wes_default(value: "3")', 'i2: Int! @wes_default(value: "4")')
        .replace('@wes_default(value: "false")', "@wes_default(value: true)")
        .replace("10:30:00.25Z", "10:30:00.26Z")
        .replace('value: "12.50"', 'value: "12.51"')
        .replace('i3: Int @wes_default(value: "-7")', 'i3: Int @wes_default(expr: "-7")')
        .replace('value: "NaN"', 'value: "nan"')
    )
    plan = build_plan(live, _ir(changed))
    assert sorted((s.op, s.column) for s in plan.steps) == [
        ("set_default", "b2"),
        ("set_default", "d1"),
        ("set_default", "i2"),
        ("set_default", "ts3"),
    ], [s.sql for s in plan.steps]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for step in plan.steps:
            conn.execute(step.sql)
        assert build_plan(introspect(conn), _ir(changed)).steps == []


def test_rehearse_of_typed_defaults_passes_without_drift(
    pg_admin_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _write()
    with scratch_database(pg_admin_dsn) as shadow:
        result = cli(
            capsys, "rehearse", "--fresh", "--schema", "typed.graphql", "--dsn", shadow, "--json"
        )
    assert result.code == 0, result.stdout + result.stderr
    realm = result.json()["realm"]
    assert realm["verdict"] == "PASS" and realm["replan_empty"] is True, realm["failure"]
    assert realm["tests"]["failed"] == 0


# generated values of every type, as the user might write them; each must come back from
# pg_get_expr as the same canonical default, and different values as different ones
_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
_DATETIMES = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=_ZONES
)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-1000, max_value=1000)
    | st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=3),
            inner,
            max_size=3,
        )
    ),
    max_leaves=6,
)


def _json_text(v: Any) -> str:
    import json

    def conv(x: Any) -> Any:
        if isinstance(x, Decimal):
            return float(x) if x != x.to_integral_value() else int(x)
        if isinstance(x, dict):
            return {k: conv(y) for k, y in x.items()}
        if isinstance(x, list):
            return [conv(y) for y in x]
        return x

    return json.dumps(conv(v))


_VALUES: dict[str, st.SearchStrategy[str]] = {
    "integer": st.integers(-(2**31), 2**31 - 1).map(str),
    "bigint": st.integers(-(2**63), 2**63 - 1).map(lambda n: f" {n}" if n % 7 == 0 else str(n)),
    "smallint": st.integers(-(2**15), 2**15 - 1).map(str),
    "double precision": st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr)
    | st.sampled_from(["NaN", "Infinity", "-Infinity", "1e300", "-0.0", "3"]),
    "real": st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda f: repr(f)),
    "numeric": st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    "numeric(12,2)": st.decimals(
        allow_nan=False, allow_infinity=False, places=2, min_value=-(10**9), max_value=10**9
    ).map(str),
    "boolean": st.sampled_from(["true", "false", "TRUE", "False", "t", "no", "on", "0"]),
    "text": st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8),
    "varchar(20)": st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8),
    "uuid": st.uuids().map(lambda u: str(u).upper() if u.int % 2 else str(u)),
    "timestamptz": _DATETIMES.map(lambda d: d.isoformat()),
    "timestamp": st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)).map(
        lambda d: d.isoformat()
    ),
    "date": st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(str),
    "time": st.times().map(lambda t: t.isoformat()),
    "timetz": st.times(timezones=_ZONES).map(lambda t: t.isoformat()),
    "jsonb": _JSON.map(_json_text),
    "inet": st.ip_addresses().map(str),
}


@settings(
    max_examples=int(os.environ.get("WESLEY_DEFAULT_EXAMPLES", "15")),
    derandomize=not os.environ.get("WESLEY_DEFAULT_EXAMPLES"),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    values=st.fixed_dictionaries(
        {t: st.lists(v, min_size=2, max_size=2) for t, v in _VALUES.items()}
    )
)
def test_canonical_defaults_are_what_postgresql_reports(
    pg_dsn: str, values: dict[str, list[str]]
) -> None:
    """For each type: the typed literal applied as a default comes back from pg_get_expr (in
    a non-UTC session) as the same canonical default; two values differ canonically exactly
    when PostgreSQL stores different values."""
    cols: list[tuple[str, str, str]] = []
    for n, (type_sql, texts) in enumerate(values.items()):
        for k, text in enumerate(texts):
            cols.append((f"c{n}_{k}", type_sql, typed_literal(text, type_sql)))
    ddl = ", ".join(f"{name} {t} DEFAULT {lit}" for name, t, lit in cols)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'America/St_Johns'")
        conn.execute("DROP TABLE IF EXISTS probe")
        conn.execute(f"CREATE TABLE probe ({ddl})")
        reported: dict[str, str] = dict(
            conn.execute(
                "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN "
                "pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
                "WHERE d.adrelid = 'probe'::regclass"
            ).fetchall()
        )
        # the values PostgreSQL stores, as text in one time zone, to compare pairs by
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("INSERT INTO probe DEFAULT VALUES")
        row = conn.execute(
            "SELECT " + ", ".join(f"{name}::text" for name, _, _ in cols) + " FROM probe"
        ).fetchone()
    assert row is not None
    stored = {name: value for (name, _, _), value in zip(cols, row, strict=True)}
    for name, type_sql, lit in cols:
        assert canonical_default(lit, type_sql) == lit, (type_sql, lit)
        assert canonical_default(reported[name], type_sql) == lit, (type_sql, reported[name])
    for n, type_sql in enumerate(values):
        a, b = f"c{n}_0", f"c{n}_1"
        la = next(lit for name, _, lit in cols if name == a)
        lb = next(lit for name, _, lit in cols if name == b)
        same = stored[a] == stored[b]  # floats print shortest-exact: equal text, equal value
        assert (la == lb) == same, (type_sql, la, lb, stored[a], stored[b])


def test_time_zone_offsets_name_one_instant() -> None:
    a = typed_literal("2024-01-01T01:00:00+01:00", "timestamptz")
    b = typed_literal("2024-01-01T00:00:00Z", "timestamptz")
    assert a == b == "'2024-01-01 00:00:00+00:00'"
    assert (
        canonical_default("'2023-12-31 19:00:00-05'::timestamp with time zone", "timestamptz") == a
    )
    assert typed_literal("12:30", "time") == canonical_default("'12:30:00'::time", "time")
    assert time.fromisoformat("12:30") == time(12, 30)


NEGATIVE = """
type Neg @wes_table {
  id: Int! @wes_pk
  a: Int! @wes_default(expr: "-5 + 1")
  b: Float! @wes_default(expr: "abs(-0.5)")
  c: Decimal! @wes_default(expr: "greatest(-1.5, 2)")
  d: Int! @wes_default(value: -7)
  e: BigInt @wes_default(value: "-9000000000")
  xs: [Int!]! @wes_default(expr: "ARRAY[-1, 2]")
  g: Int! @wes_generated(expr: "a * -3")
  h: Float! @wes_generated(expr: "b - -0.25")
  k: Decimal @wes_generated(expr: "c + -1.50") @wes_min(value: -10)
}
"""


def test_negative_numbers_in_defaults_and_generated_columns_plan_to_nothing(pg_dsn: str) -> None:
    """PostgreSQL stores a negative number as a string cast to its type (`'-5'::integer`),
    inside an expression too: the typed defaults' canonical spelling and the expression
    comparison (`comparable_expression`, which reads such a cast as the number) agree, for
    defaults and for generated columns, so a built database re-plans empty."""
    ir = _ir(NEGATIVE)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        apply_script(conn, postgres(ir)[0].text)
        stored = [
            r[0]
            for r in conn.execute(
                "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d "
                "WHERE d.adrelid = 'neg'::regclass ORDER BY d.adnum"
            ).fetchall()
        ]
        assert "('-5'::integer + 1)" in stored and "(a * '-3'::integer)" in stored, stored
        built = introspect(conn)
    assert build_plan(built, ir).steps == []
