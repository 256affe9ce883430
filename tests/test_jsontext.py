"""`dumps_pretty` writes exactly what `json.dumps(indent=2, sort_keys=True)` writes, and
`dumps_compact` what `canonical_json` (the bytes every hash is taken over) writes, for any
JSON value (floats, big integers, escapes, non-ASCII, surrogates take the fallback)."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from wesley.ir import canonical_json
from wesley.jsontext import Sorted, dumps_compact, dumps_pretty

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 70), max_value=1 << 70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(_values, st.booleans())
def test_same_bytes_as_the_standard_library(value: Any, ensure_ascii: bool) -> None:
    want = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=ensure_ascii)
    assert dumps_pretty(value, ensure_ascii=ensure_ascii) == want
    assert dumps_compact(value) == canonical_json(value).encode("utf-8")
    given = Sorted(copy.deepcopy(value), ensure_ascii, given=True)  # sorted in place
    assert given.pretty() == want
    if not ensure_ascii:
        assert given.compact() == canonical_json(value).encode("utf-8")


def test_awkward_strings_and_empty_containers() -> None:
    value = {
        "z": [],
        "a": {},
        "ctl": '\x00\x01\x08\t\n\x0c\r\x1f\x7f\u2028 "q" \\ /',
        "uni": "ünï ✓ 日本 \U0001f600",
        "nested": [[[]], [{}], {"b": [1, True, None]}],
        "tuple": (1, 2),
    }
    for ensure_ascii in (False, True):
        want = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=ensure_ascii)
        assert dumps_pretty(value, ensure_ascii=ensure_ascii) == want
    assert dumps_compact(value) == canonical_json(value).encode("utf-8")
