"""Render config/README.md from the JSON schemas, so the documentation lists every key.

``python -m pzforge.pipelines > config/README.md``; a test checks the file is up to date.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pzforge.config.loading import load_schema

HEADER = """# Configuration reference

Generated from `config/schemas/*.schema.yaml` by `python -m pzforge.pipelines`; do not edit by hand.
Science settings only: threads, memory, SLURM partition and account live in `profiles/`.
Override any key on the command line with `--set KEY=VALUE` (catalog keys: `catalogs.NAME.KEY=VALUE`).
`config/surveys.yaml` holds the per-survey quality-flag rules (`pzforge surveys explain SURVEY`).
"""


def _rows(schema: dict[str, Any], prefix: str = "") -> list[tuple[str, str, str, str]]:
    rows = []
    props = schema.get("properties", {})
    if schema.get("type") == "array" and "items" in schema:
        return _rows(schema["items"], prefix + "[]")
    for name, sub in props.items():
        path = f"{prefix}.{name}" if prefix else name
        kind = sub.get("type", "oneOf" if "oneOf" in sub else "")
        kind = " or ".join(kind) if isinstance(kind, list) else kind
        if "enum" in sub:
            kind += ": " + ", ".join(json.dumps(v) for v in sub["enum"])
        default = (
            json.dumps(sub["default"])
            if "default" in sub
            else "(required)"
            if name in schema.get("required", [])
            else ""
        )
        rows.append((path, kind, default, " ".join(sub.get("description", "").split())))
        if sub.get("type") == "object" or sub.get("type") == "array":
            rows.extend(_rows(sub, path))
    return rows


def render(pipelines: Iterable[str]) -> str:
    """The reference page of every key of ``pipelines``' schemas, in that order."""
    parts = [HEADER]
    for pipeline in pipelines:
        schema = load_schema(pipeline)
        parts.append(
            f"\n## Pipeline `{pipeline}`\n\n{' '.join(schema.get('description', '').split())}\n"
        )
        parts.append("| key | type | default | meaning |\n|---|---|---|---|")
        for path, kind, default, desc in _rows(schema):
            parts.append(f"| `{path}` | {kind} | `{default}` | {desc} |".replace("``", ""))
    return "\n".join(parts) + "\n"
