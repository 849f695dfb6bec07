"""What the Snakefile and the workflows call: set a run up, resolve inputs once, finish it.

Snakemake parses the workflow in its main process *and* again in every job process (locally and
on SLURM nodes). Anything that touches the registry or checks inputs happens only in the main
process (the submitting host); job processes read the answers it saved with the run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from pzforge import pipelines
from pzforge.faults import checkpoint
from pzforge.io import read_json, write_json
from pzforge.paths import RunLayout, run_dir
from pzforge.products.references import reading_as
from pzforge.provenance.ingest import finish_run
from pzforge.provenance.recording import ensure_run_id, record_run_start, run_user
from pzforge.workflow.jobs import ERROR_MARK

PREFLIGHT_DONE_ENV = "PZFORGE_PREFLIGHT_DONE"  # set by the runner to the run id it checked


def setup_run(workflow: Any, config: dict[str, Any]) -> tuple[str, RunLayout]:
    """Validate the config (defaults filled in place), check the inputs on the submitting host,
    and fix the run id. Returns the pipeline name and the run's folders."""
    config.update(pipelines.validate(config))
    pipeline = config["pipeline"]
    run_id = ensure_run_id()
    # `pzforge run` checked the inputs before starting Snakemake; plain `snakemake` did not.
    if workflow.is_main_process and os.environ.get(PREFLIGHT_DONE_ENV) != run_id:
        with reading_as(run_user(run_dir(run_id))):
            pipelines.preflight(pipeline, config)
    return pipeline, RunLayout(config["run_name"])


def on_submit_host(workflow: Any, name: str, compute: Callable[[], Any]) -> Any:
    """Compute a value (e.g. a registry product's main file) once, on the submitting host.

    The main process computes it and saves it with the run (``.pzforge/runs/<run>/resolved/
    <name>.json``); job processes read it back, so nodes never need the registry and every job
    sees what the plan was made with. JSON-serialisable values only.
    """
    folder = run_dir(ensure_run_id())
    path = folder / "resolved" / f"{name}.json"
    if not workflow.is_main_process and path.is_file():
        return read_json(path)
    with reading_as(run_user(folder)):  # product references are read for the run's user
        value = compute()
    if workflow.is_main_process:
        write_json(value, path)
    return value


def start(
    workflow: Any, config: dict[str, Any], pipeline: str, manifests: list[str], outputs: list[str]
) -> None:
    """Snakefile ``onstart``: record the run's plan (the jobs the DAG will run and why, what it
    will register, its final outputs)."""
    record_run_start(workflow, config, pipeline, manifests, outputs)


def finish(config: dict[str, Any], status: str, logfile: Any) -> None:
    """Snakefile ``onsuccess``/``onerror``: ingest provenance (and register products on success);
    a failure to record is one clear line, not a traceback hiding the run's outcome."""
    checkpoint("finish")
    try:
        summary = finish_run(config, status, logfile=logfile)
    except Exception as exc:
        print(f"{ERROR_MARK} recording the run failed: {exc}", file=sys.stderr)
        raise
    for r in summary["products"]:
        state = "unchanged" if r.get("unchanged") else "registered"
        print(f"pzforge: {state} product {r['internal_name']} (id {r['id']})", file=sys.stderr)
    print(f"pzforge: run {summary['run_id']} recorded ({status})", file=sys.stderr)
