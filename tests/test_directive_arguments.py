"""The rule "no argument is silently ignored" (issue 9, item 6): every argument of every
directive in the registry either changes the IR (two values give two different IRs, not
counting the verbatim record of the directives) or is refused with a coded error at the
directive. An argument added to the registry without a sample here fails the test; one
with a sample that neither changes the IR nor is refused fails it too."""

from __future__ import annotations

from typing import Any

import pytest

from wesley.errors import WesleyError
from wesley.sdl import parse_sdl
from wesley.sdl.registry import DIRECTIVES

TEMPLATE = """
type Org @wes_table {{ id: ID! @wes_pk  name: String! @wes_unique  n: Int {n} }}
type Team @wes_table {{ id: ID! @wes_pk  org_id: ID @wes_fk(ref: "Org.id") }}
type T {table} {obj} {{
  id: ID! @wes_pk
  a: Int! {a}
  b: Int!
  s: String! {s}
  org_id: ID! {org_id}
  owner_id: ID
  user_id: ID
  org: Org! {rel}
}}
"""
DEFAULTS = {"table": "@wes_table", "obj": "", "a": "", "org_id": '@wes_fk(ref: "Org.id")'}
DEFAULTS |= {"s": "", "n": ""}
DEFAULTS["rel"] = "@wes_belongsTo"

# (directive, argument) -> (slot, text with {v}, first value, second value)
Sample = tuple[str, str, str, str]
_RLS = "@wes_rls({v})"
SAMPLES: dict[tuple[str, str], Sample] = {
    ("wes_table", "name"): ("table", "@wes_table(name: {v})", '"t1"', '"t2"'),
    ("wes_rpc", "operations"): ("obj", "@wes_rpc(operations: {v})", '["create"]', '["list"]'),
    ("wes_column", "name"): ("a", "@wes_column(name: {v})", '"a1"', '"a2"'),
    ("wes_pk", "columns"): ("obj", "@wes_pk(columns: {v})", '["a"]', '["b"]'),
    ("wes_pk", "fields"): ("obj", "@wes_pk(fields: {v})", '["a"]', '["b"]'),
    ("wes_fk", "ref"): ("org_id", "@wes_fk(ref: {v})", '"Org.id"', '"Team.id"'),
    ("wes_fk", "onDelete"): (
        "org_id",
        '@wes_fk(ref: "Org.id", onDelete: {v})',
        "CASCADE",
        "RESTRICT",
    ),
    ("wes_fk", "onUpdate"): (
        "org_id",
        '@wes_fk(ref: "Org.id", onUpdate: {v})',
        "CASCADE",
        "RESTRICT",
    ),
    ("wes_fk", "name"): ("org_id", '@wes_fk(ref: "Org.id", name: {v})', '"f1"', '"f2"'),
    ("wes_unique", "columns"): ("obj", "@wes_unique(columns: {v})", '["a"]', '["a", "b"]'),
    ("wes_unique", "fields"): ("obj", "@wes_unique(fields: {v})", '["a"]', '["a", "b"]'),
    ("wes_unique", "name"): ("a", "@wes_unique(name: {v})", '"u1"', '"u2"'),
    ("wes_index", "name"): ("a", "@wes_index(name: {v})", '"i1"', '"i2"'),
    ("wes_index", "using"): ("a", "@wes_index(using: {v})", '"btree"', '"hash"'),
    ("wes_index", "where"): ("a", "@wes_index(where: {v})", '"a > 0"', '"a > 1"'),
    ("wes_index", "columns"): ("obj", "@wes_index(columns: {v})", '["a"]', '["a", "b"]'),
    ("wes_index", "fields"): ("obj", "@wes_index(fields: {v})", '["a"]', '["a", "b"]'),
    ("wes_index", "unique"): ("a", "@wes_index(unique: {v})", "true", "false"),
    ("wes_default", "value"): ("a", "@wes_default(value: {v})", "1", "2"),
    ("wes_default", "expr"): ("a", "@wes_default(expr: {v})", '"1 + 1"', '"2 + 2"'),
    ("wes_check", "expr"): ("a", "@wes_check(expr: {v})", '"a > 0"', '"a > 1"'),
    ("wes_check", "name"): ("a", '@wes_check(expr: "a > 0", name: {v})', '"c1"', '"c2"'),
    ("wes_tenant", "by"): ("obj", "@wes_tenant(by: {v})", '"org_id"', '"owner_id"'),
    ("wes_rls", "enabled"): ("obj", '@wes_rls(select: "true", enabled: {v})', "true", "false"),
    ("wes_rls", "force"): ("obj", '@wes_rls(select: "true", force: {v})', "true", "false"),
    ("wes_rls", "using"): ("obj", "@wes_rls(using: {v})", '"true"', '"a > 0"'),
    ("wes_rls", "check"): ("obj", "@wes_rls(check: {v})", '"true"', '"a > 0"'),
    ("wes_rls", "select"): ("obj", "@wes_rls(select: {v})", '"true"', '"a > 0"'),
    ("wes_rls", "insert"): ("obj", "@wes_rls(insert: {v})", '"true"', '"a > 0"'),
    ("wes_rls", "update"): ("obj", "@wes_rls(update: {v})", '"true"', '"a > 0"'),
    ("wes_rls", "delete"): ("obj", "@wes_rls(delete: {v})", '"true"', '"a > 0"'),
    ("wes_rls", "roles"): ("obj", '@wes_rls(select: "true", roles: {v})', '["r1"]', '["r2"]'),
    **{
        ("wes_rls", f"{c}Roles"): (
            "obj",
            f'@wes_rls({c}: "true", {c}Roles: {{v}})',
            '["r1"]',
            '["r2"]',
        )
        for c in ("select", "insert", "update", "delete")
    },
    ("wes_rls", "preset"): ("obj", "@wes_rls(preset: {v})", '"authenticated"', '"admin-only"'),
    ("wes_rls", "name"): ("obj", '@wes_rls(select: "true", name: {v})', '"p1"', '"p2"'),
    ("wes_rls", "options"): (
        "obj",
        '@wes_rls(preset: "admin-only", options: {v})',
        '{adminRoles: ["r1"]}',
        '{adminRoles: ["r2"]}',
    ),
    ("wes_owner", "column"): ("obj", "@wes_owner(column: {v})", '"owner_id"', '"user_id"'),
    **{
        ("wes_owner", c): (
            "obj",
            f'@wes_owner(column: "owner_id", {c}: {{v}})',
            '"true"',
            '"false"',
        )
        for c in ("select", "insert", "update", "delete")
    },
    ("wes_grant", "roles"): ("obj", "@wes_grant(roles: {v})", '["r1"]', '["r2"]'),
    ("wes_uid", "value"): ("a", "@wes_uid(value: {v})", '"col:x"', '"col:y"'),
    ("wes_weight", "value"): ("a", "@wes_weight(value: {v})", "1", "2"),
    **{
        (rel, arg): ("rel", f"@{rel}({arg}: {{v}})", '"x"', '"y"')
        for rel in ("wes_hasMany", "wes_hasOne", "wes_belongsTo")
        for arg in ("field", "via", "ref")
    },
    **{
        (rel, "type"): ("rel", f"@{rel}(type: {{v}})", '"Org"', '"Team"')
        for rel in ("wes_hasMany", "wes_hasOne", "wes_belongsTo")
    },
    ("wes_renamedFrom", "name"): ("a", "@wes_renamedFrom(name: {v})", '"x"', '"y"'),
    ("wes_cast", "using"): ("a", "@wes_cast(using: {v})", '"a + 1"', '"a + 2"'),
    ("wes_cast", "reverse"): ("a", "@wes_cast(reverse: {v})", '"a + 1"', '"a + 2"'),
    **{
        (f"wes_{kind}", "check"): ("s", f"@wes_{kind}(check: {{v}})", "true", "false")
        for kind in ("email", "url", "ip")
    },
    **{
        (f"wes_{bound}", "value"): ("a", f"@wes_{bound}(value: {{v}})", "1", "2")
        for bound in ("min", "max")
    },
    **{
        (f"wes_{bound}", "check"): ("a", f"@wes_{bound}(value: 1, check: {{v}})", "true", "false")
        for bound in ("min", "max")
    },
    ("wes_length", "min"): ("s", "@wes_length(min: {v})", "1", "2"),
    ("wes_length", "max"): ("s", "@wes_length(max: {v})", "5", "6"),
    ("wes_length", "check"): ("s", "@wes_length(min: 1, check: {v})", "true", "false"),
    ("wes_regex", "pattern"): ("s", "@wes_regex(pattern: {v})", '"^a"', '"^b"'),
    ("wes_regex", "check"): ("s", '@wes_regex(pattern: "^a", check: {v})', "true", "false"),
    ("wes_generated", "expr"): ("a", "@wes_generated(expr: {v})", '"b + 1"', '"b + 2"'),
    ("wes_computed", "expr"): ("a", "@wes_computed(expr: {v})", '"b + 1"', '"b + 2"'),
    ("wes_computed", "count"): ("n", "@wes_computed(count: {v})", '"T.org_id"', '"Team.org_id"'),
}

ARGUMENTS = [(spec.name, arg) for spec in DIRECTIVES for arg, _ in spec.args]


def _without_uses(data: Any) -> Any:
    """The IR without its verbatim record of each directive and its arguments."""
    if isinstance(data, dict):
        return {k: _without_uses(v) for k, v in data.items() if k != "directives"}
    if isinstance(data, list):
        return [_without_uses(v) for v in data]
    return data


def _outcome(sample: Sample, value: str) -> Any:
    slot, text, _, _ = sample
    slots = {**DEFAULTS, slot: text.replace("{v}", value)}
    try:
        ir = parse_sdl(TEMPLATE.format(**slots), "t.graphql").ir
    except WesleyError as err:
        return err
    return _without_uses(ir.to_json_data())


def test_every_registry_argument_has_a_sample() -> None:
    missing = [f"@{d}({a}:)" for d, a in ARGUMENTS if (d, a) not in SAMPLES]
    assert not missing, (
        f"{missing}: add a sample here, and make the IR consume the argument or refuse it "
        "with a coded error (wesley.sdl.registry.UNSUPPORTED_ARGS)"
    )


@pytest.mark.parametrize(("directive", "arg"), ARGUMENTS, ids=lambda x: str(x))
def test_every_argument_is_consumed_or_refused(directive: str, arg: str) -> None:
    sample = SAMPLES[(directive, arg)]
    first, second = _outcome(sample, sample[2]), _outcome(sample, sample[3])
    if isinstance(first, WesleyError) or isinstance(second, WesleyError):
        for err in (first, second):  # refused: both values, with a code, at the directive
            assert isinstance(err, WesleyError), f"@{directive}({arg}:) refused only one value"
            assert err.code.isupper() and err.location is not None, err.render()
            assert arg in err.message or arg in (err.hint or ""), err.render()
        return
    assert first != second, f"@{directive}({arg}:) changes nothing in the IR: silently ignored"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('type T @wes_table { id: ID! @wes_pk(columns: ["b"])  b: Int! }', "INVALID_ARGUMENT"),
        (
            'type T @wes_table { id: ID! @wes_pk  b: Int! @wes_unique(fields: ["id"]) }',
            "INVALID_ARGUMENT",
        ),
        (
            'type T @wes_table { id: ID! @wes_pk  b: Int! @wes_index(columns: ["id"]) }',
            "INVALID_ARGUMENT",
        ),
        ("type T @wes_table @wes_pk { id: ID!  b: Int! }", "MISSING_ARGUMENT"),
    ],
)
def test_a_key_list_where_it_would_not_be_read_is_refused(text: str, code: str) -> None:
    """columns: of a field's @wes_pk/@wes_unique/@wes_index (the field is the key) and a
    type-level @wes_pk without columns: would otherwise do nothing."""
    with pytest.raises(WesleyError) as caught:
        parse_sdl(text, "t.graphql")
    assert caught.value.code == code
    assert caught.value.location is not None and caught.value.location.line == 1
