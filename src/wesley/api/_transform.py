"""`transform`: the schema compiled into artifacts (`out/`) and evidence (`.wesley/`). Files
whose bytes would not change are not rewritten.

An unchanged run (see transform_cache) needs none of the compiler: the parser, the targets,
the IR models and the evidence code are imported only when a run has work to do, so the
whole `wesley transform` process of an unchanged run stays a fraction of a second."""

from __future__ import annotations

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
    _ir: IR | None = None
    _ir_path: str | None = None  # where a cached run's IR is read from when asked for

    @cached_property
    def ir(self) -> IR:
        """The schema's IR (a cached run reads it from the snapshot only when asked)."""
        if self._ir is not None:
            return self._ir
        from wesley.evidence.models import Snapshot

        assert self._ir_path is not None  # one of the two is always set
        return Snapshot.model_validate_json(Path(self._ir_path).read_bytes()).ir

    @property
    def changed(self) -> bool:
        return any(w.changed for w in [*self.artifacts, *self.evidence])


def _schema_text(schema: str | Path | None, sdl: str | None, config: Config) -> tuple[str, str]:
    """The schema's text and how its location is shown (as `load_schema` reads it)."""
    if sdl is not None:
        return sdl, "<sdl>"
    path = str(schema) if schema is not None else config.schema
    return read_schema_file(path), schema_location(path)


@gc_paused()
def transform(
    schema: str | Path | None = None,
    *,
    sdl: str | None = None,
    targets: str | list[str] | None = None,
    out: str | Path | None = None,
    bundle_dir: str | Path = BUNDLE_DIR,
    cache: bool = True,
) -> TransformResult:
    """Compile the schema. `cache`: an unchanged run (same schema, config, options and
    Wesley, every file it wrote still as written) returns at once (see transform_cache)."""
    config = load_config()
    try:
        text, shown = _schema_text(schema, sdl, config)
    except WesleyError:
        _check_options(config, targets)  # a bad config or --target is said first, as always
        raise
    out_dir = Path(out or config.out)
    bundle = Path(bundle_dir)
    # the options as given: a hit means this config and these options passed every check
    # below before, with this same Wesley
    options = {"targets": targets, "out": out_dir.as_posix(), "bundle": bundle.as_posix()}
    key = cache_key(text, shown, asdict(config), options)
    hit = lookup(bundle, key) if cache else None
    if hit is not None:
        return TransformResult(
            hit.ir_hash,
            [Written(p, d, False, t) for p, d, t in hit.artifacts],
            [Written(p, d, False) for p, d in hit.evidence],
            hit.warnings,
            hit.tables,
            hit.enums,
            cached=True,
            _ir_path=(bundle / "snapshot.json").as_posix(),
        )
    return _full(config, targets, text, shown, out_dir, bundle, key if cache else None)


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
) -> TransformResult:
    from wesley.evidence.build import evidence_files
    from wesley.evidence.models import EvidenceMap
    from wesley.holmes.moriarty import record_transform
    from wesley.ir import ir_hash, sha256_hex
    from wesley.sdl import parse_sdl

    names = _check_options(config, targets)
    result = parse_sdl(text, shown, config.parse_options())
    placed = generate(result.ir, names, out_dir)
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
    texts = evidence_files(result.ir, placed)
    for name, body in texts.items():
        path = bundle / name
        evidence.append(Written(path.as_posix(), sha256_hex(body), _write_if_changed(path, body)))
    mapped = EvidenceMap.model_validate_json(texts["evidence-map.json"])
    noted = record_transform(bundle, result.ir, mapped, config.raw)
    warnings = [*result.warnings, *([noted] if noted else [])]
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
                list(result.warnings),  # not `noted`: a history problem is not the schema's
            ),
        )
    return TransformResult(
        digest,
        artifacts,
        evidence,
        warnings,
        len(result.ir.tables),
        len(result.ir.enums),
        _ir=result.ir,
    )
