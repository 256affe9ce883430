"""Wesley's prelude (its directive declarations) is first cut to the spellings a schema's text
uses; nothing a schema compiles to or fails with may depend on that."""

from __future__ import annotations

import pytest
from graphql import Source, parse
from graphql.language import DocumentNode
from graphql.validation.validate import validate_sdl

from wesley.errors import WesleyError
from wesley.sdl import parse_sdl
from wesley.sdl.document import _declared, _spelled, build_schema, parse_document
from wesley.sdl.registry import ALIASES, prelude

PLAIN = "type A @wes_table {\n  id: ID! @wes_pk\n  b: String @wes_check(expr: \"b <> ''\")\n}\n"


def test_the_scan_sees_spellings_after_whitespace_and_commas() -> None:
    doc = parse_document('type A @wes_table ,@\n  pk { id: ID! @ , wes_uid(value: "x") }', None)
    assert _spelled(doc) == {"wes_table", "pk", "wes_uid"}


def test_a_spelling_the_scan_misses_falls_back_to_the_whole_prelude() -> None:
    # a comment between `@` and the name: valid GraphQL the scan does not see
    missed = PLAIN.replace("@wes_pk", "@ # the key\n  wes_pk")
    doc = parse_document(missed, None)
    assert "wes_pk" not in (_spelled(doc) or set())
    build_schema(doc, None)  # no error
    assert parse_sdl(missed).ir.tables[0].primary_key == parse_sdl(PLAIN).ir.tables[0].primary_key


def test_unused_spellings_are_left_out_of_the_schema() -> None:
    schema = build_schema(parse_document(PLAIN, None), None)
    declared = {d.name for d in schema.directives}
    assert {"wes_table", "wes_pk", "wes_check"} <= declared
    assert not declared & (set(ALIASES) - {"wes_table", "wes_pk", "wes_check"})


@pytest.mark.parametrize(
    "text",
    [
        PLAIN.replace("@wes_pk", "@wes_pkk") + "type B @wes_tabel { id: ID! }\n",
        PLAIN.replace("@wes_pk", "@wes_pk(foo: 1) @wes_fk"),
        PLAIN.replace("@wes_pk", "@wes_pk @wes_pk @wes_index(where: 1, columns: 2)"),
        PLAIN + "directive @wes_pk on OBJECT\n",
    ],
)
def test_errors_are_those_of_the_whole_prelude(text: str) -> None:
    doc = parse_document(text, "s.graphql")
    whole = parse(Source(prelude(*_declared(doc)), "wesley-prelude.graphql"))
    expected = validate_sdl(DocumentNode(definitions=(*doc.definitions, *whole.definitions)))
    assert expected
    with pytest.raises(WesleyError) as caught:
        build_schema(doc, "s.graphql")
    messages = [e["message"] for e in caught.value.details["errors"]]
    assert sorted(messages) == sorted(e.message for e in expected)
