"""SHIPME.md: a human summary, then one JSON block between upstream's markers. The signed
bytes are the canonical JSON (sorted keys, no whitespace, UTF-8; RFC 8785 style) of the block
without `signatures`, so every signer signs the same bytes, in any order. The block must be
exactly its own canonical pretty rendering: an edit that JSON would forgive (whitespace) is
still an edit."""

from __future__ import annotations

import json
from typing import Any

from wesley.errors import ExitCode, WesleyError

BEGIN = "<!-- WESLEY_CERT:BEGIN -->"
END = "<!-- WESLEY_CERT:END -->"


def invalid(message: str, hint: str, code: str = "CERT_INVALID") -> WesleyError:
    return WesleyError(code, message, hint, exit_code=ExitCode.CERT_INVALID)


def canonical_bytes(block: dict[str, Any]) -> bytes:
    body = {k: v for k, v in block.items() if k != "signatures"}
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def render_block(block: dict[str, Any]) -> str:
    return json.dumps(block, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)


def render(summary: str, block: dict[str, Any]) -> str:
    return f"{summary.rstrip()}\n\n{BEGIN}\n```json\n{render_block(block)}\n```\n{END}\n"


def split(text: str) -> tuple[str, dict[str, Any]]:
    """The summary and the block; any deviation from the written form is an error."""
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise invalid(
            "the certificate has no single WESLEY_CERT block",
            "make it with wesley cert create; do not edit it by hand",
        )
    head, _, rest = text.partition(BEGIN + "\n```json\n")
    if not rest:
        raise invalid("the WESLEY_CERT block is not a ```json fence", "recreate the certificate")
    body, _, tail = rest.partition("\n```\n" + END)
    if tail.strip():
        raise invalid("text after the WESLEY_CERT block", "recreate the certificate")
    try:
        block = json.loads(body)
    except json.JSONDecodeError as exc:
        raise invalid(
            f"the certificate's JSON is broken: {exc}",
            "the file was edited: recreate and sign it again",
        ) from None
    if not isinstance(block, dict):
        raise invalid("the certificate's JSON is not an object", "recreate the certificate")
    if render_block(block) != body:
        raise invalid(
            "the certificate's JSON block is not byte-for-byte as Wesley wrote it",
            "the file was edited: recreate and sign it again",
        )
    return head.rstrip("\n"), block
