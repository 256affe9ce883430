"""Query operations (QIR): the original Wesley's `*.op.json` files compiled into views and
SQL functions of the `wes_ops` schema. Pure: the caller reads the files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from wesley.errors import Diagnostic, WesleyError, input_error
from wesley.ir import IR
from wesley.naming import identifier_problem
from wesley.qir.emit import Compiled, emit
from wesley.qir.lower import lower
from wesley.qir.spec import parse_op
from wesley.targets.base import Artifact

__all__ = ["OpsResult", "compile_ops"]


@dataclass
class OpsResult:
    artifacts: list[Artifact]
    compiled: list[str]  # the function names, in file order
    warnings: list[Diagnostic] = field(default_factory=list)


def _one(ir: IR, file: str, text: str) -> Compiled:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        err = input_error(
            "OPS_INVALID_JSON",
            f"{file}: {exc.lineno}:{exc.colno}: not JSON: {exc.msg}",
            "an op file is one JSON object",
        )
        err.details.update({"file": file, "path": "$"})
        raise err from None
    op = parse_op(data, ir, file)
    low = lower(op)
    problem = identifier_problem(low.name)
    if problem:
        err = input_error(
            "OPS_IDENTIFIER_TOO_LONG",
            f"{file}: $.name: the op's identifier {low.name!r} {problem}",
            "give the op a shorter name",
        )
        err.details.update({"file": file, "path": "$.name"})
        raise err
    return Compiled(op, low)


def compile_ops(ir: IR, sources: list[tuple[str, str]], allow_errors: bool = False) -> OpsResult:
    """`sources`: (file name, text) in a stable order. Without `allow_errors` any invalid op
    fails the whole run (every failure listed); with it, invalid ops are skipped with a
    warning each, except a name too long for PostgreSQL, which is always fatal (as in the
    original)."""
    compiled: list[Compiled] = []
    failures: list[WesleyError] = []
    warnings: list[Diagnostic] = []
    seen: dict[str, str] = {}
    for file, text in sources:
        try:
            c = _one(ir, file, text)
            if c.low.name in seen:
                err = input_error(
                    "OPS_COLLISION",
                    f"{file}: $.name: {c.op.name!r} becomes {c.low.name}, as does the op of "
                    f"{seen[c.low.name]}",
                    "give one of them another name",
                )
                err.details.update({"file": file, "path": "$.name"})
                raise err
            seen[c.low.name] = file
            compiled.append(c)
        except WesleyError as err:
            if err.code == "OPS_IDENTIFIER_TOO_LONG" or not allow_errors:
                if err.code == "OPS_IDENTIFIER_TOO_LONG":
                    raise
                failures.append(err)
                continue
            warnings.append(
                Diagnostic("W_OP_SKIPPED", f"[{err.code}] {err.message}", None, err.hint)
            )
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise WesleyError(
            "OPS_COMPILE_FAILED",
            f"{len(failures)} operations failed to compile:\n"
            + "\n".join(f"  [{e.code}] {e.message}" for e in failures),
            "fix them, or pass --ops-allow-errors to compile the others",
            details={"failures": [e.to_json()["error"] for e in failures]},
        )
    return OpsResult(emit(compiled, ir), [c.low.name for c in compiled], warnings)
