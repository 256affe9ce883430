"""GraphQL object types marked `@wes_table` → IR tables, in two passes: first every table on
its own (columns, keys, indexes), then what refers to other tables (foreign keys)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast

from graphql import GraphQLSchema
from graphql.language import FieldDefinitionNode, ObjectTypeDefinitionNode
from graphql.type import GraphQLObjectType

from wesley.errors import Diagnostic, Location, WesleyError, input_error
from wesley.ir import (
    COLUMN_GRANT,
    PUBLIC,
    TABLE_GRANT,
    Cast,
    Check,
    Column,
    Default,
    DirectiveUse,
    FkAction,
    Grant,
    Index,
    Owner,
    Privilege,
    Relation,
    Rls,
    SourcePos,
    Table,
    Unique,
)
from wesley.naming import Naming, constraint_name
from wesley.sdl.columns import field_type, literal_default, sql_type
from wesley.sdl.derived import check_generated, computed_of, generated_expr
from wesley.sdl.document import (
    DirectiveReader,
    DirectiveValue,
    all_of,
    first,
    location_of,
    require_identifier,
)
from wesley.sdl.expressions import ExprKind, column_refs, normalize_expression
from wesley.sdl.policy_check import PolicyRule
from wesley.sdl.presets import split_keywords
from wesley.sdl.refine import read_refinements

Classification = Literal["critical", "sensitive", "pii"]
_CLASSES: tuple[tuple[str, Classification], ...] = (
    ("wes_critical", "critical"),
    ("wes_sensitive", "sensitive"),
    ("wes_pii", "pii"),
)
_RELATIONS = {"wes_hasMany": "hasMany", "wes_hasOne": "hasOne", "wes_belongsTo": "belongsTo"}
_USING = ("btree", "hash", "gin", "gist", "brin")
_FK_ACTIONS: dict[str, FkAction] = {
    "NO ACTION": "NO ACTION",
    "RESTRICT": "RESTRICT",
    "CASCADE": "CASCADE",
    "SET NULL": "SET NULL",
    "SET DEFAULT": "SET DEFAULT",
}


@dataclass
class PendingFk:
    column: str
    ref: str
    on_delete: FkAction
    on_update: FkAction
    name: str | None
    where: Location | None


@dataclass
class TableDraft:
    """A table before foreign keys are resolved (they need every table)."""

    table: Table
    fields: dict[str, str]  # GraphQL field name → column name
    pending_fks: list[PendingFk] = field(default_factory=list)
    # checked once every table is known: a subquery may read another table
    policy_rules: list[PolicyRule] = field(default_factory=list)
    rls_directive: DirectiveValue | None = None  # presets resolve once every table is known


def listed(d: DirectiveValue) -> list[str] | None:
    names = d.args.get("columns") or d.args.get("fields")
    return list(names) if names else None


def _uses(values: list[DirectiveValue]) -> list[DirectiveUse]:
    return [DirectiveUse(name=v.canonical, args=_jsonable(v.args)) for v in values]


def _jsonable(args: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sorted(args.items()) if v is not None}


def _grants(values: list[DirectiveValue], privileges: list[Privilege]) -> list[Grant]:
    """`@wes_grant(roles:)`: the roles in the order written, once each; `public` (any case)
    is PUBLIC, everyone."""
    d = first(values, "wes_grant")
    if d is None:
        return []
    roles = d.args.get("roles")
    if not roles:
        raise input_error(
            "MISSING_ARGUMENT",
            f"@{d.spelled} names no role",
            'list the roles that get access, e.g. @wes_grant(roles: ["authenticated"])',
            d.location,
        )
    out: list[Grant] = []
    for role in roles:
        name = PUBLIC if str(role).lower() == "public" else str(role)
        require_identifier(name, "role name", d.location)
        if all(g.role != name for g in out):
            out.append(Grant(role=name, privileges=list(privileges)))
    return out


def _weight(values: list[DirectiveValue]) -> int | None:
    w = first(values, "wes_weight")
    if w is None:
        return None
    value = w.args.get("value")
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10:
        raise input_error(
            "INVALID_WEIGHT",
            f"@wes_weight(value: {value!r}) is outside 1..10",
            "use 1 to 10",
            w.location,
        )
    return value


def _classes(values: list[DirectiveValue]) -> list[Classification]:
    return [label for name, label in _CLASSES if first(values, name) is not None]


def _fk_action(value: Any, where: Location | None) -> FkAction:
    if value is None:
        return "NO ACTION"
    key = str(value).upper().replace("_", " ").strip()
    if key not in _FK_ACTIONS:
        raise input_error(
            "INVALID_ARGUMENT",
            f"unknown foreign key action {value!r}",
            "one of: " + ", ".join(a.replace(" ", "_") for a in _FK_ACTIONS),
            where,
        )
    return _FK_ACTIONS[key]


@dataclass
class TableBuilder:
    schema: GraphQLSchema
    reader: DirectiveReader
    naming: Naming
    enum_names: dict[str, str]  # GraphQL enum name → SQL name
    enum_values: dict[str, list[str]]
    scalars: dict[str, str]
    file: str | None
    warnings: list[Diagnostic]

    def build(self, node: ObjectTypeDefinitionNode, directives: list[DirectiveValue]) -> TableDraft:
        type_name = node.name.value
        where = location_of(node, self.file)
        table_dir = first(directives, "wes_table")
        name = (table_dir.text("name") if table_dir else None) or self.naming.sql(type_name)
        name = require_identifier(name, "table name", table_dir.location if table_dir else where)
        uid_dir = first(directives, "wes_uid")
        columns: list[Column] = []
        relations: list[Relation] = []
        fields: dict[str, str] = {}
        pk: list[str] = []
        uniques: list[Unique] = []
        indexes: list[Index] = []
        checks: list[Check] = []
        pending: list[PendingFk] = []
        # expressions to check for columns
        reads: list[tuple[str | None, DirectiveValue | None]] = []
        all_fvalues: dict[str, list[DirectiveValue]] = {}  # column → its directives
        for fnode in node.fields or ():
            fvalues = self.reader.read(fnode.directives or ())
            relation = self._relation(fnode, fvalues)
            if relation is not None:
                relations.append(relation)
                continue
            column = self._column(name, fnode, fvalues)
            refinements, refine_checks = read_refinements(name, column, fvalues)
            if refinements:  # most columns have none: spare the copy
                column = column.model_copy(update={"refinements": refinements})
            checks.extend(refine_checks)
            if column.generated:
                reads.append((column.generated, first(fvalues, "wes_generated")))
            if column.computed and column.computed.expr:
                reads.append((column.computed.expr, first(fvalues, "wes_computed")))
            if column.name in fields.values():
                raise input_error(
                    "DUPLICATE_COLUMN",
                    f"two fields of {type_name} map to the column {column.name!r}",
                    "give one of them another SQL name with @wes_column(name:)",
                    location_of(fnode, self.file),
                )
            fields[fnode.name.value] = column.name
            columns.append(column)
            all_fvalues[column.name] = fvalues
            floc = location_of(fnode, self.file)
            for d in fvalues:
                if d.canonical in ("wes_pk", "wes_unique", "wes_index") and listed(d):
                    raise input_error(
                        "INVALID_ARGUMENT",
                        f"@{d.spelled}(columns:) on the field {fnode.name.value} is not read: "
                        "on a field, the key is that field",
                        f"drop columns:, or move @{d.spelled}(columns: [...]) to the type",
                        d.location,
                    )
            if first(fvalues, "wes_pk"):
                pk.append(column.name)
            for u in all_of(fvalues, "wes_unique"):
                uniques.append(
                    Unique(
                        name=u.text("name") or constraint_name(name, [column.name], "key"),
                        columns=[column.name],
                    )
                )
            for ix in all_of(fvalues, "wes_index"):
                indexes.append(self._index(name, [column.name], ix))
                reads.append((indexes[-1].where, ix))
            for ck in all_of(fvalues, "wes_check"):
                checks.append(self._check(name, column.name, ck))
                reads.append((checks[-1].expr, ck))
            fk = first(fvalues, "wes_fk")
            if fk is not None:
                pending.append(
                    PendingFk(
                        column=column.name,
                        ref=fk.need("ref"),
                        on_delete=_fk_action(fk.args.get("onDelete"), fk.location),
                        on_update=_fk_action(fk.args.get("onUpdate"), fk.location),
                        name=fk.text("name"),
                        where=fk.location or floc,
                    )
                )
        by_name = {c.name: c for c in columns}

        def resolve(names: list[str], d: DirectiveValue) -> list[str]:
            out = []
            for n in names:
                col = fields.get(n) or (n if n in by_name else None)
                if col is None:
                    raise input_error(
                        "UNKNOWN_COLUMN",
                        f"@{d.spelled} names {n!r}, which is not a field of {type_name}",
                        "fields: " + ", ".join(fields),
                        d.location,
                    )
                out.append(col)
            return out

        for d in all_of(directives, "wes_pk"):
            names = listed(d)
            if not names:
                raise input_error(
                    "MISSING_ARGUMENT",
                    "a type-level @wes_pk needs columns:",
                    'e.g. @wes_pk(columns: ["org_id", "user_id"]), or mark a field @wes_pk',
                    d.location,
                )
            pk.extend(c for c in resolve(names, d) if c not in pk)
        for d in all_of(directives, "wes_unique"):
            names = listed(d)
            if not names:
                raise input_error(
                    "MISSING_ARGUMENT", "a type-level @wes_unique needs columns:", None, d.location
                )
            cols = resolve(names, d)
            uniques.append(
                Unique(name=d.text("name") or constraint_name(name, cols, "key"), columns=cols)
            )
        for d in all_of(directives, "wes_index"):
            names = listed(d)
            if not names:
                raise input_error(
                    "MISSING_ARGUMENT",
                    "a type-level @wes_index needs columns:",
                    'e.g. @wes_index(columns: ["org_id", "created_at"])',
                    d.location,
                )
            indexes.append(self._index(name, resolve(names, d), d))
            reads.append((indexes[-1].where, d))
        for d in all_of(directives, "wes_check"):
            checks.append(self._check(name, None, d))
            reads.append((checks[-1].expr, d))
        for expr, read_by in reads:
            assert read_by is not None
            d = read_by
            unknown = sorted(column_refs(expr) - set(by_name)) if expr else []
            if unknown:
                raise input_error(
                    "UNKNOWN_COLUMN",
                    f"@{d.spelled} reads column {', '.join(unknown)}, but {type_name} has no "
                    "such column",
                    "expressions use SQL column names: " + ", ".join(by_name),
                    d.location,
                )
        for col_name in pk:
            col = by_name[col_name]
            if col.nullable:
                field_name = next(f for f, c in fields.items() if c == col_name)
                fnode = next(f for f in node.fields or () if f.name.value == field_name)
                raise input_error(
                    "PK_NULLABLE",
                    f"primary key {type_name}.{field_name} is nullable",
                    f"make it non-null: {field_name}: {col.graphql_type}!",
                    location_of(fnode, self.file),
                )
        if not pk:
            self.warnings.append(
                Diagnostic(
                    "W_NO_PRIMARY_KEY",
                    f"table {name} has no primary key",
                    where,
                    "mark a field @wes_pk: migrations backfill in batches by primary key",
                )
            )
        # unique columns: a single-column unique constraint marks the column itself
        check_generated(columns, by_name, all_fvalues, type_name)
        unique_cols = {u.columns[0] for u in uniques if len(u.columns) == 1}
        # (built with unique=False: only the unique ones need a copy)
        columns = [
            c.model_copy(update={"unique": True}) if c.name in unique_cols else c for c in columns
        ]
        tenant_by = self._tenant(directives, fields, by_name, type_name)
        owner = self._owner(directives, fields, by_name, type_name)
        rls = self._rls(
            directives, tenant_by is not None or owner is not None, {c.name for c in columns}
        )
        table = Table(
            name=name,
            type_name=type_name,
            uid=uid_dir.need("value") if uid_dir else f"tbl:{name}",
            columns=columns,
            primary_key=pk,
            uniques=_dedupe_uniques(uniques),
            indexes=_dedupe_indexes(indexes),
            checks=_number_checks(checks),
            tenant_by=tenant_by,
            rls=rls,
            owner=owner,
            grants=_grants(directives, TABLE_GRANT),
            weight=_weight(directives),
            classification=_classes(directives),
            relations=relations,
            renamed_from=_renamed(directives),
            directives=_uses(directives),
            source=_pos(where),
        )
        rls_dir = first(directives, "wes_rls")
        rules = [
            PolicyRule(key, sql, rls_dir.spelled, rls_dir.location)
            for key in POLICY_ARGS
            if rls is not None and rls_dir is not None and (sql := getattr(rls, key))
        ]
        return TableDraft(table, fields, pending, rules, rls_dir)

    def _relation(
        self, fnode: FieldDefinitionNode, values: list[DirectiveValue]
    ) -> Relation | None:
        where = location_of(fnode, self.file)
        ft = field_type(fnode, where)
        rel = next((v for v in values if v.canonical in _RELATIONS), None)
        target = self.schema.get_type(ft.named)
        if rel is None:
            if isinstance(target, GraphQLObjectType):
                raise input_error(
                    "RELATION_DIRECTIVE_MISSING",
                    f"field {fnode.name.value!r} has the object type {ft.named} but no relation "
                    "directive",
                    "mark it @wes_belongsTo, @wes_hasOne or @wes_hasMany (a virtual field), or "
                    "store the key in a scalar field with @wes_fk",
                    where,
                )
            return None
        target_name = str(rel.args.get("type") or ft.named)
        if not isinstance(self.schema.get_type(target_name), GraphQLObjectType):
            raise input_error(
                "RELATION_TARGET_UNKNOWN",
                f"@{rel.spelled} on {fnode.name.value!r} points to {target_name!r}, "
                "which is not an object type",
                "the related type must be defined in the schema",
                rel.location,
            )
        kind = cast(Literal["hasMany", "hasOne", "belongsTo"], _RELATIONS[rel.canonical])
        return Relation(field=fnode.name.value, kind=kind, target_type=target_name, many=ft.array)

    def _column(
        self, table: str, fnode: FieldDefinitionNode, values: list[DirectiveValue]
    ) -> Column:
        where = location_of(fnode, self.file)
        ft = field_type(fnode, where)
        st = sql_type(ft, self.schema, self.enum_names, self.scalars, where)
        col_dir = first(values, "wes_column")
        name = (col_dir.text("name") if col_dir else None) or self.naming.sql(fnode.name.value)
        name = require_identifier(name, "column name", col_dir.location if col_dir else where)
        uid_dir = first(values, "wes_uid")
        return Column(
            name=name,
            field=fnode.name.value,
            uid=uid_dir.need("value") if uid_dir else f"col:{table}.{name}",
            type=st.sql + ("[]" if ft.array else ""),
            graphql_type=ft.graphql,
            nullable=ft.nullable,
            array=ft.array,
            enum=st.enum,
            default=self._default(values, st, ft, f"{table}.{name}"),
            weight=_weight(values),
            classification=_classes(values),
            updated_at=first(values, "wes_updatedAt") is not None,
            grants=_grants(values, COLUMN_GRANT),
            renamed_from=_renamed(values),
            cast=_cast(values, name, _renamed(values), self.naming),
            generated=generated_expr(values, f"{table}.{name}"),
            computed=computed_of(values, f"{table}.{name}"),
            directives=_uses(values),
            source=_pos(where),
        )

    def _default(self, values: list[DirectiveValue], st: Any, ft: Any, what: str) -> Default | None:
        d = first(values, "wes_default")
        if d is None:
            return None
        has_value, has_expr = "value" in d.args, d.args.get("expr") is not None
        if has_value == has_expr:
            raise input_error(
                "INVALID_DEFAULT",
                f"@{d.spelled} on {what} needs exactly one of value: or expr:",
                'value: is a literal (value: "draft", value: 0); expr: is SQL (expr: "now()")',
                d.location,
            )
        if has_expr:
            sql = normalize_expression(
                str(d.args["expr"]), ExprKind.DEFAULT, d.location, f"default of {what}"
            )
            return Default(kind="expr", sql=sql)
        enum_vals = self.enum_values.get(ft.named) if st.enum else None
        return literal_default(
            d.args["value"], st, ft.array, enum_vals, d.location, what, self.warnings
        )

    def _index(self, table: str, cols: list[str], d: DirectiveValue) -> Index:
        using = str(d.args.get("using") or "btree").lower()
        if using not in _USING:
            raise input_error(
                "INVALID_ARGUMENT",
                f"@{d.spelled}(using: {d.args.get('using')!r}) is not an index method",
                "one of: " + ", ".join(_USING),
                d.location,
            )
        where_sql = d.args.get("where")
        if where_sql is not None:
            where_sql = normalize_expression(
                str(where_sql), ExprKind.INDEX_WHERE, d.location, "index predicate"
            )
        unique = bool(d.args.get("unique"))
        name = d.text("name") or constraint_name(table, cols, "key" if unique else "idx")
        require_identifier(name, "index name", d.location)
        return Index(
            name=name,
            columns=cols,
            unique=unique,
            using=cast(Literal["btree", "hash", "gin", "gist", "brin"], using),
            where=where_sql,
        )

    def _check(self, table: str, column: str | None, d: DirectiveValue) -> Check:
        expr = normalize_expression(d.need("expr"), ExprKind.CHECK, d.location, "check expression")
        name = d.text("name") or constraint_name(table, [column] if column else [], "check")
        return Check(
            name=require_identifier(name, "check name", d.location), expr=expr, column=column
        )

    def _tenant(
        self,
        values: list[DirectiveValue],
        fields: dict[str, str],
        by_name: dict[str, Column],
        type_name: str,
    ) -> str | None:
        d = first(values, "wes_tenant")
        if d is None:
            return None
        by = d.need("by")
        col = fields.get(by) or (by if by in by_name else None)
        if col is None:
            raise input_error(
                "TENANT_FIELD_MISSING",
                f"@{d.spelled}(by: {by!r}): {type_name} has no field {by!r}",
                f"add the field (e.g. {by}: ID! @wes_index) or name an existing one",
                d.location,
            )
        return col

    def _owner(
        self,
        values: list[DirectiveValue],
        fields: dict[str, str],
        by_name: dict[str, Column],
        type_name: str,
    ) -> Owner | None:
        d = first(values, "wes_owner")
        if d is None:
            return None
        wanted = str(d.args.get("column") or "owner_id")
        col = fields.get(wanted) or (wanted if wanted in by_name else None)
        if col is None:
            raise input_error(
                "OWNER_COLUMN_MISSING",
                f"@{d.spelled}: {type_name} has no field {wanted!r}",
                'name the owner column with @wes_owner(column: "user_id")',
                d.location,
            )
        return Owner(column=col)

    def _rls(self, values: list[DirectiveValue], implied: bool, columns: set[str]) -> Rls | None:
        d = first(values, "wes_rls")
        if d is None:
            return Rls() if implied else None
        keywords, args = split_keywords(d.args, columns, d.location)
        exprs: dict[str, str | None] = {}
        for key in POLICY_ARGS:
            raw = args.get(key)
            exprs[key] = (
                None
                if raw is None
                else normalize_expression(str(raw), ExprKind.POLICY, d.location, f"RLS {key}")
            )
        roles: dict[str, list[str]] = {}
        for key in ("roles", *(f"{c}Roles" for c in COMMANDS)):
            roles[key] = _roles(d, key)
        for command in COMMANDS:
            if (
                d.args.get(f"{command}Roles") is not None
                and exprs[command] is None
                and (command not in keywords)
            ):
                raise input_error(
                    "INVALID_ARGUMENT",
                    f"@{d.spelled}({command}Roles:) names the roles of the {command} policy, "
                    f"but there is no {command}: rule",
                    f'add the rule, e.g. {command}: "true", or use roles: for every policy',
                    d.location,
                )
        return Rls(
            enabled=bool(d.args.get("enabled", True)),
            force=bool(d.args.get("force", True)),
            roles=roles["roles"],
            select_roles=roles["selectRoles"],
            insert_roles=roles["insertRoles"],
            update_roles=roles["updateRoles"],
            delete_roles=roles["deleteRoles"],
            keywords=keywords,
            **exprs,
        )


COMMANDS = ("select", "insert", "update", "delete")
POLICY_ARGS = ("using", "check", *COMMANDS)


def _roles(d: DirectiveValue, key: str) -> list[str]:
    """A policy's roles, sorted and without repeats (PostgreSQL keeps a set); PUBLIC among
    them means every role, which PostgreSQL stores as no role at all."""
    raw = d.args.get(key)
    if raw is None:
        return []
    names = [str(r) for r in raw]
    for name in names:
        require_identifier(name, f"role in {key}:", d.location)
    if any(n.lower() == "public" for n in names):
        return []
    return sorted(set(names))


def _cast(
    values: list[DirectiveValue], column: str, renamed_from: str | None, naming: Naming
) -> Cast | None:
    """`@wes_cast(using:, reverse:)`: each one SQL expression (no subquery) that reads only
    this column: `using` by its old name (its own, or the one @wes_renamedFrom gives),
    `reverse` by its new name."""
    d = first(values, "wes_cast")
    if d is None:
        return None
    if d.args.get("using") is None and d.args.get("reverse") is None:
        raise input_error(
            "INVALID_CAST",
            f"@{d.spelled} on {column} needs using: or reverse:",
            "e.g. @wes_cast(using: \"NULLIF(trim(code), '')::integer\")",
            d.location,
        )
    old_names = {column}
    if renamed_from:
        old_names |= {renamed_from, naming.sql(renamed_from)}
    exprs: dict[str, str | None] = {}
    for arg, allowed, side in (
        ("using", old_names, "the old column"),
        ("reverse", {column}, "the new column"),
    ):
        text = d.args.get(arg)
        if text is None:
            exprs[arg] = None
            continue
        try:
            sql = normalize_expression(str(text), ExprKind.CHECK, d.location, f"{arg}:")
        except WesleyError as err:
            raise input_error("INVALID_CAST", err.message, err.hint, d.location) from None
        unknown = sorted(column_refs(sql) - allowed)
        if unknown:
            raise input_error(
                "INVALID_CAST",
                f"@{d.spelled}({arg}:) on {column} reads {', '.join(unknown)}; it may read only "
                f"{side}, as {' or '.join(sorted(allowed))}",
                "a conversion sees one value at a time: the column's own",
                d.location,
            )
        exprs[arg] = sql
    return Cast(using=exprs["using"], reverse=exprs["reverse"])


def _renamed(values: list[DirectiveValue]) -> str | None:
    d = first(values, "wes_renamedFrom")
    return d.need("name") if d else None


def _pos(where: Location | None) -> SourcePos:
    return SourcePos(line=where.line if where else 0, column=where.column if where else 0)


def _dedupe_uniques(items: list[Unique]) -> list[Unique]:
    out: list[Unique] = []
    for u in items:
        if all(u.columns != o.columns for o in out):
            out.append(u)
    return out


def _dedupe_indexes(items: list[Index]) -> list[Index]:
    out: list[Index] = []
    for ix in items:
        same = next((o for o in out if o.name == ix.name), None)
        if same is None:
            out.append(ix)
        elif same != ix:
            raise input_error(
                "INDEX_NAME_CLASH",
                f"two different indexes are both named {ix.name!r}",
                "give one of them a name: of its own",
            )
    return out


def _number_checks(items: list[Check]) -> list[Check]:
    """Two checks on the same column would share a name: number the later ones."""
    seen: dict[str, int] = {}
    out: list[Check] = []
    for c in items:
        n = seen.get(c.name, 0)
        seen[c.name] = n + 1
        out.append(c if n == 0 else c.model_copy(update={"name": f"{c.name}{n}"}))
    return out
