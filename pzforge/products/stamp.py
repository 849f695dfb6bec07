"""The stamp a run writes inside its product files (see ``pzforge.io.stamps``)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pzforge.secrets import redact

# what does not change what a file holds: where it is registered, how the work is spread over
# workers, which other formats are exported
NOT_SCIENCE = ("registry", "dask", "refit")  # refit: the same fit again, the same file
PATH_KEYS = ("path", "surveys_file", "margin_cache", "moc", "file")
LIBRARIES = ("pzforge", "lsdb", "hats", "pyarrow")


def _where_free(value: Any, key: str = "") -> Any:
    """File locations by base name only: where a file is is not what it holds."""
    if isinstance(value, Mapping):
        return {k: _where_free(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_where_free(v, key) for v in value]
    if isinstance(value, str) and key in PATH_KEYS:
        return value.rstrip("/").rsplit("/", 1)[-1]
    return value


def config_digest(config: Mapping[str, Any]) -> str:
    """sha256 of the science sections of a resolved config (secrets masked, paths reduced to
    file names, keys sorted): the same on any machine for the same settings."""
    science = {k: _where_free(v, k) for k, v in config.items() if k not in NOT_SCIENCE}
    if isinstance(science.get("output"), Mapping):
        science["output"] = {k: v for k, v in science["output"].items() if k != "formats"}
    text = json.dumps(redact(science), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def make_stamp(
    config: Mapping[str, Any], pipeline: str, inputs: Iterable[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """pipeline, run name, product name, config digest, versions and inputs (products by id and
    internal name; files by name and format) — nothing that differs between identical runs."""
    product = (config.get("registry") or {}).get("product_name") or config.get("run_name", "")
    return {
        "pipeline": pipeline,
        "run_name": config.get("run_name", ""),
        "product": product,
        "config_sha256": config_digest(config),
        "software": versions(),
        "inputs": [dict(i) for i in inputs],
    }


def stamp_inputs(*locations: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Inputs as a stamp names them: products by id and internal name, files by name and format
    (``pzforge.products.references.locate`` answers)."""
    out = []
    for where in locations:
        if where.get("product_id") is not None:
            out.append(
                {
                    "product_id": where["product_id"],
                    "internal_name": where.get("internal_name") or where.get("product_name"),
                }
            )
        else:
            name = str(where.get("path", "")).rstrip("/").rsplit("/", 1)[-1]
            out.append({"name": name, "format": where.get("format")})
    return out
