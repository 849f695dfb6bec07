"""The one renderer every command prints through: tables (Rich), JSON or CSV, and error lines.

Pipes and logs get a wide, fixed width so lines are not folded; a terminal gets its own width.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

out = Console(width=None if sys.stdout.isatty() else 160)  # pipes and logs: no folding
err = Console(stderr=True)


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


def render(rows: list[dict[str, Any]], fmt: Format, columns: list[str], title: str = "") -> None:
    """Rows as a table, JSON or CSV (only ``columns``, in that order, for table and CSV)."""
    if fmt is Format.json:
        out.print_json(json.dumps(rows, default=str))
        return
    if fmt is Format.csv:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        print(buf.getvalue(), end="")
        return
    table = Table(title=title or None)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    out.print(table)


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
