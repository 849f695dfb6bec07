"""The worker: claims queued runs and runs them exactly as ``pzforge run`` does.

Each run gets its own working directory (``<site>/runs/<run id>/``) and is started with the
pipeline's config, the site's registry and the profile the run asked for (local or SLURM), as the
user who asked for it: the same outputs, the same provenance (with that user), the same
registration. While it runs, the worker reports its progress (from Snakemake's events) and the
tail of its log every few seconds; a cancel asked for through the API stops it (Snakemake cancels
its jobs, SLURM ones too). Several workers may run against PostgreSQL (each run is claimed by one);
on SQLite one worker per database (a lock file beside it says so).

A worker that dies leaves its run ``running`` without reports: any worker marks such runs
``interrupted`` after ``stale_after_s``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

import registry
from pzforge.errors import PzforgeError
from pzforge.server.settings import ServerSettings
from pzforge.server.submissions import product_refs

log = logging.getLogger("pzforge.worker")
HEARTBEAT_S = 3.0
LOG_TAIL_BYTES = 20_000


class Worker:
    def __init__(
        self,
        settings: ServerSettings,
        *,
        poll_s: float = 2.0,
        stale_after_s: float = 120.0,
        snakemake_args: list[str] = (),
        name: str | None = None,
    ):
        self.settings = settings
        self.poll_s = poll_s
        self.stale_after_s = stale_after_s
        self.snakemake_args = list(snakemake_args)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        extra = {"storage": settings.storage} if settings.storage else {}
        self.registry = registry.open(settings.registry_url, user=None, store_mode="link", **extra)
        self.runs_dir = settings.folder("runs")
        self._stop = threading.Event()
        self._reporter: _Reporter | None = None
        # fitted UMAP maps of embedding tasks: the site's artefacts (plain arrays, no pickle)
        self.fits_dir = settings.folder("embedding_fits")

    def stop(self) -> None:
        """Stop after the run in hand (a deploy's SIGTERM)."""
        self._stop.set()

    def abort(self) -> None:
        """Stop now: the run in hand is cancelled (Ctrl-C)."""
        self._stop.set()
        if self._reporter is not None:
            self._reporter.cancel()

    @contextlib.contextmanager
    def single_on_sqlite(self) -> Iterator[None]:
        """On SQLite, one worker per database: a held lock beside the database file."""
        url = self.registry.engine.url
        if url.get_backend_name() != "sqlite" or not url.database:
            yield
            return
        path = Path(url.database).resolve().with_suffix(".worker.lock")
        fh = open(path, "a+")  # noqa: SIM115 - held while working
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise PzforgeError(
                f"another worker is running on {url.database} (SQLite takes one worker; use "
                "PostgreSQL for several)"
            ) from None
        try:
            yield
        finally:
            fh.close()

    def serve(self, *, once: bool = False, max_runs: int | None = None) -> int:
        """Claim and run queued runs until stopped (``once``: until the queue is empty)."""
        done = 0
        with self.single_on_sqlite():
            log.info("worker %s on %s", self.name, self.registry.url)
            while not self._stop.is_set():
                for run_id in self.registry.interrupt_stale_runs(self.stale_after_s):
                    log.warning("run %s: its worker stopped reporting; marked interrupted", run_id)
                for analysis_id in self.registry.sweep_analyses():
                    log.warning("analysis %s: its service did not answer in time", analysis_id)
                run = self.registry.claim_run(self.name)
                if run is None:
                    if once:
                        break
                    self._stop.wait(self.poll_s)
                    continue
                self.execute(run)
                done += 1
                if max_runs is not None and done >= max_runs:
                    break
        return done

    def execute(self, run: dict[str, Any]) -> str:
        """Run one claimed run to its end; returns the state it ended in."""
        from pzforge.workflow.runner import explain_failure, run_pipeline

        run_id, user = run["id"], run["user"]
        workdir = self.runs_dir / run_id
        workdir.mkdir(parents=True, exist_ok=True)
        log.info("run %s: %s for %s (%s profile)", run_id, run["pipeline"], user, run["profile"])
        reporter = _Reporter(self.registry, run_id, workdir)
        self._reporter = reporter
        reporter.start()
        state, error, products = "failed", None, []
        try:
            self._check_inputs(run)
            config_file = self._write_config(run, workdir)
            result = run_pipeline(
                run["pipeline"],
                [config_file],
                profile=run["profile"],
                workdir=workdir,
                base_dir=workdir,
                user=user,
                run_id=run_id,
                extra_args=self.snakemake_args,
                on_progress=reporter.progress,
                should_stop=reporter.should_stop,
                own_process_group=True,
            )
            if result.cancelled:
                state, error = (
                    "cancelled",
                    f"cancelled on request after {result.progress.elapsed:.0f} s",
                )
            elif result.returncode == 0:
                if run["pipeline"] == "embedding_task":  # before "success": a bad result fails
                    self._finish_task(run_id, result.layout.results / "result.json")
                state = "success"
                if result.layout.receipts.is_file():
                    import json

                    products = json.loads(result.layout.receipts.read_text())
                    for p in products:
                        p.pop("registry_url", None)
            else:
                error = explain_failure(result)
        except (PzforgeError, registry.RegistryError) as exc:
            error = str(exc)
        except Exception as exc:  # a bug: the run fails with a line, the log has the trace
            log.exception("run %s failed unexpectedly", run_id)
            error = f"internal error in the worker: {type(exc).__name__}: {exc}"
        finally:
            reporter.stop()
            self._reporter = None
        if error:
            error = error.replace(str(workdir) + "/", "")
        self.registry.finish_queued_run(
            run_id,
            state,
            error=error,
            products=products,
            progress=reporter.snapshot(),
            log_tail=reporter.log_tail(),
        )
        log.info("run %s: %s%s", run_id, state, f" ({error})" if error else "")
        return state

    def _finish_task(self, run_id: str, result_file: Path) -> None:
        """An embedding task's result, from the run that computed it (a failed run fails its
        task through the queue)."""
        import json

        self.registry.finish_embedding(run_id, result=json.loads(result_file.read_text()))

    def _check_inputs(self, run: dict[str, Any]) -> None:
        """The products a run reads: still readable by its user now it runs."""
        view = self.registry.acting_as(run["user"])
        for where, ref in product_refs(run["config"]):
            if not view.can_read(ref):
                raise registry.PermissionDenied(
                    f"{where}: {run['user']} may no longer read product {ref!r}"
                )

    def _write_config(self, run: dict[str, Any], workdir: Path) -> Path:
        """The run's config with the site's registry (the file is the user's only)."""
        config = dict(run["config"])
        if run["pipeline"] == "embedding_task":
            config["fits_dir"] = str(self.fits_dir)
        config["registry"] = dict(config.get("registry") or {})
        config["registry"]["url"] = self.registry.engine.url.render_as_string(hide_password=False)
        path = workdir / "submitted.yaml"
        path.touch(mode=0o600)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path


class _Reporter:
    """Sends a run's progress and log tail to the queue every few seconds; hears cancels."""

    def __init__(self, reg: registry.Registry, run_id: str, workdir: Path):
        self.registry, self.run_id, self.workdir = reg, run_id, workdir
        self._progress: dict[str, Any] = {}
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._started = time.monotonic()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=30)

    def progress(self, progress) -> None:
        self._progress = progress.snapshot()

    def should_stop(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def snapshot(self) -> dict[str, Any]:
        out = dict(self._progress)
        out["elapsed_s"] = round(time.monotonic() - self._started, 1)
        return out

    def log_tail(self) -> str:
        logs = sorted(
            (self.workdir / ".pzforge" / "runs").glob(f"{self.run_id}/snakemake.log"),
        )
        if not logs:
            return ""
        with open(logs[0], "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - LOG_TAIL_BYTES))
            return fh.read().decode("utf-8", "replace")

    def _loop(self) -> None:
        while not self._done.wait(HEARTBEAT_S):
            try:
                cancel = self.registry.heartbeat(
                    self.run_id,
                    progress=self.snapshot(),
                    log_tail=self.log_tail(),
                    workdir=str(self.workdir),
                )
            except Exception:  # the database is away for a moment: try again next time
                log.exception("run %s: could not report progress", self.run_id)
                continue
            if cancel:
                self._cancel.set()
