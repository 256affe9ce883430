"""Drift: what differs between the schema a database should have and the one it has, object by
object (tables, columns, types, nullability, defaults, enums, keys, uniques, checks, foreign
keys, indexes, row-level security, policies, grants, uid comments). Pure: both sides are IRs;
the live one comes from `wesley.db.introspect`.

Column order is not compared (a migrated table has its new columns at the end), nor what a
database cannot hold (GraphQL names, weights, classifications).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from wesley.ir import IR, Column, Table
from wesley.sdl.expressions import comparable_expression, normalize_type_name
from wesley.sdl.typed_compare import table_datetime_columns, typed_comparable

Change = Literal["missing", "extra", "changed"]
KINDS = (
    "enum",
    "table",
    "column",
    "type",
    "nullable",
    "default",
    "primary_key",
    "unique",
    "check",
    "foreign_key",
    "index",
    "trigger",
    "rls",
    "policy",
    "grant",
    "comment",
)


@dataclass(frozen=True)
class Drift:
    """`missing`: the schema has it, the database not; `extra`: the other way round;
    `changed`: both have it, differently (`expected` is the schema's, `actual` the database's)."""

    change: Change
    kind: str
    object: str
    expected: str | None = None
    actual: str | None = None

    def text(self) -> str:
        if self.change == "missing":
            return f"missing {self.kind} {self.object}" + (
                f" ({self.expected})" if self.expected else ""
            )
        if self.change == "extra":
            return f"extra {self.kind} {self.object}" + (f" ({self.actual})" if self.actual else "")
        return (
            f"changed {self.kind} of {self.object}: expected {self.expected}, found {self.actual}"
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.text()}


def _expr(sql: str | None) -> str | None:
    return None if sql is None else comparable_expression(sql)


def _type(col: Column) -> str:
    if col.enum:
        return col.enum + ("[]" if col.array else "")
    try:
        return normalize_type_name(col.type, None, "column type")
    except Exception:  # an introspected type pglast cannot re-render stays as it is
        return col.type


def _keyed(
    out: list[Drift],
    kind: str,
    owner: str,
    want: dict[str, str],
    have: dict[str, str],
) -> None:
    """Named objects described by one string each: missing, extra and changed ones."""
    for name in sorted(want.keys() - have.keys()):
        out.append(Drift("missing", kind, f"{owner}.{name}", expected=want[name]))
    for name in sorted(have.keys() - want.keys()):
        out.append(Drift("extra", kind, f"{owner}.{name}", actual=have[name]))
    for name in sorted(want.keys() & have.keys()):
        if want[name] != have[name]:
            out.append(Drift("changed", kind, f"{owner}.{name}", want[name], have[name]))


def _cols(names: Iterable[str]) -> str:
    return "(" + ", ".join(names) + ")"


def _describe(table: Table) -> dict[str, dict[str, str]]:
    """Every named part of a table as one comparable string per name, by kind."""
    times = table_datetime_columns(table)  # literals beside date/time columns, by value
    parts: dict[str, dict[str, str]] = {
        "unique": {u.name: _cols(u.columns) for u in table.uniques},
        "check": {c.name: str(typed_comparable(c.expr, times)) for c in table.checks},
        "foreign_key": {
            f.name: f"{_cols(f.columns)} -> {f.ref_table}{_cols(f.ref_columns)} "
            f"ON DELETE {f.on_delete} ON UPDATE {f.on_update}"
            for f in table.foreign_keys
        },
        "index": {
            i.name: ("UNIQUE " if i.unique else "")
            + f"USING {i.using} {_cols(i.columns)}"
            + (f" WHERE {typed_comparable(i.where, times)}" if i.where else "")
            for i in table.indexes
        },
        "policy": {
            p.name: f"{'PERMISSIVE' if p.permissive else 'RESTRICTIVE'} FOR {p.command} "
            f"TO {', '.join(sorted(p.roles)) or 'PUBLIC'}"
            + (f" USING ({_expr(p.using)})" if p.using else "")
            + (f" WITH CHECK ({_expr(p.check)})" if p.check else "")
            for p in table.policies
        },
    }
    return parts


def _rls(table: Table) -> str:
    if table.rls is None or not table.rls.enabled:
        return "disabled"
    return "enabled, forced" if table.rls.force else "enabled"


def _columns(out: list[Drift], want: Table, have: Table, kinds: set[str]) -> None:
    wcols = {c.name: c for c in want.columns}
    hcols = {c.name: c for c in have.columns}
    for name in [c.name for c in want.columns if c.name not in hcols]:
        out.append(Drift("missing", "column", f"{want.name}.{name}", expected=_type(wcols[name])))
    for name in [c.name for c in have.columns if c.name not in wcols]:
        out.append(Drift("extra", "column", f"{want.name}.{name}", actual=_type(hcols[name])))
    for wc in want.columns:
        hc = hcols.get(wc.name)
        if hc is None:
            continue
        at = f"{want.name}.{wc.name}"
        if _type(wc) != _type(hc):
            out.append(Drift("changed", "type", at, _type(wc), _type(hc)))
        if wc.nullable != hc.nullable:
            shown = {True: "NULL", False: "NOT NULL"}
            out.append(Drift("changed", "nullable", at, shown[wc.nullable], shown[hc.nullable]))
        wd = _expr(wc.default.sql) if wc.default else None
        hd = _expr(hc.default.sql) if hc.default else None
        if wd != hd:
            out.append(Drift("changed", "default", at, wd or "none", hd or "none"))
        if wc.updated_at != hc.updated_at:
            # the @wes_updatedAt trigger
            change: Change = "missing" if wc.updated_at else "extra"
            out.append(Drift(change, "trigger", at, "sets it on update", None))
        if "comment" in kinds and wc.uid != hc.uid:
            out.append(Drift("changed", "comment", at, f"uid {wc.uid}", f"uid {hc.uid}"))


def expected_grants(table: Table) -> list[str]:
    """A table's grants as lines (`wesley.db.grants`' form): `role: PRIVILEGES` for the table,
    `role: PRIVILEGES (column)` for a column, privileges sorted by name."""
    lines = [f"{g.role}: {', '.join(sorted(g.privileges))}" for g in table.grants]
    lines += [
        f"{g.role}: {', '.join(sorted(g.privileges))} ({c.name})"
        for c in table.columns
        for g in c.grants
    ]
    return sorted(lines)


def _grant_key(line: str) -> str:
    """`role (column)` or `role`: what one grant line is about."""
    role, _, rest = line.partition(": ")
    column = rest[rest.index(" (") :] if rest.endswith(")") and " (" in rest else ""
    return role + column


def _grants(out: list[Drift], want: Table, have: list[str]) -> None:
    wanted = {_grant_key(line): line for line in expected_grants(want)}
    found = {_grant_key(line): line for line in have}
    for key in sorted(wanted.keys() - found.keys()):
        out.append(Drift("missing", "grant", want.name, expected=wanted[key]))
    for key in sorted(found.keys() - wanted.keys()):
        out.append(Drift("extra", "grant", want.name, actual=found[key]))
    for key in sorted(wanted.keys() & found.keys()):
        if wanted[key] != found[key]:
            out.append(Drift("changed", "grant", want.name, wanted[key], found[key]))


def compare(
    expected: IR,
    actual: IR,
    ignore: Iterable[str] = (),
    actual_grants: dict[str, list[str]] | None = None,
) -> list[Drift]:
    """Every difference between `expected` (the schema) and `actual` (the database), in a
    stable order; kinds in `ignore` (see KINDS) are not compared. Grants are the IRs', or
    for the database every privilege its ACLs hold (`wesley.db.grants.read_grants`) when
    `actual_grants` is given."""
    kinds = set(KINDS) - set(ignore)
    out: list[Drift] = []
    if "enum" in kinds:
        _keyed(
            out,
            "enum",
            "public",
            {e.name: ", ".join(e.values) for e in expected.enums},
            {e.name: ", ".join(e.values) for e in actual.enums},
        )
    have = {t.name: t for t in actual.tables}
    want = {t.name: t for t in expected.tables}
    for t in expected.tables:
        if t.name not in have:
            out.append(Drift("missing", "table", t.name, expected=f"{len(t.columns)} columns"))
    for t in actual.tables:
        if t.name not in want:
            out.append(Drift("extra", "table", t.name, actual=f"{len(t.columns)} columns"))
    for t in expected.tables:
        h = have.get(t.name)
        if h is None:
            continue
        _table(out, t, h, kinds)
        _grants(
            out,
            t,
            actual_grants.get(t.name, []) if actual_grants is not None else expected_grants(h),
        )
    return [d for d in out if d.kind in kinds]


def _table(out: list[Drift], want: Table, have: Table, kinds: set[str]) -> None:
    _columns(out, want, have, kinds)
    if want.primary_key != have.primary_key:
        out.append(
            Drift(
                "changed"
                if want.primary_key and have.primary_key
                else ("missing" if want.primary_key else "extra"),
                "primary_key",
                want.name,
                _cols(want.primary_key) if want.primary_key else None,
                _cols(have.primary_key) if have.primary_key else None,
            )
        )
    wparts, hparts = _describe(want), _describe(have)
    for kind in ("unique", "check", "foreign_key", "index", "policy"):
        _keyed(out, kind, want.name, wparts[kind], hparts[kind])
    if _rls(want) != _rls(have):
        out.append(Drift("changed", "rls", want.name, _rls(want), _rls(have)))
    if want.uid != have.uid:
        out.append(Drift("changed", "comment", want.name, f"uid {want.uid}", f"uid {have.uid}"))


def markdown(drifts: list[Drift], title: str) -> str:
    """A Markdown report: a heading, a summary line, a table of the differences."""
    lines = [f"# {title}", ""]
    if not drifts:
        lines.append("No drift: the database matches the schema.")
        return "\n".join(lines) + "\n"
    counts: dict[str, int] = {}
    for d in drifts:
        counts[d.change] = counts.get(d.change, 0) + 1
    summary = ", ".join(f"{n} {c}" for c, n in sorted(counts.items()))
    lines.append(f"{len(drifts)} difference(s): {summary}.")
    lines.append("")
    lines.append("| change | kind | object | schema | database |")
    lines.append("| --- | --- | --- | --- | --- |")
    esc: Callable[[str | None], str] = lambda s: "" if s is None else s.replace("|", "\\|")  # noqa: E731
    for d in drifts:
        lines.append(
            f"| {d.change} | {d.kind} | `{d.object}` | {esc(d.expected)} | {esc(d.actual)} |"
        )
    return "\n".join(lines) + "\n"
