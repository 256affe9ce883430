"""How commands talk: human text on stdout (calm, short), warnings and logs on stderr,
or with --json exactly one JSON document on stdout and nothing else there."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from wesley.errors import Diagnostic, WesleyError
from wesley.jsontext import dumps_pretty


@dataclass
class Output:
    json_mode: bool = False
    quiet: bool = False
    debug: bool = False
    warnings: list[Diagnostic] = field(default_factory=list)

    def info(self, text: str) -> None:
        """A human line on stdout (suppressed by --json and --quiet)."""
        if not self.json_mode and not self.quiet:
            print(text)

    def log(self, text: str) -> None:
        """A progress line on stderr (suppressed by --quiet)."""
        if not self.quiet:
            print(text, file=sys.stderr)

    def warn(self, diagnostics: list[Diagnostic]) -> None:
        self.warnings.extend(diagnostics)
        if self.quiet:
            return
        for d in diagnostics:
            print(d.render(), file=sys.stderr)

    def result(self, data: dict[str, Any]) -> None:
        """The command's one JSON document (only with --json)."""
        if self.json_mode:
            doc = {"ok": True, **data, "warnings": [w.to_json() for w in self.warnings]}
            print(dumps_pretty(doc))

    def error(self, err: WesleyError) -> None:
        if self.json_mode:
            print(json.dumps(err.to_json(), indent=2, sort_keys=True, ensure_ascii=False))
        else:
            print(err.render(), file=sys.stderr)
            more = err.details.get("errors", [])[1:]  # graphql-core reports them all at once
            for e in more:
                print(f"error[{err.code}]: {e['location']}: {e['message']}", file=sys.stderr)
