"""Hooks of the Training Set Maker pipeline (see ``pzforge.pipelines``): cross-key rules, input
paths, and the checks made on the submitting host before any job runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pzforge import io
from pzforge.config import check_margin_covers_radius
from pzforge.errors import ConfigError, InputDataError
from pzforge.training_set.inputs import (
    check_photometry_columns,
    resolve_photometry,
    resolve_reference,
)


def check_config(config: dict[str, Any]) -> None:
    ref = config["reference"]
    if (ref.get("product") is None) == (ref.get("path") is None):
        raise ConfigError(
            "reference: give exactly one of reference.product (a registry id or internal name) "
            "and reference.path (a file or HATS catalog)"
        )
    sel = ref["selection"]
    if ref["columns"].get("z_flag") is None and sel["min_z_flag"] is not None:
        raise ConfigError(
            f"reference.columns.z_flag is null but reference.selection.min_z_flag is "
            f"{sel['min_z_flag']}: map reference.columns.z_flag to a homogenized flag column, or "
            "set reference.selection.min_z_flag: null to keep every row whatever its quality"
        )
    if ref["columns"].get("type") is None and sel["types"] is not None:
        raise ConfigError(
            f"reference.columns.type is null but reference.selection.types is {sel['types']}: "
            "map reference.columns.type to a homogenized type column (s, g, p), or set "
            "reference.selection.types: null to keep every type"
        )
    phot_in = config["photometry"]
    if (phot_in.get("product") is None) == (phot_in.get("path") is None):
        raise ConfigError(
            "photometry: give exactly one of photometry.product (a registry id or internal name) "
            "and photometry.path (a file or HATS catalog)"
        )
    if phot_in.get("margin_cache") and not phot_in["columns"].get("id"):
        raise ConfigError(
            "photometry.margin_cache (a HATS catalog used as it is) needs photometry.columns.id"
        )
    check_margin_covers_radius(config, "matches")
    phot, mags = config["photometry"], config["magnitudes"]
    if mags["non_detection"] == "upper_limit" and phot["quantity"] == "magnitude":
        raise ConfigError(
            "magnitudes.non_detection: upper_limit needs flux inputs (photometry.quantity: flux); "
            "with magnitudes use nan or sentinel"
        )
    if mags["non_detection"] == "upper_limit" and not phot.get("error_column"):
        raise ConfigError("magnitudes.non_detection: upper_limit needs photometry.error_column")
    dered = mags["dereddening"]
    if dered["enabled"]:
        if not phot.get("ebv_column"):
            raise ConfigError(
                "magnitudes.dereddening.enabled needs photometry.ebv_column (the E(B-V) column)"
            )
        missing = [b for b in phot["bands"] if b not in dered["coefficients"]]
        if missing:
            raise ConfigError(
                f"magnitudes.dereddening.coefficients has no value for band(s) {', '.join(missing)}"
            )
    split = config["split"]
    if split["method"] == "column" and not split.get("column"):
        raise ConfigError("split.method: column needs split.column (the column saying train/test)")
    if split["output"] == "products" and split["method"] == "none":
        raise ConfigError("split.output: products needs a split (split.method random or column)")
    colours = config["report"].get("colour_bands")
    if colours is not None and len(colours) != 3:
        raise ConfigError("report.colour_bands must name three bands [a, b, c] (a-b against c)")


def input_paths(config: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    phot = config["photometry"]
    return [(config["reference"], "path"), (phot, "path"), (phot, "margin_cache")]


def preflight(config: dict[str, Any]) -> None:
    """Inputs exist, formats are known, the photometry has every requested band's columns."""
    ref = config["reference"]
    try:
        resolve_reference(ref, config["registry"].get("url"))
    except InputDataError as exc:
        raise InputDataError(f"reference: {exc}") from exc
    try:
        location = resolve_photometry(config["photometry"], config["registry"].get("url"))
    except InputDataError as exc:
        raise InputDataError(f"photometry: {exc}") from exc
    phot = {**config["photometry"], **location}
    path, fmt = Path(location["path"]), location["format"]
    where = f"photometric catalog ({path})"
    if phot.get("margin_cache"):
        check_margin_cache(phot["margin_cache"], fmt, config["crossmatch"]["radius_arcsec"])
    if fmt in ("parquet", "hats", "csv"):  # cheap column listing; others are checked by the job
        available = io.list_columns(path, fmt)
        check_photometry_columns(phot, available, where)


def check_margin_cache(margin: str, fmt: str, radius: float) -> None:
    """An existing margin cache: the photometry is HATS, the cache exists and is wide enough."""
    if fmt != "hats":
        raise InputDataError(
            f"photometry.margin_cache is only for a HATS photometric catalog (this one is {fmt}); "
            "remove it to ingest and partition the photometry"
        )
    props = Path(margin) / "hats.properties"
    if not props.is_file():
        raise InputDataError(
            f"photometry.margin_cache {margin}: not a HATS margin cache (no hats.properties)"
        )
    values = dict(
        line.split("=", 1)
        for line in props.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    threshold = float(values.get("hats_margin_threshold", "nan"))
    if not threshold >= radius:
        raise InputDataError(
            f"photometry.margin_cache {margin}: margin threshold {threshold} arcsec is smaller than "
            f"crossmatch.radius_arcsec ({radius}); matches across tile borders would be missed. "
            "Build a wider margin cache or drop margin_cache to re-partition"
        )


def summary_tables(summary: dict[str, Any]) -> list:
    """The run's summary.json as tables (``pzforge run`` prints them, the provenance report
    shows them)."""
    from pzforge.training_set.summary import summary_tables as tables

    return tables(summary)
