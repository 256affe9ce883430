"""Property: for generated `@wes_rpc` tables (every scalar kind, nullable or not, defaults,
composite keys, `@wes_noRPC` fields, reserved and camelCase names, a tenant column), on
PostgreSQL: the functions build, the generated pgTAP suite passes, the database read back
gives the same functions (a replan is empty), and a generated row goes through create → get →
list → update → delete with every value intact."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from wesley.db.apply import apply_script
from wesley.db.cluster import create_database, drop_database
from wesley.db.introspect import introspect
from wesley.db.pgtap import run_suite
from wesley.plan.build import build_plan
from wesley.sdl import parse_sdl
from wesley.targets.pgtap import pgtap
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls
from wesley.targets.rpc import rpc

_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=8)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
# GraphQL type → values a client sends (and gets back) as JSON
KINDS: dict[str, st.SearchStrategy[Any]] = {
    "String": _TEXT,
    "Int": st.integers(-(2**31), 2**31 - 1),
    "BigInt": st.integers(-(2**53), 2**53),
    "Float": st.floats(allow_nan=False, allow_infinity=False, width=64),
    "Boolean": st.booleans(),
    "Date": st.dates().map(lambda d: d.isoformat()),
    "DateTime": st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    "JSON": _JSON,
    "[String!]": st.lists(_TEXT, max_size=3),
    "Mood": st.sampled_from(["HAPPY", "SAD"]),
}
KEY_KINDS = ("Int", "String", "UUID")
NAMES = ("note", "order", "user", "createdAt", "limit", "patch", "input", "ownerName", "value")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    nullable: bool
    default: bool
    no_rpc: bool


@dataclass(frozen=True)
class Case:
    keys: tuple[tuple[str, str], ...]  # (name, kind)
    fields: tuple[Field, ...]
    tenant: bool
    table: str

    def sdl(self) -> str:
        lines = ["enum Mood { HAPPY SAD }"]
        if self.tenant:
            lines.append("type Org @wes_table { id: ID! @wes_pk }")
        pk = ""
        if len(self.keys) > 1:
            pk = f" @wes_pk(columns: [{', '.join(json.dumps(k) for k, _ in self.keys)}])"
        tenant = ' @wes_tenant(by: "orgId")' if self.tenant else ""
        lines.append(f"type {self.table} @wes_table{pk}{tenant} @wes_rpc {{")
        for k, kind in self.keys:
            lines.append(f"  {k}: {kind}!" + (" @wes_pk" if len(self.keys) == 1 else ""))
        if self.tenant:
            lines.append('  orgId: ID! @wes_fk(ref: "Org.id")')
        for f in self.fields:
            text = f"  {f.name}: {f.kind}{'' if f.nullable else '!'}"
            if f.default:
                text += " @wes_default(" + _default(f.kind) + ")"
            if f.no_rpc:
                text += " @wes_noRPC"
            lines.append(text)
        lines.append("}")
        return "\n".join(lines) + "\n"


def _default(kind: str) -> str:
    return {
        "String": 'value: "d"',
        "Int": "value: 7",
        "BigInt": "value: 7",
        "Float": "value: 1.5",
        "Boolean": "value: true",
        "Date": 'value: "2000-01-01"',
        "DateTime": 'expr: "now()"',
        "JSON": "expr: \"'{}'::jsonb\"",
        "[String!]": "expr: \"'{}'::text[]\"",
        "Mood": 'value: "SAD"',
    }[kind]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True))
    nkeys = draw(st.integers(1, min(2, len(names))))
    keys = tuple((n, draw(st.sampled_from(KEY_KINDS))) for n in names[:nkeys])
    fields = []
    for n in names[nkeys:]:
        kind = draw(st.sampled_from(sorted(KINDS)))
        nullable, default = draw(st.booleans()), draw(st.booleans())
        fields.append(
            Field(n, kind, nullable, default, (nullable or default) and draw(st.booleans()))
        )
    table = draw(st.sampled_from(["Item", "OrderLine", "User"]))
    return Case(keys, tuple(fields), draw(st.booleans()), table)


def _key_value(kind: str, n: int) -> Any:
    return {"Int": n, "String": f"k{n}", "UUID": str(uuid.UUID(int=n))}[kind]


def _same(kind: str, sent: Any, got: Any) -> bool:
    if kind == "DateTime" and sent is not None and got is not None:
        return datetime.fromisoformat(sent) == datetime.fromisoformat(got)
    return bool(sent == got)


def _check(admin: str, case: Case, data: st.DataObject) -> None:
    ir = parse_sdl(case.sdl()).ir
    name = f"wesley_r_{uuid.uuid4().hex[:12]}"
    dsn = create_database(admin, name)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for text, what in ((postgres(ir), "schema"), (rls(ir), "rls"), (rpc(ir), "rpc")):
                apply_script(conn, text[0].text, what)
            result = run_suite(conn, pgtap(ir)[0].text)
            assert result.ok, result.failures
            have = introspect(conn)
            assert have.functions == [
                f.model_copy(update={"source": have.functions[0].source}) for f in ir.functions
            ]
            assert build_plan(have, ir).steps == []
            t = ir.tables[-1]
            fn = t.name
            org = str(uuid.uuid4())
            if case.tenant:
                conn.execute("INSERT INTO org (id) VALUES (%s)", (org,))
                conn.execute("SELECT set_config('app.tenant_id', %s, false)", (org,))
            row: dict[str, Any] = {k: _key_value(kind, 5) for k, kind in case.keys}
            for f in case.fields:
                if f.no_rpc:
                    continue
                optional = f.nullable or f.default
                if optional and not data.draw(st.booleans(), label=f"give {f.name}"):
                    continue
                # a JSON null is SQL NULL (as for every other type): not for a NOT NULL column
                value = data.draw(KINDS[f.kind].filter(lambda v: v is not None), label=f.name)
                row[f.name] = None if f.nullable and data.draw(st.booleans()) else value
            created = conn.execute(f"SELECT create_{fn}(%s::jsonb)", (json.dumps(row),))
            out = created.fetchone()
            assert out is not None and out[0] is not None
            made = out[0]
            kinds = {f.name: f.kind for f in case.fields} | dict(case.keys)
            for k, v in row.items():
                assert _same(kinds[k], v, made[k]), (k, v, made[k])
            hidden = {f.name for f in case.fields if f.no_rpc}
            assert not hidden & set(made)
            if case.tenant:
                assert made["orgId"] == org
            keys = [row[k] for k, _ in case.keys]
            marks = ", ".join(["%s"] * len(keys))
            got = conn.execute(f"SELECT get_{fn}({marks})", keys).fetchone()
            assert got is not None and got[0] == made
            listed = conn.execute(
                f"SELECT * FROM list_{fn}(%s::jsonb)",
                (json.dumps({k: row[k] for k, _ in case.keys}),),
            ).fetchall()
            assert [r[0] for r in listed] == [made]
            changeable = [f for f in case.fields if not f.no_rpc]
            if changeable:
                f = changeable[0]
                value = data.draw(
                    KINDS[f.kind].filter(lambda v: v is not None), label=f"new {f.name}"
                )
                upd = conn.execute(
                    f"SELECT update_{fn}({marks}, %s::jsonb)", [*keys, json.dumps({f.name: value})]
                ).fetchone()
                assert upd is not None and _same(f.kind, value, upd[0][f.name])
            deleted = conn.execute(f"SELECT delete_{fn}({marks})", keys).fetchone()
            assert deleted == (True,)
            assert conn.execute(f"SELECT get_{fn}({marks})", keys).fetchone() == (None,)
    finally:
        drop_database(admin, name)


@seed(int(os.environ.get("WESLEY_PROPERTY_SEED", "20261")))
@settings(
    max_examples=int(os.environ.get("WESLEY_PROPERTY_EXAMPLES", "15")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases(), data=st.data())
def test_generated_rpc_tables_round_trip_every_value(
    pg_admin_dsn: str, case: Case, data: st.DataObject
) -> None:
    _check(pg_admin_dsn, case, data)


def test_a_key_named_like_an_argument_keeps_both() -> None:
    ir = parse_sdl("type A @wes_table @wes_rpc { patch: Int! @wes_pk x: String }").ir
    update = next(f for f in ir.functions if f.kind == "update")
    assert update.identity == "patch integer, _patch jsonb"
