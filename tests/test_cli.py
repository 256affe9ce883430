"""The CLI skeleton as a user meets it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import UPSTREAM, cli

COMMANDS = [
    "init", "transform", "plan", "rehearse", "cert", "deploy", "validate-bundle", "holmes",
    "baseline", "up", "blade", "watch", "check", "drift", "introspect",
]  # fmt: skip


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(capsys, "--help")
    assert result.code == 0
    for name in [*COMMANDS, "generate"]:
        assert f"  {name} " in result.stdout, name


@pytest.mark.parametrize(
    "argv",
    [[c] for c in COMMANDS]
    + [["cert", sub] for sub in ("keygen", "create", "sign", "verify", "badge")]
    + [["holmes", sub] for sub in ("investigate", "verify", "predict", "report")]
    + [["cert-create"], ["cert-sign"], ["cert-verify"], ["cert-badge"], ["generate"]],
)
def test_every_command_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(capsys, *argv, "--help")
    assert result.code == 0 and "Usage:" in result.stdout


def test_init_then_transform_then_nothing_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli(capsys, "init").code == 0
    assert (tmp_path / "schema.graphql").is_file() and (tmp_path / "wesley.toml").is_file()
    again = cli(capsys, "init")
    assert again.code == 2 and "FILE_EXISTS" in again.stderr
    first = cli(capsys, "transform", "--json")
    assert first.code == 0, first.stderr
    doc = first.json()
    assert doc["changed"] is True
    ir_file = tmp_path / "out" / "ir.json"
    assert json.loads(ir_file.read_text())["tables"][0]["name"] == "org"
    mtime = ir_file.stat().st_mtime_ns
    second = cli(capsys, "generate")  # upstream's spelling
    assert second.code == 0
    assert "no artifacts changed" in second.stdout
    assert ir_file.stat().st_mtime_ns == mtime


def test_json_mode_prints_exactly_one_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = cli(
        capsys,
        "--json",
        "transform",
        "--schema",
        str(UPSTREAM / "ecommerce.graphql"),
        "--out",
        str(tmp_path),
    )
    assert result.code == 0
    doc = result.json()  # fails if anything else is on stdout
    assert doc["ok"] is True
    assert {w["code"] for w in doc["warnings"]} == {"W_DEPRECATED_DIRECTIVE"}
    assert len(doc["ir_hash"]) == 64


def test_alias_warns_once_per_spelling(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(
        capsys, "transform", "--schema", str(UPSTREAM / "ecommerce.graphql"), "--out", str(tmp_path)
    )
    assert result.code == 0
    lines = [ln for ln in result.stderr.splitlines() if "W_DEPRECATED_DIRECTIVE" in ln]
    assert sum("@uid is a deprecated spelling of @wes_uid" in ln for ln in lines) == 1
    assert sum("@weight is a deprecated spelling of @wes_weight" in ln for ln in lines) == 1


def test_quiet_prints_nothing_on_success(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = cli(
        capsys,
        "transform",
        "-q",
        "--schema",
        str(UPSTREAM / "ecommerce.graphql"),
        "--out",
        str(tmp_path),
    )
    assert result.code == 0 and result.stdout == "" and result.stderr == ""


def test_unknown_target_lists_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(capsys, "transform", "--target", "mysql", "--json")
    assert result.code == 2
    error = result.json()["error"]
    assert error["code"] == "UNKNOWN_TARGET" and "postgres" in error["hint"]


def test_console_script_and_module_entry_points(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    bad = tmp_path / "bad.graphql"
    bad.write_text("type {", encoding="utf-8")
    for argv in (
        [sys.executable, "-m", "wesley"],
        [str(Path(sys.executable).with_name("wesley"))],
    ):
        proc = subprocess.run(
            [*argv, "transform", "--schema", str(bad)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        assert "error[PARSE_FAILED]" in proc.stderr and "Traceback" not in proc.stderr


def test_usage_error_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(capsys, "transform", "--no-such-flag")
    assert result.code == 2 and "No such option" in result.stderr


# What a `wesley transform` process must not load: the planner, rehearsal, database and
# certificate code, the HOLMES/WATSON report models, and their third-party libraries.
NOT_FOR_TRANSFORM = (
    "wesley.plan",
    "wesley.realm",
    "wesley.db",
    "wesley.cert",
    "wesley.qir",
    "wesley.holmes.models",
    "wesley.holmes.bundle",
    "psycopg",
    "cryptography",
    "jsonschema",
    "rich",
    "watchfiles",
)


def test_a_transform_process_loads_only_the_compiler(tmp_path: Path) -> None:
    template = Path(__file__).resolve().parents[1] / "src" / "wesley" / "templates"
    (tmp_path / "schema.graphql").write_text(
        (template / "schema.graphql").read_text(encoding="utf-8"), encoding="utf-8"
    )
    probe = (
        "import atexit, gc, json, sys\n"
        "atexit.register(lambda: print(json.dumps([sorted(sys.modules), gc.isenabled()])))\n"
        "from wesley.cli.app import main\n"
        "main(['transform', '-q', '--no-cache'])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    modules, collecting = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (tmp_path / "out" / "schema.sql").is_file()
    loaded = [m for m in modules if m.startswith(NOT_FOR_TRANSFORM)]
    assert not loaded, f"a transform imported {loaded}"
    assert not collecting  # a batch command's process runs with the cyclic collector paused


def test_only_batch_commands_pause_the_collector_for_the_whole_process() -> None:
    from wesley.cli.app import BATCH, _command

    assert _command(["--json", "-q", "generate", "--no-cache"]) == "transform"
    assert _command(["plan", "--json"]) == "plan"
    assert _command(["--version"]) is None
    assert {_command([c]) for c in ("watch", "rehearse", "deploy", "up", "blade")}.isdisjoint(BATCH)
