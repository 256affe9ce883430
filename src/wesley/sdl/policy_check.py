"""RLS policy rules checked against the schema at SDL → IR time, so a rule PostgreSQL would
refuse (or, worse, a rule reading a column of another table) never reaches rehearse.

Every column a rule reads must be a column of the policy's table, or of a table a subquery
names in its FROM (those tables must exist in the schema too; relations of other schemas,
such as Supabase's `auth.users`, functions in FROM and CTEs are taken on trust). A bare word
that is one of the original Wesley's policy keywords (`tenant`, `owner_only`, ...) never
reaches this check: `wesley.sdl.presets` turns it into rules first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast, parse_sql

from wesley.errors import Location, input_error
from wesley.ir import Table

Columns = frozenset[str] | None  # None: a relation whose columns Wesley does not know


@dataclass
class _Scope:
    relations: dict[str, Columns]  # name or alias → its columns
    parent: _Scope | None = None
    tables: dict[str, str] = field(default_factory=dict)  # name or alias → schema table
    ctes: set[str] = field(default_factory=set)
    outputs: set[str] = field(default_factory=set)

    def chain(self) -> list[_Scope]:
        out: list[_Scope] = []
        scope: _Scope | None = self
        while scope is not None:
            out.append(scope)
            scope = scope.parent
        return out


@dataclass
class PolicyRule:
    """One rule of a `@wes_rls` directive, for the error messages."""

    arg: str  # using, check, select, ...
    sql: str  # normalised by wesley.sdl.expressions
    directive: str  # as spelled, without "@"
    location: Location | None


class _Checker:
    def __init__(self, table: Table, tables: dict[str, Table], rule: PolicyRule) -> None:
        self.table, self.tables, self.rule = table, tables, rule
        self.what = f"@{rule.directive}({rule.arg}:) of {table.type_name}"

    def fail(self, code: str, message: str, hint: str) -> None:
        raise input_error(code, f"{self.what} {message}", hint, self.rule.location)

    def run(self) -> None:
        stmt: Any = parse_sql(f"SELECT ({self.rule.sql})")[0].stmt
        node = stmt.targetList[0].val
        top = _Scope(
            {self.table.name: frozenset(c.name for c in self.table.columns)},
            tables={self.table.name: self.table.name},
        )
        self.walk(node, top)

    @staticmethod
    def _bare(node: Any) -> str | None:
        fields = list(node.fields or ())
        if len(fields) == 1 and isinstance(fields[0], ast.String):
            return str(fields[0].sval)
        return None

    def walk(self, node: Any, scope: _Scope) -> None:
        if isinstance(node, tuple | list):
            for item in node:
                self.walk(item, scope)
            return
        if not isinstance(node, ast.Node):
            return
        if isinstance(node, ast.SelectStmt):
            self.select(node, scope)
            return
        if isinstance(node, ast.ColumnRef):
            self.column(node, scope)
            return
        for attr in getattr(node, "__slots__", ()):
            self.walk(getattr(node, attr, None), scope)

    def select(self, stmt: Any, outer: _Scope) -> None:
        if stmt.larg is not None or stmt.rarg is not None:  # UNION, INTERSECT, EXCEPT
            self.select(stmt.larg, outer)
            self.select(stmt.rarg, outer)
            return
        scope = _Scope({}, outer)
        if stmt.withClause is not None:
            for cte in stmt.withClause.ctes or ():
                self.walk(cte.ctequery, scope)
                scope.ctes.add(str(cte.ctename))
        for item in stmt.fromClause or ():
            self.from_item(item, scope)
        for target in stmt.targetList or ():
            if getattr(target, "name", None):
                scope.outputs.add(str(target.name))
        for part in (
            "targetList",
            "whereClause",
            "groupClause",
            "havingClause",
            "sortClause",
            "limitCount",
            "limitOffset",
            "valuesLists",
            "distinctClause",
        ):
            self.walk(getattr(stmt, part, None), scope)

    def from_item(self, item: Any, scope: _Scope) -> None:
        if isinstance(item, ast.RangeVar):
            name = str(item.alias.aliasname) if item.alias else str(item.relname)
            scope.relations[name] = self.relation(item, scope)
            if str(item.relname) in self.tables and item.schemaname in (None, "public"):
                scope.tables[name] = str(item.relname)
        elif isinstance(item, ast.JoinExpr):
            self.from_item(item.larg, scope)
            self.from_item(item.rarg, scope)
            self.walk(item.quals, scope)
        elif isinstance(item, ast.RangeSubselect):
            self.walk(item.subquery, scope)
            if item.alias is not None:
                scope.relations[str(item.alias.aliasname)] = None
        else:  # a function in FROM, VALUES, ...: its columns are not known
            self.walk(item, scope)
            alias = getattr(item, "alias", None)
            if alias is not None:
                scope.relations[str(alias.aliasname)] = None

    def relation(self, rv: Any, scope: _Scope) -> Columns:
        relname = str(rv.relname)
        if rv.schemaname not in (None, "public"):
            return None  # another schema (auth.users ...): not ours to check
        if rv.schemaname is None and any(relname in s.ctes for s in scope.chain()):
            return None
        table = self.tables.get(relname)
        if table is None:
            self.fail(
                "INVALID_EXPRESSION",
                f"reads the table {relname!r}, which the schema does not define",
                "subqueries name tables by their SQL names: " + ", ".join(sorted(self.tables)),
            )
            return None
        if rv.alias is not None and rv.alias.colnames:
            return frozenset(str(c.sval) for c in rv.alias.colnames)
        return frozenset(c.name for c in table.columns)

    def column(self, ref: Any, scope: _Scope) -> None:
        parts = list(ref.fields or ())
        names = [str(p.sval) for p in parts if isinstance(p, ast.String)]
        star = any(isinstance(p, ast.A_Star) for p in parts)
        chain = scope.chain()
        if len(parts) == 1 and names:
            name = names[0]
            for s in chain:
                if name in s.outputs or any(
                    cols is None or name in cols for cols in s.relations.values()
                ):
                    return
            self.unknown_column(name, name, [t for s in chain for t in s.tables.values()])
            return
        if len(names) < (1 if star else 2):
            return
        qualifier = names[-1] if star else names[-2]
        for s in chain:
            if qualifier in s.relations:
                cols = s.relations[qualifier]
                if not star and cols is not None and names[-1] not in cols:
                    found = s.tables.get(qualifier)
                    self.unknown_column(names[-1], ".".join(names), [found] if found else [])
                return
        self.fail(
            "INVALID_EXPRESSION",
            f"reads {'.'.join(names)}, but no table {qualifier!r} is in scope there",
            f"a rule reads its own table's columns ({self.table.name}.column or just column); "
            f"another table's only inside a subquery that names it: "
            f"EXISTS (SELECT 1 FROM {qualifier} WHERE ...)",
        )

    def unknown_column(self, name: str, shown: str, candidates: list[str]) -> None:
        tables = [self.tables[t] for t in dict.fromkeys(candidates) if t in self.tables]
        hints = []
        for table in tables:
            by_field = next((c for c in table.columns if c.field.lower() == name), None)
            if by_field is not None:
                hints.append(
                    f"the field {by_field.field} of {table.type_name} is the column {by_field.name}"
                )
            hints.append(f"{table.name}: " + ", ".join(c.name for c in table.columns))
        where = " or ".join(t.name for t in tables) or "the tables in scope"
        self.fail(
            "UNKNOWN_COLUMN",
            f"reads {shown}, which is not a column of {where}",
            "policy rules use SQL column names; " + "; ".join(hints),
        )


def check_policy_rule(table: Table, tables: dict[str, Table], rule: PolicyRule) -> None:
    """Raise UNKNOWN_COLUMN or INVALID_EXPRESSION at the directive."""
    _Checker(table, tables, rule).run()
