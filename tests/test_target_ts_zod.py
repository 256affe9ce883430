"""The `typescript` and `zod` targets, proven with the real tools (DESIGN §4).

Every case (the upstream fixtures, the starter template, a schema using every scalar) is
generated into its own folder of one temporary project; one `tsc --strict` run checks them all,
including a `check.ts` per case that asserts `z.infer<typeof XSchema>` and the interface `X`
are the same type. The emitted JavaScript then runs under node and parses good and bad
sample rows made here from the IR. tsc and zod come from tools/node (`./scripts/setup`); when
they or node are missing these tests fail, never skip.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO, VALID_FIXTURES
from tests.schemas_refined import COMPUTED_SDL, REFINED_SDL
from wesley.errors import WesleyError
from wesley.ir import IR, Column, Table, ir_from_json
from wesley.refinements import sample_number, sample_text
from wesley.sdl import parse_sdl
from wesley.sdl.parser import ParseOptions
from wesley.targets.base import Artifact
from wesley.targets.typescript import Scalar, enum_of, is_optional_on_insert, scalar_of, typescript
from wesley.targets.zod import zod

NODE_MODULES = REPO / "tools" / "node" / "node_modules"
# tools/node pins both majors of each (npm aliases): generated code must serve zod 3 (what older
# projects have) and zod 4 (what `npm i zod` installs), TypeScript 5.9 and 7 (the native tsc,
# published on npm as `typescript` from 7.0)
ZODS = {"zod3": "zod", "zod4": "zod4"}
TSCS = {"ts5": "typescript", "ts7": "typescript7"}
TSC = NODE_MODULES / "typescript" / "bin" / "tsc"
TEMPLATE = REPO / "src" / "wesley" / "templates" / "schema.graphql"

RICH_SDL = """
scalar Money
scalar Tiny
scalar Label
scalar Stamp

enum Role { OWNER MEMBER VIEWER }
enum Status @wes_uid(value: "enum:status */ tricky") { draft active archived }

type Kitchen @wes_table(name: "kitchen_sink") @wes_critical {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  ref: UUID!
  name: String! @wes_pii
  nickname: String
  count: Int! @wes_default(value: 0)
  ratio: Float
  active: Boolean! @wes_default(value: true)
  createdAt: DateTime! @wes_default(expr: "now()")
  birthday: Date
  alarm: Time!
  meta: JSON
  payload: JSON!
  price: Decimal!
  big: BigInt
  ip: Inet
  role: Role! @wes_default(value: "MEMBER")
  status: Status
  roles: [Role!]!
  tags: [String!]
  scores: [Int!]
  docs: [JSON!]
  money: Money!
  cash: Money @wes_sensitive
  tiny: Tiny
  label: Label!
  stamp: Stamp
  delete: Boolean
  class: String!
  order: Int!
  new: String
  default: Int
  sqlName: String @wes_column(name: "the_sql_name")
}

type Order @wes_table @wes_uid(value: "tbl:orders") {
  id: ID! @wes_pk
  kitchenId: ID! @wes_fk(ref: "Kitchen.id")
  total: Money!
  placedOn: Date! @wes_default(expr: "current_date")
  kitchen: Kitchen! @wes_belongsTo
}
"""
RICH_SCALARS = {
    "Money": "numeric(12, 2)",
    "Tiny": "smallint",
    "Label": "varchar(80)",
    "Stamp": "timestamp with time zone",
}


@dataclass(frozen=True)
class Case:
    name: str  # the folder in the temporary project
    ir: IR


def _parse(path: Path) -> IR:
    return parse_sdl(path.read_text(encoding="utf-8"), str(path)).ir


def _rich_ir() -> IR:
    return parse_sdl(RICH_SDL, "rich.graphql", ParseOptions(scalars=RICH_SCALARS)).ir


def _cases() -> list[Case]:
    cases = [Case("upstream_" + re.sub(r"\W", "_", p.stem), _parse(p)) for p in VALID_FIXTURES]
    cases.append(Case("template", _parse(TEMPLATE)))
    cases.append(Case("rich", _rich_ir()))
    # refinements, generated and computed columns (issue 15)
    cases.append(Case("refined", parse_sdl(REFINED_SDL, "refined.graphql").ir))
    computed = COMPUTED_SDL.replace("EXTRA", "")
    cases.append(Case("computed", parse_sdl(computed, "computed.graphql").ir))
    return cases


CASES = _cases()
CASE_IDS = [c.name for c in CASES]


def _generate(ir: IR) -> dict[str, Artifact]:
    return {a.path: a for a in typescript(ir) + zod(ir)}


# --- the real tools --------------------------------------------------------------------------


def _node() -> str:
    node = shutil.which("node")
    assert node, "node is not on PATH: install Node.js 18+ (the TS/Zod targets are proven with it)"
    return node


def _tsc(*args: str, cwd: Path, ts: str = "ts5") -> subprocess.CompletedProcess[str]:
    tsc = NODE_MODULES / TSCS[ts] / "bin" / "tsc"
    assert tsc.exists(), f"{tsc} is missing: run ./scripts/setup (npm ci in tools/node)"
    return subprocess.run(
        [_node(), str(tsc), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _project(root: Path, include: list[str], out_dir: str | None, zod: str = "zod3") -> None:
    """A tsconfig for `root`; `zod` resolves through a symlink to one of tools/node's zods."""
    (root / "node_modules").mkdir()
    (root / "node_modules" / "zod").symlink_to(NODE_MODULES / ZODS[zod], target_is_directory=True)
    options: dict[str, Any] = {
        "strict": True,
        "target": "es2020",
        "module": "commonjs",
        "types": [],
        "noEmitOnError": True,
        # what `tsc --init` sets (and TypeScript 7 always assumes); zod 4's own declaration
        # files need it under module commonjs
        "esModuleInterop": True,
    }
    if out_dir is None:
        options["noEmit"] = True
    else:
        options |= {"outDir": out_dir, "rootDir": "."}
    config = {"compilerOptions": options, "include": include}
    (root / "tsconfig.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


EQUALS = (
    "type Equals<A, B> =\n"
    "  (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;"
)


def _check_ts(ir: IR) -> str:
    """Compile-time proof that every Zod schema infers exactly its interface."""
    lines = [
        'import type { z } from "zod";',
        'import type * as T from "./types";',
        'import type * as Z from "./zod";',
        EQUALS,
    ]
    for e in ir.enums:
        n = e.type_name
        lines.append(f"export const enum_{n}: Equals<z.infer<typeof Z.{n}Schema>, T.{n}> = true;")
    for t in ir.tables:
        n = t.type_name
        lines += [
            f"export const row_{n}: Equals<z.infer<typeof Z.{n}Schema>, T.{n}> = true;",
            f"export const alias_{n}: Equals<Z.{n}Row, T.{n}> = true;",
            f"export const insert_{n}: Equals<z.infer<typeof Z.{n}InsertSchema>, T.{n}Insert> "
            "= true;",
            f"export const update_{n}: Equals<z.infer<typeof Z.{n}UpdateSchema>, T.{n}Update> "
            "= true;",
        ]
    return "\n".join(lines) + "\n"


def _errors_by_folder(output: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in output.splitlines():
        m = re.match(r"^([^/(]+)/[^(]+\(\d+,\d+\): error", line)
        if m:
            found.setdefault(m.group(1), []).append(line)
    return found


# --- sample rows -----------------------------------------------------------------------------

_GOOD: dict[Scalar, Any] = {
    Scalar.TEXT: "some text",
    Scalar.TIMESTAMPTZ: "2024-05-06T07:08:09.123+02:00",
    Scalar.DATE: "2024-02-29",
    Scalar.TIME: "07:08:09.5",
    Scalar.INT16: -32768,
    Scalar.INT32: 2147483647,
    Scalar.BIGINT: "-9007199254740993",
    Scalar.NUMERIC: "-12.50",
    Scalar.FLOAT: 1.5,
    Scalar.BOOLEAN: False,
    Scalar.JSON: {"a": [1, "x", None, True], "b": {}},
}

_BAD: dict[Scalar, list[Any]] = {
    Scalar.UUID: ["not-a-uuid", 7],
    Scalar.TEXT: [42],
    Scalar.TIMESTAMPTZ: ["2024-05-06T07:08:09", "yesterday"],
    Scalar.DATE: ["06/05/2024"],
    Scalar.TIME: ["7pm"],
    Scalar.INT16: [40000, 1.5],
    Scalar.INT32: [2147483648, 1.5, "1"],
    Scalar.BIGINT: ["12.5", 12],
    Scalar.NUMERIC: ["1e5", 12.5],
    Scalar.FLOAT: ["1.5"],
    Scalar.BOOLEAN: ["true", 0],
    Scalar.JSON: [],  # every JSON value is a valid jsonb value
    Scalar.ENUM: ["NOT_A_VALUE"],
}


def _good(ir: IR, c: Column) -> Any:
    scalar = scalar_of(c)
    if scalar is Scalar.UUID:
        # version nibble 0: not an RFC 9562 uuid, but one PostgreSQL stores (zod 4's .uuid()
        # would refuse it)
        text = str(uuid.uuid5(uuid.NAMESPACE_URL, c.uid))
        one: Any = text[:14] + "0" + text[15:]
    elif scalar is Scalar.ENUM:
        one = enum_of(ir, c).values[-1]
    elif c.refinements and scalar is Scalar.TEXT:
        one = sample_text(c, 1)
    elif c.refinements and scalar in (Scalar.INT16, Scalar.INT32):
        one = int(sample_number(c, 1))
    elif c.refinements and scalar is Scalar.FLOAT:
        one = float(sample_number(c, 1))
    elif c.refinements and scalar in (Scalar.BIGINT, Scalar.NUMERIC):
        one = sample_number(c, 1)
    else:
        one = _GOOD[scalar]
    return [one, one] if c.array else one


def _bad(c: Column) -> list[Any]:
    scalar = scalar_of(c)
    bad = list(_BAD[scalar])
    if c.array:
        bad = [[b] for b in bad] + ["not an array"]
    if not c.nullable and (c.array or scalar is not Scalar.JSON):
        bad.append(None)  # jsonb 'null' is a value, so a JSON column accepts it
    return bad


def _samples(ir: IR, t: Table) -> dict[str, Any]:
    row = {c.field: _good(ir, c) for c in t.columns}
    nulls = {c.field: None if c.nullable else _good(ir, c) for c in t.columns}
    required = [c for c in t.columns if not is_optional_on_insert(c)]
    minimal = {c.field: row[c.field] for c in required}
    # a write never gives a generated column (the database computes it)
    generated = {c.field for c in t.columns if c.generated}
    full = {k: v for k, v in row.items() if k not in generated}
    null_write = {k: v for k, v in nulls.items() if k not in generated}
    bad_rows = [
        {"field": c.field, "value": v, "row": row | {c.field: v}}
        for c in t.columns
        for v in _bad(c)
    ]
    missing = [
        {"field": c.field, "row": {k: v for k, v in row.items() if k != c.field}} for c in required
    ]
    return {
        "schema": t.type_name,
        "good": {"row": row, "nulls": nulls},
        "good_insert": {"full": full, "nulls": null_write, "minimal": minimal},
        "bad_rows": bad_rows,
        "missing_on_insert": missing,
    }


RUNNER = r"""
// Parses each sample with the compiled schemas; prints one JSON document of the outcomes.
const fs = require("fs");
const path = require("path");
const problems = (schema, value) => {
  const r = schema.safeParse(value);
  return r.success ? null : r.error.issues.map((i) => ({ path: i.path, message: i.message }));
};
const out = { zod_version: require("zod/package.json").version };
for (const name of JSON.parse(process.argv[2])) {
  const Z = require(path.join(__dirname, "js", name, "zod.js"));
  const tables = JSON.parse(fs.readFileSync(path.join(__dirname, name, "samples.json"), "utf8"));
  out[name] = {};
  for (const s of tables) {
    const row = Z[s.schema + "Schema"], ins = Z[s.schema + "InsertSchema"];
    const upd = Z[s.schema + "UpdateSchema"];
    const good = {};
    for (const [k, v] of Object.entries(s.good)) {
      const r = row.safeParse(v);
      good[k] = problems(row, v);
      // known keys must come back unchanged (e.g. a field called `constructor`)
      good[k + "_roundtrip"] = r.success && JSON.stringify(r.data) === JSON.stringify(v);
    }
    for (const [k, v] of Object.entries(s.good_insert)) good["insert_" + k] = problems(ins, v);
    good.update_empty = problems(upd, {});
    good.update_full = problems(upd, s.good_insert.full);
    out[name][s.schema] = {
      good,
      bad_rows: s.bad_rows.map((b) => ({ field: b.field, value: b.value,
        row: problems(row, b.row), update: problems(upd, { [b.field]: b.value }) })),
      missing_on_insert: s.missing_on_insert.map((m) => ({ field: m.field,
        insert: problems(ins, m.row), row: problems(row, m.row) })),
    };
  }
}
process.stdout.write(JSON.stringify(out));
"""


@dataclass(frozen=True)
class Built:
    root: Path
    tsc: subprocess.CompletedProcess[str]
    errors: dict[str, list[str]]


TOOLCHAINS = [(z, t) for z in ZODS for t in TSCS]
TOOLCHAIN_IDS = [f"{z}-{t}" for z, t in TOOLCHAINS]


@pytest.fixture(scope="session", params=TOOLCHAINS, ids=TOOLCHAIN_IDS)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """All cases in one project, type-checked (and compiled to JS) by a single tsc run, for each
    zod major and TypeScript major."""
    zod_name, ts = request.param
    root = tmp_path_factory.mktemp(f"ts_zod_{zod_name}_{ts}")
    for case in CASES:
        folder = root / case.name
        folder.mkdir()
        for path, artifact in _generate(case.ir).items():
            (folder / path).write_text(artifact.text, encoding="utf-8")
        (folder / "check.ts").write_text(_check_ts(case.ir), encoding="utf-8")
        samples = [_samples(case.ir, t) for t in case.ir.tables]
        (folder / "samples.json").write_text(json.dumps(samples, indent=1), encoding="utf-8")
    _project(root, [f"{c.name}/*.ts" for c in CASES], out_dir="js", zod=zod_name)
    done = _tsc("-p", "tsconfig.json", cwd=root, ts=ts)
    return Built(root, done, _errors_by_folder(done.stdout + done.stderr))


@pytest.fixture(scope="session")
def runtime(built: Built) -> dict[str, Any]:
    """The compiled schemas run under node with the zod `built` compiled against."""
    assert built.tsc.returncode == 0, built.tsc.stdout + built.tsc.stderr
    (built.root / "runner.js").write_text(RUNNER, encoding="utf-8")
    names = json.dumps([c.name for c in CASES])
    done = subprocess.run(
        [_node(), "runner.js", names], cwd=built.root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# --- tests -----------------------------------------------------------------------------------


def test_tools_are_pinned() -> None:
    package = json.loads((REPO / "tools/node/package.json").read_text(encoding="utf-8"))
    deps = package["devDependencies"]
    assert re.fullmatch(r"5\.9\.\d+", deps["typescript"]), deps
    assert re.fullmatch(r"npm:typescript@7\.\d+\.\d+", deps["typescript7"]), deps
    assert re.fullmatch(r"3\.\d+\.\d+", deps["zod"]), deps
    assert re.fullmatch(r"npm:zod@4\.\d+\.\d+", deps["zod4"]), deps
    for ts, expected in (("ts5", "Version 5.9."), ("ts7", "Version 7.")):
        assert _tsc("--version", cwd=REPO, ts=ts).stdout.startswith(expected)
    assert (REPO / "tools/node/package-lock.json").exists()


def test_tsc_strict_accepts_every_case(built: Built) -> None:
    assert built.tsc.returncode == 0, built.tsc.stdout + built.tsc.stderr


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_zod_infers_exactly_the_interfaces(built: Built, case: Case) -> None:
    assert built.errors.get(case.name, []) == []
    check = (built.root / case.name / "check.ts").read_text(encoding="utf-8")
    # one assertion per enum and four per table, so an empty check.ts cannot pass unnoticed
    assert check.count("= true;") == len(case.ir.enums) + 4 * len(case.ir.tables)
    assert (built.root / "js" / case.name / "zod.js").exists()


def test_runtime_runs_the_zod_it_was_built_for(built: Built, runtime: dict[str, Any]) -> None:
    major = runtime["zod_version"].split(".")[0]
    assert built.root.name.startswith(f"ts_zod_zod{major}_"), (built.root, runtime["zod_version"])


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_zod_parses_good_rows_and_rejects_bad_ones(runtime: dict[str, Any], case: Case) -> None:
    outcome = runtime[case.name]
    assert set(outcome) == {t.type_name for t in case.ir.tables}
    for t in case.ir.tables:
        got = outcome[t.type_name]
        for key, problems in got["good"].items():
            if key.endswith("_roundtrip"):
                assert problems is True, f"{t.type_name} {key}: data changed by parsing"
            else:
                assert problems is None, f"{t.type_name} {key}: {problems}"
        assert len(got["bad_rows"]) >= 1 or not t.columns
        for bad in got["bad_rows"]:
            what = f"{t.type_name}.{bad['field']} = {bad['value']!r}"
            for schema in ("row", "update"):
                assert bad[schema] is not None, f"{schema} schema accepted {what}"
                # the issue is on that field (or an element of it), nowhere else
                assert {p["path"][0] for p in bad[schema]} == {bad["field"]}, bad[schema]
        for miss in got["missing_on_insert"]:
            assert miss["insert"] is not None, f"insert accepted {t.type_name} without {miss}"
            assert miss["row"] is not None


def test_rich_case_covers_every_scalar_kind() -> None:
    ir = next(c.ir for c in CASES if c.name == "rich")
    kinds = {scalar_of(c) for t in ir.tables for c in t.columns}
    assert kinds == set(Scalar)
    kitchen = ir.tables[0]
    assert {c.field for c in kitchen.columns} >= {"delete", "class", "order", "new", "default"}


@pytest.mark.parametrize("zod_name", list(ZODS))
def test_the_check_fails_when_the_files_disagree(tmp_path: Path, zod_name: str) -> None:
    """The equality check is not vacuous: three different drifts each fail tsc."""
    ir = _rich_ir()
    arts = _generate(ir)
    drifts = {
        # a property of a different type in the row schema
        "zod_type": ("zod.ts", "  count: z.number().int()", "  count: z.string()"),
        # an interface property that became optional
        "ts_optional": ("types.ts", "  name: string;", "  name?: string;"),
        # a column with a default that the insert schema requires
        "zod_insert": ("zod.ts", "  active: z.boolean().optional(),", "  active: z.boolean(),"),
    }
    for folder, (path, old, new) in drifts.items():
        (tmp_path / folder).mkdir()
        for name, artifact in arts.items():
            text = artifact.text
            if name == path:
                assert old in text, f"{old!r} not in {path}"
                text = text.replace(old, new, 1)
            (tmp_path / folder / name).write_text(text, encoding="utf-8")
        (tmp_path / folder / "check.ts").write_text(_check_ts(ir), encoding="utf-8")
    _project(tmp_path, [f"{d}/*.ts" for d in drifts], out_dir=None, zod=zod_name)
    done = _tsc("-p", "tsconfig.json", cwd=tmp_path, ts="ts7" if zod_name == "zod4" else "ts5")
    assert done.returncode != 0
    errors = _errors_by_folder(done.stdout)
    expected = {
        "zod_type": ["row_Kitchen", "alias_Kitchen", "update_Kitchen"],
        "ts_optional": ["row_Kitchen", "alias_Kitchen"],
        "zod_insert": ["insert_Kitchen"],
    }
    check_lines = _check_ts(ir).splitlines()
    for folder, names in expected.items():
        lines = {
            check_lines[int(m.group(1)) - 1].split(":")[0].removeprefix("export const ")
            for e in errors.get(folder, [])
            if (m := re.search(r"/check\.ts\((\d+),", e))
        }
        assert lines == set(names), (folder, errors.get(folder))
        assert all("check.ts" in e for e in errors[folder]), errors[folder]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_generation_is_deterministic(case: Case) -> None:
    first = _generate(case.ir)
    again = _generate(ir_from_json(json.loads(json.dumps(case.ir.to_json_data()))))
    assert {p: (a.text, a.spans) for p, a in first.items()} == {
        p: (a.text, a.spans) for p, a in again.items()
    }
    assert set(first) == {"types.ts", "zod.ts"}
    assert (first["types.ts"].kind, first["zod.ts"].kind) == ("ts", "zod")


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_every_table_and_column_has_exact_evidence(case: Case) -> None:
    for path, per_column in (("types.ts", 3), ("zod.ts", 2)):
        artifact = _generate(case.ir)[path]
        lines = artifact.text.splitlines()
        spans: dict[str, list[list[str]]] = {}
        for s in artifact.spans:
            assert 1 <= s.start <= s.end <= len(lines), s
            spans.setdefault(s.uid, []).append(lines[s.start - 1 : s.end])
        for e in case.ir.enums:
            assert any(e.type_name in "\n".join(b) for b in spans[e.uid])
        for t in case.ir.tables:
            assert spans.get(t.uid), f"{path}: no span for {t.uid}"
            assert all(t.type_name in "\n".join(b) for b in spans[t.uid])
            for c in t.columns:
                blocks = spans.get(c.uid, [])
                # the row, insert and update interfaces; the row and insert schemas
                assert len(blocks) == per_column, (path, c.uid, blocks)
                for block in blocks:
                    assert re.search(rf"^  {re.escape(c.field)}\??: ", block[-1]), block
                    assert c.uid in block[0]


def test_doc_comments_carry_uid_and_classification() -> None:
    text = _generate(_rich_ir())["types.ts"].text
    assert "  /** uid: col:kitchen_sink.name · @pii */\n  name: string;" in text
    assert "/** uid: tbl:kitchen_sink · row of kitchen_sink · @critical */" in text
    assert "enum:status *\\/ tricky" in text  # a uid cannot end the comment early
    assert "sqlName: string | null;" in text  # GraphQL names, not SQL names


@pytest.mark.parametrize(
    "sdl",
    [
        "type User @wes_table { id: ID! @wes_pk }\ntype UserInsert @wes_table { id: ID! @wes_pk }",
        "type User @wes_table { id: ID! @wes_pk }\ntype UserSchema @wes_table { id: ID! @wes_pk }",
        "type JsonValue @wes_table { id: ID! @wes_pk }",
        "enum Role { A }\ntype RoleSchema @wes_table { id: ID! @wes_pk }",
    ],
)
def test_clashing_names_are_generation_errors(sdl: str) -> None:
    ir = parse_sdl(sdl, "x.graphql").ir
    for target in (typescript, zod):
        with pytest.raises(WesleyError) as info:
            target(ir)
        assert info.value.code == "TS_NAME_CLASH"
        assert int(info.value.exit_code) == 4


@pytest.mark.parametrize("name", ["string", "class"])
def test_reserved_type_names_are_generation_errors(name: str) -> None:
    ir = parse_sdl(f'type {name} @wes_table(name: "t") {{ id: ID! @wes_pk }}', "x.graphql").ir
    for target in (typescript, zod):
        with pytest.raises(WesleyError) as info:
            target(ir)
        assert info.value.code == "TS_INVALID_NAME"


@pytest.mark.parametrize("field", ["constructor", "toString", "__proto__"])
def test_object_member_fields_are_refused_by_zod_only(field: str) -> None:
    """Zod 3 would see the inherited member when the property is left out (an update)."""
    ir = parse_sdl(f"type A @wes_table {{ id: ID! @wes_pk\n {field}: String }}", "x.graphql").ir
    with pytest.raises(WesleyError) as info:
        zod(ir)
    assert info.value.code == "ZOD_RESERVED_FIELD"
    assert int(info.value.exit_code) == 4
    assert f"  {field}: string | null;" in typescript(ir)[0].text
