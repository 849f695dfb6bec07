"""A product's lineage as a small SVG graph: what it came from on the left (nearest first), what
was made from it on the right, each box a link to that product's page. Drawn on the server
(no script), coloured with SVG attributes (the pages' CSP allows no inline styles)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

import registry

BOX_W, BOX_H, GAP_X, GAP_Y = 190, 34, 60, 12
MAX_PER_COLUMN = 6
MAX_DEPTH = 3


def _label(text: str, limit: int = 26) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def svg(p: registry.ProductInfo, up: list[dict[str, Any]], down: list[dict[str, Any]]) -> Markup:
    """The graph, or an empty string when the product has no lineage."""
    if not up and not down:
        return Markup("")
    columns: dict[int, list[dict[str, Any]]] = {0: [{"internal_name": p.internal_name, "me": 1}]}
    for rows, sign in ((up, -1), (down, 1)):
        for r in rows:
            if r["depth"] <= MAX_DEPTH:
                columns.setdefault(sign * r["depth"], []).append(r)
    order = sorted(columns)
    tallest = max(min(len(c), MAX_PER_COLUMN + 1) for c in columns.values())
    width = len(order) * BOX_W + (len(order) - 1) * GAP_X + 2
    height = tallest * (BOX_H + GAP_Y) + GAP_Y
    where: dict[tuple[int, int], tuple[float, float]] = {}
    parts = [
        f'<svg class="lineage-graph" role="group" aria-label="Lineage graph" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>Lineage of {escape(p.internal_name)}</title>",
    ]
    boxes = []
    for ci, key in enumerate(order):
        items = columns[key]
        shown = items[:MAX_PER_COLUMN]
        x = 1 + ci * (BOX_W + GAP_X)
        top = (height - len(shown) * (BOX_H + GAP_Y) + GAP_Y) / 2
        for i, item in enumerate(shown):
            y = top + i * (BOX_H + GAP_Y)
            where[(key, i)] = (x, y)
            name = str(item["internal_name"])
            me = "me" in item
            fill, stroke = ("#2f5f8a", "#2f5f8a") if me else ("#eef4fa", "#7d9fbf")
            colour = "#ffffff" if me else "#1d3b57"
            rect = (
                f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="5" '
                f'fill="{fill}" stroke="{stroke}"/>'
                f'<text x="{x + BOX_W / 2}" y="{y + BOX_H / 2 + 4}" text-anchor="middle" '
                f'font-size="12" fill="{colour}">{escape(_label(name))}</text>'
            )
            if me:
                boxes.append(rect)
            else:
                href = "/products/" + quote(name, safe="")
                boxes.append(f'<a href="{escape(href)}"><title>{escape(name)}</title>{rect}</a>')
        if len(items) > len(shown):
            y = top + len(shown) * (BOX_H + GAP_Y)
            boxes.append(
                f'<text x="{x + BOX_W / 2}" y="{y + 14}" text-anchor="middle" font-size="12" '
                f'fill="#555">+{len(items) - len(shown)} more (listed below)</text>'
            )
    lines = []
    for ci in range(len(order) - 1):
        a, b = order[ci], order[ci + 1]
        for i in range(min(len(columns[a]), MAX_PER_COLUMN)):
            for j in range(min(len(columns[b]), MAX_PER_COLUMN)):
                # every box touches the column nearer the product (depth links are transitive)
                if a < 0 and b < 0 and j:
                    continue
                if a > 0 and b > 0 and i:
                    continue
                x1, y1 = where[(a, i)]
                x2, y2 = where[(b, j)]
                lines.append(
                    f'<line x1="{x1 + BOX_W}" y1="{y1 + BOX_H / 2}" x2="{x2}" '
                    f'y2="{y2 + BOX_H / 2}" stroke="#7d9fbf" stroke-width="1.5" '
                    'marker-end="url(#arrow)"/>'
                )
    parts.append(
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#7d9fbf"/></marker>'
        "</defs>"
    )
    parts += lines + boxes + ["</svg>"]
    return Markup("".join(parts))
