"""The ``pzforge`` command: one module per command group, one shared renderer (``render``).

Commands are thin: parse, call one library function, render. User errors print one line
without a traceback and exit 1 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import sys
from typing import Annotated

import click
import typer

from pzforge.cli import run as run_cmds
from pzforge.cli import site as site_cmds
from pzforge.cli.analyses import analyses_app, embeddings_app
from pzforge.cli.db import db_app
from pzforge.cli.products import products_app
from pzforge.cli.provenance import provenance_app
from pzforge.cli.render import error_line
from pzforge.cli.surveys import surveys_app
from pzforge.cli.users import users_app
from pzforge.errors import PzforgeError
from registry.errors import RegistryError

app = typer.Typer(
    help="pzforge: photo-z data-product pipelines (Snakemake + HATS/lsdb) with a product registry.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(surveys_app, name="surveys")
app.add_typer(products_app, name="products")
app.add_typer(db_app, name="db")
app.add_typer(provenance_app, name="provenance")
app.add_typer(users_app, name="users")
app.add_typer(analyses_app, name="analyses")
app.add_typer(embeddings_app, name="embeddings")
app.command("run")(run_cmds.run)
app.command("demo")(run_cmds.demo)
app.command("validate-config")(run_cmds.validate_config)
app.command("serve")(site_cmds.serve)
app.command("worker")(site_cmds.worker)


def _one_line_summaries(typer_app: typer.Typer) -> None:
    """The command lists show a docstring's first paragraph as written, line breaks included
    (Typer's rich mode joins them only on the command's own page): join them here."""
    for info in typer_app.registered_commands:
        if info.short_help is None and info.callback is not None and info.callback.__doc__:
            info.short_help = " ".join(info.callback.__doc__.split("\n\n")[0].split())
    for group in typer_app.registered_groups:
        _one_line_summaries(group.typer_instance)


_one_line_summaries(app)


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    """--debug is read by ``main`` (tracebacks instead of one line)."""


def main() -> None:
    """Entry point: user errors print one line (no traceback unless --debug) and exit non-zero.

    Usage errors (unknown option, a value of the wrong type) exit 2, other user errors 1,
    Ctrl-C 130. Typer raises its own copy of click's exceptions; both families are handled.
    """
    debug = "--debug" in sys.argv
    try:
        code = app(standalone_mode=False)  # returns Exit codes instead of raising them
        if isinstance(code, int) and code:
            sys.exit(code)
    except (typer.Exit, click.exceptions.Exit) as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, click.exceptions.Abort, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except (click.ClickException, typer.TyperException) as exc:
        if debug or not hasattr(exc, "format_message"):
            raise
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        error_line(" ".join(exc.format_message().split()) + hint)
        sys.exit(getattr(exc, "exit_code", 2) or 2)
    except (PzforgeError, RegistryError) as exc:
        if debug:
            raise
        error_line(str(exc))
        sys.exit(1)
