"""What a target returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wesley.ir import IR


@dataclass(frozen=True)
class Artifact:
    path: str  # relative to the output directory, '/'-separated
    text: str


Target = Callable[[IR], list[Artifact]]
