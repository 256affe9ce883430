"""`@wes_rpc`: the CRUD functions on PostgreSQL (called as two tenants through an unprivileged
role, grants, unknown fields, `@wes_noRPC`), their pgTAP tests (passing, and failing when the
database is broken), their plan (adding `@wes_rpc` to a deployed schema is lock-free and a
replan is empty), their TypeScript signatures under `tsc --strict`, and bad arguments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.helpers import cli
from tests.test_target_ts_zod import _project, _tsc
from wesley.api import rehearse, transform
from wesley.db.apply import apply_script
from wesley.db.pgtap import TapResult, run_suite
from wesley.errors import WesleyError
from wesley.ir import IR, ir_hash
from wesley.plan.build import build_plan
from wesley.sdl import parse_sdl
from wesley.targets.pgtap import pgtap
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls
from wesley.targets.rpc import rpc
from wesley.targets.typescript import typescript

BASE = """
enum Role { OWNER MEMBER }
type Org @wes_table {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  name: String! @wes_unique
}
type Member @wes_table @wes_tenant(by: "orgId") {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  orgId: ID! @wes_fk(ref: "Org.id")
  email: String!
  role: Role! @wes_default(value: "MEMBER")
  secret: String
  score: BigInt
  createdAt: DateTime! @wes_default(expr: "now()")
}
type Note @wes_table @wes_owner(column: "authorId") {
  id: Int! @wes_pk
  authorId: ID!
  body: String!
  tags: [String!]
}
"""
RPC = (
    BASE.replace("type Org @wes_table {", "type Org @wes_table @wes_rpc {")
    .replace(
        'type Member @wes_table @wes_tenant(by: "orgId") {',
        'type Member @wes_table @wes_tenant(by: "orgId") @wes_rpc @wes_grant(roles: ["rpc_app"]) {',
    )
    .replace("  secret: String\n", "  secret: String @wes_noRPC\n")
    .replace(
        'type Note @wes_table @wes_owner(column: "authorId") {',
        'type Note @wes_table @wes_owner(column: "authorId") '
        '@wesley_rpc(operations: ["create", "get", "list"]) {',
    )
)
APP = "rpc_app"
BAD = psycopg.errors.InvalidParameterValue
A = "type A @wes_table @wes_rpc"


def _ir(text: str) -> IR:
    return parse_sdl(text).ir


def _ensure_role(conn: psycopg.Connection[Any]) -> None:
    """Roles belong to the cluster, which the tests share."""
    conn.execute(
        "DO $$ BEGIN IF to_regrole('rpc_app') IS NULL THEN CREATE ROLE rpc_app NOLOGIN; "
        "END IF; END $$"
    )


def _build(conn: psycopg.Connection[Any], ir: IR) -> None:
    _ensure_role(conn)
    apply_script(conn, postgres(ir)[0].text, "schema.sql")
    apply_script(conn, rls(ir)[0].text, "rls.sql")
    apply_script(conn, rpc(ir)[0].text, "rpc.sql")


def _suite(dsn: str, ir: IR, sabotage: str | None = None) -> TapResult:
    with psycopg.connect(dsn, autocommit=True) as conn:
        _build(conn, ir)
        if sabotage:
            conn.execute(sabotage.encode())
        return run_suite(conn, pgtap(ir)[0].text)


def test_the_ir_has_the_functions_and_a_schema_without_rpc_keeps_its_hash() -> None:
    ir = _ir(RPC)
    names = [f.name for f in ir.functions]
    assert names == [
        *(f"{k}_org" for k in ("create", "get", "update", "delete", "list")),
        *(f"{k}_member" for k in ("create", "get", "update", "delete", "list")),
        "create_note",
        "get_note",
        "list_note",
    ]
    member = {f.kind: f for f in ir.functions if f.table == "member"}
    assert member["update"].identity == "id uuid, patch jsonb"
    assert member["list"].returns == "SETOF jsonb"
    assert all(f.grants == [APP] for f in member.values())
    assert "'secret'" not in member["create"].body  # @wes_noRPC: neither accepted nor returned
    plain = _ir(BASE)
    assert "functions" not in plain.to_json_data()
    assert ir_hash(plain) != ir_hash(ir)


def test_the_functions_as_two_tenants_through_an_unprivileged_role(pg_dsn: str) -> None:
    ir = _ir(RPC)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        _build(conn, ir)
        org_a = conn.execute("SELECT create_org('{\"name\": \"a\"}') ->> 'id'").fetchone()
        org_b = conn.execute("SELECT create_org('{\"name\": \"b\"}') ->> 'id'").fetchone()
        assert org_a and org_b
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA wesley TO rpc_app"))
        conn.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON member TO rpc_app")
        with conn.transaction():
            conn.execute("SET LOCAL ROLE rpc_app")
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", (org_a[0],))
            row = conn.execute(
                "SELECT create_member(%s::jsonb)",
                (json.dumps({"email": "a@x.test", "score": "12345678901"}),),
            ).fetchone()
            assert row is not None
            created = row[0]
            # the tenant comes from the session; the key names are the GraphQL field names
            assert created["orgId"] == org_a[0] and created["role"] == "MEMBER"
            assert "secret" not in created and created["score"] == 12345678901
            mid = created["id"]
            got = conn.execute("SELECT get_member(%s)", (mid,)).fetchone()
            assert got and got[0] == created
            upd = conn.execute('SELECT update_member(%s, \'{"role": "OWNER"}\')', (mid,)).fetchone()
            assert upd and upd[0]["role"] == "OWNER" and upd[0]["email"] == "a@x.test"
            listed = conn.execute('SELECT * FROM list_member(\'{"role": "OWNER"}\')').fetchall()
            assert [r[0]["id"] for r in listed] == [mid]
            assert conn.execute("SELECT count(*) FROM list_member('{}', 0)").fetchone() == (0,)
            for bad in ({"secret": "x"}, {"nope": 1}):
                with pytest.raises(BAD, match="unknown field"), conn.transaction():
                    conn.execute("SELECT create_member(%s::jsonb)", (json.dumps(bad),))
            with pytest.raises(BAD, match="unknown field"), conn.transaction():
                conn.execute("SELECT update_member(%s, '{\"id\": null}')", (mid,))
            # tenant B: the same calls see nothing and change nothing
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", (org_b[0],))
            assert conn.execute("SELECT get_member(%s)", (mid,)).fetchone() == (None,)
            assert conn.execute(
                'SELECT update_member(%s, \'{"email": "b@x"}\')', (mid,)
            ).fetchone() == (None,)
            assert conn.execute("SELECT count(*) FROM list_member()").fetchone() == (0,)
            assert conn.execute("SELECT delete_member(%s)", (mid,)).fetchone() == (False,)
            # a row for another tenant is refused by the policy (WITH CHECK)
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(
                    "SELECT create_member(%s::jsonb)",
                    (json.dumps({"email": "x", "orgId": org_a[0]}),),
                )
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", (org_a[0],))
            assert conn.execute("SELECT delete_member(%s)", (mid,)).fetchone() == (True,)
            # the grants: EXECUTE on org's functions belongs to nobody but the owner
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute("SELECT list_org()")


def test_pgtap_suite_passes(pg_dsn: str) -> None:
    ir = _ir(RPC)
    result = _suite(pg_dsn, ir)
    assert result.ok and result.failed == 0, result.failures
    lines = [ln for ln in result.tap.splitlines() if " RPC " in ln or "- RPC" in ln]
    assert any("another tenant cannot get the row" in ln for ln in lines)
    assert any("another user cannot get the row" in ln for ln in lines)
    assert all(ln.startswith("ok") for ln in lines), lines


@pytest.mark.parametrize(
    ("sabotage", "failing"),
    [
        # a definer function runs as its owner, who is not subject to row-level security
        (
            "ALTER FUNCTION get_member(uuid) SECURITY DEFINER",
            ["get_member is SECURITY INVOKER", "another tenant cannot get the row"],
        ),
        (
            "ALTER POLICY member_tenant ON member USING (true) WITH CHECK (true)",
            ["another tenant cannot get the row", "another tenant cannot delete the row"],
        ),
        (
            "CREATE OR REPLACE FUNCTION delete_member(id uuid) RETURNS boolean "
            "LANGUAGE sql AS $$ SELECT true $$",
            ["another tenant cannot delete the row"],
        ),
    ],
)
def test_pgtap_suite_fails_when_the_database_is_broken(
    pg_dsn: str, sabotage: str, failing: list[str]
) -> None:
    result = _suite(pg_dsn, _ir(RPC), sabotage)
    assert not result.ok
    failed = "\n".join(ln for ln in result.tap.splitlines() if ln.startswith("not ok"))
    for text in failing:
        assert text in failed, result.tap


def test_adding_rpc_to_a_deployed_schema_is_a_lock_free_plan(
    pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = _ir(BASE), _ir(RPC)
    plan = build_plan(old, new)
    # the table's own GRANT comes with @wes_grant (issue 9b); every function step locks nothing
    ops = {s.op for s in plan.steps}
    assert ops == {"create_function", "comment", "grant_function", "grant"}
    mine = [s for s in plan.steps if s.op != "grant"]
    assert len(mine) == 13 * 3 + 5  # create, comment, revoke each; grant for member's five
    assert all(s.locks == [] and not s.blocks.reads and not s.blocks.writes for s in mine)
    assert all(s.phase == "expand" for s in mine)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        _ensure_role(conn)
    Path("schema.graphql").write_text(RPC, encoding="utf-8")
    transform("schema.graphql")
    result = rehearse("schema.graphql", old=old, dsn=pg_dsn)
    assert result.realm.verdict == "PASS", result.realm.notes
    assert build_plan(new, new).steps == []
    # HOLMES cites every executed assertion (the functions' too) and WATSON agrees
    report = cli(capsys, "holmes", "report")
    assert report.code == 0, report.stderr


def test_a_changed_table_replaces_its_functions_and_removing_rpc_drops_them() -> None:
    old = _ir(RPC)
    grown = _ir(RPC.replace("  body: String!\n", "  body: String!\n  title: String\n"))
    plan = build_plan(old, grown)
    replaced = [s for s in plan.steps if s.op == "create_function"]
    assert {s.sql.split("(")[0].split(".")[-1] for s in replaced} == {
        "create_note",
        "get_note",
        "list_note",
    }
    assert all("'title'" in s.sql for s in replaced)
    gone = build_plan(old, _ir(BASE))
    drops = [s for s in gone.steps if s.op == "drop_function"]
    assert len(drops) == 13 and all(s.phase == "contract" and s.locks == [] for s in drops)
    assert not gone.destructive
    regrant = build_plan(old, _ir(RPC.replace('roles: ["rpc_app"]', 'roles: ["other"]')))
    sqls = [s.sql for s in regrant.steps]
    assert any("FROM rpc_app" in s for s in sqls) and any("TO other" in s for s in sqls)
    narrowed = _ir(RPC.replace("@wes_rpc {", '@wes_rpc(operations: ["get"]) {', 1))
    assert {s.op for s in build_plan(old, narrowed).steps} == {"drop_function"}


def test_the_replan_after_a_rehearsal_of_a_grown_table_is_empty(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        _ensure_role(conn)
    grown = RPC.replace("  email: String!\n", "  email: String!\n  nick: String\n")
    result = rehearse(sdl=grown, old=_ir(RPC), dsn=pg_dsn)
    assert result.realm.verdict == "PASS", result.realm.notes


@pytest.mark.parametrize(
    ("sdl", "code"),
    [
        ("type A @wes_table @wes_rpc @wes_noRPC { id: ID! @wes_pk }", "RPC_CONFLICT"),
        (
            'type A @wes_table @wes_rpc(operations: ["upsert"]) { id: ID! @wes_pk }',
            "INVALID_ARGUMENT",
        ),
        ("type A @wes_table @wes_rpc(operations: []) { id: ID! @wes_pk }", "INVALID_ARGUMENT"),
        ('type A @wes_table @wes_rpc(operations: ["get"]) { id: ID! }', "RPC_NEEDS_PRIMARY_KEY"),
        (
            "type A @wes_table @wes_rpc { id: ID! @wes_pk x: String! @wes_noRPC }",
            "RPC_FIELD_REQUIRED",
        ),
        (
            f'{A} {{ id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()") @wes_noRPC }}',
            "INVALID_ARGUMENT",
        ),
        ("type A @wes_table @wes_rpc(bogus: 1) { id: ID! @wes_pk }", "UNKNOWN_ARGUMENT"),
        (f"type A{'a' * 60} @wes_table @wes_rpc {{ id: ID! @wes_pk }}", "IDENTIFIER_TOO_LONG"),
    ],
)
def test_bad_arguments_are_coded_errors(sdl: str, code: str) -> None:
    with pytest.raises(WesleyError) as err:
        parse_sdl(sdl, "s.graphql")
    assert err.value.code == code
    assert err.value.location is not None and err.value.location.line == 1


def test_warnings_for_what_does_nothing() -> None:
    nokey = parse_sdl("type A @wes_table @wes_rpc { x: String }")
    assert [f.kind for f in nokey.ir.functions] == ["create", "list"]
    assert "W_RPC_NO_PRIMARY_KEY" in [w.code for w in nokey.warnings]
    unused = parse_sdl("type A @wes_table { id: ID! @wes_pk x: String @wes_noRPC }")
    assert "W_NORPC_UNUSED" in [w.code for w in unused.warnings]
    legacy = parse_sdl("type A @wes_table @rpc { id: ID! @wes_pk }")
    # the bare alias works (and warns); a table of nothing but its key has no update
    assert [f.kind for f in legacy.ir.functions] == ["create", "get", "delete", "list"]
    assert "W_DEPRECATED_DIRECTIVE" in [w.code for w in legacy.warnings]


USAGE = """
import type { RpcFunctions, MemberRpcRow, Role } from "./types";
declare function rpc<K extends keyof RpcFunctions>(
  name: K, args: RpcFunctions[K]["Args"]): Promise<RpcFunctions[K]["Returns"]>;
export async function use(): Promise<void> {
  const m: MemberRpcRow = await rpc("create_member", { input: { email: "a@b.test" } });
  const role: Role = m.role;
  const score: number | null = m.score;
  const again = await rpc("get_member", { id: m.id });
  if (again !== null) { const when: string = again.createdAt; void when; }
  const many: MemberRpcRow[] = await rpc("list_member", { filters: { role }, limit: 10 });
  const gone: boolean = await rpc("delete_member", { id: m.id });
  await rpc("update_member", { id: m.id, patch: { score: "12" } });
  await rpc("create_note", { input: { id: 1, body: "b" } });
  void score; void many; void gone;
  // @ts-expect-error the id is the key, not part of a patch
  await rpc("update_member", { id: m.id, patch: { id: m.id } });
  // @ts-expect-error @wes_noRPC fields are not part of the API
  await rpc("create_member", { input: { email: "x", secret: "s" } });
  // @ts-expect-error email is required on create
  await rpc("create_member", { input: {} });
  // @ts-expect-error note has no update function
  await rpc("update_note", { id: 1, patch: {} });
  // @ts-expect-error get returns null for a row the caller cannot see
  const sure: MemberRpcRow = await rpc("get_member", { id: m.id });
  void sure;
}
"""


def test_typescript_signatures_pass_tsc_strict(tmp_path: Path) -> None:
    ir = _ir(RPC)
    (tmp_path / "types.ts").write_text(typescript(ir)[0].text, encoding="utf-8")
    (tmp_path / "use.ts").write_text(USAGE, encoding="utf-8")
    _project(tmp_path, ["types.ts", "use.ts"], None)
    done = _tsc("-p", "tsconfig.json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    # and the check is not vacuous: a wrong signature fails
    (tmp_path / "use.ts").write_text(USAGE.replace('"a@b.test"', "42"), encoding="utf-8")
    assert _tsc("-p", "tsconfig.json", cwd=tmp_path).returncode != 0


def test_evidence_names_the_functions(tmp_path: Path) -> None:
    schema = tmp_path / "s.graphql"
    schema.write_text(RPC, encoding="utf-8")
    transform(schema, out=tmp_path / "out", bundle_dir=tmp_path / ".wesley")
    evidence = json.loads((tmp_path / ".wesley" / "evidence-map.json").read_text())
    text = json.dumps(evidence)
    assert "rpc:member.create" in text and "rpc.sql" in text
    assert (tmp_path / "out" / "rpc.sql").is_file()


DERIVED = """
type Org @wes_table { id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()") name: String! }
type Post @wes_table @wes_tenant(by: "orgId") @wes_rpc {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  orgId: ID! @wes_fk(ref: "Org.id")
  title: String!
  slug: String! @wes_generated(expr: "lower(title)")
  shout: String @wes_computed(expr: "upper(title)")
  commentCount: Int! @wes_computed(count: "Comment.postId")
}
type Comment @wes_table {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  postId: ID! @wes_fk(ref: "Post.id", onDelete: CASCADE)
}
"""
DERIVED_USAGE = """
import type { RpcFunctions, PostRpcRow } from "./types";
declare function rpc<K extends keyof RpcFunctions>(
  name: K, args: RpcFunctions[K]["Args"]): Promise<RpcFunctions[K]["Returns"]>;
export async function use(): Promise<void> {
  const p: PostRpcRow = await rpc("create_post", { input: { title: "T" } });
  const slug: string = p.slug;
  const count: number = p.commentCount;
  await rpc("update_post", { id: p.id, patch: { title: "U" } });
  void slug; void count;
  // @ts-expect-error a generated field is not part of create's input
  await rpc("create_post", { input: { title: "T", slug: "s" } });
  // @ts-expect-error nor a computed one
  await rpc("create_post", { input: { title: "T", commentCount: 3 } });
  // @ts-expect-error nor of update's patch
  await rpc("update_post", { id: p.id, patch: { shout: "S" } });
}
"""


def test_generated_and_computed_fields_are_returned_but_not_written(
    pg_dsn: str, tmp_path: Path
) -> None:
    """create_/update_ refuse generated and computed fields (PostgreSQL or a trigger sets
    them: a value there would be silently overruled), return them, and their TypeScript
    input and patch leave them out."""
    ir = _ir(DERIVED)
    post = {f.kind: f for f in ir.functions if f.table == "post"}
    assert "INSERT INTO public.post (id, org_id, title)\n" in post["create"].body
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        _build(conn, ir)
        org = conn.execute("INSERT INTO org (name) VALUES ('o') RETURNING id::text").fetchone()
        assert org is not None
        conn.execute("SELECT set_config('app.tenant_id', %s, false)", org)
        created = conn.execute('SELECT create_post(\'{"title": "Hello"}\')').fetchone()
        assert created is not None
        row = created[0]
        assert (row["slug"], row["shout"], row["commentCount"]) == ("hello", "HELLO", 0)
        conn.execute("INSERT INTO comment (post_id) VALUES (%s)", (row["id"],))
        for field, value in (("slug", "s"), ("shout", "S"), ("commentCount", 7)):
            for call, args in (
                ("SELECT create_post(%s::jsonb)", ()),
                ("SELECT update_post(%s, %s::jsonb)", (row["id"],)),
            ):
                payload = json.dumps({"title": "x", field: value})
                with pytest.raises(BAD, match="not writable") as caught:
                    conn.execute(call, (*args, payload))
                assert field in str(caught.value)
        got = conn.execute('SELECT update_post(%s, \'{"title": "Bye"}\')', (row["id"],)).fetchone()
        assert got is not None
        assert (got[0]["slug"], got[0]["shout"], got[0]["commentCount"]) == ("bye", "BYE", 1)
        listed = conn.execute('SELECT * FROM list_post(\'{"slug": "bye"}\')').fetchall()
        assert [r[0]["id"] for r in listed] == [row["id"]]
    (tmp_path / "types.ts").write_text(typescript(ir)[0].text, encoding="utf-8")
    (tmp_path / "use.ts").write_text(DERIVED_USAGE, encoding="utf-8")
    _project(tmp_path, ["types.ts", "use.ts"], None)
    done = _tsc("-p", "tsconfig.json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_pgtap_suite_passes_with_generated_and_computed_fields(pg_dsn: str) -> None:
    result = _suite(pg_dsn, _ir(DERIVED))
    assert result.ok and result.failed == 0, result.failures
    assert any("RPC post: create_post returns the new row" in ln for ln in result.tap.splitlines())
