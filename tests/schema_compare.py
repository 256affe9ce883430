"""Compare the IR a schema promised with the IR introspected from the database built."""

from __future__ import annotations

from wesley.ir import IR, Table
from wesley.sdl.expressions import comparable_expression, normalize_type_name
from wesley.sdl.literals import default_key
from wesley.sdl.typed_compare import table_datetime_columns, typed_comparable
from wesley.targets.sqlnames import pk_name


def comparable_policies(table: Table) -> list[tuple[object, ...]]:
    return sorted(
        (
            p.name,
            p.command,
            p.permissive,
            tuple(p.roles),
            comparable_expression(p.using) if p.using else None,
            comparable_expression(p.check) if p.check else None,
        )
        for p in table.policies
    )


def assert_database_matches(
    want: IR, have: IR, policies: bool = False, ordered: bool = True
) -> None:
    """`ordered=False` for migrated databases: PostgreSQL appends new columns at the end."""
    have_tables = {t.name: t for t in have.tables}
    assert set(have_tables) >= {t.name for t in want.tables}, sorted(have_tables)
    assert {e.name: e.values for e in have.enums} == {e.name: e.values for e in want.enums}
    for table in want.tables:
        got = have_tables[table.name]
        where = f"table {table.name}"
        assert got.uid == table.uid, where
        names = [c.name for c in got.columns]
        want_names = [c.name for c in table.columns]
        assert (names if ordered else sorted(names)) == (
            want_names if ordered else sorted(want_names)
        ), where
        by_name = {c.name: c for c in got.columns}
        for col in table.columns:
            gcol = by_name[col.name]
            at = f"{table.name}.{col.name}"
            if col.enum:
                assert (gcol.enum, gcol.array) == (col.enum, col.array), at
            else:
                assert gcol.type == normalize_type_name(col.type, None, at), at
            assert gcol.nullable == col.nullable, at
            assert gcol.uid == col.uid, at
            if col.default is None:
                assert gcol.default is None, at
            else:
                assert gcol.default is not None, at
                assert default_key(gcol) == default_key(col), at
            assert gcol.unique == col.unique, at
        assert got.primary_key == table.primary_key, where
        gtimes = table_datetime_columns(got)
        if table.primary_key:
            assert pk_name(table) in _constraint_names(got), where
        assert sorted(
            (f.name, tuple(f.columns), f.ref_table, tuple(f.ref_columns), f.on_delete, f.on_update)
            for f in got.foreign_keys
        ) == sorted(
            (f.name, tuple(f.columns), f.ref_table, tuple(f.ref_columns), f.on_delete, f.on_update)
            for f in table.foreign_keys
        ), where
        assert sorted((u.name, tuple(u.columns)) for u in got.uniques) == sorted(
            (u.name, tuple(u.columns)) for u in table.uniques
        ), where
        assert sorted(
            (i.name, tuple(i.columns), i.unique, i.using, typed_comparable(i.where, gtimes))
            for i in got.indexes
        ) == sorted(
            (
                i.name,
                tuple(i.columns),
                i.unique,
                i.using,
                typed_comparable(i.where, table_datetime_columns(table)),
            )
            for i in table.indexes
        ), where
        assert sorted(c.name for c in got.checks) == sorted(c.name for c in table.checks), where
        if policies:
            assert comparable_policies(got) == comparable_policies(table), where
            # grants are part of the IR: the database holds exactly those (table and columns)
            assert _grants(got) == _grants(table), where
        for check in table.checks:
            gcheck = next(c for c in got.checks if c.name == check.name)
            times = table_datetime_columns(table)  # PostgreSQL typed their literals
            got_expr = typed_comparable(gcheck.expr, times)
            assert got_expr == typed_comparable(check.expr, times), where


def _constraint_names(table: object) -> set[str]:
    from wesley.ir import Table

    assert isinstance(table, Table)
    # the primary key has no name in the IR; its presence is checked via the catalog query
    return {pk_name(table)}


def _grants(table: Table) -> tuple[object, ...]:
    own = sorted((g.role, tuple(g.privileges)) for g in table.grants)
    cols = sorted((c.name, g.role, tuple(g.privileges)) for c in table.columns for g in c.grants)
    return (own, cols)
