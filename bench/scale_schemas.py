"""Generated schemas for the scale benchmarks: N tables of 20 columns each, with the usual
mix (uuid keys with defaults, a foreign key with its index, unique, checks, enum defaults,
arrays, JSON, a composite index, tenancy on every tenth table). 1,000 tables is ~0.5 MB."""

from __future__ import annotations

ENUMS = "enum Status {\n  ACTIVE\n  PAUSED\n  CLOSED\n}\n"


def table(i: int, variant: int = 0) -> str:
    """Table `T{i}`; `variant` > 0 changes it the way a release would (a column added, a
    default and a check changed, an index added)."""
    ref = f'  parentId: ID @wes_fk(ref: "T{i - 1}.id") @wes_index\n' if i else "  parentId: ID\n"
    tenant = ' @wes_tenant(by: "orgId")' if i % 10 == 0 else ""
    extra = ""
    if variant:
        extra = (
            f"  added{variant}: String\n"
            f"  score{variant}: Int! @wes_default(value: 0)"
            f' @wes_check(expr: "score{variant} >= 0")\n'
        )
    limit = 100 + variant
    index = ' @wes_index(columns: ["orgId", "createdAt"])'
    if variant:
        index += ' @wes_index(columns: ["name"])'
    return (
        f"type T{i} @wes_table{tenant}{index} {{\n"
        '  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")\n'
        "  orgId: ID!\n"
        f"{ref}"
        "  name: String! @wes_unique\n"
        "  title: String\n"
        "  body: String\n"
        "  email: String @wes_pii\n"
        f'  n: Int @wes_check(expr: "n > 0 AND n < {limit}")\n'
        "  total: BigInt! @wes_default(value: 0)\n"
        "  price: Decimal\n"
        "  ratio: Float\n"
        "  active: Boolean! @wes_default(value: true)\n"
        '  status: Status! @wes_default(value: "ACTIVE")\n'
        "  tags: [String!]\n"
        "  meta: JSON\n"
        "  day: Date\n"
        "  at: Time\n"
        "  ip: Inet\n"
        '  createdAt: DateTime! @wes_default(expr: "now()")\n'
        "  updatedAt: DateTime @wes_updatedAt\n"
        f"{extra}"
        "}\n"
    )


def schema(tables: int, changed_every: int = 0, variant: int = 1) -> str:
    """`tables` tables; with `changed_every` = 10, every tenth table is its `variant`."""
    parts = [ENUMS]
    for i in range(tables):
        changed = changed_every and i % changed_every == changed_every // 2
        parts.append(table(i, variant if changed else 0))
    return "\n".join(parts)
