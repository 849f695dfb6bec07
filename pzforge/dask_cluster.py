"""The Dask cluster a heavy rule computes on: threads in the job, a LocalCluster, or SLURM workers.

Chosen by the pipeline config's ``dask:`` block (runtime settings: changing them reruns nothing)::

    dask: {cluster: threads}                          # dask's threaded scheduler in the job
    dask: {cluster: local, n_workers: 2, threads_per_worker: 1, memory_limit: 4GB}
    dask: {cluster: slurm, jobs: 4, cores: 1, processes: 1, memory: 4GB, walltime: "02:00:00",
           queue: cpu, account: myproject, interface: ib0, worker_timeout_s: 300}

The cluster is started inside the rule's job and always shut down, worker jobs cancelled, also on
errors, Ctrl-C and SIGTERM (``scancel`` of the rule's job). SLURM workers that die (node failure,
``scancel``, walltime) are replaced. A SLURM cluster whose jobs cannot be submitted, or that gets
no worker within ``worker_timeout_s``, fails with a PipelineError saying why instead of hanging.

Workers are single-threaded processes by default: several threads in one worker can deadlock
dask's graph building on Python 3.11 (a ``functools.cached_property`` lock; fixed in 3.12).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pzforge.errors import ConfigError, PipelineError

logger = logging.getLogger(__name__)

CLUSTER_KINDS = ("threads", "local", "slurm")

#: Every key of the ``dask:`` block and its default.
DEFAULTS: dict[str, Any] = {
    "cluster": "threads",
    # local: worker processes (None: the caller's n_workers, i.e. the rule's threads)
    "n_workers": None,
    "threads_per_worker": 1,
    "memory_limit": "auto",  # per local worker; "auto" shares the machine's memory
    # slurm (dask-jobqueue): one worker job = `processes` workers sharing `cores` and `memory`
    "jobs": 2,
    "cores": 1,
    "processes": 1,
    "memory": "2GB",
    "walltime": "01:00:00",
    "queue": None,  # SLURM partition; None: the cluster's default
    "account": None,
    "job_extra_directives": [],
    "interface": None,  # network interface of scheduler and workers (ib0; lo on one machine)
    "worker_timeout_s": 120,
    "log_directory": "logs/dask-workers",  # SLURM output of the worker jobs
    # both: scratch for spilling (node-local disk on a cluster)
    "local_directory": None,
}

# SLURM --time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S
_WALLTIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_bytes(key: str, value: Any) -> int:
    from dask.utils import parse_bytes

    try:
        size = parse_bytes(value) if isinstance(value, str) else value
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"dask.{key} should be a size such as 4GB, not {value!r}") from exc
    if not _is_int(size) or size <= 0:
        raise ConfigError(f"dask.{key} should be a positive size such as 4GB, not {value!r}")
    return size


def walltime_seconds(walltime: str) -> int:
    """Seconds of a SLURM time limit (``01:30:00``, ``2-00:00:00``, ``90``)."""
    m = _WALLTIME.match(str(walltime).strip())
    if not m:
        raise ConfigError(
            f"dask.walltime should be a SLURM time such as 01:00:00 or 2-00:00:00, not {walltime!r}"
        )
    days, a, b, c = m.groups()
    parts = [int(x) for x in (a, b, c) if x is not None]
    if days is not None:  # D-H[:M[:S]]
        h, mi, s = (parts + [0, 0])[:3]
        return ((int(days) * 24 + h) * 60 + mi) * 60 + s
    if len(parts) == 1:  # M
        return parts[0] * 60
    if len(parts) == 2:  # M:S
        return parts[0] * 60 + parts[1]
    return (parts[0] * 60 + parts[1]) * 60 + parts[2]  # H:M:S


def validate_dask_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    """The ``dask:`` block with defaults filled in; a bad value is a ConfigError naming the key.

    Parameters
    ----------
    settings
        The pipeline config's ``dask:`` block (None or ``{}``: the threaded scheduler).

    Returns
    -------
    dict
        A new dict with every key of DEFAULTS.
    """
    if settings is not None and not isinstance(settings, dict):
        raise ConfigError(f"dask should be a mapping of settings, not {settings!r}")
    unknown = set(settings or {}) - set(DEFAULTS)
    if unknown:
        raise ConfigError(
            f"dask: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(DEFAULTS)}"
        )
    cfg = {**DEFAULTS, **(settings or {})}
    cfg["job_extra_directives"] = list(cfg["job_extra_directives"] or [])
    if cfg["cluster"] not in CLUSTER_KINDS:
        raise ConfigError(
            f"dask.cluster should be one of {', '.join(CLUSTER_KINDS)}, not {cfg['cluster']!r}"
        )
    for key in ("jobs", "cores", "processes", "threads_per_worker"):
        if not _is_int(cfg[key]) or cfg[key] < 1:
            raise ConfigError(f"dask.{key} should be an integer greater than 0, not {cfg[key]!r}")
    if cfg["n_workers"] is not None and (not _is_int(cfg["n_workers"]) or cfg["n_workers"] < 1):
        raise ConfigError(
            f"dask.n_workers should be an integer greater than 0 or null, not {cfg['n_workers']!r}"
        )
    if cfg["cores"] % cfg["processes"]:
        raise ConfigError(
            f"dask.cores ({cfg['cores']}) should be a multiple of dask.processes "
            f"({cfg['processes']}): each worker process gets cores / processes threads"
        )
    _parse_bytes("memory", cfg["memory"])
    limit = cfg["memory_limit"]
    if limit not in ("auto", None, 0) and not (isinstance(limit, float) and 0 < limit <= 1):
        _parse_bytes("memory_limit", limit)
    walltime_seconds(cfg["walltime"])
    timeout = cfg["worker_timeout_s"]
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(
            f"dask.worker_timeout_s should be a positive number of seconds, not {timeout!r}"
        )
    for key in ("queue", "account", "interface", "local_directory", "log_directory"):
        if cfg[key] is not None and (not isinstance(cfg[key], str) or not cfg[key].strip()):
            raise ConfigError(f"dask.{key} should be a non-empty string or null, not {cfg[key]!r}")
    if not all(isinstance(d, str) for d in cfg["job_extra_directives"]):
        raise ConfigError(
            "dask.job_extra_directives should be a list of strings such as '--constraint=cpu'"
        )
    return cfg


@contextlib.contextmanager
def dask_client(
    settings: dict[str, Any] | None,
    *,
    n_workers: int | None = None,
    log: logging.Logger | None = None,
    need_client: bool = False,
) -> Iterator[Any]:
    """A distributed Client on the configured cluster, or None for the threaded scheduler.

    Parameters
    ----------
    settings
        The config's ``dask:`` block (see the module docstring and DEFAULTS).
    n_workers
        Local worker processes when the settings do not say (normally the rule's threads).
    log
        Where to report what was started and stopped (default: this module's logger).
    need_client
        The caller needs a Client even for ``cluster: threads`` (hats-import does): then a
        LocalCluster of single-threaded processes is started, ``n_workers`` of them.

    Yields
    ------
    distributed.Client or None
        None only for ``cluster: threads`` without ``need_client``.

    Raises
    ------
    ConfigError
        A bad setting.
    PipelineError
        SLURM rejected the worker jobs, or no worker started within ``worker_timeout_s``.
    """
    cfg = validate_dask_settings(settings)
    log = log or logger
    kind = cfg["cluster"]
    if kind == "threads" and not need_client:
        yield None
        return
    from dask.distributed import Client

    with _terminate_as_exit():
        workers = _SlurmWorkers(cfg, log) if kind == "slurm" else _LocalWorkers(cfg, n_workers, log)
        client = None
        try:
            workers.start()
            client = Client(workers.cluster)
            workers.wait(client)
            yield client
        finally:
            workers.close(client)


class _LocalWorkers:
    def __init__(self, cfg: dict[str, Any], n_workers: int | None, log: logging.Logger):
        self.cfg, self.log = cfg, log
        self.n = cfg["n_workers"] or n_workers or 1
        self.cluster = None

    def start(self) -> None:
        from dask.distributed import LocalCluster

        threads = self.cfg["threads_per_worker"]
        if threads > 1:
            self.log.warning(
                "dask.threads_per_worker=%d: several threads per worker can deadlock dask's graph "
                "building on Python 3.11; prefer more single-threaded workers",
                threads,
            )
        self.cluster = LocalCluster(
            n_workers=self.n,
            threads_per_worker=threads,
            processes=self.n > 1,  # one worker: in-process, no 5-9 s process start
            memory_limit=self.cfg["memory_limit"],
            dashboard_address=None,
            local_directory=self.cfg["local_directory"],
        )
        self.log.info("Dask: LocalCluster of %d worker(s), %d thread(s) each", self.n, threads)

    def wait(self, client) -> None:
        pass

    def close(self, client) -> None:
        _quietly(self.log, "closing the Dask client", client.close if client else None)
        _quietly(self.log, "closing the LocalCluster", self.cluster.close if self.cluster else None)


class _SlurmWorkers:
    """dask-jobqueue SLURMCluster: checked before submission, adapted with a fixed floor so dead
    worker jobs are replaced, and cancelled (by its unique job name) whatever happens."""

    def __init__(self, cfg: dict[str, Any], log: logging.Logger):
        self.cfg, self.log = cfg, log
        self.job_name = f"pzforge-dask-{uuid.uuid4().hex[:8]}"
        self.cluster = None
        self.queue = self.account = None

    def start(self) -> None:
        if shutil.which("sbatch") is None:
            raise PipelineError(
                "dask.cluster is slurm but sbatch is not on this machine's PATH: run on a "
                "SLURM cluster, or use dask.cluster: local or threads"
            )
        from dask_jobqueue import SLURMCluster

        cfg = self.cfg
        log_dir = Path(cfg["log_directory"])
        log_dir.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {
            "cores": cfg["cores"],
            "processes": cfg["processes"],
            "memory": cfg["memory"],
            "walltime": cfg["walltime"],
            "job_name": self.job_name,
            "log_directory": str(log_dir),  # not slurm-*.out files in the working directory
            "job_extra_directives": list(cfg["job_extra_directives"]),
            "worker_extra_args": _lifetime_args(cfg["walltime"]),
            "scheduler_options": {"dashboard_address": None},
        }
        # Inside a SLURM job (a rule of profiles/slurm) the workers default to the job's own
        # partition and account: the site settings then live in the profile only.
        self.queue = cfg["queue"] or os.environ.get("SLURM_JOB_PARTITION")
        self.account = cfg["account"] or os.environ.get("SLURM_JOB_ACCOUNT")
        if self.queue:
            kwargs["queue"] = self.queue
        if self.account:
            kwargs["account"] = self.account
        for key in ("local_directory", "interface"):
            if cfg[key]:
                kwargs[key] = cfg[key]
        if cfg["interface"]:
            kwargs["scheduler_options"]["interface"] = cfg["interface"]
        self.cluster = SLURMCluster(**kwargs)
        self._check_submission(self.cluster.job_script())
        # adapt with a fixed floor: a worker job that dies (node failure, scancel, walltime) is
        # replaced by a new one instead of leaving the computation short of workers.
        self.cluster.adapt(minimum_jobs=cfg["jobs"], maximum_jobs=cfg["jobs"])
        self.log.info(
            "Dask: %d SLURM worker job(s) %s (partition %s, %d core(s), %s, walltime %s); "
            "their output in %s",
            cfg["jobs"],
            self.job_name,
            self.queue or "default",
            cfg["cores"],
            cfg["memory"],
            cfg["walltime"],
            log_dir,
        )

    def _check_submission(self, script: str) -> None:
        """``sbatch --test-only``: a bad partition, account or size fails now, with SLURM's words."""
        try:
            done = subprocess.run(
                ["sbatch", "--test-only"],
                input=script,
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            self.log.warning("sbatch --test-only failed to run (%s); submitting anyway", exc)
            return
        if done.returncode != 0:
            reason = " ".join((done.stderr or done.stdout).split()) or f"exit {done.returncode}"
            raise PipelineError(f"SLURM refuses the Dask worker jobs: {reason}. {self._advice()}")

    def wait(self, client) -> None:
        timeout = self.cfg["worker_timeout_s"]
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if client.scheduler_info(n_workers=-1).get("workers"):
                self.log.info(
                    "Dask: first SLURM worker up after %.0f s", time.monotonic() - started
                )
                return
            time.sleep(0.5)
        raise PipelineError(
            f"could not get Dask workers from SLURM within {timeout:g} s: "
            f"{self._job_states() or 'no worker job visible in squeue'}. {self._advice()}"
        )

    def _advice(self) -> str:
        cfg = self.cfg
        return (
            f"Check dask.queue ({self.queue or 'cluster default'}), dask.account "
            f"({self.account or 'none'}), dask.memory ({cfg['memory']}), dask.cores "
            f"({cfg['cores']}) and dask.walltime ({cfg['walltime']}) against the cluster "
            "(sinfo -s; sacctmgr show assoc user=$USER), or raise dask.worker_timeout_s"
        )

    def _job_states(self) -> str:
        """State and reason of this cluster's worker jobs, plus the last line a worker wrote."""
        try:
            out = subprocess.run(
                ["squeue", "-h", "-t", "all", "-n", self.job_name, "-o", "%i %T %R"],
                capture_output=True,
                text=True,
                timeout=20,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        states = "; ".join(" ".join(ln.split()) for ln in out.splitlines() if ln.strip())
        text = f"worker jobs {self.job_name}: {states}" if states else ""
        errs = sorted(
            Path(self.cfg["log_directory"]).glob(f"{self.job_name}-*.err"),
            key=lambda p: p.stat().st_mtime,
        )
        if errs:
            lines = [ln for ln in errs[-1].read_text(errors="replace").splitlines() if ln.strip()]
            if lines:
                text += f"; last line of {errs[-1]}: {lines[-1].strip()}"
        return text

    def close(self, client) -> None:
        _quietly(self.log, "closing the Dask client", client.close if client else None)
        if self.cluster is not None:
            # stops adapting, then scancels every worker job it knows
            _quietly(self.log, "closing the SLURM cluster", lambda: self.cluster.close(timeout=60))
        # and whatever it may have missed (a job submitted while closing): same unique name
        _quietly(
            self.log,
            "cancelling the worker jobs",
            lambda: subprocess.run(
                ["scancel", "-n", self.job_name], capture_output=True, timeout=30, check=False
            ),
        )
        self.log.info("Dask: SLURM worker jobs %s cancelled", self.job_name)


def _lifetime_args(walltime: str) -> list[str]:
    """Workers retire a few minutes before SLURM would kill them; their replacements take over."""
    seconds = walltime_seconds(walltime)
    if seconds < 20 * 60:
        return []
    return ["--lifetime", f"{seconds - 300}s", "--lifetime-stagger", "120s"]


def _quietly(log: logging.Logger, what: str, func) -> None:
    """Run a clean-up step; its failure is logged, never raised over the error that brought us."""
    if func is None:
        return
    try:
        func()
    except Exception as exc:  # noqa: BLE001 - clean-up must go on
        log.warning("%s: %s", what, exc)


class Terminated(SystemExit):
    """SIGTERM arrived (``scancel`` of the job running the cluster); raised so clean-up runs."""


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """Turn SIGTERM into an exception while the cluster lives, so ``finally`` cancels the workers.

    Only in the main thread and only over the default handler (an application's own SIGTERM
    handler is left alone).
    """
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def handler(signum, frame):
        raise Terminated(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
