"""The Dask cluster a heavy rule runs on: threads in the job, a LocalCluster, or SLURM workers.

Chosen by the config's ``dask:`` block. The cluster is started inside the rule's script, scaled,
and always shut down (worker jobs cancelled), also on errors and Ctrl-C. A SLURM cluster that
cannot get a worker within ``worker_timeout_s`` fails with a message instead of hanging.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
from collections.abc import Iterator
from typing import Any

from pzforge.errors import ConfigError, PipelineError

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "cluster": "threads",
    "n_workers": None,  # local: defaults to the rule's threads
    "jobs": 2,
    "cores": 1,
    "processes": 1,
    "memory": "2GB",
    "walltime": "01:00:00",
    "queue": None,
    "account": None,
    "job_extra_directives": [],
    "local_directory": None,
    "interface": None,
    "worker_timeout_s": 120,
}


def validate_dask_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    """Fill defaults and check values; a bad value is a ConfigError naming the key."""
    out = {**DEFAULTS, **(settings or {})}
    unknown = set(out) - set(DEFAULTS)
    if unknown:
        raise ConfigError(f"dask: unknown key(s) {sorted(unknown)}; allowed: {', '.join(DEFAULTS)}")
    if out["cluster"] not in ("threads", "local", "slurm"):
        raise ConfigError(f"dask.cluster must be threads, local or slurm, not {out['cluster']!r}")
    for key in ("jobs", "cores", "processes"):
        if not isinstance(out[key], int) or out[key] < 1:
            raise ConfigError(f"dask.{key} should be an integer greater than 0, not {out[key]!r}")
    if out["n_workers"] is not None and (
        not isinstance(out["n_workers"], int) or out["n_workers"] < 1
    ):
        raise ConfigError(
            f"dask.n_workers should be an integer greater than 0, not {out['n_workers']!r}"
        )
    if not isinstance(out["worker_timeout_s"], (int, float)) or out["worker_timeout_s"] <= 0:
        raise ConfigError("dask.worker_timeout_s should be a positive number of seconds")
    return out


@contextlib.contextmanager
def dask_client(
    settings: dict[str, Any] | None, *, n_workers: int = 1, need_client: bool = False
) -> Iterator[Any]:
    """Yield a distributed Client, or None for the threaded scheduler (unless ``need_client``).

    need_client: the caller needs a Client even for ``threads`` (hats-import does); then an
    in-process LocalCluster of single-threaded workers is started, one per thread of the rule.
    hats-import's tasks read, split and write files and never build Dask graphs, so threads are
    safe from the Python 3.11 graph-building deadlock, and they skip the worker processes' start
    and imports: partitioning 10M rows took 14.5 s instead of 19.8 s.
    """
    cfg = validate_dask_settings(settings)
    kind = cfg["cluster"]
    if kind == "threads" and not need_client:
        yield None
        return
    from dask.distributed import Client

    if kind == "slurm":
        cluster = _slurm_cluster(cfg)
    else:
        cluster = _local_cluster(cfg, n_workers, processes=kind == "local")
    client = None
    try:
        client = Client(cluster)
        if kind == "slurm":
            # adapt with a fixed floor: a worker job that dies (node failure, scancel, walltime)
            # is replaced by a new one instead of leaving the computation short of workers.
            cluster.adapt(minimum_jobs=cfg["jobs"], maximum_jobs=cfg["jobs"])
            _wait_for_workers(client, cfg)
        yield client
    finally:
        # Cancel the worker jobs; a cluster that never started may fail to close, which must not
        # hide the error that brought us here.
        for closer in ((client.close,) if client is not None else ()) + (cluster.close,):
            try:
                closer()
            except Exception as exc:  # noqa: BLE001 - logged, the original error propagates
                log.warning("closing the Dask cluster: %s", exc)


def _local_cluster(cfg: dict[str, Any], n_workers: int, *, processes: bool):
    from dask.distributed import LocalCluster

    # Single-threaded workers: several threads in one worker can deadlock dask's graph building
    # on Python 3.11 (shared/notes/lsdb-hats.md).
    workers = cfg["n_workers"] or n_workers
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=processes and workers > 1,
        dashboard_address=None,
        local_directory=cfg["local_directory"],
    )


def _slurm_cluster(cfg: dict[str, Any]):
    from dask_jobqueue import SLURMCluster

    kwargs: dict[str, Any] = {
        "cores": cfg["cores"],
        "processes": cfg["processes"],
        "memory": cfg["memory"],
        "walltime": cfg["walltime"],
        "job_extra_directives": list(cfg["job_extra_directives"]),
        "scheduler_options": {"dashboard_address": None},
        "job_name": "pzforge-dask",
        "log_directory": "logs/dask-workers",  # not slurm-*.out files in the working directory
    }
    if cfg["queue"]:
        kwargs["queue"] = cfg["queue"]
    if cfg["account"]:
        kwargs["account"] = cfg["account"]
    if cfg["local_directory"]:
        kwargs["local_directory"] = cfg["local_directory"]
    if cfg["interface"]:
        kwargs["interface"] = cfg["interface"]
        kwargs["scheduler_options"]["interface"] = cfg["interface"]
    return SLURMCluster(**kwargs)


def _wait_for_workers(client, cfg: dict[str, Any]) -> None:
    try:
        client.wait_for_workers(1, timeout=cfg["worker_timeout_s"])
    except Exception as exc:  # dask raises TimeoutError (of asyncio or dask) here
        state = _squeue()
        raise PipelineError(
            f"could not get Dask workers from SLURM within {cfg['worker_timeout_s']} s "
            f"(queue {cfg['queue'] or 'default'}, {cfg['cores']} cores, {cfg['memory']}); worker jobs: "
            f"{state or 'none visible'}. Check dask.queue / dask.account / dask.memory against the "
            "cluster (sinfo), or raise dask.worker_timeout_s"
        ) from exc


def _squeue() -> str:
    try:
        out = subprocess.run(
            ["squeue", "-h", "-n", "pzforge-dask", "-o", "%i %T %R"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return "; ".join(line.strip() for line in out.splitlines() if line.strip())


def compute_catalog(catalog: Any, client: Any = None) -> Any:
    """Compute an lsdb catalog on ``client``, or with the threaded scheduler when None."""
    import dask

    if client is not None:
        return catalog.compute(progress_bar=False)  # the active Client is dask's default scheduler
    with dask.config.set(scheduler="threads"):
        return catalog.compute(progress_bar=False)
