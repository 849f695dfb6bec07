"""Where things are: the project's own files, and the layout of a run's working directory.

This is the only module that spells these paths; the workflows (``rules/common.smk``), the
runner, provenance and registration all ask it.

A run named ``NAME`` in working directory ``W`` writes::

    W/results/NAME/        outputs (products/<key>.json: manifests; registry/products.json: receipts)
    W/logs/NAME/<rule>/    one log per job
    W/benchmarks/NAME/     Snakemake benchmark files
    W/.pzforge/runs/<id>/  the run's resolved config, plan, job sidecars (provenance)
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SNAKEFILE = PROJECT_ROOT / "Snakefile"
CONFIG_DIR = PROJECT_ROOT / "config"
SCHEMA_DIR = CONFIG_DIR / "schemas"
PROFILES_DIR = PROJECT_ROOT / "profiles"
DEFAULT_CONFIG = CONFIG_DIR / "config.yaml"
SHIPPED_SURVEYS_FILE = CONFIG_DIR / "surveys.yaml"
RUNS_DIR = Path(".pzforge") / "runs"
RUN_ID_ENV = "PZFORGE_RUN_ID"


def ensure_run_id() -> str:
    """The run's UUID: given by ``pzforge run``, else made once by the Snakemake main process.

    Set in the environment so local jobs and SLURM jobs (sbatch exports the environment) see it.
    """
    return os.environ.setdefault(RUN_ID_ENV, str(uuid.uuid4()))


def schema_file(pipeline: str) -> Path:
    return SCHEMA_DIR / f"{pipeline}.schema.yaml"


def run_dir(run_id: str, workdir: str | Path = ".") -> Path:
    """The run's own folder: resolved config, plan, job sidecars."""
    return Path(workdir) / RUNS_DIR / run_id


@dataclass(frozen=True)
class RunLayout:
    """The folders of one run (by run name) inside a working directory."""

    run_name: str
    workdir: Path = Path(".")

    @property
    def results(self) -> Path:
        return self.workdir / "results" / self.run_name

    @property
    def logs(self) -> Path:
        return self.workdir / "logs" / self.run_name

    @property
    def benchmarks(self) -> Path:
        return self.workdir / "benchmarks" / self.run_name

    @property
    def receipts(self) -> Path:
        """What registration registered (read by ``pzforge run`` to print product names)."""
        return self.results / "registry" / "products.json"

    def manifest(self, key: str) -> Path:
        """Where a pipeline writes the manifest of its product ``key``."""
        return self.results / "products" / f"{key}.json"


def results_root(workdir: str | Path = ".") -> Path:
    """Every run's results live below this folder."""
    return Path(workdir) / "results"
