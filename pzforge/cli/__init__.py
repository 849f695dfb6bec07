"""The ``pzforge`` command: one module per command group, one shared renderer (``render``).

Commands are thin: parse, call one library function, render. User errors print one line
without a traceback and exit 1 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pzforge.cli import run as run_cmds
from pzforge.cli.db import db_app
from pzforge.cli.products import products_app
from pzforge.cli.provenance import provenance_app
from pzforge.cli.render import error_line
from pzforge.cli.surveys import surveys_app
from pzforge.errors import PzforgeError

app = typer.Typer(
    help="pzforge: photo-z data-product pipelines (Snakemake + HATS/lsdb) with a product registry.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(surveys_app, name="surveys")
app.add_typer(products_app, name="products")
app.add_typer(db_app, name="db")
app.add_typer(provenance_app, name="provenance")
app.command("run")(run_cmds.run)
app.command("demo")(run_cmds.demo)
app.command("validate-config")(run_cmds.validate_config)

_state = {"debug": False}


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    _state["debug"] = debug


def main() -> None:
    """Entry point: user errors print one line (no traceback unless --debug) and exit 1."""
    debug = _state["debug"] or "--debug" in sys.argv
    try:
        code = app(standalone_mode=False)  # returns Exit codes instead of raising them
        if isinstance(code, int) and code:
            sys.exit(code)
    except PzforgeError as exc:
        if debug:
            raise
        error_line(str(exc))
        sys.exit(1)
    except Exception as exc:  # registry errors and click usage errors
        import click

        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        if type(exc).__module__.startswith("registry") and not debug:
            error_line(str(exc))
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
