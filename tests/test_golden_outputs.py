"""Every byte `transform` writes, pinned: the SHA-256 of each artifact and evidence file for
every upstream fixture and for a schema of awkward literals (quotes, backslashes, non-ASCII,
control characters, JSON), against `tests/golden/transform_outputs.json`.

Speed work (string quoting without pglast, memoised type and expression normalisation, the C
JSON encoder, the unchanged-run cache) must not change a byte of what users get. A change
that is meant (a contract change, noted in docs/decisions.md) regenerates the file with
`WESLEY_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden_outputs.py`."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.helpers import REPO, VALID_FIXTURES
from wesley.api import transform

GOLDEN = REPO / "tests" / "golden" / "transform_outputs.json"

AWKWARD = r"""
enum Mood { HAPPY SAD }

type Note @wes_table {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  quote: String! @wes_default(value: "it's \"quoted\"")
  slash: String! @wes_default(value: "C:\\temp\\new")
  both: String @wes_default(value: "\\'\\''")
  uni: String @wes_default(value: "ünïcødé ✓ 日本")
  ctl: String @wes_default(value: "tab\there\nnewline")
  empty: String! @wes_default(value: "")
  dollars: String @wes_default(value: "$$ $1 $tag$")
  mood: Mood! @wes_default(value: "SAD")
  moods: [Mood!]
  meta: JSON @wes_default(value: {a: 1, b: "x'y", c: [true, null]})
  n: Int @wes_check(expr: "n > 0 AND n <> 42") @wes_default(value: 7)
  price: Decimal @wes_default(value: "12.50")
  f: Float @wes_default(value: 1.5)
  big: BigInt @wes_default(value: "9007199254740993")
  flag: Boolean @wes_default(value: false)
  label: String @wes_check(expr: "label <> 'it''s' AND label !~ '\\d'")
  day: Date @wes_default(expr: "CURRENT_DATE")
  tags: [String!] @wes_default(expr: "ARRAY['a', 'b''c']")
  ip: Inet
  at: Time
  createdAt: DateTime! @wes_default(expr: "now()")
}
"""


# the IR's functions (15c): ir.json and the snapshot carry them only here
RPC = """
enum Role { OWNER MEMBER }
type Org @wes_table @wes_rpc {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  name: String! @wes_unique
}
type Member @wes_table @wes_tenant(by: "orgId") @wes_rpc @wes_grant(roles: ["rpc_app"]) {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  orgId: ID! @wes_fk(ref: "Org.id")
  email: String!
  role: Role! @wes_default(value: "MEMBER")
  secret: String @wes_noRPC
  createdAt: DateTime! @wes_default(expr: "now()")
}
type Note @wes_table @wes_owner(column: "authorId") @wesley_rpc(operations: ["create", "list"]) {
  id: Int! @wes_pk
  authorId: ID!
  body: String!
  tags: [String!]
}
"""


def _cases() -> dict[str, str]:
    cases = {p.name: p.read_text(encoding="utf-8") for p in VALID_FIXTURES}
    cases["awkward-literals.graphql"] = AWKWARD
    cases["rpc-functions.graphql"] = RPC
    return cases


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        # history.json carries a timestamp; the cache is not an output
        if p.is_file() and p.name != "history.json" and "cache" not in p.parts
    }


def _outputs(name: str, text: str, tmp: Path) -> dict[str, str]:
    work = tmp / name
    work.mkdir()
    os.chdir(work)
    (work / "schema.graphql").write_text(text, encoding="utf-8")
    transform("schema.graphql", out="out")
    (work / "schema.graphql").unlink()
    return _hashes(work)


def test_transform_outputs_are_byte_identical(tmp_path: Path) -> None:
    got = {name: _outputs(name, text, tmp_path) for name, text in sorted(_cases().items())}
    if os.environ.get("WESLEY_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip("golden hashes rewritten")
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name] == want[name], name
