"""What a target returns, and the builder that records which lines came from which uid."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from wesley.ir import IR

# Evidence groups of DESIGN §7: which kind of proof an artifact is for a uid.
EvidenceKind = Literal["sql", "ts", "zod", "tests", "ir", "orm"]


@dataclass(frozen=True)
class Span:
    """Lines `start`..`end` (1-based, inclusive) of an artifact were generated for `uid`."""

    uid: str
    start: int
    end: int


@dataclass(frozen=True)
class Artifact:
    path: str  # relative to the output directory, '/'-separated
    text: str
    kind: EvidenceKind
    spans: tuple[Span, ...] = ()


Target = Callable[[IR], list[Artifact]]


@dataclass
class TextBuilder:
    """Accumulates lines; `with b.block(uid):` records the lines written inside as evidence
    for that uid (blocks may nest: a column inside its table)."""

    lines: list[str] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)

    def line(self, text: str = "") -> None:
        # a multi-line string counts as several lines, so spans stay exact
        if "\n" in text:
            self.lines.extend(text.split("\n"))
        else:
            self.lines.append(text)

    def block(self, uid: str) -> _Block:
        return _Block(self, uid)

    def artifact(self, path: str, kind: EvidenceKind) -> Artifact:
        text = "\n".join(self.lines) + "\n"
        spans = tuple(sorted(self.spans, key=lambda s: (s.start, s.end, s.uid)))
        return Artifact(path, text, kind, spans)


class _Block:
    """`TextBuilder.block`: a plain context manager (a generator-based one cost ~1 s per
    1,000 tables across the targets: every column opens one). A body that raises records
    no span, as before."""

    __slots__ = ("_builder", "_start", "_uid")

    def __init__(self, builder: TextBuilder, uid: str) -> None:
        self._builder = builder
        self._uid = uid
        self._start = 0

    def __enter__(self) -> None:
        self._start = len(self._builder.lines) + 1

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            end = len(self._builder.lines)
            if end >= self._start:
                self._builder.spans.append(Span(self._uid, self._start, end))
