"""The user-facing pipelines and their per-pipeline hooks.

Each pipeline has a JSON schema (``config/schemas/<name>.schema.yaml``), a workflow
(``workflows/<name>.smk``) and a hooks module (``pzforge.pipeline_<name>``) that may define:

- ``check_config(config)``: cross-key rules the schema cannot express (raise ConfigError);
- ``input_paths(config)``: ``(container, key)`` pairs of config entries holding file paths
  (not product references), made absolute by ``pzforge run`` so a run can change directory;
- ``preflight(config)``: cheap checks of every input before any job runs (raise PzforgeError).

Hooks modules are imported lazily, so a pipeline's heavy dependencies are loaded only for it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

PIPELINES: dict[str, str] = {
    "combine_redshift": "Combine Redshift Catalogs: merge surveys, find and resolve duplicates.",
    "training_set": "Training Set Maker: crossmatch a reference redshift catalog with photometry.",
    "embedding": "Embedding: UMAP of photometric features with quality metrics vs a PCA baseline.",
}


def hooks(pipeline: str) -> ModuleType:
    return importlib.import_module(f"pzforge.pipeline_{pipeline}")


def check_config(pipeline: str, config: dict[str, Any]) -> None:
    fn = getattr(hooks(pipeline), "check_config", None)
    if fn:
        fn(config)


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


def on_submit_host(workflow: Any, name: str, compute: Callable[[], Any]) -> Any:
    """Compute a value (e.g. a registry product's main file) once, on the submitting host.

    Snakemake re-reads the workflow in every job process (locally and on SLURM nodes). A value
    that needs the registry is computed by the main process and saved with the run
    (``.pzforge/runs/<run>/resolved/<name>.json``); jobs read it back, so nodes never need the
    registry and every job sees what the plan was made with. JSON-serialisable values only.
    """
    from pzforge.jobs import read_json, write_json
    from pzforge.provenance import ensure_run_id, run_dir

    path = run_dir(ensure_run_id()) / "resolved" / f"{name}.json"
    if not workflow.is_main_process and path.is_file():
        return read_json(path)
    value = compute()
    if workflow.is_main_process:
        write_json(value, path)
    return value
