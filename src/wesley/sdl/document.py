"""GraphQL text → a validated graphql-core document and schema, plus directive reading.

graphql-core does the GraphQL work (syntax, known directives and arguments, duplicate
types, argument coercion); this module turns its errors into coded `WesleyError`s with the
user's `file:line:col` and a hint, and reads directives under their canonical names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError, GraphQLSchema, Source, build_ast_schema, parse
from graphql.execution.values import get_argument_values
from graphql.language import (
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    Node,
    TypeDefinitionNode,
)
from graphql.validation.validate import validate_sdl

from wesley.errors import Diagnostic, Location, WesleyError, input_error
from wesley.naming import SHOWN_NAME_CHARS, identifier_problem, shown
from wesley.sdl.registry import (
    ALIASES,
    BY_CANONICAL,
    UNSUPPORTED_ARGS,
    canonical_name,
    is_alias,
    prelude,
)


def location_of(node: Node | None, file: str | None) -> Location | None:
    if node is None or node.loc is None:
        return None
    token = node.loc.start_token  # has line/column already; Source.get_location rescans: O(n)
    return Location(file, token.line, token.column)


_QUOTED = re.compile(rf"'([^'\n]{{{SHOWN_NAME_CHARS + 1},}})'")


def _short(message: str) -> str:
    """graphql-core quotes names whole: a 100k-character name is cut in what we print."""
    return _QUOTED.sub(lambda m: shown(m.group(1)), message)


def _graphql_location(err: GraphQLError, file: str | None) -> Location | None:
    if err.locations:
        first = err.locations[0]
        return Location(file, first.line, first.column)
    return None


def _syntax_hint(message: str) -> str:
    if "found '@'" in message:
        return (
            "'@@' is not GraphQL: write a type-level directive after the type name, e.g. "
            'type T @wes_pk(columns: ["a", "b"]) { ... }'
        )
    if "Expected Name, found String" in message or "Expected Name, found Int" in message:
        return 'directive arguments are named in GraphQL: @uid(value: "x"), not @uid("x")'
    if "<EOF>" in message:
        return "the file ends in the middle of a definition: check for a missing '}' or ')'"
    return "fix the GraphQL syntax at that position (see https://spec.graphql.org)"


_VALIDATION_CODES: tuple[tuple[str, str], ...] = (
    ("Unknown directive", "UNKNOWN_DIRECTIVE"),
    ("Unknown argument", "UNKNOWN_ARGUMENT"),
    ("There can be only one type named", "DUPLICATE_TYPE"),
    ("Unknown type", "UNKNOWN_TYPE"),
    ("is required, but it was not provided", "MISSING_ARGUMENT"),
    ("can only be used once at this location", "DUPLICATE_DIRECTIVE"),
    ("may not be used on", "DIRECTIVE_MISPLACED"),
    ("There can be only one directive named", "DUPLICATE_DIRECTIVE_DEFINITION"),
    ("can only be defined once", "DUPLICATE_FIELD"),
)


def _validation_hint(code: str, message: str) -> str:
    quoted = message.split("'")
    name = quoted[1].lstrip("@") if len(quoted) > 1 else ""
    if code == "UNKNOWN_DIRECTIVE":
        import difflib  # an error's hint only: not imported by a schema that compiles

        close = difflib.get_close_matches(name, list(ALIASES), n=3)
        suggestion = f"did you mean {', '.join('@' + c for c in close)}? " if close else ""
        return suggestion + "Wesley's directives are listed in the README (directive reference)"
    if code == "UNKNOWN_ARGUMENT":
        directive = quoted[3].lstrip("@") if len(quoted) > 3 else ""
        canonical = canonical_name(directive)
        if canonical:
            args = ", ".join(a for a, _ in BY_CANONICAL[canonical].args) or "none"
            return f"@{directive} takes: {args}"
        return "check the directive's declaration"
    if code == "DUPLICATE_TYPE":
        return "each type name may be defined once; rename or merge the two definitions"
    if code == "UNKNOWN_TYPE":
        return (
            f"declare it (scalar {name}) and map it in wesley.toml [scalars], or use a built-in: "
            "ID, UUID, String, Int, Float, Boolean, DateTime, Date, Time, JSON, Decimal, BigInt, "
            "Inet"
        )
    if code == "MISSING_ARGUMENT":
        return "add the required argument"
    if code == "DUPLICATE_DIRECTIVE":
        return "write the directive once here"
    if code == "DIRECTIVE_MISPLACED":
        return "this directive belongs on a type or on a field: see the directive reference"
    return "fix the schema at that position"


def parse_document(text: str, file: str | None) -> DocumentNode:
    if not text.strip():
        raise input_error(
            "EMPTY_SCHEMA",
            "the schema file is empty",
            "write at least one type, e.g. type User @wes_table { id: ID! @wes_pk }",
            Location(file, 1, 1),
        )
    try:
        return parse(Source(text, file or "GraphQL request"))
    except GraphQLError as err:
        message = _short(err.message)
        raise input_error(
            "PARSE_FAILED", message, _syntax_hint(message), _graphql_location(err, file)
        ) from None
    except RecursionError:
        raise input_error(
            "PARSE_FAILED", "the schema is nested too deeply to parse", "simplify the types"
        ) from None


def _declared(doc: DocumentNode) -> tuple[set[str], set[str]]:
    directives: set[str] = set()
    types: set[str] = set()
    for definition in doc.definitions:
        if isinstance(definition, DirectiveDefinitionNode):
            directives.add(definition.name.value)
        elif isinstance(definition, TypeDefinitionNode):
            types.add(definition.name.value)
    return directives, types


# `@name` as the text spells a directive (GraphQL allows commas and whitespace between the two;
# a comment there is missed, and then the whole prelude is used)
_SPELLED = re.compile(r"@[\s,\ufeff]*([_A-Za-z][_0-9A-Za-z]*)")


def _spelled(doc: DocumentNode) -> set[str] | None:
    """Every name after an `@` in the document's text, comments and strings included: a
    superset of the directives it uses, as far as this scan sees them (None: no text)."""
    if doc.loc is None:
        return None
    return set(_SPELLED.findall(doc.loc.source.body))


def _validated(
    doc: DocumentNode, directives: set[str], types: set[str], only: set[str] | None
) -> tuple[DocumentNode, list[GraphQLError]]:
    extra = parse(Source(prelude(directives, types, only), "wesley-prelude.graphql"))
    combined = DocumentNode(definitions=(*doc.definitions, *extra.definitions))
    errors = sorted(
        validate_sdl(combined),
        key=lambda e: (e.locations[0].line, e.locations[0].column) if e.locations else (0, 0),
    )
    return combined, errors


def build_schema(doc: DocumentNode, file: str | None) -> GraphQLSchema:
    """Validate the user's document together with Wesley's prelude and build the schema.

    The prelude first declares only the directive spellings the text appears to use (parsing,
    validating and building ~100 declarations cost more than a small schema). That changes
    nothing: the declarations left out are valid and clash with nothing, so they add no error,
    and no directive the document does not use is read from the schema. A document this
    fails on is validated again with the whole prelude, so errors are reported exactly as
    always (a directive the scan missed is no error)."""
    directives, types = _declared(doc)
    used = _spelled(doc)
    combined, errors = _validated(doc, directives, types, used)
    if errors and used is not None:
        combined, errors = _validated(doc, directives, types, None)
    if errors:
        first = errors[0]
        message = _short(first.message)
        code = next((c for text, c in _VALIDATION_CODES if text in message), "SDL_INVALID")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        error = input_error(
            code,
            message + more,
            _validation_hint(code, message),
            _graphql_location(first, file),
        )
        error.details["errors"] = [
            {"message": _short(e.message), "location": str(_graphql_location(e, file))}
            for e in errors
        ]
        raise error
    try:
        return build_ast_schema(combined, assume_valid_sdl=True)
    except (GraphQLError, TypeError) as err:
        raise input_error("SDL_INVALID", str(err), "fix the schema definition") from None


@dataclass(frozen=True)
class DirectiveValue:
    canonical: str
    spelled: str
    args: dict[str, Any]
    location: Location | None

    def need(self, key: str) -> str:
        """A required argument as text (a user's own declaration may have made it optional)."""
        value = self.args.get(key)
        if value is None:
            raise input_error(
                "MISSING_ARGUMENT",
                f"@{self.spelled} needs the argument {key}:",
                f"write @{self.spelled}({key}: ...)",
                self.location,
            )
        return str(value)

    def text(self, key: str) -> str | None:
        value = self.args.get(key)
        return None if value is None else str(value)


@dataclass
class DirectiveReader:
    """Reads a node's directives under canonical names; warns once per deprecated spelling."""

    schema: GraphQLSchema
    file: str | None
    warnings: list[Diagnostic] = field(default_factory=list)
    _warned: set[str] = field(default_factory=set)

    def read(self, nodes: Iterable[DirectiveNode]) -> list[DirectiveValue]:
        values: list[DirectiveValue] = []
        for node in nodes:
            spelled = node.name.value
            canonical = canonical_name(spelled)
            where = location_of(node, self.file)
            if canonical is None:
                self._warn_once(
                    spelled,
                    Diagnostic(
                        "W_FOREIGN_DIRECTIVE",
                        f"@{spelled} is not a Wesley directive; it is ignored",
                        where,
                    ),
                )
                continue
            if is_alias(spelled):
                self._warn_once(
                    spelled,
                    Diagnostic(
                        "W_DEPRECATED_DIRECTIVE",
                        f"@{spelled} is a deprecated spelling of @{canonical}",
                        where,
                        f"write @{canonical}",
                    ),
                )
            definition = self.schema.get_directive(spelled)
            if definition is None:  # cannot happen after validation; keep the error typed
                raise input_error("UNKNOWN_DIRECTIVE", f"@{spelled} is not declared", None, where)
            try:
                args = get_argument_values(definition, node)
            except GraphQLError as err:
                raise input_error(
                    "INVALID_ARGUMENT",
                    f"@{spelled}: {err.message}",
                    f"check the argument types of @{canonical}",
                    where,
                ) from None
            for arg, value in args.items():
                refused = UNSUPPORTED_ARGS.get((canonical, arg))
                if refused is not None and value is not None:
                    raise input_error(
                        refused[0],
                        f"@{spelled}({arg}:) is not supported yet",
                        refused[1],
                        where,
                    )
            values.append(DirectiveValue(canonical, spelled, args, where))
        return values

    def _warn_once(self, key: str, diagnostic: Diagnostic) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.warnings.append(diagnostic)


def first(values: list[DirectiveValue], canonical: str) -> DirectiveValue | None:
    for v in values:  # a loop, not next(genexpr): called ~15 times per field
        if v.canonical == canonical:
            return v
    return None


def all_of(values: list[DirectiveValue], canonical: str) -> list[DirectiveValue]:
    return [v for v in values if v.canonical == canonical]


def require_identifier(name: str, what: str, where: Location | None) -> str:
    problem = identifier_problem(name)
    if problem:
        code = "IDENTIFIER_TOO_LONG" if "bytes long" in problem else "INVALID_IDENTIFIER"
        raise input_error(
            code,
            f"{what} {shown(name)} {problem}",
            "give it a shorter SQL name with name: (the GraphQL name can stay)",
            where,
        )
    return name


__all__ = [
    "DirectiveReader",
    "DirectiveValue",
    "WesleyError",
    "all_of",
    "build_schema",
    "first",
    "location_of",
    "parse_document",
    "require_identifier",
]
