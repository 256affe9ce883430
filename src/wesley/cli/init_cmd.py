"""`wesley init`: write a starter schema.graphql and wesley.toml."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import click

from wesley.cli.common import global_options, output
from wesley.errors import input_error
from wesley.files import write_atomic

STARTER_FILES = ("schema.graphql", "wesley.toml")


@click.command("init")
@click.option(
    "--dir",
    "directory",
    default=".",
    type=click.Path(file_okay=False),
    help="Where to write the files (created if missing).",
)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@global_options
@click.pass_context
def init(ctx: click.Context, directory: str, force: bool) -> None:
    """Write a starter schema.graphql and wesley.toml."""
    out = output(ctx)
    target = Path(directory)
    existing = [name for name in STARTER_FILES if (target / name).exists()]
    if existing and not force:
        raise input_error(
            "FILE_EXISTS",
            f"{', '.join(str(target / n) for n in existing)} already exist(s)",
            "nothing was written; pass --force to overwrite, or --dir for another folder",
        )
    written = []
    for name in STARTER_FILES:
        text = resources.files("wesley.templates").joinpath(name).read_text(encoding="utf-8")
        write_atomic(target / name, text)
        written.append(str(target / name))
        out.info(f"wrote {target / name}")
    out.info(f"next: wesley transform --schema {target / 'schema.graphql'}")
    out.result({"written": written})
