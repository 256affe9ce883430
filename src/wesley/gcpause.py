"""Python's cyclic garbage collector, paused for one batch job (a transform, a plan).

Such a job builds hundreds of thousands of objects that all live until it ends (AST nodes,
IR models, generated lines); the collector, triggered by allocation counts, walks them again
and again and found nothing to free: at 1,000 tables it was more than half of a transform.
Reference counting still frees everything acyclic as usual; what cyclic garbage a job leaves
is collected at the next collection after it ends."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic collector inside (nests; restores the state it found)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
