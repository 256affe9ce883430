"""`transform`: the schema compiled into artifacts (`out/`) and evidence (`.wesley/`). Files
whose bytes would not change are not rewritten."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from wesley.api.schema import load_schema
from wesley.config import load_config
from wesley.errors import Diagnostic, ExitCode, WesleyError, input_error
from wesley.evidence.build import Placed, evidence_files, evidence_map
from wesley.files import write_atomic
from wesley.holmes.moriarty import check_config, record_transform
from wesley.ir import IR, ir_hash, sha256_hex
from wesley.qir import compile_ops
from wesley.targets import PLANNED, TARGETS

BUNDLE_DIR = ".wesley"


def select_targets(spec: str | list[str] | None) -> list[str]:
    """Target names from `a,b` (or a list); None or `all`: every target."""
    if spec is None or (isinstance(spec, str) and spec.strip() in ("", "all")):
        return list(TARGETS)
    raw = spec.split(",") if isinstance(spec, str) else spec
    names = [n.strip() for n in raw if n.strip()]
    for name in names:
        if name in PLANNED:
            raise WesleyError(
                "NOT_IMPLEMENTED",
                f"target {name!r} is not implemented yet",
                "available now: " + ", ".join(TARGETS) + "; nothing was written",
                exit_code=ExitCode.NOT_IMPLEMENTED,
            )
        if name not in TARGETS:
            raise input_error(
                "UNKNOWN_TARGET",
                f"unknown target {name!r}",
                "valid targets: " + ", ".join([*TARGETS, *PLANNED]),
            )
    return list(dict.fromkeys(names))


def generate(ir: IR, names: list[str], root: Path) -> list[Placed]:
    """Run every target (pure); a target's own error keeps its code, anything else is a
    generation failure naming the target (exit 4)."""
    placed: list[Placed] = []
    for name in names:
        try:
            artifacts = TARGETS[name](ir)
        except WesleyError:
            raise
        except Exception as exc:
            raise WesleyError(
                "GENERATION_FAILED",
                f"target {name} failed: {type(exc).__name__}: {exc}",
                "this is a bug in Wesley: rerun with --debug and report it",
                exit_code=ExitCode.GENERATION,
            ) from exc
        placed.extend(Placed(name, (root / a.path).as_posix(), a) for a in artifacts)
    return placed


def _write_if_changed(path: Path, text: str) -> bool:
    raw = text.encode("utf-8")
    if path.is_file() and path.read_bytes() == raw:
        return False  # unchanged files keep their mtime
    write_atomic(path, raw)
    return True


@dataclass(frozen=True)
class Written:
    path: str
    sha256: str
    changed: bool
    target: str | None = None  # None for evidence files


@dataclass(frozen=True)
class TransformResult:
    ir: IR
    ir_hash: str
    artifacts: list[Written]
    evidence: list[Written]
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(w.changed for w in [*self.artifacts, *self.evidence])


def read_ops(directory: str | Path) -> list[tuple[str, str]]:
    """Every `*.op.json` under `directory` (recursively), in code-point order of the path."""
    root = Path(directory)
    if not root.exists():
        raise input_error(
            "FILE_NOT_FOUND", f"--ops {root}: no such directory", "name the folder of *.op.json"
        )
    if not root.is_dir():
        raise input_error("NOT_A_DIRECTORY", f"--ops {root} is not a directory")
    out: list[tuple[str, str]] = []
    for path in sorted(root.rglob("*.op.json"), key=lambda p: p.as_posix()):
        if not path.is_file():
            continue
        try:
            # named relative to the folder: generated files do not depend on where it is
            out.append((path.relative_to(root).as_posix(), path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            raise input_error(
                "INVALID_ENCODING", f"{path} is not UTF-8", "save the op file as UTF-8"
            ) from None
        except OSError as exc:
            raise input_error("FILE_UNREADABLE", f"{path}: {exc.strerror}") from None
    return out


def _ops_allowed(allow: bool, override: bool) -> None:
    """As the original: skipping invalid ops is refused on CI unless acknowledged."""
    if allow and os.environ.get("CI", "").lower() in ("1", "true") and not override:
        raise input_error(
            "OPS_ALLOW_ERRORS_FORBIDDEN",
            "--ops-allow-errors is disabled when CI=true",
            "remove the flag, or rerun with --i-know-what-im-doing",
        )


def transform(
    schema: str | Path | None = None,
    *,
    sdl: str | None = None,
    targets: str | list[str] | None = None,
    out: str | Path | None = None,
    bundle_dir: str | Path = BUNDLE_DIR,
    ops: str | Path | None = None,
    ops_allow_errors: bool = False,
    i_know_what_im_doing: bool = False,
) -> TransformResult:
    """`ops`: a folder of `*.op.json` query operations, compiled into `<out>/ops/`."""
    config = load_config()
    check_config(config.raw)
    names = select_targets(targets)
    _ops_allowed(ops_allow_errors, i_know_what_im_doing)
    result = load_schema(schema, sdl=sdl, config=config)
    placed = generate(result.ir, names, Path(out or config.out))
    op_warnings: list[Diagnostic] = []
    if ops is not None:
        sources = read_ops(ops)
        if not sources:
            op_warnings.append(
                Diagnostic("W_NO_OPS", f"--ops {ops}: no *.op.json files", None, None)
            )
        compiled = compile_ops(result.ir, sources, ops_allow_errors)
        op_warnings += compiled.warnings
        root = Path(out or config.out)
        placed += [Placed("ops", (root / a.path).as_posix(), a) for a in compiled.artifacts]
    artifacts = [
        Written(
            p.path,
            sha256_hex(p.artifact.text),
            _write_if_changed(Path(p.path), p.artifact.text),
            p.target,
        )
        for p in placed
    ]
    evidence = []
    for name, text in evidence_files(result.ir, placed).items():
        path = Path(bundle_dir) / name
        evidence.append(Written(path.as_posix(), sha256_hex(text), _write_if_changed(path, text)))
    noted = record_transform(
        Path(bundle_dir), result.ir, evidence_map(result.ir, placed), config.raw
    )
    warnings = [*result.warnings, *op_warnings, *([noted] if noted else [])]
    return TransformResult(result.ir, ir_hash(result.ir), artifacts, evidence, warnings)
