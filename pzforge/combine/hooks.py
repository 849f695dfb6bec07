"""Hooks of the Combine Redshift Catalogs pipeline (see ``pzforge.pipelines``): cross-key rules,
input paths, and the checks made on the submitting host before any job runs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pzforge import io
from pzforge.combine.columns import COLUMNS, RESOLUTION_COLUMNS
from pzforge.config import check_margin_covers_radius
from pzforge.errors import ConfigError, InputDataError
from pzforge.paths import SHIPPED_SURVEYS_FILE


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
    union_extra_columns(config)
    unknown = [c for c in config["resolution"]["catalog_priority"] if c not in seen]
    if unknown:
        raise ConfigError(
            f"resolution.catalog_priority names {unknown[0]!r}, which is not a catalog; "
            f"catalogs: {', '.join(names)}"
        )


def catalog_priority(config: Mapping[str, Any]) -> list[str]:
    """Every catalog, best first: resolution.catalog_priority, then the order of ``catalogs:``."""
    listed = list(dict.fromkeys(config["resolution"]["catalog_priority"]))
    return listed + [c["name"] for c in config["catalogs"] if c["name"] not in listed]


def resolution_params(config: Mapping[str, Any]) -> dict[str, Any]:
    """The resolution section a run uses, with the full catalog priority spelled out (so that
    reordering ``catalogs:`` reruns the resolution)."""
    return dict(config["resolution"]) | {"catalog_priority": catalog_priority(config)}


def input_paths(config: Mapping[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """Config entries holding input paths (tolerates a partial config: one file of several)."""
    pairs = [(cat, "path") for cat in config.get("catalogs") or [] if isinstance(cat, dict)]
    if isinstance(config.get("homogenization"), dict):
        pairs.append((config["homogenization"], "surveys_file"))
    pairs += [(fp, "moc") for fp in config.get("footprints") or [] if isinstance(fp, dict)]
    return pairs


def surveys_files(config: Mapping[str, Any]) -> list[str]:
    """The survey rules the run uses: the shipped file, then the config's own file (which adds
    to and overrides the shipped rules survey by survey)."""
    own = config["homogenization"]["surveys_file"]
    return [str(SHIPPED_SURVEYS_FILE), *([own] if own else [])]


def footprint_files(config: Mapping[str, Any]) -> list[str]:
    """MOC files of the footprints (inputs of the write rule)."""
    return [fp["moc"] for fp in config["footprints"] if fp.get("moc")]


def union_extra_columns(config: Mapping[str, Any]) -> dict[str, str]:
    """Extra columns of all catalogs (each catalog's output carries all of them, null-filled).

    The same column declared with two different types is a ConfigError.
    """
    extra: dict[str, str] = {}
    for cat in config["catalogs"]:
        for name, kind in (cat.get("extra_columns") or {}).items():
            if name in extra and extra[name] != kind:
                raise ConfigError(
                    f"extra column {name!r} is {extra[name]} in one catalog and {kind} in "
                    f"catalog {cat['name']!r}; give it one type"
                )
            extra[name] = kind
    clash = sorted(set(extra) & (set(COLUMNS) | set(RESOLUTION_COLUMNS)))
    if clash:
        raise ConfigError(
            f"extra column {clash[0]!r} has the name of a standard output column; map it in "
            "`columns:` instead, or rename it"
        )
    return dict(sorted(extra.items()))


def preflight(config: dict[str, Any], base: Path | None = None) -> None:
    """Cheap checks of every input before any job runs: the file exists, is not empty, and its
    format is known. Errors name the catalog and the file."""
    for spec in config["catalogs"]:
        path = Path(spec["path"])
        if base is not None and not path.is_absolute():
            path = base / path
        where = f"catalog {spec['name']!r}"
        if not path.exists():
            raise InputDataError(
                f"{where}: {path}: file not found; check the catalog's `path` in the config"
            )
        if path.is_file() and path.stat().st_size == 0:
            raise InputDataError(f"{where}: {path}: the file is empty")
        try:
            io.detect_format(path, spec.get("format"))
        except InputDataError as exc:
            raise InputDataError(f"{where}: {exc}") from exc


def qa_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings the QA report uses and shows (the params of its rule)."""
    return {
        "radius_arcsec": config["crossmatch"]["radius_arcsec"],
        "delta_z": config["resolution"]["delta_z"],
        "mode": config["resolution"]["mode"],
        "ties": config["resolution"]["ties"],
        "seed": config["resolution"]["seed"],
        "max_points": config["qa"]["max_points"],
    }
