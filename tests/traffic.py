"""A live application workload for zero-downtime judges, shared by the test suite
(`tests/test_traffic.py`, a few seconds) and the benchmarks (`bench/traffic.py`,
`bench/zero_downtime.py`).

Writer *processes* (not threads: they never wait on the migrating process's GIL, so what they
record is the database's latency) each hold one autocommit connection and run a `Workload` at
a paced rate, open loop: every operation records when it was due, started and ended, and
whether it failed (with its SQLSTATE). What the database acknowledged is kept (`acks`), so a
workload can check afterwards that no acknowledged write was lost and no failed one applied.

A workload is a picklable object with `prepare(conn)` and `step(conn, wid, k, rng)`; the
`ItemWorkload` here inserts rows and updates random old ones of an `item` table, a share of
the updates aimed at rows whose `price` was NULL. Issue 11 builds on it with workloads for two
application versions at once.

The migrations to judge: `migrate_wesley` (build_plan from the introspected database, then the
production executor in deploy mode, exactly as `wesley deploy` runs it) and `migrate_naive`
(the same change as plain DDL in one transaction).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.context import SpawnProcess
from typing import TYPE_CHECKING, Any

import psycopg

from wesley.db.apply import apply_script
from wesley.db.executor import ExecOptions, Executor
from wesley.db.introspect import introspect
from wesley.db.records import StepRecord
from wesley.ir import IR, ir_hash
from wesley.plan.build import build_plan
from wesley.plan.models import Plan, Step
from wesley.sdl import parse_sdl
from wesley.targets.postgres import postgres

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Event

INSERT, UPDATE, FAILED = 0, 1, 2
# (due, start, end, kind): monotonic seconds (CLOCK_MONOTONIC: one clock for all processes)
Sample = tuple[float, float, float, int]
Ack = tuple[str, int, int]  # ("insert", id, qty) or ("update", id, +qty)
ID_STRIDE = 1_000_000_000  # writer w inserts ids from rows + 1 + w * ID_STRIDE

# ---- the scenario of issue 10 ----------------------------------------------------------------

OLD_SDL = """
type Account @wes_table {
  id: BigInt! @wes_pk
  name: String!
}

type Item @wes_table {
  id: BigInt! @wes_pk
  sku: String!
  accountId: BigInt
  qty: Int!
  price: Float
  note: String
}
"""

# a NOT NULL column with a volatile default (batched backfill), one with a stable default (one
# catalog-only step), a nullable column tightened with a default (backfill of its NULLs), an
# FK, a unique, a check and an index
NEW_SDL = """
type Account @wes_table {
  id: BigInt! @wes_pk
  name: String!
}

type Item @wes_table {
  id: BigInt! @wes_pk
  sku: String! @wes_unique
  accountId: BigInt @wes_fk(ref: "Account.id") @wes_index
  qty: Int! @wes_check(expr: "qty >= 0")
  price: Float! @wes_default(value: 0)
  note: String @wes_index
  token: UUID! @wes_default(expr: "gen_random_uuid()")
  seenAt: DateTime! @wes_default(expr: "now()")
}
"""

# The same end state as plain DDL in one transaction (names as Wesley derives them, the uid
# comments its schema.sql writes), so a replan from either database is empty.
NAIVE_DDL = (
    "ALTER TABLE item ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid()",
    "ALTER TABLE item ADD COLUMN seen_at timestamptz NOT NULL DEFAULT now()",
    "UPDATE item SET price = 0 WHERE price IS NULL",
    "ALTER TABLE item ALTER COLUMN price SET DEFAULT 0, ALTER COLUMN price SET NOT NULL",
    "ALTER TABLE item ADD CONSTRAINT item_account_id_fkey FOREIGN KEY (account_id) "
    "REFERENCES account (id)",
    "ALTER TABLE item ADD CONSTRAINT item_sku_key UNIQUE (sku)",
    "ALTER TABLE item ADD CONSTRAINT item_qty_check CHECK (qty >= 0)",
    "CREATE INDEX item_account_id_idx ON item USING btree (account_id)",
    "CREATE INDEX item_note_idx ON item USING btree (note)",
    "COMMENT ON COLUMN item.token IS 'wesley:uid=col:item.token'",
    "COMMENT ON COLUMN item.seen_at IS 'wesley:uid=col:item.seen_at'",
)

ACCOUNTS = 100
NULL_EVERY = 10  # rows whose id is a multiple of this start with price NULL (10%)


def old_ir() -> IR:
    return parse_sdl(OLD_SDL).ir


def new_ir() -> IR:
    return parse_sdl(NEW_SDL).ir


def build_items(dsn: str, rows: int, old: IR | None = None) -> None:
    """The old schema and `rows` items (every NULL_EVERY-th with price NULL), set-based."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        apply_script(conn, postgres(old or old_ir())[0].text, "old schema.sql")
        conn.execute(
            "INSERT INTO account (id, name) SELECT g, 'account ' || g "
            f"FROM generate_series(1, {ACCOUNTS}) g"
        )
        has_price = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'item'::regclass "
            "AND attname = 'price')"
        ).fetchone() == (True,)
        price = (
            f", CASE WHEN g % {NULL_EVERY} = 0 THEN NULL ELSE (g % 100)::float8 END"
            if has_price
            else ""
        )
        conn.execute(
            f"INSERT INTO item (id, sku, account_id, qty, note{', price' if has_price else ''}) "
            f"SELECT g, 'sku-' || g, 1 + g % {ACCOUNTS}, g % 1000, "
            f"CASE WHEN g % 10 = 0 THEN 'note' END{price} "
            f"FROM generate_series(1, {int(rows)}) g"
        )
        conn.execute("VACUUM (ANALYZE) account")
        conn.execute("VACUUM (ANALYZE) item")
        conn.execute("CHECKPOINT")


# ---- workloads -------------------------------------------------------------------------------


class Workload:
    """One writer's behaviour. Subclasses must be picklable (module-level, plain fields)."""

    def prepare(self, conn: psycopg.Connection[Any]) -> None:
        """Before the clock starts (prepare statements; must not write)."""

    def step(self, conn: psycopg.Connection[Any], wid: int, k: int, rng: random.Random) -> Ack:
        """One write; returns what the database acknowledged. Raises psycopg.Error."""
        raise NotImplementedError


@dataclass(frozen=True)
class ItemWorkload(Workload):
    """INSERTs of new items (columns the old application knows only) and UPDATEs of random
    old rows by primary key, `null_update_share` of them aimed at rows whose price was NULL."""

    rows: int
    insert_share: float = 0.4
    null_update_share: float = 0.3

    INSERT_SQL = "INSERT INTO item (id, sku, account_id, qty, note) VALUES (%s, %s, %s, %s, %s)"
    UPDATE_SQL = "UPDATE item SET qty = qty + 1 WHERE id = %s"

    def prepare(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(self.UPDATE_SQL, (0,), prepare=True)  # id 0 does not exist

    def step(self, conn: psycopg.Connection[Any], wid: int, k: int, rng: random.Random) -> Ack:
        if rng.random() < self.insert_share:
            row_id = self.rows + 1 + wid * ID_STRIDE + k
            qty = rng.randrange(1000)
            note = None if rng.random() < 0.5 else f"n{k % 97}"
            params = (row_id, f"w{wid}-{k}", 1 + k % ACCOUNTS, qty, note)
            conn.execute(self.INSERT_SQL, params, prepare=True)
            return ("insert", row_id, qty)
        if rng.random() < self.null_update_share:
            row_id = NULL_EVERY * rng.randint(1, max(1, self.rows // NULL_EVERY))
        else:
            row_id = rng.randint(1, self.rows)
        conn.execute(self.UPDATE_SQL, (row_id,), prepare=True)
        return ("update", row_id, 1)


# ---- the load ----------------------------------------------------------------------------------


def _writer(
    dsn: str,
    workload: Workload,
    wid: int,
    rate: float,
    stop: Event,
    out: Queue[Any],
) -> None:
    """One writer process: paced writes in autocommit, open loop."""
    rng = random.Random(wid)
    samples: list[Sample] = []
    acks: list[Ack] = []
    failures: Counter[str] = Counter()
    examples: list[str] = []
    with psycopg.connect(dsn, autocommit=True, application_name=f"traffic-writer-{wid}") as conn:
        workload.prepare(conn)
        conn.execute("SELECT 1")
        out.put(("ready", wid))
        interval = 1.0 / rate
        cpu0 = time.process_time()
        due = time.monotonic()
        k = 0
        while not stop.is_set():
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            start = time.monotonic()
            k += 1
            try:
                ack = workload.step(conn, wid, k, rng)
                kind = INSERT if ack[0] == "insert" else UPDATE
                acks.append(ack)
            except psycopg.Error as exc:
                kind = FAILED
                failures[str(exc.sqlstate)] += 1
                if len(examples) < 5:
                    examples.append(f"{exc.sqlstate}: {exc.diag.message_primary or exc}")
                if conn.closed:
                    break
            end = time.monotonic()
            samples.append((due, start, end, kind))
            # after a slow operation, go on at once (no catch-up burst)
            due = max(due + interval, end)
        cpu = time.process_time() - cpu0
    out.put(("done", wid, samples, acks, dict(failures), examples, cpu))


@dataclass
class Load:
    samples: list[Sample] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)  # SQLSTATE -> count
    examples: list[str] = field(default_factory=list)
    cpu_s: float = 0.0
    started: float = 0.0
    stopped: float = 0.0


class Writers:
    """A group of writer processes, started and stopped on demand (the old application
    version is retired while the new one keeps writing); their samples and acknowledgements
    land in `load` when they stop."""

    def __init__(self, dsn: str, workload: Workload, writers: int, rate: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.stop_event = ctx.Event()
        self.queue: Queue[Any] = ctx.Queue()
        self.procs: list[SpawnProcess] = [
            ctx.Process(
                target=_writer,
                args=(dsn, workload, w, rate, self.stop_event, self.queue),
                daemon=True,
            )
            for w in range(writers)
        ]
        self.load = Load()

    def start(self) -> Load:
        for p in self.procs:
            p.start()
        try:
            for _ in self.procs:
                msg = self.queue.get(timeout=60)
                if msg[0] != "ready":
                    raise RuntimeError(f"writer did not start: {msg!r}")
        except BaseException:
            self.stop()
            raise
        self.load.started = time.monotonic()
        return self.load

    def stop(self) -> Load:
        load = self.load
        if load.stopped:
            return load
        self.stop_event.set()
        load.stopped = time.monotonic()
        done = 0
        with contextlib.suppress(Exception):
            while done < len(self.procs):
                msg = self.queue.get(timeout=60)
                if msg[0] == "done":
                    done += 1
                    load.samples.extend(msg[2])
                    load.acks.extend(msg[3])
                    load.failures.update(msg[4])
                    load.examples.extend(msg[5])
                    load.cpu_s += msg[6]
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():  # only our own children, by their handle
                p.terminate()
                p.join(timeout=5)
        load.samples.sort()
        if done < len(self.procs):
            raise RuntimeError(f"only {done} of {len(self.procs)} writers reported back")
        return load


@contextlib.contextmanager
def traffic(dsn: str, workload: Workload, writers: int, rate: float) -> Iterator[Load]:
    """Runs `writers` writer processes at `rate` writes/s each for the duration of the block;
    their samples and acknowledgements land in the Load when it ends."""
    group = Writers(dsn, workload, writers, rate)
    load = group.start()
    try:
        yield load
    finally:
        group.stop()


# ---- figures -----------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Window:
    writes: int
    failed: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    rate: float
    late: float  # share of operations that started > 5 ms after they were due
    over_100ms: int = 0


def window(samples: Sequence[Sample], t0: float, t1: float) -> Window:
    """The operations that overlap [t0, t1] (so one blocked across t0 counts)."""
    inside = [s for s in samples if s[1] < t1 and s[2] > t0]
    lat = [(s[2] - s[1]) * 1000 for s in inside]
    late = sum(1 for s in inside if s[1] - s[0] > 0.005)
    span = max(t1 - t0, 1e-9)
    return Window(
        writes=len(inside),
        failed=sum(1 for s in inside if s[3] == FAILED),
        p50_ms=pct(lat, 0.50),
        p99_ms=pct(lat, 0.99),
        max_ms=max(lat, default=0.0),
        rate=sum(1 for s in inside if t0 <= s[1] < t1) / span,
        late=late / len(inside) if inside else 0.0,
        over_100ms=sum(1 for x in lat if x > 100),
    )


def fmt_window(w: Window) -> str:
    return (
        f"{w.writes:,} writes ({w.rate:,.0f}/s), p50 {w.p50_ms:.1f} ms, p99 {w.p99_ms:.1f} ms, "
        f"max {w.max_ms:.1f} ms, {w.over_100ms} over 100 ms"
        + (f", {w.failed} FAILED" if w.failed else "")
    )


# ---- integrity -----------------------------------------------------------------------------


@dataclass
class Integrity:
    rows: int
    expected_rows: int
    qty_sum: int
    expected_qty_sum: int
    missing_inserts: int  # acknowledged inserts not in the table
    extra_rows: int  # rows in the writers' id ranges nobody acknowledged

    @property
    def ok(self) -> bool:
        return (
            self.rows == self.expected_rows
            and self.qty_sum == self.expected_qty_sum
            and self.missing_inserts == 0
            and self.extra_rows == 0
        )

    def describe(self) -> str:
        return (
            f"rows {self.rows:,} (acknowledged {self.expected_rows:,}), sum(qty) "
            f"{self.qty_sum:,} (acknowledged {self.expected_qty_sum:,}), "
            f"{self.missing_inserts} acknowledged inserts missing, {self.extra_rows} rows "
            "nobody acknowledged"
        )


def item_totals(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*), COALESCE(sum(qty), 0) FROM item").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def check_items(dsn: str, before: tuple[int, int], acks: list[Ack], rows: int) -> Integrity:
    """Rows and sum(qty) against the acknowledged writes: nothing lost, nothing doubled, no
    failed write applied."""
    inserted = {a[1]: a[2] for a in acks if a[0] == "insert"}
    added = sum(a[2] for a in acks if a[0] == "update")
    with psycopg.connect(dsn, autocommit=True) as conn:
        count, total = item_totals(dsn)
        present = {int(r[0]) for r in conn.execute("SELECT id FROM item WHERE id > %s", (rows,))}
    return Integrity(
        rows=count,
        expected_rows=before[0] + len(inserted),
        qty_sum=total,
        expected_qty_sum=before[1] + sum(inserted.values()) + added,
        missing_inserts=len(inserted.keys() - present),
        extra_rows=len(present - inserted.keys()),
    )


# ---- the migrations ----------------------------------------------------------------------------


@dataclass
class Timed:
    name: str
    t0: float
    t1: float
    note: str = ""


def migrate_wesley(
    dsn: str, new: IR, options: ExecOptions | None = None, batch_size: int = 1000
) -> tuple[Plan, list[Timed]]:
    """As `wesley deploy` runs it: the plan from the introspected database, then the
    production executor in deploy mode (default timeouts unless `options` says otherwise)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        old = introspect(conn)
        version = conn.info.server_version
    plan = build_plan(old, new, server_version=version, batch_size=batch_size)
    steps: list[Timed] = []
    starts: dict[str, float] = {}

    def progress(event: str, step: Step, record: StepRecord | None) -> None:
        now = time.monotonic()
        if event == "start":
            starts[step.id] = now
        elif event in ("done", "skipped") and record is not None:
            locks = ", ".join(f"{lk.relation}: {lk.mode}" for lk in step.locks)
            note = f"{'tx' if step.transactional else 'autocommit'}; {locks}"
            if record.retries:
                note += f"; {record.retries} lock retries"
            if record.rows is not None:
                note += (
                    f"; {record.rows:,} rows at {record.rows_per_s or 0:,.0f}/s, longest batch "
                    f"{record.batch_ms_max} ms"
                )
            if record.status != "applied":
                note += f"; {record.status}"
            steps.append(Timed(step.id, starts.get(step.id, now), now, note))

    opts = options or ExecOptions(mode="deploy")
    with Executor(dsn, plan, ir_hash(new), opts, progress) as ex:
        ex.run()
    return plan, steps


def migrate_naive(dsn: str, statements: Sequence[str] = NAIVE_DDL) -> list[Timed]:
    steps: list[Timed] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        t = time.monotonic()
        conn.execute("BEGIN")
        steps.append(Timed("BEGIN", t, time.monotonic()))
        for sql in statements:
            t = time.monotonic()
            conn.execute(sql.encode())
            steps.append(Timed(sql[:60], t, time.monotonic()))
        t = time.monotonic()
        conn.execute("COMMIT")
        steps.append(Timed("COMMIT", t, time.monotonic()))
    return steps


def replan(dsn: str, new: IR) -> list[str]:
    """The statements a plan from the migrated database still holds (empty: it is the new
    schema)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        again = build_plan(introspect(conn), new, allow_destructive=True)
    return [s.sql for s in again.steps]


# ---- one variant under traffic -----------------------------------------------------------------


@dataclass
class Outcome:
    variant: str
    migration_s: float
    baseline: Window
    during: Window
    failures: Counter[str]
    examples: list[str]
    integrity: Integrity
    leftover: list[str]  # statements a replan still wants (empty: end state reached)
    steps: list[Timed]
    samples: list[Sample]
    cpu_share: float
    t0: float = 0.0  # the migration's start and end (monotonic)
    t1: float = 0.0

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def slowest(self, n: int = 3) -> list[tuple[float, float, str]]:
        """The `n` slowest writes during the migration: (ms, seconds into it, step)."""
        inside = [s for s in self.samples if s[1] < self.t1 and s[2] > self.t0]
        worst = sorted(inside, key=lambda s: s[1] - s[2])[:n]
        return [
            (
                (s[2] - s[1]) * 1000,
                s[1] - self.t0,
                next((t.name for t in self.steps if t.t0 <= s[1] < t.t1), "between steps"),
            )
            for s in worst
        ]


def under_traffic(
    dsn: str,
    variant: str,
    migrate: Callable[[], list[Timed]],
    workload: ItemWorkload,
    new: IR,
    *,
    writers: int = 3,
    rate: float = 100.0,
    warmup_s: float = 0.5,
    baseline_s: float = 1.0,
    tail_s: float = 0.5,
) -> Outcome:
    """Run `migrate` while `writers` processes write, then check the data and the schema."""
    before = item_totals(dsn)
    with traffic(dsn, workload, writers, rate) as load:
        time.sleep(warmup_s)
        b0 = time.monotonic()
        time.sleep(baseline_s)
        m0 = time.monotonic()
        steps = migrate()
        m1 = time.monotonic()
        time.sleep(tail_s)
    run_s = max(load.stopped - load.started, 1e-9)
    return Outcome(
        variant=variant,
        migration_s=m1 - m0,
        baseline=window(load.samples, b0, m0),
        during=window(load.samples, m0, m1),
        failures=load.failures,
        examples=load.examples,
        integrity=check_items(dsn, before, load.acks, workload.rows),
        leftover=replan(dsn, new),
        steps=steps,
        samples=load.samples,
        cpu_share=load.cpu_s / max(writers, 1) / run_s,
        t0=m0,
        t1=m1,
    )


# ---- two application versions at once (issue 11) ----------------------------------------------


@dataclass(frozen=True)
class VersionWorkload(Workload):
    """One application version's writes while a migration keeps two versions live: it sets
    its `search_path` (`compat.old_search_path` or `compat.new_search_path`) and uses only the
    names and values of its own version. It INSERTs rows with keys from `first_id` on and
    UPDATEs `column` of the existing rows `update_ids` (lo, hi), each to one of `values`; the
    ack records (kind, key, index into `values`). `extra`: other columns an INSERT needs."""

    search_path: str
    table: str
    key: str
    column: str
    values: tuple[Any, ...]
    first_id: int
    update_ids: tuple[int, int]
    extra: tuple[tuple[str, Any], ...] = ()
    insert_share: float = 0.4
    writers: int = 1  # each writer updates its own slice of update_ids: one writer per row

    def _sql(self) -> tuple[str, str]:
        cols = [self.key, self.column, *(c for c, _ in self.extra)]
        marks = ", ".join(["%s"] * len(cols))
        insert = f"INSERT INTO {self.table} ({', '.join(cols)}) VALUES ({marks})"
        update = f"UPDATE {self.table} SET {self.column} = %s WHERE {self.key} = %s"
        return insert, update

    def prepare(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(f"SET search_path TO {self.search_path}")

    def step(self, conn: psycopg.Connection[Any], wid: int, k: int, rng: random.Random) -> Ack:
        insert, update = self._sql()
        i = rng.randrange(len(self.values))
        if rng.random() < self.insert_share:
            row_id = self.first_id + wid * 1_000_000 + k
            params = (row_id, self.values[i], *(v for _, v in self.extra))
            conn.execute(insert, params, prepare=True)
            return ("insert", row_id, i)
        lo, hi = self.update_ids
        size = max(1, (hi - lo + 1) // self.writers)
        start = lo + (wid % self.writers) * size
        row_id = rng.randint(start, min(hi, start + size - 1))
        conn.execute(update, (self.values[i], row_id), prepare=True)
        return ("update", row_id, i)


@dataclass(frozen=True)
class Version:
    workload: VersionWorkload
    finals: tuple[str | None, ...]  # each value as the final schema's column holds it (text)


@dataclass
class TwoVersions:
    """What happened while the old version wrote through the expand and the new version
    through the switch and the contract."""

    plan: Plan
    old: Load
    new: Load
    steps: list[StepRecord]
    lost: list[str]  # rows whose final value is not the last acknowledged one (or missing)
    rows: int
    expected_rows: int
    leftover: list[str]
    desync: int = 0  # rows whose shadow column is not the old column's value converted
    t0: float = 0.0
    t1: float = 0.0

    @property
    def failed(self) -> int:
        return sum(self.old.failures.values()) + sum(self.new.failures.values())

    @property
    def examples(self) -> list[str]:
        return [*self.old.examples, *self.new.examples]

    def lock_mismatches(self, tables: set[str]) -> list[str]:
        """Steps whose observed table locks differ from the predicted ones: exactly for
        transactional steps, observed within predicted for CONCURRENTLY ones (their locks are
        watched from another session, best effort)."""
        out = []
        by_id = {s.id: s for s in [*self.plan.steps, *self.plan.abort]}
        for rec in self.steps:
            if rec.status != "applied" or rec.rows is not None:
                continue  # backfills are batches, not one statement
            step = by_id[rec.id]
            predicted = {
                lk.relation: lk.mode for lk in rec.predicted_locks if lk.relation in tables
            }
            observed = {lk.relation: lk.mode for lk in rec.observed_locks}
            if step.transactional and observed != predicted:
                out.append(f"{rec.id}: predicted {predicted}, observed {observed}")
            if not step.transactional and not observed.keys() <= predicted.keys():
                out.append(f"{rec.id}: predicted {predicted}, observed {observed}")
        return out

    def worst_ms(self) -> float:
        samples = [*self.old.samples, *self.new.samples]
        inside = [s for s in samples if s[1] < self.t1 and s[2] > self.t0]
        return max(((s[2] - s[1]) * 1000 for s in inside), default=0.0)


def two_versions(
    dsn: str,
    new: IR,
    old_version: Version,
    new_version: Version,
    final: tuple[str, str, str],
    initial: dict[int, str | None],
    *,
    rate: float = 80.0,
    writers: int = 1,
    batch_size: int = 500,
    overlap_s: float = 1.0,
    warmup_s: float = 0.3,
    options: ExecOptions | None = None,
) -> TwoVersions:
    """A two-stage migration as `wesley deploy` and `deploy --complete` run it, under the
    writes of both application versions: the old version writes (through
    `compat.old_search_path`) from before the expand until it is retired; the new one starts
    once the switch is done (through `compat.new_search_path`) and writes through
    `--complete`. `final`: (table, key, column) in the new schema; `initial`: the column's
    value for every existing key, as the final schema holds it. Each writer's acknowledged
    writes must be there, in the final schema, afterwards."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        plan = build_plan(
            introspect(conn), new, server_version=conn.info.server_version, batch_size=batch_size
        )
    assert plan.two_stage and plan.compat is not None, "not a two-version migration"
    old_w = replace(old_version.workload, search_path=plan.compat.old_search_path, writers=writers)
    new_w = replace(new_version.workload, search_path=plan.compat.new_search_path, writers=writers)
    records: list[StepRecord] = []

    def progress(event: str, step: Step, record: StepRecord | None) -> None:
        if event in ("done", "skipped") and record is not None:
            records.append(record)

    opts = options or ExecOptions(mode="deploy")
    old_group = Writers(dsn, old_w, writers, rate)
    new_group = Writers(dsn, new_w, writers, rate)
    old_group.start()
    try:
        time.sleep(warmup_s)
        t0 = time.monotonic()
        with Executor(dsn, plan, ir_hash(new), opts, progress) as ex:
            ex.run("start")
        new_group.start()
        time.sleep(overlap_s)  # both versions write
        old_load = old_group.stop()  # the old version is retired
        desync = out_of_sync(dsn, plan)
        with Executor(dsn, plan, ir_hash(new), opts, progress) as ex:
            ex.run("complete")
        t1 = time.monotonic()
        time.sleep(warmup_s)
        new_load = new_group.stop()
    finally:
        old_group.stop()
        new_group.stop()
    table, key, column = final
    expected = dict(initial)
    inserted = 0
    for version, load in ((old_version, old_load), (new_version, new_load)):
        for kind, row_id, i in load.acks:
            expected[row_id] = version.finals[i]
            inserted += kind == "insert"
    with psycopg.connect(dsn, autocommit=True) as conn:
        have = {
            int(r[0]): r[1]
            for r in conn.execute(f"SELECT {key}, {column}::text FROM public.{table}")
        }
    lost = [
        f"{table}.{column} of {k}: {have.get(k, 'missing')!r}, acknowledged {v!r}"
        for k, v in expected.items()
        if k not in have or have[k] != v
    ]
    return TwoVersions(
        plan=plan,
        old=old_load,
        new=new_load,
        steps=records,
        lost=lost[:20],
        rows=len(have),
        expected_rows=len(initial) + inserted,
        leftover=replan(dsn, new),
        desync=desync,
        t0=t0,
        t1=t1,
    )


def out_of_sync(dsn: str, plan: Plan) -> int:
    """Rows where a shadow column is not its old column converted: the triggers must have
    kept both equal, whichever version wrote (the new version's writes reach the old column
    through the reverse conversion)."""
    assert plan.compat is not None
    tables = {v.name: v.table for v in plan.compat.views}
    total = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        for sh in plan.compat.shadows:
            row = conn.execute(
                f"SELECT count(*) FROM public.{tables[sh.table]} WHERE {sh.shadow} IS DISTINCT "
                f"FROM {sh.up}".encode()
            ).fetchone()
            total += int(row[0]) if row else 0
    return total
