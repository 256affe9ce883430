"""SDL text → IR. Pure: the caller reads the file; this returns the IR and the warnings."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql.language import EnumTypeDefinitionNode, ObjectTypeDefinitionNode

from wesley.errors import Diagnostic, input_error
from wesley.ir import IR, Enum, ForeignKey, SourcePos, Table
from wesley.naming import BUILTIN_TYPE_NAMES, Naming, constraint_name
from wesley.sdl.derived import resolve_counts
from wesley.sdl.document import (
    DirectiveReader,
    build_schema,
    first,
    location_of,
    parse_document,
    require_identifier,
)
from wesley.sdl.policies import derive_policies
from wesley.sdl.policy_check import check_policy_rule
from wesley.sdl.presets import TableInfo, resolve
from wesley.sdl.rpc import rpc_functions, rpc_operations
from wesley.sdl.tables import PendingFk, TableBuilder, TableDraft


@dataclass(frozen=True)
class ParseOptions:
    naming: Naming = field(default_factory=Naming)
    scalars: dict[str, str] = field(default_factory=dict)  # wesley.toml [scalars]


@dataclass(frozen=True)
class ParseResult:
    ir: IR
    warnings: list[Diagnostic]


def parse_sdl(
    text: str, file: str | None = None, options: ParseOptions | None = None
) -> ParseResult:
    opts = options or ParseOptions()
    doc = parse_document(text, file)
    schema = build_schema(doc, file)
    reader = DirectiveReader(schema, file)
    warnings = reader.warnings

    enums: list[Enum] = []
    for node in doc.definitions:
        if isinstance(node, EnumTypeDefinitionNode):
            values = reader.read(node.directives or ())
            where = location_of(node, file)
            name = require_identifier(opts.naming.sql(node.name.value), "enum type name", where)
            if name in BUILTIN_TYPE_NAMES:
                raise input_error(
                    "TYPE_NAME_CLASH",
                    f"enum {node.name.value} maps to {name!r}, the name of a built-in "
                    "PostgreSQL type, which would shadow it",
                    f"rename the enum, e.g. {node.name.value}Kind",
                    where,
                )
            uid = first(values, "wes_uid")
            enums.append(
                Enum(
                    name=name,
                    type_name=node.name.value,
                    uid=uid.need("value") if uid else f"enum:{name}",
                    values=[v.name.value for v in node.values or ()],
                    source=SourcePos(
                        line=where.line if where else 0, column=where.column if where else 0
                    ),
                )
            )
    builder = TableBuilder(
        schema=schema,
        reader=reader,
        naming=opts.naming,
        enum_names={e.type_name: e.name for e in enums},
        enum_values={e.type_name: e.values for e in enums},
        scalars=opts.scalars,
        file=file,
        warnings=warnings,
    )
    drafts: list[TableDraft] = []
    by_name: dict[str, TableDraft] = {}  # a lookup per table, not a scan (1,000s of tables)
    for node in doc.definitions:
        if not isinstance(node, ObjectTypeDefinitionNode):
            continue
        values = reader.read(node.directives or ())
        if first(values, "wes_table") is None:
            continue
        draft = builder.build(node, values)
        clash = by_name.get(draft.table.name)
        if clash is not None:
            raise input_error(
                "DUPLICATE_TABLE",
                f"{draft.table.type_name} and {clash.table.type_name} both map to the table "
                f"{draft.table.name!r}",
                "give one of them another name with @wes_table(name:)",
                location_of(node, file),
            )
        enum_clash = next((e for e in enums if e.name == draft.table.name), None)
        if enum_clash is not None:
            raise input_error(
                "TYPE_NAME_CLASH",
                f"table {draft.table.name!r} has the same SQL name as the enum "
                f"{enum_clash.type_name}",
                "PostgreSQL gives every table a type of its name: rename one of them",
                location_of(node, file),
            )
        drafts.append(draft)
        by_name[draft.table.name] = draft
    index = _DraftIndex(drafts)
    fixed = resolve_counts([_with_fks(d, index) for d in drafts], file)
    table_by_name = {t.name: t for t in fixed}
    for draft in drafts:
        for rule in draft.policy_rules:
            check_policy_rule(draft.table, table_by_name, rule)
    infos = [TableInfo(t, d.fields) for t, d in zip(fixed, drafts, strict=True)]
    tables = [_with_policies(i, d, infos) for i, d in zip(infos, drafts, strict=True)]
    if not tables:
        warnings.append(
            Diagnostic(
                "W_NO_TABLES",
                "the schema has no @wes_table types: nothing to generate",
                None,
                "mark a type with @wes_table",
            )
        )
    functions = [
        f for t in tables for f in rpc_functions(t, rpc_operations(t, file, warnings), file)
    ]
    return ParseResult(IR(tables=tables, enums=enums, functions=functions), warnings)


def _with_policies(info: TableInfo, draft: TableDraft, infos: list[TableInfo]) -> Table:
    table = info.table
    d = draft.rls_directive
    if d is not None and table.rls is not None:
        table = resolve(
            info, table.rls, d.args.get("preset"), d.args.get("options"), infos, d.location
        )
    return table.model_copy(update={"policies": derive_policies(table)})


class _DraftIndex:
    """The drafts by GraphQL type name and by SQL name (the first of each, as a scan finds)."""

    def __init__(self, drafts: list[TableDraft]) -> None:
        self.drafts = drafts
        self.by_type: dict[str, TableDraft] = {}
        self.by_name: dict[str, TableDraft] = {}
        for d in drafts:
            self.by_type.setdefault(d.table.type_name, d)
            self.by_name.setdefault(d.table.name, d)


def _with_fks(draft: TableDraft, index: _DraftIndex) -> Table:
    if not draft.pending_fks:
        return draft.table
    fks = [_resolve_fk(draft, fk, index) for fk in draft.pending_fks]
    return draft.table.model_copy(update={"foreign_keys": fks})


def _resolve_fk(draft: TableDraft, fk: PendingFk, index: _DraftIndex) -> ForeignKey:
    table = draft.table
    target_name, _, target_field = fk.ref.partition(".")
    target = index.by_type.get(target_name) or index.by_name.get(target_name)
    if target is None:
        known = ", ".join(d.table.type_name for d in index.drafts)
        raise input_error(
            "FK_TARGET_UNKNOWN",
            f"foreign key {table.name}.{fk.column} refers to {fk.ref!r}: no table {target_name!r}",
            f'ref is "Type.field" of a @wes_table type; tables: {known}',
            fk.where,
        )
    if target_field:
        ref_col = target.fields.get(target_field) or (
            target_field if target.table.column(target_field) else None
        )
        if ref_col is None:
            raise input_error(
                "FK_TARGET_COLUMN_UNKNOWN",
                f"foreign key {table.name}.{fk.column} refers to {fk.ref!r}: "
                f"{target.table.type_name} has no field {target_field!r}",
                "fields: " + ", ".join(target.fields),
                fk.where,
            )
    elif len(target.table.primary_key) == 1:
        ref_col = target.table.primary_key[0]
    else:
        raise input_error(
            "FK_TARGET_COLUMN_UNKNOWN",
            f"foreign key {table.name}.{fk.column} refers to {fk.ref!r} without a field, and "
            f"{target.table.type_name} has no single-column primary key",
            f'name the field: ref: "{target.table.type_name}.id"',
            fk.where,
        )
    referenced = target.table
    keyed = referenced.primary_key == [ref_col] or any(
        u.columns == [ref_col] for u in referenced.uniques
    )
    if not keyed:
        raise input_error(
            "FK_TARGET_NOT_UNIQUE",
            f"foreign key {table.name}.{fk.column} refers to {referenced.name}.{ref_col}, "
            "which is neither a primary key nor unique",
            f"mark {referenced.type_name}.{ref_col} @wes_unique, or refer to its primary key",
            fk.where,
        )
    here, there = table.column(fk.column), referenced.column(ref_col)
    if here is None or there is None or here.type != there.type:
        raise input_error(
            "FK_TYPE_MISMATCH",
            f"foreign key {table.name}.{fk.column} ({here.type if here else '?'}) refers to "
            f"{referenced.name}.{ref_col} ({there.type if there else '?'})",
            "give both fields the same type",
            fk.where,
        )
    name = fk.name or constraint_name(table.name, [fk.column], "fkey")
    return ForeignKey(
        name=require_identifier(name, "foreign key name", fk.where),
        columns=[fk.column],
        ref_table=referenced.name,
        ref_columns=[ref_col],
        on_delete=fk.on_delete,
        on_update=fk.on_update,
    )
