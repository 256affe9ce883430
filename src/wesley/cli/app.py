"""The `wesley` command: wiring, aliases and the one place errors become exit codes."""

from __future__ import annotations

import gc
import importlib
import json
import sys
import traceback
from typing import Any

import click

from wesley import __version__
from wesley.cli.common import global_options
from wesley.cli.output import Output
from wesley.errors import ExitCode, WesleyError

# command → (module, attribute): imported only when the command runs, so `wesley transform`
# does not pay for cryptography and jsonschema, nor `wesley rehearse` for the cert code.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("wesley.cli.init_cmd", "init", "Write a starter schema.graphql and wesley.toml."),
    "transform": (
        "wesley.cli.transform_cmd",
        "transform",
        "Compile the schema into artifacts and evidence.",
    ),
    "plan": (
        "wesley.cli.plan_cmd",
        "plan",
        "Diff two schemas into a phased zero-downtime migration.",
    ),
    "rehearse": (
        "wesley.cli.rehearse_cmd",
        "rehearse_cmd",
        "Apply the plan on a shadow database, observe locks, run pgTAP.",
    ),
    "cert": (
        "wesley.cli.cert_cmd",
        "cert",
        "Create, sign, verify and show SHIPME.md certificates.",
    ),
    "check": (
        "wesley.cli.check_cmd",
        "check_cmd",
        "Fail when a pinned ORM file (Prisma, Drizzle) no longer matches the schema.",
    ),
    "deploy": ("wesley.cli.deploy_cmd", "deploy", "Apply the certified plan to a real database."),
    "drift": (
        "wesley.cli.drift_cmd",
        "drift_cmd",
        "Compare a live database with the schema (or the last deploy).",
    ),
    "introspect": (
        "wesley.cli.introspect_cmd",
        "introspect_cmd",
        "Print the Wesley SDL of an existing database.",
    ),
    "baseline": (
        "wesley.cli.baseline_cmd",
        "baseline_cmd",
        "Adopt a database that already matches the schema.",
    ),
    "blade": (
        "wesley.cli.blade_cmd",
        "blade_cmd",
        "Transform, plan, rehearse, certify, sign and verify in one run.",
    ),
    "watch": (
        "wesley.cli.watch_cmd",
        "watch_cmd",
        "Re-run transform (and optionally up) when the schema changes.",
    ),
    "up": (
        "wesley.cli.up_cmd",
        "up_cmd",
        "Bring a development database to the schema (no certificate).",
    ),
    "holmes": (
        "wesley.cli.holmes_cmd",
        "holmes",
        "HOLMES investigation, WATSON verification, MORIARTY forecast.",
    ),
    "validate-bundle": (
        "wesley.cli.cert_cmd",
        "validate_bundle",
        "Check every evidence file against its schema and hash, and the thresholds.",
    ),
}

# Spellings of the upstream JavaScript tool, so its users' scripts keep working.
COMMAND_ALIASES: dict[str, tuple[str, ...]] = {
    "generate": ("transform",),
    "cert-create": ("cert", "create"),
    "cert-sign": ("cert", "sign"),
    "cert-verify": ("cert", "verify"),
    "cert-badge": ("cert", "badge"),
    "cert-keygen": ("cert", "keygen"),
}


class WesleyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def _load(self, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        path = COMMAND_ALIASES.get(cmd_name)
        if path is None:
            return self._load(cmd_name)
        command: click.Command | None = self._load(path[0])
        for part in path[1:]:
            command = command.get_command(ctx, part) if isinstance(command, click.Group) else None
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # help lists the commands without importing them
        with formatter.section("Commands"):
            formatter.write_dl([(n, COMMANDS[n][2]) for n in sorted(COMMANDS)])
        with formatter.section("Aliases"):
            formatter.write_dl([(a, " ".join(p)) for a, p in COMMAND_ALIASES.items()])


@click.group(cls=WesleyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wesley")
@global_options
@click.pass_context
def app(ctx: click.Context) -> None:
    """Wesley: GraphQL SDL in; PostgreSQL DDL, RLS, types, tests and safe migrations out.

    Lifecycle: transform -> plan -> rehearse -> cert -> deploy.
    """
    ctx.ensure_object(Output)


def _usage_error(exc: click.ClickException, json_mode: bool) -> int:
    if json_mode:
        err = WesleyError("USAGE", exc.format_message(), "see wesley --help")
        print(json.dumps(err.to_json(), indent=2, sort_keys=True))
    else:
        exc.show()
    return int(ExitCode.INPUT)


def run(argv: list[str]) -> int:
    """Run the CLI on `argv` and return the exit code (tests call this in-process)."""
    out = Output(
        json_mode="--json" in argv, quiet="--quiet" in argv or "-q" in argv, debug="--debug" in argv
    )
    try:
        app.main(args=argv, prog_name="wesley", standalone_mode=False, obj=out)
    except WesleyError as err:
        out.error(err)
        return int(err.exit_code)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        return _usage_error(exc, out.json_mode)
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so plainly, traceback only on request
        internal = WesleyError(
            "INTERNAL",
            f"internal error: {type(exc).__name__}: {exc}",
            "this is a bug in Wesley; rerun with --debug and report the traceback",
            exit_code=ExitCode.INTERNAL,
        )
        if out.debug:
            traceback.print_exc()
        out.error(internal)
        return int(ExitCode.INTERNAL)
    return 0


# Commands whose work runs with the cyclic collector paused (wesley.gcpause: transform, plan).
# Their process pauses it from the start: the collections while the compiler's modules load,
# and the one over everything they made when the inner pause ends, are skipped too (a
# tenth of a small transform's CPU); what they leave is freed when the process exits.
BATCH = frozenset({"transform", "plan"})


def _command(args: list[str]) -> str | None:
    """The command `args` run, aliases resolved (the group's own options are all flags)."""
    name = next((a for a in args if not a.startswith("-")), None)
    return None if name is None else COMMAND_ALIASES.get(name, (name,))[0]


def main(argv: Any = None) -> None:
    """The `wesley` process: run the command, then exit with its code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if _command(args) in BATCH:
        gc.disable()
    code = run(args)
    # The process ends here. Interpreter shutdown runs the cyclic collector over every object
    # still alive (the imported modules, a whole parsed schema): for a short command, a
    # `wesley transform` of a small schema, that was a fifth of the process's CPU, spent to
    # free memory the process hands back anyway. Frozen objects are exempt from it; shutdown
    # is otherwise unchanged (atexit handlers, finally blocks, flushing stdout and stderr).
    gc.freeze()
    sys.exit(code)
