"""`wesley holmes investigate|verify|predict|report`: the HOLMES investigation, WATSON's
verification of it, MORIARTY's forecast, and all three as one Markdown report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from wesley.cli.common import global_options, output
from wesley.cli.output import Output
from wesley.config import load_config
from wesley.errors import Diagnostic, ExitCode, WesleyError
from wesley.evidence.scores import thresholds_from
from wesley.files import write_atomic
from wesley.holmes import render
from wesley.holmes.attest import report_paths, write_examination, write_investigation
from wesley.holmes.models import Examination, Forecast, Investigation
from wesley.holmes.moriarty import HISTORY, forecast, read_history

BUNDLE_DIR = ".wesley"

_dir_option = click.option(
    "--dir",
    "directory",
    default=BUNDLE_DIR,
    show_default=True,
    help="The evidence bundle (where the reports are written too).",
)


def _show(out: Output, markdown: str) -> None:
    if not out.json_mode and not out.quiet:
        print(markdown, end="")


def _mismatch(exam: Examination, md_path: str, data: dict[str, Any]) -> WesleyError:
    shown = exam.mismatches[:10]
    more = f" (and {len(exam.mismatches) - 10} more)" if len(exam.mismatches) > 10 else ""
    return WesleyError(
        "WATSON_MISMATCH",
        f"WATSON found {len(exam.mismatches)} mismatch(es): " + "; ".join(shown) + more,
        f"see {md_path}; rerun wesley holmes investigate on untouched evidence",
        exit_code=ExitCode.CERT_INVALID,
        details=data,
    )


def _warn_unused(out: Output, report: Investigation) -> None:
    out.warn(
        [
            Diagnostic(
                "W_WEIGHT_UNUSED",
                f"wesley.toml: [weights.overrides] {pattern!r} matches no column",
                hint="a uid (col:table.column) or table.column; globs allowed",
            )
            for pattern in report.unused_overrides
        ]
    )


def _forecast(directory: Path, config: dict[str, Any]) -> Forecast:
    return forecast(read_history(directory / HISTORY), thresholds_from(config))


@click.group("holmes")
def holmes() -> None:
    """HOLMES investigation, WATSON verification, MORIARTY forecast."""


@holmes.command("investigate")
@_dir_option
@global_options
@click.pass_context
def investigate_cmd(ctx: click.Context, directory: str) -> None:
    """Every scored element, its weight and why, the cited proof, the verdict.

    Writes holmes.json and holmes.md in the bundle and prints the Markdown (--json: the
    report). Exit 0 whatever the verdict; `cert sign --signer holmes` needs ELEMENTARY.
    """
    out = output(ctx)
    report, digest = write_investigation(Path(directory), load_config().raw)
    _warn_unused(out, report)
    _show(out, render.investigation(report))
    json_path, md_path = report_paths(Path(directory), "holmes")
    out.log(f"wrote {json_path} (sha256 {digest[:12]}) and {md_path}: {report.verdict}")
    out.result({"report": report.model_dump(mode="json"), "sha256": digest, "path": json_path})


@holmes.command("verify")
@_dir_option
@global_options
@click.pass_context
def verify_cmd(ctx: click.Context, directory: str) -> None:
    """WATSON: re-open every citation of holmes.json and re-derive every score.

    Writes watson.json and watson.md; exit 8 (WATSON_MISMATCH) naming every mismatch.
    """
    out = output(ctx)
    exam = write_examination(Path(directory), load_config().raw)
    _show(out, render.examination(exam))
    json_path, md_path = report_paths(Path(directory), "watson")
    data = {"report": exam.model_dump(mode="json"), "path": json_path}
    if exam.verdict != "PASSED":
        raise _mismatch(exam, md_path, data)
    out.log(f"wrote {json_path} and {md_path}: {exam.verified}/{exam.citations} citations hold")
    out.result(data)


@holmes.command("predict")
@_dir_option
@global_options
@click.pass_context
def predict_cmd(ctx: click.Context, directory: str) -> None:
    """MORIARTY: trends, velocity and the changes/days until the gates are met.

    Reads history.json (one point per transform and rehearse); needs 2 points.
    """
    out = output(ctx)
    fc = _forecast(Path(directory), load_config().raw)
    _show(out, render.forecast(fc))
    out.result({"forecast": fc.model_dump(mode="json")})


@holmes.command("report")
@_dir_option
@click.option(
    "--out",
    "out_path",
    default=f"{BUNDLE_DIR}/report.md",
    show_default=True,
    help="The Markdown file (fit for a pull-request comment).",
)
@global_options
@click.pass_context
def report_cmd(ctx: click.Context, directory: str, out_path: str) -> None:
    """Investigate, verify and predict; all three in one Markdown file.

    Exit 8 when WATSON finds a mismatch (the report is written first).
    """
    out = output(ctx)
    config = load_config().raw
    root = Path(directory)
    inv, digest = write_investigation(root, config)
    _warn_unused(out, inv)
    exam = write_examination(root, config)
    fc = _forecast(root, config)
    text = render.report(inv, exam, fc)
    write_atomic(Path(out_path), text)
    _show(out, text)
    out.log(f"wrote {out_path}")
    data = {
        "out": out_path,
        "investigation": inv.model_dump(mode="json"),
        "investigation_sha256": digest,
        "verification": exam.model_dump(mode="json"),
        "forecast": fc.model_dump(mode="json"),
    }
    if exam.verdict != "PASSED":
        raise _mismatch(exam, report_paths(root, "watson")[1], data)
    out.result(data)
