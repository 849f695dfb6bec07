"""Run a pipeline with Snakemake in a subprocess and report the outcome in a few clear lines.

Snakemake runs as its own process (``python -m snakemake``): the same command a user can type,
the profile decides the executor, and Ctrl-C reaches it as it would in a terminal. Live
progress comes from Snakemake's events (``progress``), never from its text output.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pzforge import pipelines
from pzforge.errors import PipelineError
from pzforge.paths import DEFAULT_CONFIG, PROFILES_DIR, SNAKEFILE, RunLayout, run_dir
from pzforge.products.references import reading_as
from pzforge.products.site import os_user
from pzforge.secrets import redact_text
from pzforge.workflow import recovery
from pzforge.workflow.jobs import ERROR_MARK
from pzforge.workflow.progress import PLUGINS_DIR, EventTail, Progress, logger_args
from pzforge.workflow.snakefile import PREFLIGHT_DONE_ENV

_ERROR_RULE = re.compile(r"^Error in rule (\S+):")
_LOG_LINE = re.compile(r"^\s+log: (.+?)(?: \(check log file\(s\) for error details\))?$")


@dataclass
class RunResult:
    run_id: str
    config: dict[str, Any]
    workdir: Path
    config_file: Path
    snakemake_log: Path
    returncode: int
    failed_rules: list[tuple[str, str | None]] = field(default_factory=list)
    snakemake_report: Path | None = None  # Snakemake's own HTML report, when asked for
    progress: Progress | None = None
    cancelled: bool = False

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.config["run_name"], self.workdir)

    @property
    def results_dir(self) -> Path:
        return self.layout.results


def prepare_run(
    pipeline: str,
    config_files: list[str | Path],
    overrides: list[str],
    workdir: Path,
    base_dir: Path | None = None,
    user: str | None = None,
    run_id: str | None = None,
) -> tuple[str, dict[str, Any], Path]:
    """Validate the config and write the resolved copy the run will use (``run_id``: the id
    to give the run, e.g. the queue's; default a new UUID)."""
    files = list(config_files) or [DEFAULT_CONFIG]
    if not config_files and base_dir is None:
        base_dir = Path.cwd()  # the demo default's data/ lives in the working directory
    # relative paths resolve against each config file's directory (or base_dir), --set values
    # against the current directory; --workdir changes neither
    config = pipelines.load(files, overrides, pipeline=pipeline, base_dir=base_dir)
    if config.get("pipeline", pipeline) != pipeline:
        raise PipelineError(f"the config is for pipeline {config['pipeline']!r}, not {pipeline!r}")
    config = pipelines.absolutize_paths(pipeline, config, (base_dir or Path.cwd()).resolve())
    with reading_as(user or os_user()):  # product references: read for the run's user
        pipelines.preflight(pipeline, config)
    run_id = run_id or str(uuid.uuid4())
    folder = run_dir(run_id, workdir)
    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / "config.yaml"
    config_file.touch(mode=0o600)  # the resolved config may hold a registry password
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    (folder / "overrides.yaml").write_text(yaml.safe_dump([redact_text(o) for o in overrides]))
    (folder / "user.txt").write_text((user or os_user()) + "\n")
    return run_id, config, config_file


def snakemake_command(
    config_file: Path, workdir: Path, profile: str, *, dry_run: bool = False, extra: list[str] = ()
) -> list[str]:
    profile_dir = Path(profile) if os.sep in profile else PROFILES_DIR / profile
    if not profile_dir.is_dir():
        known = ", ".join(sorted(p.name for p in PROFILES_DIR.iterdir() if p.is_dir()))
        raise PipelineError(f"unknown profile {profile!r}; profiles: {known}")
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--configfile",
        str(config_file),
        "--profile",
        str(profile_dir),
    ]
    if dry_run:
        cmd.append("--dry-run")
    return cmd + list(extra)


def run_pipeline(
    pipeline: str,
    config_files: list[str | Path],
    overrides: list[str] = (),
    *,
    profile: str = "local",
    workdir: str | Path = ".",
    dry_run: bool = False,
    base_dir: Path | None = None,
    echo=None,
    extra_args: list[str] = (),
    user: str | None = None,
    report: str | Path | None = None,
    run_id: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    own_process_group: bool = False,
) -> RunResult:
    """Validate config, run Snakemake, make sure the run is recorded (and its products
    registered) however Snakemake ended; returns the outcome (raises nothing for a failed run,
    KeyboardInterrupt after recording an interrupted one). ``report``: after a successful run,
    write Snakemake's own report there (``snakemake --report``: the outputs marked with
    ``report()``, captions, the rule graph, runtimes).

    Progress comes from Snakemake's own events (its logger-plugin interface, ``smk_events``):
    ``on_progress(progress)`` is called whenever what a person sees changed. ``should_stop()``
    is asked twice a second; when it says so the run is cancelled (SIGINT to Snakemake, which
    cancels its jobs, SLURM ones too) and recorded as ``cancelled``. ``own_process_group``
    starts Snakemake in its own process group, so a cancel reaches its local jobs at once
    (a worker does this; the CLI keeps the terminal's group so Ctrl-C reaches everything).
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    run_id, config, config_file = prepare_run(
        pipeline, config_files, list(overrides), workdir, base_dir, user, run_id
    )
    log_path = config_file.parent / "snakemake.log"
    events_path = config_file.parent / "events.jsonl"
    cmd = snakemake_command(config_file, workdir, profile, dry_run=dry_run, extra=list(extra_args))
    cmd += logger_args(events_path)
    env = dict(
        os.environ,
        PZFORGE_RUN_ID=run_id,
        PZFORGE_PROFILE=profile,
        PYTHONUNBUFFERED="1",
        **{PREFLIGHT_DONE_ENV: run_id},
    )
    # Snakemake finds the events plugin by package name on the path (research: logger plugins)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PLUGINS_DIR), os.environ.get("PYTHONPATH", "")) if p
    )
    progress = Progress()
    cancelled = threading.Event()
    with recovery.driver_lock(workdir, run_id):
        if not dry_run:
            for old in recovery.unfinished_runs(workdir, current=run_id):
                status = recovery.finish_unfinished(workdir, old, config)
                if echo:
                    echo(
                        f"run {old} had stopped before its end (its driver died): recorded as "
                        + (
                            "success, its products registered now"
                            if status == "success"
                            else status
                        )
                    )
        recovery.release_stale_snakemake_lock(workdir, [*cmd, "--unlock"], env)
        if not dry_run:
            cmd.append("--rerun-incomplete")  # outputs a crash left half-written are redone
        text_failed: list[tuple[str, str | None]] = []
        with open(log_path, "w") as log_fh:
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
                cwd=workdir,
                start_new_session=own_process_group,
                preexec_fn=_interruptible_child(),
            )
            done = threading.Event()
            monitor = threading.Thread(
                target=_watch,
                args=(proc, events_path, progress, done, cancelled),
                kwargs={
                    "on_progress": on_progress,
                    "should_stop": should_stop,
                    "group": own_process_group,
                },
                daemon=True,
            )
            monitor.start()
            try:
                pending_rule = None
                for line in proc.stdout:
                    log_fh.write(line)
                    log_fh.flush()
                    text = line.rstrip("\n")
                    # failed jobs: from the events; the text is read only in case there are none
                    if m := _ERROR_RULE.match(text):
                        pending_rule = m.group(1)
                    elif pending_rule and (m := _LOG_LINE.match(text)):
                        entry = (pending_rule, m.group(1).strip())
                        if entry not in text_failed:  # Snakemake reports a failed job twice
                            text_failed.append(entry)
                        pending_rule = None
                    if echo and dry_run:
                        echo(text)
                proc.wait()
            except KeyboardInterrupt:
                proc.send_signal(signal.SIGINT)  # Snakemake cancels its jobs (SLURM too)
                proc.wait()
                done.set()
                monitor.join(timeout=10)
                # Snakemake's onerror may have recorded the stopped jobs as a failure: it was
                # an interruption (recording again updates the same run)
                _make_sure_recorded(config, run_id, workdir, "interrupted", again=True)
                raise
            finally:
                done.set()
                monitor.join(timeout=30)
        if not dry_run:
            if cancelled.is_set():
                status = "cancelled"
            elif proc.returncode == 0:
                status = "success"
            elif proc.returncode < 0 or proc.returncode == 130:
                status = "interrupted"
            else:
                status = "failed"
            _make_sure_recorded(config, run_id, workdir, status)
    failed = progress.failed_rules() if events_path.is_file() else text_failed
    made = None
    if report is not None and not dry_run and proc.returncode == 0 and not cancelled.is_set():
        made = snakemake_report(Path(report), config_file, workdir, profile, env)
    return RunResult(
        run_id,
        config,
        workdir,
        config_file,
        log_path,
        proc.returncode,
        failed,
        made,
        progress=progress,
        cancelled=cancelled.is_set(),
    )


STOP_GRACE_S = 120  # after asking Snakemake to stop: how long before it is killed


def _watch(
    proc: subprocess.Popen,
    events_path: Path,
    progress: Progress,
    done: threading.Event,
    cancelled: threading.Event,
    *,
    on_progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
    group: bool,
) -> None:
    """Fold Snakemake's events into ``progress`` twice a second; stop the run when asked."""
    tail = EventTail(events_path)
    asked_at: float | None = None
    while True:
        finished = done.wait(0.5)
        changed = False
        for event in tail.read():
            changed = progress.apply(event) or changed
        if changed and on_progress is not None:
            on_progress(progress)
        if finished:
            return
        if should_stop is not None and asked_at is None and should_stop():
            cancelled.set()
            asked_at = time.monotonic()
            _signal(proc, signal.SIGINT, group)  # Snakemake cancels its jobs (scancel on SLURM)
        elif asked_at is not None and time.monotonic() - asked_at > STOP_GRACE_S:
            _signal(proc, signal.SIGKILL, group)
            asked_at = float("inf")


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interruptible_child():
    """Snakemake must stop on SIGINT (Ctrl-C, and how a cancel is asked for), but a process
    started with SIGINT ignored (``cmd &`` in a script, some service managers) passes that on
    through exec: then a cancel would never reach it. Such a child gets SIGINT back to its
    default before it starts (subprocess has no option for it, hence preexec_fn, which only
    resets a signal)."""
    return _sigint_default if signal.getsignal(signal.SIGINT) is signal.SIG_IGN else None


def _signal(proc: subprocess.Popen, sig: int, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)


def snakemake_report(
    path: Path, config_file: Path, workdir: Path, profile: str, env: dict[str, str]
) -> Path:
    """``snakemake --report PATH`` for the run just made (same config, profile and run id).
    A .html file is self-contained (opens offline); a .zip spreads large results in folders."""
    path = path if path.is_absolute() else Path.cwd() / path
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = snakemake_command(config_file, workdir, profile, extra=["--report", str(path)])
    log = config_file.parent / "snakemake_report.log"
    with open(log, "w") as fh:
        done = subprocess.run(cmd, cwd=workdir, env=env, stdout=fh, stderr=subprocess.STDOUT)
    if done.returncode != 0 or not path.is_file():
        raise PipelineError(f"the run succeeded but its Snakemake report failed (log: {log})")
    return path


def _make_sure_recorded(
    config: dict[str, Any], run_id: str, workdir: Path, status: str, *, again: bool = False
) -> None:
    """Snakemake's onsuccess/onerror did not run (killed, interrupted, or nothing was left to
    do after a crash): record the run here, and on success register what it made. A cancelled
    run is recorded as such (Snakemake's onerror saw only a failure)."""
    if (run_dir(run_id, workdir) / "ingested.json").is_file() and not again:
        if status == "cancelled":
            _record_status(config, run_id, status, "cancelled on request")
        return
        return
    if not (run_dir(run_id, workdir) / "run.json").is_file():
        # Snakemake planned nothing: a config or workflow error, or every output was up to date
        # (then Snakemake runs no hook at all). Up to date: the products are registered already,
        # or, if an earlier run could not register them, now.
        if status == "success":
            confirm_registered(config, workdir)
        return
    from pzforge.provenance.ingest import finish_run

    finish_run(config, status, run_id=run_id, workdir=workdir)


def _record_status(config: dict[str, Any], run_id: str, status: str, error: str) -> None:
    from pzforge.products.site import open_registry
    from registry import NotFound

    reg = open_registry(config["registry"].get("url"))
    try:
        reg.get_run(run_id)
    except NotFound:
        return
    reg.ingest_run({"id": run_id, "status": status, "error": error})


def confirm_registered(config: dict[str, Any], workdir: Path) -> None:
    """Register (or confirm as unchanged) the manifests of an up-to-date run's results."""
    from pzforge.io import write_json
    from pzforge.products.registration import register_manifests
    from pzforge.products.site import open_registry

    layout = RunLayout(config["run_name"], workdir)
    manifests = sorted((layout.results / "products").glob("*.json"))
    if not manifests or not config.get("registry", {}).get("register", True):
        return
    reg = open_registry(config["registry"].get("url"))
    write_json(register_manifests(reg, manifests, owner=reg.user), layout.receipts)


def explain_failure(result: RunResult) -> str:
    """One readable paragraph: which rule failed and the user-facing error from its log."""
    if not result.failed_rules:
        tail = result.snakemake_log.read_text().strip().splitlines()[-15:]
        reason = _first_error_line(tail) or (tail[-1] if tail else "no output")
        return (
            f"the pipeline failed before any job ran: {reason} (full log: {result.snakemake_log})"
        )
    parts = []
    for rule, log in result.failed_rules:  # noqa: B007
        message = None
        if log:
            path = Path(log) if Path(log).is_absolute() else result.workdir / log
            if path.is_file():
                message = _message_from_log(path.read_text())
        parts.append(
            f"rule {rule} failed: {message or 'see its log'}" + (f" (log: {log})" if log else "")
        )
    return "; ".join(parts)


def _message_from_log(text: str) -> str | None:
    for line in text.splitlines():
        if ERROR_MARK in line:
            return line.split(ERROR_MARK, 1)[1].strip()
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return _first_error_line(lines[::-1]) or (lines[-1].strip() if lines else None)


def _first_error_line(lines: list[str]) -> str | None:
    for line in lines:
        if re.match(r"^\w*(Error|Exception)\b.*:", line.strip()):
            return line.strip()
    return None
