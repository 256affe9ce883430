"""Hardening (issue 12) at the file edge: key files created exclusively (item 5), FIFOs never
read (item 9), huge names refused at once (item 10), bad output paths and wrongly typed config
as coded errors (item 11). Each test makes the attack, then checks the refusal."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import cli
from wesley.naming import snake_case

SCHEMA = "type A @wes_table {\n  id: ID! @wes_pk\n}\n"


def _wesley(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`wesley ARGS` as a real process: a hang fails the test instead of stalling the suite."""
    return subprocess.run(
        [sys.executable, "-m", "wesley", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _coded(result: subprocess.CompletedProcess[str], exit_code: int, code: str) -> str:
    assert result.returncode == exit_code, f"{result.returncode}: {result.stdout}{result.stderr}"
    assert f"error[{code}]" in result.stderr, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result.stderr


# ---- item 5: keygen never follows a symlink, never replaces a file ------------------------


def test_keygen_does_not_follow_a_symlink_at_pub(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    Path("keys").mkdir()
    os.symlink(victim, "keys/holmes.pub")  # the attack: NAME.pub points at someone's file
    err = _coded(
        _wesley("cert", "keygen", "--signer", "holmes", "--out", "keys/holmes"), 2, "FILE_EXISTS"
    )
    assert "keys/holmes.pub is a symlink" in err, err
    assert victim.read_text() == "precious\n"
    assert not os.path.lexists("keys/holmes"), "a private key was left without its public key"


def test_keygen_never_replaces_an_existing_pub_or_key(tmp_path: Path) -> None:
    Path("k.pub").write_text("someone else's public key\n")
    err = _coded(_wesley("cert", "keygen", "--signer", "s", "--out", "k"), 2, "FILE_EXISTS")
    assert "k.pub already exists" in err
    assert Path("k.pub").read_text() == "someone else's public key\n"
    assert not Path("k").exists()
    # a dangling symlink at the private key's path (item 11): refused, nothing created there
    os.symlink(tmp_path / "nowhere", "d")
    err = _coded(_wesley("cert", "keygen", "--signer", "s", "--out", "d"), 2, "FILE_EXISTS")
    assert not (tmp_path / "nowhere").exists() and not Path("d.pub").exists()
    # the good path: both files, private one 0600
    assert _wesley("cert", "keygen", "--signer", "s", "--out", "new/k").returncode == 0
    assert stat.S_IMODE(os.stat("new/k").st_mode) == 0o600
    assert Path("new/k.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    _coded(_wesley("cert", "keygen", "--signer", "s", "--out", "new/k"), 2, "FILE_EXISTS")


def test_keygen_into_a_file_is_not_a_directory(tmp_path: Path) -> None:
    Path("plain").write_text("x")
    err = _coded(
        _wesley("cert", "keygen", "--signer", "s", "--out", "plain/k"), 2, "NOT_A_DIRECTORY"
    )
    assert "plain exists and is not a directory" in err


# ---- item 9: a FIFO is never opened for reading ------------------------------------------


def test_fifo_schema_and_key_are_not_a_file(tmp_path: Path) -> None:
    os.mkfifo("pipe")  # nobody ever writes to it: reading it would block forever
    Path("schema.graphql").write_text(SCHEMA)
    for args in (
        ("transform", "--schema", "pipe"),
        ("plan", "--from", "pipe"),
        ("cert", "sign", "--signer", "holmes", "--key", "pipe"),
    ):
        err = _coded(_wesley(*args, timeout=30), 2, "NOT_A_FILE")
        assert "pipe is not a regular file" in err, err
    from wesley.cert.keys import load_private, load_public
    from wesley.errors import WesleyError

    for load in (load_private, load_public):
        with pytest.raises(WesleyError) as caught:
            load(Path("pipe"))
        assert (caught.value.code, int(caught.value.exit_code)) == ("NOT_A_FILE", 2)
    # [cert.keys] naming a FIFO: verify says so, exit 2
    Path("wesley.toml").write_text('[cert.keys]\nholmes = "pipe"\n')
    _coded(_wesley("cert", "verify", timeout=30), 2, "NOT_A_FILE")


# ---- item 10: a 100k-character name ------------------------------------------------------


def _old_snake_case(name: str) -> str:
    """The earlier implementation (quadratic on a run of capitals): the reference."""
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.text(alphabet="AaBbZz09_é", max_size=40))
def test_snake_case_is_unchanged(name: str) -> None:
    assert snake_case(name) == _old_snake_case(name)


@pytest.mark.parametrize(
    "name", ["A" * 100_000, "Ab" * 50_000, "aB" * 50_000], ids=["AAA", "AbAb", "aBaB"]
)
def test_a_huge_type_name_is_refused_at_once_and_shortened(tmp_path: Path, name: str) -> None:
    Path("s.graphql").write_text(f"type {name} @wes_table {{\n  id: ID! @wes_pk\n}}\n")
    # before the fix this took more than 60 s (quadratic backtracking in snake_case)
    err = _coded(
        _wesley("transform", "--schema", "s.graphql", timeout=30), 2, "IDENTIFIER_TOO_LONG"
    )
    assert len(err) < 600, f"the message repeats the name: {len(err)} characters"
    assert "characters)" in err and "PostgreSQL keeps only 63" in err, err


def test_a_huge_unknown_type_name_is_shortened(capsys: pytest.CaptureFixture[str]) -> None:
    Path("s.graphql").write_text(SCHEMA.replace("}", f"  x: {'Q' * 100_000}\n}}"))
    result = cli(capsys, "transform", "--schema", "s.graphql", "--json")
    assert result.code == 2
    error = result.json()["error"]
    assert error["code"] == "UNKNOWN_TYPE" and len(error["message"]) < 200, error["message"][:300]


# ---- item 11: output paths and config types ----------------------------------------------


@pytest.mark.parametrize(
    ("setup", "args", "code", "says"),
    [
        ("file", ("--out", "afile"), "NOT_A_DIRECTORY", "afile exists and is not a directory"),
        ("", ("--out", "/dev/null/x"), "NOT_A_DIRECTORY", "/dev/null exists and is not a dir"),
        ("file", ("--bundle-dir", "afile/b"), "NOT_A_DIRECTORY", "afile exists and is not a"),
        ('[project]\nout = "/proc/self"\n', (), "FILE_UNWRITABLE", "cannot write /proc/self/"),
        ('[project]\nout = ["a"]\n', (), "CONFIG_INVALID", "[project] out = ['a'] must be"),
        ("project = 3\n", (), "CONFIG_INVALID", "project = 3 must be a table"),
        ('[cert]\nrequire = "holmes"\n', (), "CONFIG_INVALID", "must be a list of signer names"),
        ("[cert.keys]\nholmes = 1\n", (), "CONFIG_INVALID", "[cert.keys] must map each signer"),
        ("dir", (), "CONFIG_INVALID", "wesley.toml: is not a regular file"),
    ],
    ids=[
        "out-file",
        "out-dev-null",
        "bundle-in-file",
        "out-proc",
        "out-list",
        "project-int",
        "require-string",
        "keys-int",
        "toml-dir",
    ],
)
def test_bad_paths_and_config_are_coded_input_errors(
    setup: str, args: tuple[str, ...], code: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("schema.graphql").write_text(SCHEMA)
    if setup == "file":
        Path("afile").write_text("x")
    elif setup == "dir":
        Path("wesley.toml").mkdir()
    elif setup:
        Path("wesley.toml").write_text(setup)
    result = cli(capsys, "transform", *args)
    assert result.code == 2, result.stdout + result.stderr
    assert f"error[{code}]" in result.stderr and says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_cert_keys_naming_a_directory_is_not_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    Path("keys").mkdir()
    Path("wesley.toml").write_text('[cert.keys]\nholmes = "keys"\n')
    result = cli(capsys, "cert", "verify")
    assert result.code == 2, result.stderr
    assert "error[NOT_A_FILE]: public key keys is not a regular file" in result.stderr
