"""How fast SDL becomes IR: every upstream fixture, and a generated 200-table schema.
Prints figures; compares the parse of a schema 10x larger against the baseline in the same
run to show the cost grows linearly."""

from __future__ import annotations

import time
from pathlib import Path

from wesley.ir import ir_hash
from wesley.sdl import parse_sdl

UPSTREAM = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "upstream"


def generated(tables: int) -> str:
    parts = []
    for i in range(tables):
        ref = f'  parentId: ID @wes_fk(ref: "T{i - 1}.id") @wes_index\n' if i else ""
        parts.append(
            f'type T{i} @wes_table {{\n  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")\n'
            f'{ref}  name: String! @wes_unique\n  n: Int @wes_check(expr: "n > 0")\n'
            f'  at: DateTime! @wes_default(expr: "now()")\n}}\n'
        )
    return "\n".join(parts)


def best_ms(text: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        ir_hash(parse_sdl(text).ir)
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def main() -> None:
    for path in sorted(UPSTREAM.glob("*.graphql")):
        print(f"{path.name:28s} {best_ms(path.read_text(encoding='utf-8')):8.1f} ms")
    small, large = best_ms(generated(20)), best_ms(generated(200))
    print(f"{'generated 20 tables':28s} {small:8.1f} ms")
    print(f"{'generated 200 tables':28s} {large:8.1f} ms  ({large / small:.1f}x for 10x tables)")


if __name__ == "__main__":
    main()
