"""Hooks of the ``embedding_task`` pipeline (see ``pzforge.pipelines``): its inputs are registry
products, resolved once on the submitting host for the run's user (jobs read the saved answer)."""

from __future__ import annotations

from typing import Any

from pzforge.errors import ConfigError, InputDataError, PzforgeError


def check_config(config: dict[str, Any]) -> None:
    params = config["params"]
    if params.get("transformer", "umap") != "umap":
        raise ConfigError(f"params.transformer {params['transformer']!r}: only umap is supported")


def input_paths(config: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    return []  # products only


def task_inputs(config: dict[str, Any]) -> dict[str, Any]:
    """The training product (and the production one) as the job reads them: main file, checksum,
    feature columns; one clear line when a product is absent, hidden or cannot be embedded."""
    import registry
    from pzforge.embedding.task.support import task_input
    from pzforge.products.references import current_reader
    from pzforge.products.site import open_registry

    reg = open_registry(config["registry"]["url"], user=current_reader(), auto_create=False)
    features = config["params"].get("features")
    out: dict[str, Any] = {"production": None}
    for where, ref in (("input", config["input"]["product"]),
                       ("production", (config.get("production") or {}).get("product"))):  # fmt: skip
        if ref is None:
            continue
        try:
            if where == "input":
                out["training"] = task_input(reg, ref, features)
            else:
                out["production"] = task_input(reg, ref, fit=False)
        except (PzforgeError, registry.RegistryError) as exc:
            raise InputDataError(f"{where}.product {ref!r}: {exc}") from exc
    return out


def preflight(config: dict[str, Any]) -> None:
    task_inputs(config)


def summary_tables(summary: dict[str, Any]) -> list:
    return []
