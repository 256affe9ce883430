"""Column weights for SCS (DESIGN §7), with the reasons that make each one, so HOLMES can say
why and WATSON can re-derive it. The one place weights come from:

1. `[weights.overrides]` in wesley.toml (a uid or `table.column`, globs allowed);
2. the column's `@wes_weight`, then its table's `@wes_weight`;
3. else inferred, the largest that applies: upstream's rules (critical 10, PK 10, sensitive 9,
   FK 8, unique 8, pii 8, indexed 5; a table's @wes_critical/@wes_sensitive/@wes_pii count for
   its columns), name rules on the SQL column name (`*password*` 10, `*email*` 8, `*_id` 7),
   and `default` (3) for any other column.

Every number is configurable in `[weights]`; `[weights.names]` replaces the built-in name rules.
Pure: the configuration arrives as the parsed TOML table.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from wesley.errors import input_error
from wesley.ir import Column, Table

RULES: dict[str, int] = {
    "critical": 10,
    "pk": 10,
    "sensitive": 9,
    "fk": 8,
    "unique": 8,
    "pii": 8,
    "indexed": 5,
    "default": 3,
}
RULE_LABELS = {
    "critical": "critical",
    "pk": "PK",
    "sensitive": "sensitive",
    "fk": "FK",
    "unique": "unique",
    "pii": "pii",
    "indexed": "indexed",
    "default": "other column",
}
NAMES: dict[str, int] = {"*password*": 10, "*email*": 8, "*_id": 7}
_SECTIONS = ("names", "overrides")


@dataclass(frozen=True)
class WeightRules:
    rules: tuple[tuple[str, int], ...] = tuple(RULES.items())
    names: tuple[tuple[str, int], ...] = tuple(NAMES.items())
    overrides: tuple[tuple[str, int], ...] = ()
    source: str = "defaults"

    def rule(self, name: str) -> int:
        return dict(self.rules)[name]

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rules": dict(self.rules),
            "names": dict(self.names),
            "overrides": dict(self.overrides),
        }


@dataclass(frozen=True)
class Weight:
    value: int
    source: str  # override, @wes_weight, table @wes_weight, inferred
    reasons: tuple[str, ...]


DEFAULT_RULES = WeightRules()


def _weight_value(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
        raise input_error(
            "CONFIG_INVALID",
            f"wesley.toml: {where} = {value!r} is not a whole number from 1 to 10",
            "weights are 1..10, like @wes_weight",
        )
    return value


def _pairs(section: str, raw: Any) -> tuple[tuple[str, int], ...]:
    if not isinstance(raw, dict):
        raise input_error(
            "CONFIG_INVALID",
            f"wesley.toml: [weights.{section}] must be a table of patterns = weights",
            f'[weights.{section}]\n"*_id" = 7',
        )
    return tuple((str(k), _weight_value(f"[weights.{section}] {k!r}", v)) for k, v in raw.items())


def weights_from(config: dict[str, Any]) -> WeightRules:
    """The rules in effect: defaults, with wesley.toml's `[weights]` applied."""
    raw = config.get("weights")
    if raw is None:
        return DEFAULT_RULES
    if not isinstance(raw, dict):
        raise input_error("CONFIG_INVALID", "wesley.toml: [weights] must be a table", "[weights]")
    rules = dict(RULES)
    for key, value in raw.items():
        if key in _SECTIONS:
            continue
        if key not in RULES:
            raise input_error(
                "CONFIG_INVALID",
                f"wesley.toml: [weights] {key!r} is not a weight rule",
                "rules: " + ", ".join(RULES) + "; tables: [weights.names], [weights.overrides]",
            )
        rules[key] = _weight_value(f"[weights] {key}", value)
    names = _pairs("names", raw["names"]) if "names" in raw else tuple(NAMES.items())
    overrides = _pairs("overrides", raw.get("overrides", {}))
    return WeightRules(tuple(rules.items()), names, overrides, "wesley.toml [weights]")


def _override(table: Table, col: Column, rules: WeightRules) -> tuple[str, int] | None:
    keys = (col.uid.lower(), f"{table.name}.{col.name}".lower())
    exact = [(p, w) for p, w in rules.overrides if p.lower() in keys]
    if exact:
        return exact[0]
    for pattern, w in rules.overrides:
        if any(fnmatchcase(k, pattern.lower()) for k in keys):
            return pattern, w
    return None


def weigh(table: Table, col: Column, rules: WeightRules = DEFAULT_RULES) -> Weight:
    """The column's weight and why."""
    hit = _override(table, col, rules)
    if hit is not None:
        pattern, value = hit
        shadowed = f" (instead of @wes_weight {col.weight})" if col.weight is not None else ""
        return Weight(value, "override", (f"[weights.overrides] {pattern!r} {value}{shadowed}",))
    if col.weight is not None:
        return Weight(col.weight, "@wes_weight", (f"@wes_weight {col.weight}",))
    if table.weight is not None:
        return Weight(table.weight, "table @wes_weight", (f"table @wes_weight {table.weight}",))
    applies: list[tuple[str, int]] = []
    classes = set(col.classification) | set(table.classification)
    facts = {
        "critical": "critical" in classes,
        "pk": col.name in table.primary_key,
        "sensitive": "sensitive" in classes,
        "fk": any(col.name in fk.columns for fk in table.foreign_keys),
        "unique": col.unique,
        "pii": "pii" in classes,
        "indexed": any(col.name in ix.columns for ix in table.indexes),
    }
    for name, holds in facts.items():
        if holds:
            applies.append((RULE_LABELS[name], rules.rule(name)))
    applies.extend(_name_hits(col.name.lower(), rules.names))
    if not applies:
        applies.append((RULE_LABELS["default"], rules.rule("default")))
    value = max(w for _, w in applies)
    return Weight(value, "inferred", tuple(f"{label} {w}" for label, w in applies))


# pure, and a schema repeats a few column names (id, created_at, ...) in every table
@lru_cache(maxsize=8192)
def _name_hits(lowered: str, names: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    return tuple((f"name {p}", w) for p, w in names if fnmatchcase(lowered, p.lower()))


def unused_overrides(tables: list[Table], rules: WeightRules) -> list[str]:
    """Override patterns that match no column: written, so never silently ignored."""
    used = set()
    for table in tables:
        for col in table.columns:
            hit = _override(table, col, rules)
            if hit is not None:
                used.add(hit[0])
    return [p for p, _ in rules.overrides if p not in used]
