"""The one renderer every command prints through: tables (Rich), records, JSON or CSV, errors.

- Nothing that comes from users or data is read as Rich markup: the consoles read no markup, so
  ``[draft]`` or ``output.formats=[parquet]`` print as they are. Our own styling goes through
  ``styled`` (a markup template whose values are escaped) or Rich ``Text`` objects.
- A terminal gets its own width and long values fold inside their cells (nothing is cut); a pipe
  or a log gets the natural width of the content, so no line is broken inside a value.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.text import Text

from pzforge import tables
from pzforge.tables import NATURAL_WIDTH


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(
        stderr=stderr,
        width=None if tty else NATURAL_WIDTH,  # pipes and logs: never fold a line
        markup=False,
        highlight=False,
        emoji=False,
    )


out = _console()
err = _console(stderr=True)


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--registry", envvar="PZFORGE_REGISTRY_URL", help="SQLAlchemy URL of the registry."
    ),
]


def styled(template: str, *values: Any) -> Text:
    """Our markup with user values escaped: ``styled("[bold]run[/bold] {}", run_id)``."""
    return Text.from_markup(template.format(*(escape(str(v)) for v in values)))


def say(*parts: Any) -> None:
    """Print plain text or ``Text`` (never markup) on stdout."""
    out.print(*parts)


def print_json(data: Any) -> None:
    """Valid JSON on stdout (not wrapped, whatever the width)."""
    out.print_json(json.dumps(data, default=str))


def print_csv(rows: list[dict[str, Any]], columns: list[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    print(buf.getvalue(), end="")


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def emit(renderable: RenderableType) -> None:
    """Print on stdout: at the terminal's width, or in a pipe at the natural width without
    trailing spaces (no line folded, nothing padded)."""
    if out.is_terminal:
        out.print(renderable)
        return
    with out.capture() as captured:
        out.print(renderable)
    text = "\n".join(line.rstrip() for line in captured.get().splitlines())
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def render(rows: list[dict[str, Any]], fmt: Format, columns: list[str], title: str = "") -> None:
    """Rows as a table, JSON or CSV (only ``columns``, in that order, for table and CSV)."""
    if fmt is Format.json:
        print_json(rows)
    elif fmt is Format.csv:
        print_csv(rows, columns)
    else:
        render_wide(rows, columns, title)


def render_record(items: Sequence[tuple[str, Any]], title: str = "") -> None:
    """One record vertically: ``key  value`` lines, long values folding under themselves."""
    block = tables.key_values([(k, "-" if v is None else v) for k, v in items], title or None)
    emit(tables.renderable(block))


def emit_table(block: tables.Table) -> None:
    """A table: in a terminal too narrow for it, split into tables of the columns that fit
    (each repeating the first column); in a pipe, one table at its natural width."""
    parts = tables.split_columns(block, out.width) if out.is_terminal else [block]
    for i, part in enumerate(parts):
        if i:
            out.print()
        emit(tables.renderable(part))


def render_wide(rows: list[dict[str, Any]], columns: list[str], title: str = "") -> None:
    """Many columns (a data frame): see ``emit_table``."""
    emit_table(tables.Table(columns, [[_cell(r.get(c)) for c in columns] for r in rows], title))


def print_blocks(blocks: Sequence[tables.Block]) -> None:
    """Summary blocks (``pzforge.tables``) at the console's width, a blank line between."""
    for i, block in enumerate(blocks):
        if i:
            out.print()
        if isinstance(block, tables.Table):
            emit_table(block)
        else:
            emit(tables.renderable(block))


def error_line(message: str) -> None:
    """One unwrapped line on stderr (logs and tests read it whole)."""
    print(f"error: {message}", file=sys.stderr, flush=True)


def registry_at(url: str | None):
    """The registry a command works on: a pzforge site when PZFORGE_URL and PZFORGE_TOKEN are
    set (and no other --registry was given), else the local one (its URL option, else
    PZFORGE_REGISTRY_URL, else ./pzforge_registry.sqlite), as the OS user."""
    import os

    from pzforge.products.site import REGISTRY_URL_ENV, open_registry

    site = os.environ.get("PZFORGE_URL") and os.environ.get("PZFORGE_TOKEN")
    if site and (url is None or url == os.environ.get(REGISTRY_URL_ENV)):
        from pzforge.client import remote_registry_from_env

        return remote_registry_from_env()
    return open_registry(url)


def confirm(question: str, *, default: bool = False) -> bool:
    """Ask on a terminal; with no terminal (a pipe, a batch job) fail clearly instead."""
    from pzforge.errors import PzforgeError

    if not sys.stdin.isatty():
        raise PzforgeError(f"{question} needs an answer, and there is no terminal: pass --yes")
    return typer.confirm(question, default=default)
