"""Column weights: upstream's rules, name rules, `@wes_weight`, wesley.toml `[weights]`, and
their effect on SCS, through the one scoring module."""

from __future__ import annotations

import pytest

from wesley.errors import WesleyError
from wesley.evidence.build import Placed, evidence_map
from wesley.evidence.models import UidEvidence
from wesley.evidence.scores import schema_coverage
from wesley.evidence.weights import (
    DEFAULT_RULES,
    WeightRules,
    unused_overrides,
    weigh,
    weights_from,
)
from wesley.ir import IR
from wesley.sdl import parse_sdl
from wesley.targets import TARGETS

SDL = """
type User @wes_table @wes_index(columns: ["theme"]) {
  id: ID! @wes_pk
  email: String! @wes_unique
  passwordHash: String! @wes_sensitive
  orgId: ID!
  nickname: String
  score: Int @wes_weight(value: 2)
  theme: String
  ssn: String @wes_pii
}

type Audit @wes_table @wes_critical {
  id: ID! @wes_pk
  note: String
}

type Log @wes_table @wes_weight(value: 1) {
  id: ID! @wes_pk
  line: String
}
"""


def _ir() -> IR:
    return parse_sdl(SDL).ir


def _weights(rules: WeightRules = DEFAULT_RULES) -> dict[str, tuple[int, list[str]]]:
    out = {}
    for t in _ir().tables:
        for c in t.columns:
            w = weigh(t, c, rules)
            out[f"{t.name}.{c.name}"] = (w.value, list(w.reasons))
    return out


def test_default_rules_with_reasons() -> None:
    w = _weights()
    assert w["user.id"] == (10, ["PK 10"])
    assert w["user.email"] == (8, ["unique 8", "name *email* 8"])
    assert w["user.password_hash"] == (10, ["sensitive 9", "name *password* 10"])
    assert w["user.org_id"] == (7, ["name *_id 7"])
    assert w["user.nickname"] == (3, ["other column 3"])
    assert w["user.score"] == (2, ["@wes_weight 2"])
    assert w["user.theme"] == (5, ["indexed 5"])
    assert w["user.ssn"] == (8, ["pii 8"])
    assert w["audit.note"] == (10, ["critical 10"])  # the table is critical
    assert w["log.line"] == (1, ["table @wes_weight 1"])
    assert w["log.id"] == (1, ["table @wes_weight 1"])  # explicit beats inferred


def test_overrides_names_and_rules_from_toml() -> None:
    rules = weights_from(
        {
            "weights": {
                "default": 1,
                "pk": 9,
                "names": {"nick*": 6},
                "overrides": {"col:user.score": 9, "audit.*": 4, "col:ghost.*": 2},
            }
        }
    )
    w = _weights(rules)
    assert w["user.id"] == (9, ["PK 9"])
    assert w["user.nickname"] == (6, ["name nick* 6"])
    assert w["user.score"] == (
        9,
        ["[weights.overrides] 'col:user.score' 9 (instead of @wes_weight 2)"],
    )
    assert w["audit.note"] == (4, ["[weights.overrides] 'audit.*' 4"])
    assert w["audit.id"] == (4, ["[weights.overrides] 'audit.*' 4"])
    # [weights.names] replaces the built-in name rules: no *email*, no *_id any more
    assert w["user.email"] == (8, ["unique 8"])
    assert w["user.org_id"] == (1, ["other column 1"])
    assert unused_overrides(_ir().tables, rules) == ["col:ghost.*"]
    assert rules.source == "wesley.toml [weights]"
    assert weights_from({}) == DEFAULT_RULES


def test_exact_override_wins_over_a_glob() -> None:
    rules = weights_from({"weights": {"overrides": {"user.*": 2, "USER.EMAIL": 9}}})
    assert _weights(rules)["user.email"][0] == 9
    assert _weights(rules)["user.id"][0] == 2


@pytest.mark.parametrize(
    "raw",
    [{"pk": 0}, {"pk": 11}, {"pk": 2.5}, {"pk": True}, {"pkk": 3}, {"names": 3},
     {"overrides": {"x": "9"}}, 5],
)  # fmt: skip
def test_invalid_weights(raw: object) -> None:
    with pytest.raises(WesleyError) as err:
        weights_from({"weights": raw})
    assert err.value.code == "CONFIG_INVALID"


def test_weights_move_scs_only_through_the_scoring_module() -> None:
    """One column without its Zod schema: SCS drops by its weight's share, and an override
    of that weight moves SCS accordingly."""
    ir = _ir()
    placed = [Placed(name, a.path, a) for name, t in TARGETS.items() for a in t(ir)]
    full = evidence_map(ir, placed)
    assert schema_coverage(ir, full).score == 1.0
    uid = "col:user.nickname"
    ev = full.uids[uid]
    partial = full.model_copy(
        update={"uids": {**full.uids, uid: UidEvidence(sql=ev.sql, ts=ev.ts, tests=ev.tests)}}
    )
    total = sum(v for v, _ in _weights().values())
    assert schema_coverage(ir, partial).score == round((total - 3) / total, 4)
    heavy = weights_from({"weights": {"overrides": {uid: 10}}})
    assert schema_coverage(ir, partial, heavy).score == round((total - 3) / (total + 7), 4)
    score = schema_coverage(ir, partial)
    assert f"{uid} (weight 3) lacks validation" in score.details
