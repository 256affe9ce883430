"""Default factories for model fields: `Field(default_factory=new_list)`, not `list`.

pydantic asks every factory's signature whether it takes the validated data. For the builtins
`list` and `dict`, `inspect.signature` tokenizes their text signature: ~0.1 ms a field, and the
first time ~3 ms to compile the tokenizer's pattern, paid when a model module is imported (a
`wesley transform` process defines ~40 such fields). A plain function answers at once; the
models, their validation and their JSON Schemas are the same."""

from __future__ import annotations

from typing import Any


def new_list() -> list[Any]:
    return []


def new_dict() -> dict[Any, Any]:
    return {}
