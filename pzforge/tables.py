"""Tables and short paragraphs as data, rendered as text (Rich) or as HTML (the report's template).

Run summaries (combine, training set, embedding), the CLI and the provenance report describe
what they show with these two blocks, so the same numbers read the same everywhere:

- ``Table``: a title, column names and rows (numbers are right-aligned);
- ``Lines``: a title and lines of prose (``outputs:`` and the paths).

Text never breaks a line inside a value: ``render_text`` lays each block out at its natural
width (summary files, logs, pipes). A console of fixed width (a terminal) folds a long value
inside its cell instead. Every cell is plain text: brackets in data (``[draft]``) are never
read as Rich markup.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table as RichTable
from rich.text import Text

NATURAL_WIDTH = 10_000  # "no width": wider than any line a summary or a table makes
FOLD = 16  # a text column folded narrower than this reads badly: split the table instead


@dataclass
class Table:
    """Rows under column names; ``header=False`` for key-value lists."""

    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)
    title: str | None = None
    header: bool = True
    note: str | None = None  # one line under the table

    def numeric(self, i: int) -> bool:
        """Column ``i`` holds numbers only (blank cells aside): right-aligned."""
        values = [r[i] for r in self.rows if i < len(r) and r[i] not in (None, "", "-")]
        return bool(values) and all(_is_number(v) for v in values)


@dataclass
class Lines:
    """A title and lines of text (a list of paths, a sentence)."""

    lines: list[str]
    title: str | None = None


Block = Table | Lines


def key_values(items: Iterable[tuple[str, Any]], title: str | None = None) -> Table:
    """A two-column table without header: ``key  value``."""
    return Table(["", ""], [[k, v] for k, v in items], title=title, header=False)


def _is_number(value: Any) -> bool:
    """A number, or text that reads as one ("0.9803", "95.7%")."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(str(value).strip().removesuffix("%").replace(",", ""))
    except ValueError:
        return False
    return True


def cell(value: Any) -> str:
    """A cell as text: None is '-', floats keep up to 4 significant decimals."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.0f}"
    return str(value)


def rich_table(table: Table) -> RichTable:
    """The rows as a Rich table (title and note apart: ``renderable``): plain-text cells (no
    markup), long values fold inside their cell."""
    out = RichTable(
        show_header=table.header,
        header_style="bold",
        box=box.SIMPLE_HEAD if table.header else None,
        pad_edge=False,
        show_edge=False,
    )
    for i, name in enumerate(table.columns):
        out.add_column(
            name,
            justify="right" if table.numeric(i) else "left",
            overflow="fold",
            style="bold" if not table.header and i == 0 else None,
        )
    for row in table.rows:
        out.add_row(*(Text(cell(v)) for v in row))
    return out


def split_columns(table: Table, width: int) -> list[Table]:
    """The table as several tables of the columns that fit in ``width``, each repeating the
    first column (as pandas wraps a wide frame): a narrow terminal shows every value whole
    instead of squeezing a dozen columns to a few letters each. One table when it fits."""

    def need(i: int) -> int:
        cells = [len(cell(r[i])) for r in table.rows if i < len(r)]
        return max([len(table.columns[i]), *cells]) + 3

    n = len(table.columns)
    # text folds inside its cell (down to FOLD characters, a few words); numbers do not
    squeezed = sum(need(i) if table.numeric(i) else min(need(i), FOLD) for i in range(n))
    if not table.header or n < 3 or squeezed <= width:
        return [table]
    budget = max(width - need(0), 20)
    chunks: list[list[int]] = [[]]
    used = 0
    for i in range(1, n):
        if chunks[-1] and used + need(i) > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(i)
        used += need(i)
    if len(chunks) == 1:
        return [table]
    title = table.title or ""
    return [
        Table(
            [table.columns[0], *(table.columns[i] for i in chunk)],
            [[r[0], *(r[i] if i < len(r) else "" for i in chunk)] for r in table.rows],
            f"{title} (columns {k + 1}/{len(chunks)})".strip(),
            note=table.note if k == len(chunks) - 1 else None,
        )
        for k, chunk in enumerate(chunks)
    ]


def renderable(block: Block) -> RenderableType:
    """Title line, then the table (or the lines), then the note: a title is never squeezed to
    the width of its table."""
    parts: list[RenderableType] = []
    if block.title:
        parts.append(Text(block.title, style="bold"))
    if isinstance(block, Table):
        parts.append(rich_table(block))
        if block.note:
            parts.append(Text(block.note))
    else:
        parts += [Text(line) for line in block.lines]
    return Group(*parts)


def print_blocks(console: Console, blocks: Sequence[Block]) -> None:
    """Blocks on a console, a blank line between them."""
    for i, block in enumerate(blocks):
        if i:
            console.print()
        console.print(renderable(block))


def render_text(blocks: Sequence[Block], width: int | None = None) -> str:
    """Plain text of the blocks (no colours); ``width`` None: every block at its natural width,
    so no line is broken inside a value. Trailing spaces are removed."""
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width or NATURAL_WIDTH,
        color_system=None,
        force_terminal=False,
        force_jupyter=False,
        markup=False,
        highlight=False,
        emoji=False,
        legacy_windows=False,
    )
    print_blocks(console, blocks)
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


def to_dict(block: Block) -> dict[str, Any]:
    """The block as JSON-ready data (what the report template and a web page read)."""
    if isinstance(block, Table):
        return {
            "kind": "table",
            "title": block.title,
            "columns": list(block.columns),
            "rows": [[cell(v) for v in row] for row in block.rows],
            "numeric": [block.numeric(i) for i in range(len(block.columns))],
            "header": block.header,
            "note": block.note,
        }
    return {"kind": "lines", "title": block.title, "lines": list(block.lines)}
