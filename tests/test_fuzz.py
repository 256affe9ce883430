"""Property: whatever text it is given, the parser returns IR or raises WesleyError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import VALID_FIXTURES
from wesley.errors import WesleyError
from wesley.sdl import parse_sdl

SEEDS = [p.read_text(encoding="utf-8") for p in VALID_FIXTURES]
TOKENS = [
    "type",
    "enum",
    "scalar",
    "directive",
    "@wes_table",
    "@wes_pk",
    '@wes_fk(ref: "A.id")',
    '@wes_default(expr: "now()")',
    "@wes_default(value: 0)",
    '@wes_index(columns: ["a"])',
    '@wes_tenant(by: "x")',
    "@hasMany",
    "@@",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    "!",
    '"',
    "A",
    "B",
    "id",
    "ID!",
    "String",
    "[Int]",
    "\n",
    " ",
    ";",
    "--",
    "'",
    "\x00",
    "é",
]


def _parse(text: str) -> None:
    try:
        parse_sdl(text, "fuzz.graphql")
    except WesleyError as err:
        assert err.code and err.message  # a real, coded error


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_random_text(text: str) -> None:
    _parse(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=60))
def test_token_soup(tokens: list[str]) -> None:
    _parse(" ".join(tokens))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 20), st.sampled_from(["", *TOKENS])),
        min_size=1,
        max_size=6,
    ),
)
def test_mutated_fixtures(seed: str, edits: list[tuple[float, int, str]]) -> None:
    """Cut, splice and insert tokens into the real schemas."""
    text = seed
    for where, cut, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + cut :]
    _parse(text)
