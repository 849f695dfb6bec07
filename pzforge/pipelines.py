"""The user-facing pipelines, and running a config through its schema and its pipeline's hooks.

Each pipeline has a JSON schema (``config/schemas/<name>.schema.yaml``), a workflow
(``workflows/<name>.smk``) and a package (``pzforge.<name>``) whose ``hooks`` module may define:

- ``check_config(config)``: cross-key rules the schema cannot express (raise ConfigError);
- ``input_paths(config)``: ``(container, key)`` pairs of config entries holding file paths
  (not product references), made absolute by ``pzforge run`` so a run can change directory;
- ``preflight(config)``: cheap checks of every input before any job runs (raise PzforgeError);
  called on the submitting host only, never by job processes;
- ``summary_tables(summary)``: the run's ``results/<run_name>/summary.json`` as
  ``pzforge.tables`` blocks (what ``pzforge run`` prints and the provenance report shows).

Hooks modules are imported by name when needed, so a pipeline's heavy dependencies are loaded
only for it. ``python -m pzforge.pipelines > config/README.md`` regenerates the key reference.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from pzforge.config import loading, reference

PIPELINES: dict[str, str] = {
    "combine_redshift": "Combine Redshift Catalogs: merge surveys, find and resolve duplicates.",
    "training_set": "Training Set Maker: crossmatch a reference redshift catalog with photometry.",
    "embedding": "Embedding: UMAP of photometric features with quality metrics vs a PCA baseline.",
    "embedding_task": "Embedding task: a product's UMAP map (hydro-vis's API), production data on it.",
}
# Pipelines a site starts for its own requests (POST /api/v1/embeddings queues an embedding_task
# run): runnable with `pzforge run`, not offered as pipelines to submit through the site.
TASK_PIPELINES = frozenset({"embedding_task"})


def submittable() -> dict[str, str]:
    """The pipelines a site's users submit runs of (name -> description)."""
    return {n: d for n, d in PIPELINES.items() if n not in TASK_PIPELINES}


_PACKAGES = {
    "combine_redshift": "combine",
    "training_set": "training_set",
    "embedding": "embedding",
    "embedding_task": "embedding.task",
}


def hooks(pipeline: str) -> ModuleType:
    loading.schema_path(pipeline)  # an unknown pipeline is a ConfigError naming the known ones
    return importlib.import_module(f"pzforge.{_PACKAGES[pipeline]}.hooks")


def validate(config: dict[str, Any], pipeline: str | None = None) -> dict[str, Any]:
    """Schema (defaults filled) plus the pipeline's cross-key rules; returns the resolved config."""
    name = loading.pipeline_of(config, pipeline)
    resolved = loading.validate_schema(config, name)
    fn = getattr(hooks(name), "check_config", None)
    if fn:
        fn(resolved)
    return resolved


def load(
    paths: Iterable[str | Path],
    overrides: Iterable[str] = (),
    pipeline: str | None = None,
    *,
    base_dir: Path | None = None,
) -> dict[str, Any]:
    """Read and merge config files (later files win), apply overrides, validate.

    A relative input path resolves against the directory of the config file that sets it
    (``base_dir`` instead, when given); ``--set`` values are left as given (the runner resolves
    them against the current directory).
    """
    merged: dict[str, Any] = {}
    for path in paths:
        data = loading.read_yaml(path)
        name = loading.pipeline_of(data, pipeline or merged.get("pipeline"))
        folder = base_dir if base_dir is not None else Path(path).resolve().parent
        _absolutize_file_paths(name, data, folder)
        merged = loading.deep_merge(merged, data)
    return validate(loading.apply_overrides(merged, overrides), pipeline)


def _absolutize_file_paths(pipeline: str, data: dict[str, Any], base: Path) -> None:
    """The input paths one config file sets, made absolute against ``base`` (in place).

    The file may be partial (one of several): missing sections are simply not there.
    """
    fn = getattr(hooks(pipeline), "input_paths", None) if pipeline in PIPELINES else None
    if fn is None:
        return
    try:
        pairs = fn(defaultdict(dict, data))
    except (KeyError, TypeError, AttributeError):  # a malformed section: validation reports it
        return
    for container, key in pairs:
        value = container.get(key) if isinstance(container, dict) else None
        if isinstance(value, str) and value:
            p = Path(value).expanduser()
            container[key] = str(p if p.is_absolute() else (base / p).resolve())


def preflight(pipeline: str, config: dict[str, Any]) -> None:
    fn = getattr(hooks(pipeline), "preflight", None)
    if fn:
        fn(config)


def absolutize_paths(pipeline: str, config: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make every input path in the config absolute (relative to ``base``)."""
    fn = getattr(hooks(pipeline), "input_paths", None)
    for container, key in fn(config) if fn else []:
        value = container.get(key)
        if isinstance(value, str) and value:
            p = Path(value).expanduser()
            container[key] = str(p if p.is_absolute() else (base / p).resolve())
    return config


SUMMARY_FILE = "summary.json"  # every pipeline's summary, in results/<run_name>/


def summary_tables(pipeline: str, summary: dict[str, Any]) -> list | None:
    """A run's summary (the JSON of ``SUMMARY_FILE``) as tables, or None if the pipeline has none."""
    fn = getattr(hooks(pipeline), "summary_tables", None)
    return fn(summary) if fn else None


def config_reference() -> str:
    """config/README.md: every key of every pipeline's schema."""
    return reference.render(PIPELINES)


if __name__ == "__main__":
    print(config_reference(), end="")
