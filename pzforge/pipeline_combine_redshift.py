"""Hooks of the Combine Redshift Catalogs pipeline (see pzforge.pipelines)."""

from __future__ import annotations

from typing import Any

from pzforge.config import check_margin_covers_radius
from pzforge.errors import ConfigError
from pzforge.ingest import preflight  # noqa: F401  (the pipeline's preflight hook)


def check_config(config: dict[str, Any]) -> None:
    names = [c["name"] for c in config["catalogs"]]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"two catalogs are named {name!r}; catalog names must be unique")
        seen.add(name)
    check_margin_covers_radius(config, "pairs")
    for cat in config["catalogs"]:
        if "survey" not in cat and not cat.get("flags_homogenized"):
            raise ConfigError(
                f"catalog {cat['name']!r}: say where its survey name comes from "
                "(survey: {column: NAME} or survey: {value: SURVEY})"
            )


def input_paths(config: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    pairs = [(cat, "path") for cat in config["catalogs"]]
    pairs.append((config["homogenization"], "surveys_file"))
    return pairs
