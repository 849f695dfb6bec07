"""Hooks of the embedding pipeline (see ``pzforge.pipelines``) and where its input comes from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pzforge import io
from pzforge.embedding.fit import N_NEIGHBORS_RANGE
from pzforge.embedding.pipeline import needed_columns
from pzforge.errors import ConfigError, InputDataError
from pzforge.paths import ensure_run_id
from pzforge.products.references import locate


def check_config(config: dict[str, Any]) -> None:
    src = config["input"]
    if bool(src.get("product")) == bool(src.get("path")):
        raise ConfigError(
            "input: give exactly one of input.product (registry id or internal name) and "
            "input.path (a catalog file)"
        )
    f = config["features"]
    n_mags = len(f["magnitudes"]) + len(f["fluxes"])
    if f["magnitudes"] and f["fluxes"]:
        raise ConfigError(
            "features: give magnitudes or fluxes, not both (colours need one photometric system)"
        )
    if n_mags == 1:
        raise ConfigError("features: colours need at least two magnitude (or flux) columns")
    n_colours = n_mags * (n_mags - 1) // 2 if f["colours"] == "all_pairs" else max(n_mags - 1, 0)
    n_features = len(f["columns"]) + n_colours + (1 if f["include_magnitude"] else 0)
    if n_features < 2:
        raise ConfigError(
            "features: at least two features are needed (features.columns, or two or more "
            "features.magnitudes / features.fluxes to make colours)"
        )
    ref = f["include_magnitude"]
    if ref and ref not in f["magnitudes"] + f["fluxes"]:
        raise ConfigError(
            f"features.include_magnitude {ref!r} must be one of features.magnitudes / "
            "features.fluxes"
        )
    size = config["sampling"]["sample_size"]
    n_nb = config["umap"]["n_neighbors"]
    if n_nb >= size:
        raise ConfigError(
            f"umap.n_neighbors ({n_nb}) must be smaller than sampling.sample_size ({size}); "
            f"allowed n_neighbors: {N_NEIGHBORS_RANGE[0]}-{min(N_NEIGHBORS_RANGE[1], size - 1)}"
        )
    m = config["metrics"]
    rank = min(m["rank_sample_size"], size)
    if max(m["k"]) * 2 >= rank:
        raise ConfigError(
            f"metrics.k ({max(m['k'])}) must be below half of the rank-metric sample "
            f"(min(metrics.rank_sample_size, sampling.sample_size) = {rank})"
        )
    if m["knn_k"] >= size:
        raise ConfigError(f"metrics.knn_k ({m['knn_k']}) must be below sampling.sample_size")
    if m["photoz_k"] * m["photoz_folds"] >= size:
        raise ConfigError(
            f"metrics.photoz_k x metrics.photoz_folds ({m['photoz_k']} x {m['photoz_folds']}) "
            f"must be below sampling.sample_size ({size})"
        )
    if (
        len(config["stability"]["seeds"])
        and config["umap"]["random_state"] in config["stability"]["seeds"]
    ):
        raise ConfigError(
            f"stability.seeds must differ from umap.random_state ({config['umap']['random_state']})"
        )


def input_paths(config: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    return [(config["input"], "path")]


def resolve_source(config: dict[str, Any]) -> dict[str, Any]:
    """The input file: the config's path, or the main file of a registry product.

    Returns path, format, hdf5_key, and product_id / product_name when it is a product.
    """
    src = config["input"]
    if not src.get("product") and not Path(src["path"]).exists():
        raise InputDataError(f"{src['path']}: input file not found; check input.path")
    where = locate(src, config["registry"]["url"], "input")
    out: dict[str, Any] = {"hdf5_key": src.get("hdf5_key"), "product_id": where["product_id"]}
    out |= {"path": where["path"], "format": where["format"]}
    if where["product_id"] is not None:
        out["product_name"] = where["internal_name"]
    return out


def preflight(config: dict[str, Any]) -> None:
    """The input exists, is readable and has every configured column."""
    src = resolve_source(config)
    available = io.list_columns(src["path"], src["format"], hdf5_key=src["hdf5_key"])
    for col in needed_columns(config["columns"], config["features"]):
        if col not in available:
            raise InputDataError(
                f"{src['path']}: column {col!r} (from the config) not found; columns are: "
                f"{', '.join(available[:60])}"
            )


def refit_token(config: dict[str, Any], previous: str | Path) -> str:
    """The fit rule's ``refit`` param: the run id when ``refit: true`` (forcing a new fit).

    Otherwise the token of the last fit (read from ``previous``, which the fit rule writes), so a
    run after a refit run, with the same settings, reuses that fit instead of fitting again.
    """
    if config.get("refit"):
        return ensure_run_id()
    previous = Path(previous)
    return previous.read_text().strip() if previous.is_file() else ""


def summary_tables(summary: dict[str, Any]) -> list:
    """The run's summary.json as tables (``pzforge run`` prints them, the provenance report
    shows them)."""
    from pzforge.embedding.pipeline import summary_tables as tables

    return tables(summary)
