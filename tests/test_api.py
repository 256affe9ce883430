"""The Python API: the README's example runs as written (the lifecycle without a subprocess),
results are typed, failures are WesleyError with the CLI's codes, and the CLI's modules hold
no logic the API lacks."""

from __future__ import annotations

import ast
import io
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.lifecycle import SIGNERS, TOML_KEYS, ok, runs, scratch_database


def _readme_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's Python API section has no python block"
    return match.group(1)


def test_the_readme_example_runs(
    pg_admin_dsn: str, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok("init", "--quiet")
    with Path("wesley.toml").open("a", encoding="utf-8") as toml:
        toml.write(TOML_KEYS)
    for signer in SIGNERS:
        ok("cert", "keygen", "--signer", signer, "--out", f"keys/{signer}", "--quiet")
    monkeypatch.setenv("DATABASE_URL", pg_dsn)
    printed = io.StringIO()
    with scratch_database(pg_admin_dsn) as shadow:
        monkeypatch.setenv("SHADOW_DSN", shadow)
        with redirect_stdout(printed):
            exec(compile(_readme_example(), "README.md", "exec"), {})
    lines = printed.getvalue().splitlines()
    assert any(line.startswith("[REALM] PASS") for line in lines), lines
    assert "['holmes', 'wat-sum']" in lines
    applied, already = lines[-2].split()
    assert int(applied) > 0 and already == "True"
    assert lines[-1].startswith("BASELINE_DIFFERS 5 [")
    assert [r["mode"] for r in runs(pg_dsn)] == ["deploy"]


def test_results_are_typed_and_errors_coded() -> None:
    import wesley.api as wesley

    made = wesley.transform(sdl="type A @wes_table { id: ID! @wes_pk }")
    assert isinstance(made, wesley.TransformResult) and made.changed
    planned = wesley.plan(sdl="type A @wes_table { id: ID! @wes_pk }")
    assert isinstance(planned, wesley.PlanResult) and planned.plan.steps
    with pytest.raises(wesley.WesleyError) as bad:
        wesley.plan(sdl="type A @wes_table { id: ID @wes_pk }")
    assert (bad.value.code, int(bad.value.exit_code)) == ("PK_NULLABLE", 2)
    with pytest.raises(wesley.WesleyError) as refused:
        wesley.plan(sdl="type B @wes_table { id: ID! @wes_pk }", old=_sdl_file())
    assert refused.value.code == "PLAN_DESTRUCTIVE" and int(refused.value.exit_code) == 5
    assert isinstance(refused.value.result, wesley.PlanResult)  # what was refused, to show


def _sdl_file() -> str:
    Path("old.graphql").write_text("type A @wes_table { id: ID! @wes_pk }\n", encoding="utf-8")
    return "old.graphql"


CLI = REPO / "src" / "wesley" / "cli"


@pytest.mark.parametrize("name", sorted(p.name for p in CLI.glob("*_cmd.py")))
def test_cli_modules_do_not_reach_the_database_or_each_other(name: str) -> None:
    """cli/ parses, calls the API and prints: no database, no SQL, no other command."""
    tree = ast.parse((CLI / name).read_text(encoding="utf-8"))
    imported = {
        n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module is not None
    } | {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m.startswith(("wesley.db", "psycopg"))}, imported
    others = {m for m in imported if m.startswith("wesley.cli.") and m.endswith("_cmd")}
    assert not others, others


def test_db_does_not_import_the_layers_above_it() -> None:
    for path in (REPO / "src" / "wesley" / "db").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(
                    ("wesley.realm", "wesley.cli", "wesley.api", "wesley.cert")
                ), f"{path.name} imports {node.module}"
