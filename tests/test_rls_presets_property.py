"""Property: for any valid mix of tenant, owner, a preset and per-command keywords, the
policies PostgreSQL enforces do exactly what the generated pgTAP probes expect (as user A, an
admin and anonymous, on rows of A and B), and the database round-trips to an empty plan.
Bounded and seeded for CI; WESLEY_PROPERTY_EXAMPLES / WESLEY_PROPERTY_SEED hunt longer."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import psycopg
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from wesley.db.apply import apply_script
from wesley.db.cluster import create_database, drop_database
from wesley.db.introspect import introspect
from wesley.db.pgtap import ensure_pgtap, run_suite
from wesley.plan.build import build_plan
from wesley.sdl import parse_sdl
from wesley.sdl.policies import KEYWORDS, Rule
from wesley.targets.pgtap import pgtap
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls

PARENTS = """
type Org @wes_table { id: ID! @wes_pk  name: String! @wes_unique }
type User @wes_table { id: ID! @wes_pk }
type Membership @wes_table @wes_pk(columns: ["userId", "orgId"]) {
  userId: ID! @wes_fk(ref: "User.id")
  orgId: ID! @wes_fk(ref: "Org.id")
}
"""
PRESETS = [
    None,
    "owner",
    "tenant",
    "public-read",
    "authenticated",
    "admin-only",
    "soft-delete",
    "time-window",
    "hierarchical",
]


def _needs(rule: Rule | None, what: str) -> bool:
    if rule is None:
        return False
    if rule.op == "atom":
        return rule.atom == what
    return _needs(rule.left, what) or _needs(rule.right, what)


@dataclass(frozen=True)
class Case:
    tenant: bool
    owner: bool
    preset: str | None
    keywords: tuple[tuple[str, str], ...]

    def sdl(self) -> str:
        directives = []
        if self.tenant:
            directives.append('@wes_tenant(by: "orgId")')
        if self.owner:
            directives.append('@wes_owner(column: "createdBy")')
        args = [f'{k}: "{w}"' for k, w in self.keywords]
        if self.preset:
            args.append(f'preset: "{self.preset}"')
            opts = {
                "owner": '{column: "createdBy"}',
                "public-read": '{column: "createdBy"}',
                "tenant": '{column: "orgId"}',
                "time-window": '{start: "startsAt", end: "endsAt"}',
                "hierarchical": '{column: "orgId"}',
            }.get(self.preset)
            if opts:
                args.append(f"options: {opts}")
        if args:
            directives.append(f"@wes_rls({', '.join(args)})")
        return PARENTS + (
            f"type T @wes_table {' '.join(directives)} {{\n"
            "  id: ID! @wes_pk\n"
            '  orgId: ID! @wes_fk(ref: "Org.id")\n'
            '  createdBy: ID! @wes_fk(ref: "User.id")\n'
            "  deletedAt: DateTime\n  startsAt: DateTime!\n  endsAt: DateTime\n  label: String\n}\n"
        )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    preset = draw(st.sampled_from(PRESETS))
    tenant = draw(st.booleans()) or preset == "tenant"
    owner = draw(st.booleans()) and preset not in ("owner", "public-read")
    has_tenant = tenant
    has_owner = owner or preset in ("owner", "public-read")
    usable = sorted(
        w
        for w, (rule, _admin) in KEYWORDS.items()
        if (has_tenant or not _needs(rule, "tenant")) and (has_owner or not _needs(rule, "owner"))
    )
    keywords = []
    for command in ("select", "insert", "update", "delete"):
        word = draw(st.none() | st.sampled_from(usable))
        if word is not None:
            keywords.append((command, word))
    if preset is None and not keywords and not tenant and not owner:
        preset = "owner"
    return Case(tenant, owner, preset, tuple(keywords))


def _check(admin_dsn: str, case: Case) -> None:
    ir = parse_sdl(case.sdl()).ir
    name = f"wesley_rls_prop_{uuid.uuid4().hex[:12]}"
    create_database(admin_dsn, name)
    try:
        params = conninfo_to_dict(admin_dsn)
        params["dbname"] = name
        with psycopg.connect(make_conninfo(**params), autocommit=True) as conn:  # type: ignore[arg-type]
            ensure_pgtap(conn)
            apply_script(conn, postgres(ir)[0].text, "schema.sql")
            apply_script(conn, rls(ir)[0].text, "rls.sql")
            result = run_suite(conn, pgtap(ir)[0].text)
            assert result.ok, (case.sdl(), result.failures)
            ruled = bool(case.preset or case.keywords or case.owner)
            assert any("RLS t (" in ln for ln in result.tap.splitlines()) == ruled
            live = introspect(conn)
            steps = [s.sql for s in build_plan(live, ir).steps if s.op != "ensure_helpers"]
            assert steps == [], (case.sdl(), steps)
    finally:
        drop_database(admin_dsn, name)


@seed(int(os.environ.get("WESLEY_PROPERTY_SEED", "15")))
@settings(
    max_examples=int(os.environ.get("WESLEY_PROPERTY_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases())
def test_policies_do_what_the_probes_expect(pg_admin_dsn: str, case: Case) -> None:
    _check(pg_admin_dsn, case)
