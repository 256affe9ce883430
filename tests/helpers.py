"""Shared test helpers (not fixtures): paths and running the CLI in-process."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wesley.cli.app import run

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("WESLEY_SHARED", REPO.parent / "shared"))
UPSTREAM = SHARED / "fixtures" / "upstream"
VALID_FIXTURES = sorted(UPSTREAM.glob("*.graphql"))
INVALID_FIXTURES = sorted((UPSTREAM / "invalid").glob("*.graphql"))


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.stdout)
        return data


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    capsys.readouterr()
    code = run(list(args))
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)
