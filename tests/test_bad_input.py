"""Bad input: a coded error, exit 2, a location where one exists, a hint, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import INVALID_FIXTURES, cli

T = "type A @wes_table {\n  id: ID! @wes_pk\n"  # a table head most cases extend


@dataclass(frozen=True)
class Case:
    id: str
    content: str | bytes | None  # None: the file does not exist
    code: str
    where: tuple[int, int] | None  # (line, column) of the offending node
    is_dir: bool = False


CASES = [
    Case("syntax-eof", T, "PARSE_FAILED", (3, 1)),
    Case("syntax-missing-colon", "type A @wes_table {\n  id ID!\n}", "PARSE_FAILED", (2, 6)),
    Case("double-at", T + '  @@primaryKey(fields: ["id"])\n}', "PARSE_FAILED", (3, 4)),
    Case(
        "positional-arg", 'type A @wes_table @uid("x") { id: ID! @wes_pk }', "PARSE_FAILED", (1, 24)
    ),
    Case("nul-byte", "type A @wes_table { id: ID!\x00 @wes_pk }", "PARSE_FAILED", (1, 28)),
    Case(
        "unknown-directive-argument",
        T.replace("@wes_pk", "@wes_pk(foo: 1)") + "}",
        "UNKNOWN_ARGUMENT",
        (2, 19),
    ),
    Case("unknown-directive", T + "  name: String @wes_uniq\n}", "UNKNOWN_DIRECTIVE", (3, 16)),
    Case("missing-required-argument", T + "  b: ID @wes_fk\n}", "MISSING_ARGUMENT", (3, 9)),
    Case("directive-misplaced", T + "  b: ID @wes_table\n}", "DIRECTIVE_MISPLACED", (3, 9)),
    Case(
        "wrong-argument-type", T + '  b: ID @wes_weight(value: "x")\n}', "INVALID_ARGUMENT", (3, 9)
    ),
    Case("fk-missing-table", T + '  b: ID @wes_fk(ref: "Nope.id")\n}', "FK_TARGET_UNKNOWN", (3, 9)),
    Case(
        "fk-missing-column",
        T + '  b: ID @wes_fk(ref: "A.nope")\n}',
        "FK_TARGET_COLUMN_UNKNOWN",
        (3, 9),
    ),
    Case(
        "fk-not-unique",
        T + '  c: ID\n  b: ID @wes_fk(ref: "A.c")\n}',
        "FK_TARGET_NOT_UNIQUE",
        (4, 9),
    ),
    Case("fk-type-mismatch", T + '  b: Int @wes_fk(ref: "A.id")\n}', "FK_TYPE_MISMATCH", (3, 10)),
    Case(
        "fk-bad-action",
        T + '  b: ID @wes_fk(ref: "A.id", onDelete: EXPLODE)\n}',
        "INVALID_ARGUMENT",
        (3, 9),
    ),
    Case("nullable-pk", "type A @wes_table {\n  id: ID @wes_pk\n}", "PK_NULLABLE", (2, 3)),
    Case(
        "tenant-field-missing",
        'type A @wes_table @wes_tenant(by: "org_id") {\n  id: ID! @wes_pk\n}',
        "TENANT_FIELD_MISSING",
        (1, 19),
    ),
    Case("duplicate-type", T + "}\n" + T + "}", "DUPLICATE_TYPE", (1, 6)),
    Case(
        "duplicate-table-name",
        T + '}\ntype B @wes_table(name: "a") {\n  id: ID! @wes_pk\n}',
        "DUPLICATE_TABLE",
        (4, 1),
    ),
    Case(
        "duplicate-column", T + "  createdAt: Int\n  created_at: Int\n}", "DUPLICATE_COLUMN", (4, 3)
    ),
    Case(
        "table-enum-clash",
        'enum A { X }\ntype Z @wes_table(name: "a") {\n  id: ID! @wes_pk\n}',
        "TYPE_NAME_CLASH",
        (2, 1),
    ),
    Case("enum-shadows-builtin", "enum Time { A }\n" + T + "}", "TYPE_NAME_CLASH", (1, 1)),
    Case("unmapped-scalar", "scalar Money\n" + T + "  price: Money\n}", "UNMAPPED_TYPE", (4, 3)),
    Case("undeclared-type", T + "  price: Money\n}", "UNKNOWN_TYPE", (3, 10)),
    Case("list-of-lists", T + "  m: [[Int]]\n}", "UNSUPPORTED_TYPE", (3, 3)),
    Case(
        "object-without-relation",
        T + "}\ntype B @wes_table {\n  id: ID! @wes_pk\n  a: A\n}",
        "RELATION_DIRECTIVE_MISSING",
        (6, 3),
    ),
    Case(
        "default-two-statements",
        T + '  t: DateTime @wes_default(expr: "now(); DROP TABLE a")\n}',
        "INVALID_EXPRESSION",
        (3, 15),
    ),
    Case(
        "default-semicolon-in-literal",
        T + "  t: String @wes_default(expr: \"'a;b'\")\n}",
        "INVALID_EXPRESSION",
        (3, 13),
    ),
    Case(
        "default-comment",
        T + '  t: DateTime @wes_default(expr: "now() -- x")\n}',
        "INVALID_EXPRESSION",
        (3, 15),
    ),
    Case(
        "default-escapes-parens",
        T + '  t: Int @wes_default(expr: "1) FROM pg_class WHERE (1")\n}',
        "INVALID_EXPRESSION",
        (3, 10),
    ),
    Case(
        "default-column-reference",
        T + '  t: Int @wes_default(expr: "id + 1")\n}',
        "INVALID_EXPRESSION",
        (3, 10),
    ),
    Case(
        "default-value-and-expr",
        T + '  t: Int @wes_default(value: 1, expr: "2")\n}',
        "INVALID_DEFAULT",
        (3, 10),
    ),
    Case(
        "default-literal-wrong-type",
        T + '  t: Int @wes_default(value: "abc")\n}',
        "INVALID_DEFAULT",
        (3, 10),
    ),
    Case(
        "default-not-enum-value",
        "enum E { X Y }\n" + T + '  e: E @wes_default(value: "Z")\n}',
        "INVALID_DEFAULT",
        (4, 8),
    ),
    Case(
        "check-subquery",
        T + '  n: Int @wes_check(expr: "n > (SELECT 1)")\n}',
        "INVALID_EXPRESSION",
        (3, 10),
    ),
    Case(
        "index-bad-method",
        T + '  n: Int @wes_index(using: "bogus")\n}',
        "INVALID_ARGUMENT",
        (3, 10),
    ),
    Case(
        "index-unknown-column",
        'type A @wes_table @wes_index(columns: ["nope"]) {\n  id: ID! @wes_pk\n}',
        "UNKNOWN_COLUMN",
        (1, 19),
    ),
    Case(
        "weight-out-of-range", T + "  n: Int @wes_weight(value: 11)\n}", "INVALID_WEIGHT", (3, 10)
    ),
    Case(
        "table-name-64-bytes",
        f'type A @wes_table(name: "{"t" * 64}") {{\n  id: ID! @wes_pk\n}}',
        "IDENTIFIER_TOO_LONG",
        (1, 8),
    ),
    Case("column-name-64-bytes", T + f"  {'c' * 64}: Int\n}}", "IDENTIFIER_TOO_LONG", (3, 3)),
    Case(
        "column-name-multibyte-over-63",
        T + f'  c: Int @wes_column(name: "{"é" * 32}")\n}}',
        "IDENTIFIER_TOO_LONG",
        (3, 10),
    ),
    Case("empty-file", "", "EMPTY_SCHEMA", (1, 1)),
    Case("whitespace-only", "  \n\n\t\n", "EMPTY_SCHEMA", (1, 1)),
    Case("binary-garbage", bytes(range(128, 256)) * 4, "INVALID_ENCODING", (1, 1)),
    Case("missing-file", None, "FILE_NOT_FOUND", None),
    Case("directory", None, "NOT_A_FILE", None, is_dir=True),
]


def test_there_are_at_least_25_cases() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_is_a_coded_error(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = tmp_path / "schema.graphql"
    if case.is_dir:
        schema.mkdir()
    elif isinstance(case.content, bytes):
        schema.write_bytes(case.content)
    elif case.content is not None:
        schema.write_text(case.content, encoding="utf-8")
    result = cli(
        capsys, "transform", "--json", "--schema", str(schema), "--out", str(tmp_path / "out")
    )
    assert result.code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    error = result.json()["error"]
    assert error["code"] == case.code, error
    assert error["hint"], error
    if case.where is None:
        assert error["location"] is None
    else:
        loc = error["location"]
        assert loc is not None, error
        assert (loc["line"], loc["column"]) == case.where, error
        assert loc["file"] == str(schema)
    assert not (tmp_path / "out").exists(), "nothing is written on error"


def test_human_error_names_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = tmp_path / "s.graphql"
    schema.write_text("type A @wes_table {\n  id: ID @wes_pk\n}", encoding="utf-8")
    result = cli(capsys, "transform", "--schema", str(schema), "--out", str(tmp_path / "o"))
    assert result.code == 2
    assert result.stdout == ""
    assert f"error[PK_NULLABLE]: {schema}:2:3: primary key A.id is nullable" in result.stderr
    assert "hint: make it non-null: id: ID!" in result.stderr


EXPECTED_INVALID = {
    "multi-tenant.graphql": (25, 4),
    "schema-v2.graphql": (19, 37),
    "schema-with-rls.graphql": (33, 43),
}


def test_all_invalid_fixtures_are_covered() -> None:
    assert {p.name for p in INVALID_FIXTURES} == set(EXPECTED_INVALID)


@pytest.mark.parametrize("path", INVALID_FIXTURES, ids=lambda p: p.name)
def test_invalid_upstream_fixture_is_rejected(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = cli(
        capsys, "transform", "--json", "--schema", str(path), "--out", str(tmp_path / "out")
    )
    assert result.code == 2
    assert "Traceback" not in result.stdout + result.stderr
    error = result.json()["error"]
    assert error["code"] == "PARSE_FAILED"
    assert (error["location"]["line"], error["location"]["column"]) == EXPECTED_INVALID[path.name]
    assert error["hint"]
