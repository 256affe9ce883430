"""`transform`: the schema compiled into artifacts (`out/`) and evidence (`.wesley/`). Files
whose bytes would not change are not rewritten.

An unchanged run (see transform_cache) needs none of the compiler: the parser, the targets,
the IR models and the evidence code are imported only when a run has work to do, so the
whole `wesley transform` process of an unchanged run stays a fraction of a second."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from wesley.api.transform_cache import Entry, cache_key, lookup, store
from wesley.config import Config, load_config
from wesley.errors import Diagnostic, ExitCode, WesleyError, input_error
from wesley.files import read_schema_file, schema_location, write_atomic
from wesley.gcpause import gc_paused

if TYPE_CHECKING:
    from wesley.evidence.build import Placed
    from wesley.ir import IR

BUNDLE_DIR = ".wesley"


def select_targets(spec: str | list[str] | None) -> list[str]:
    """Target names from `a,b` (or a list); None or `all`: every target."""
    from wesley.targets import PLANNED, TARGETS

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
    from wesley.evidence.build import Placed
    from wesley.targets import TARGETS

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
    ir_hash: str
    artifacts: list[Written]
    evidence: list[Written]
    warnings: list[Diagnostic] = field(default_factory=list)
    tables: int = 0
    enums: int = 0
    cached: bool = False  # an unchanged run: its files were verified, nothing regenerated
    supabase: str | None = None  # the Supabase migration written (transform --supabase)
    _ir: IR | None = None
    _ir_path: str | None = None  # where a cached run's IR is read from when asked for

    @cached_property
    def ir(self) -> IR:
        """The schema's IR (a cached run reads its ir.json, verified by hash, only when asked)."""
        if self._ir is not None:
            return self._ir
        from wesley.ir import IR

        assert self._ir_path is not None  # one of the two is always set
        return IR.model_validate_json(Path(self._ir_path).read_bytes())

    @property
    def changed(self) -> bool:
        return any(w.changed for w in [*self.artifacts, *self.evidence]) or bool(self.supabase)


def _schema_text(schema: str | Path | None, sdl: str | None, config: Config) -> tuple[str, str]:
    """The schema's text and how its location is shown (as `load_schema` reads it)."""
    if sdl is not None:
        return sdl, "<sdl>"
    path = str(schema) if schema is not None else config.schema
    return read_schema_file(path), schema_location(path)


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


@gc_paused()
def transform(
    schema: str | Path | None = None,
    *,
    sdl: str | None = None,
    targets: str | list[str] | None = None,
    out: str | Path | None = None,
    bundle_dir: str | Path = BUNDLE_DIR,
    cache: bool = True,
    ops: str | Path | None = None,
    ops_allow_errors: bool = False,
    i_know_what_im_doing: bool = False,
    supabase: bool = False,
) -> TransformResult:
    """Compile the schema. `cache`: an unchanged run (same schema, config, options, ops and
    Wesley, every file it wrote still as written) returns at once (see transform_cache).
    `ops`: a folder of `*.op.json` query operations, compiled into `<out>/ops/`.
    `supabase`: also write a Supabase CLI migration of what changed since the last one
    (see `wesley.api._supabase`); such a run is never answered from the cache (the
    migration depends on the migrations folder, which the key does not hold)."""
    config = load_config()
    try:
        text, shown = _schema_text(schema, sdl, config)
    except WesleyError:
        _check_options(config, targets)  # a bad config or --target is said first, as always
        raise
    try:
        # depends on the environment (CI), which the cache key does not hold: every run
        _ops_allowed(ops_allow_errors, i_know_what_im_doing)
        sources = read_ops(ops) if ops is not None else None
    except WesleyError:
        _check_options(config, targets)
        raise
    out_dir = Path(out or config.out)
    bundle = Path(bundle_dir)
    # the options as given: a hit means this config and these options passed every check
    # below before, with this same Wesley
    options = {
        "targets": targets,
        "out": out_dir.as_posix(),
        "bundle": bundle.as_posix(),
        "ops": None if ops is None else Path(ops).as_posix(),
        "ops_allow_errors": ops_allow_errors,
        "ops_sources": sources,  # the operations' text: an edited op is a miss
    }
    # no key without the cache: it stats every file of Wesley's own source
    key = cache_key(text, shown, asdict(config), options) if cache else None
    hit = lookup(bundle, key) if key is not None and not supabase else None
    if hit is not None:
        return TransformResult(
            hit.ir_hash,
            [Written(p, d, False, t) for p, d, t in hit.artifacts],
            [Written(p, d, False) for p, d in hit.evidence],
            hit.warnings,
            hit.tables,
            hit.enums,
            cached=True,
            _ir_path=(bundle / "ir.json").as_posix(),
        )
    return _full(
        config,
        targets,
        text,
        shown,
        out_dir,
        bundle,
        key,
        ops,
        sources,
        ops_allow_errors,
        supabase,
    )


def _check_options(config: Config, targets: str | list[str] | None) -> list[str]:
    from wesley.holmes.moriarty import check_config

    check_config(config.raw)
    return select_targets(targets)


def _full(
    config: Config,
    targets: str | list[str] | None,
    text: str,
    shown: str,
    out_dir: Path,
    bundle: Path,
    key: str | None,
    ops: str | Path | None,
    sources: list[tuple[str, str]] | None,
    ops_allow_errors: bool,
    supabase: bool,
) -> TransformResult:
    from wesley.evidence.build import Placed, SchemaSource, evidence_files
    from wesley.holmes.moriarty import record_transform
    from wesley.ir import ir_hash, sha256_hex
    from wesley.sdl import parse_sdl

    names = _check_options(config, targets)
    result = parse_sdl(text, shown, config.parse_options())
    placed = generate(result.ir, names, out_dir)
    op_warnings: list[Diagnostic] = []
    if sources is not None:
        from wesley.qir import compile_ops

        if not sources:
            op_warnings.append(
                Diagnostic("W_NO_OPS", f"--ops {ops}: no *.op.json files", None, None)
            )
        compiled = compile_ops(result.ir, sources, ops_allow_errors)
        op_warnings += compiled.warnings
        placed += [Placed("ops", (out_dir / a.path).as_posix(), a) for a in compiled.artifacts]
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
    source = SchemaSource(text, shown, asdict(config.naming), dict(config.scalars))
    made = evidence_files(result.ir, placed, source)
    for name, body in made.files.items():
        path = bundle / name
        evidence.append(Written(path.as_posix(), sha256_hex(body), _write_if_changed(path, body)))
    noted = record_transform(bundle, result.ir, made.kinds, config.raw)
    warnings = [*result.warnings, *op_warnings, *([noted] if noted else [])]
    migration_path: str | None = None
    if supabase:
        from wesley.api._supabase import write_migration

        migration = write_migration(result.ir, bundle)
        warnings += migration.warnings
        migration_path = migration.path
    digest = ir_hash(result.ir)
    if key is not None:
        store(
            bundle,
            Entry(
                key,
                digest,
                len(result.ir.tables),
                len(result.ir.enums),
                [(w.path, w.sha256, w.target) for w in artifacts],
                [(w.path, w.sha256) for w in evidence],
                [*result.warnings, *op_warnings],  # not `noted`: not the schema's problem
            ),
        )
    return TransformResult(
        digest,
        artifacts,
        evidence,
        warnings,
        len(result.ir.tables),
        len(result.ir.enums),
        supabase=migration_path,
        _ir=result.ir,
    )
