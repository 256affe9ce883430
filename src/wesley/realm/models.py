"""`.wesley/realm.json` (DESIGN §6); its JSON Schema is generated from these models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from wesley.db.records import StepRecord
from wesley.factories import new_dict, new_list

Verdict = Literal["PASS", "FAIL", "DRY_RUN"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tests(_Model):
    planned: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[str] = Field(default_factory=new_list)
    tap: str = ""


class VersionTests(_Model):
    """One application version's pgTAP suite while two are live (after deploy's expand →
    switch): the old version's through its search_path (the flight schema's suite), the new
    version's through the version schema."""

    version: Literal["old", "new"]
    search_path: str
    tests: Tests


class Stages(_Model):
    """A two-stage plan's rehearsal: expand → switch, both versions' suites, --abort (and a
    check that it left exactly the expanded schema without the compat objects), expand →
    switch again (`again`), --complete; `steps` of the Realm are the first expand and the
    contract."""

    versions: list[VersionTests] = Field(default_factory=new_list)
    abort: list[StepRecord] = Field(default_factory=new_list)
    abort_restored: bool | None = Field(
        default=None, description="after --abort: no shadow column, trigger or view is left"
    )
    again: list[StepRecord] = Field(default_factory=new_list)


class Failure(_Model):
    code: str
    message: str
    hint: str | None = None
    step: str | None = None
    test: str | None = None


class Rehearsal(_Model):
    """One rehearsal of the plan on one PostgreSQL major. realm.json keeps one per major, so a
    plan rehearsed on 15 and then on 18 carries both (a deploy needs the target's major)."""

    major: int
    server_version: int = Field(description="the shadow's version; the plan was made for it")
    verdict: Verdict
    plan_hash: str = Field(description="the plan for that version (lock facts differ)")
    tests_passed: int = 0
    tests_planned: int = 0


class Realm(_Model):
    version: Literal[1] = 1
    verdict: Verdict
    plan_hash: str
    ir_hash: str
    from_ir_hash: str | None = None
    server_version: int | None = None
    database: str = Field(description="the shadow database, password removed")
    ephemeral: bool = False
    seed_rows: int = 0
    roles_created: list[str] = Field(
        default_factory=new_list,
        description="roles the schema grants to that the shadow lacked: created NOLOGIN",
    )
    steps: list[StepRecord] = Field(default_factory=new_list)
    tests: Tests = Field(default_factory=Tests)
    replan_empty: bool | None = None
    stages: Stages | None = None
    timings: dict[str, int] = Field(default_factory=new_dict)
    notes: list[str] = Field(default_factory=new_list)
    failure: Failure | None = None
    rehearsals: list[Rehearsal] = Field(
        default_factory=new_list,
        description="every major this plan was rehearsed on, this run's included, by major",
    )

    def to_json_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
