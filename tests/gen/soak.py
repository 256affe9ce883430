"""`scripts/soak`: run the generated-schema and generated-migration properties in seeded
batches until `--seconds` or `--count` is reached, on `WESLEY_TEST_DSN` (an admin DSN) or an
ephemeral cluster of its own. A failing batch is shrunk by hypothesis; its smallest
counterexample is printed as SDL and written to `--out`, and the soak goes on with the next
batch. Two schemas are checked for each migration."""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Flaky

from tests.gen.properties import check_migration, check_schema, prepare_server
from tests.gen.schemas import Migration, Schema, features, migrations, schemas


class Tally:
    def __init__(self) -> None:
        self.schemas = self.migrations = self.failures = 0


def _batch(
    kind: str, dsn: str, size: int, batch_seed: int, shrink: bool, tally: Tally
) -> str | None:
    """One hypothesis run of `size` examples; the smallest counterexample, or None."""
    last: list[str] = []
    check: Callable[[str, Any], None] = check_schema if kind == "schema" else check_migration
    strategy = schemas() if kind == "schema" else migrations()
    counting = [True]

    @seed(batch_seed)
    @settings(
        max_examples=size,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.shrink] if shrink else [Phase.generate],
        print_blob=False,
    )
    @given(strategy)
    def run(example: Schema | Migration) -> None:
        try:
            check(dsn, example)
        except BaseException as exc:
            counting[0] = False  # shrinking: not new examples
            last[:] = [f"{example!r}\n# {type(exc).__name__}: {exc}"]
            raise
        if counting[0]:
            if kind == "schema":
                tally.schemas += 1
            else:
                tally.migrations += 1

    try:
        run()
    except (AssertionError, Exception, Flaky) as exc:
        if not last:
            last.append(f"# {type(exc).__name__}: {exc}")
        return last[-1]
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/soak", description=__doc__)
    ap.add_argument("--seconds", type=float, help="stop starting batches after this long")
    ap.add_argument(
        "--count", type=int, help="stop after this many schemas (and half as many migrations)"
    )
    ap.add_argument("--seed", type=int, help="the run's seed (default: random, printed)")
    ap.add_argument("--batch", type=int, default=20, help="examples per hypothesis run")
    ap.add_argument("--only", choices=("schemas", "migrations"), help="one kind only")
    ap.add_argument("--no-shrink", action="store_true", help="report counterexamples unshrunk")
    ap.add_argument("--out", default="soak-counterexamples", help="where counterexamples go")
    args = ap.parse_args(argv)
    if args.seconds is None and args.count is None:
        ap.error("give --seconds N or --count N")
    run_seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(run_seed)
    on = sorted(features())
    print(f"soak: seed {run_seed}, features {', '.join(on) or 'none'}", flush=True)
    tally = Tally()
    out = Path(args.out)
    started = time.monotonic()
    with ExitStack() as stack:
        dsn = os.environ.get("WESLEY_TEST_DSN")
        if not dsn:
            from wesley.db.cluster import EphemeralCluster

            dsn = stack.enter_context(EphemeralCluster()).dsn
        prepare_server(dsn)
        n = 0
        while True:
            elapsed = time.monotonic() - started
            if args.seconds is not None and elapsed >= args.seconds:
                break
            if args.count is not None and (
                (args.only == "schemas" and tally.schemas >= args.count)
                or (args.only == "migrations" and tally.migrations >= args.count)
                or (
                    (not args.only and tally.schemas >= args.count)
                    and tally.migrations >= args.count // 2
                )
            ):
                break
            if args.only:
                kind = args.only[:-1]
            else:
                kind = "migration" if tally.migrations * 2 < tally.schemas else "schema"
            batch_seed = rng.randrange(2**32)
            try:
                found = _batch(kind, dsn, args.batch, batch_seed, not args.no_shrink, tally)
            except KeyboardInterrupt:
                print("soak: interrupted", flush=True)
                break
            n += 1
            if found is not None:
                tally.failures += 1
                out.mkdir(parents=True, exist_ok=True)
                path = out / f"{kind}-{run_seed}-{batch_seed}.graphql"
                path.write_text(found + "\n", encoding="utf-8")
                print(
                    f"\nCOUNTEREXAMPLE ({kind}, batch seed {batch_seed}) -> {path}\n{found}\n",
                    flush=True,
                )
            print(
                f"soak: {tally.schemas} schemas, {tally.migrations} migrations, "
                f"{tally.failures} failures, {time.monotonic() - started:.0f} s",
                flush=True,
            )
    print(
        f"soak done: seed {run_seed}: {tally.schemas} schemas, {tally.migrations} migrations, "
        f"{tally.failures} failures in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
