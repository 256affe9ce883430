"""What a target returns, and the builder that records which lines came from which uid."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
        self.lines.extend(text.split("\n"))

    @contextmanager
    def block(self, uid: str) -> Iterator[None]:
        start = len(self.lines) + 1
        yield
        end = len(self.lines)
        if end >= start:
            self.spans.append(Span(uid, start, end))

    def artifact(self, path: str, kind: EvidenceKind) -> Artifact:
        text = "\n".join(self.lines) + "\n"
        spans = tuple(sorted(self.spans, key=lambda s: (s.start, s.end, s.uid)))
        return Artifact(path, text, kind, spans)
