"""Live progress of a run from Snakemake's own events (``smk_events`` writes them, one JSON per
line): jobs done of total, the rules running now, elapsed time, the jobs that failed.

What the events mean (Snakemake 9): ``run_info`` gives the jobs to run (``stats.total``);
``job_started`` lists the job ids of a scheduling round *before* their ``job_info`` records
name each job's rule; ``job_finished`` (``job_id``) and ``progress`` (``done``/``total``)
follow each success; ``job_error`` arrives twice per failed job (kept once, by job id); under
SLURM "started" means submitted. There is no end event: the file ends with ``_closed`` when
Snakemake stops, and its exit code says how.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PLUGIN = "pzforge"  # --logger pzforge
PLUGINS_DIR = Path(__file__).resolve().parent / "smk_plugins"


def logger_args(events_file: Path) -> list[str]:
    """The Snakemake options that make it write events to ``events_file``."""
    return ["--logger", PLUGIN, f"--logger-{PLUGIN}-path", str(events_file)]


class EventTail:
    """Reads the new complete lines of a growing events file, from where it stopped."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._offset = 0
        self._partial = b""

    def read(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()  # an unfinished last line waits for its end
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


@dataclass
class Progress:
    """The state of a run, folded from its events."""

    started: float = field(default_factory=time.monotonic)
    done: int = 0
    total: int | None = None
    rules: dict[int, str] = field(default_factory=dict)  # job id -> rule
    running: set[int] = field(default_factory=set)
    failed: dict[int, tuple[str, str | None]] = field(default_factory=dict)  # job id -> rule, log
    slurm_jobs: int = 0
    closed: bool = False
    error: str | None = None

    def apply(self, event: dict[str, Any]) -> bool:
        """Fold one event in; True when what a person sees changed."""
        kind = event.get("event")
        if kind == "run_info":
            total = (event.get("stats") or {}).get("total")
            if isinstance(total, int) and self.total is None:  # a dry run reports it twice
                self.total = total
            return True
        if kind == "job_started":
            self.running.update(int(j) for j in event.get("jobs") or [])
            return True
        if kind == "job_info":
            if event.get("jobid") is not None:
                self.rules[int(event["jobid"])] = str(event.get("rule_name") or "?")
            return True
        if kind == "job_finished":
            self.running.discard(int(event.get("job_id", -1)))
            return True
        if kind == "progress":
            self.done = int(event.get("done") or self.done)
            if isinstance(event.get("total"), int):
                self.total = event["total"]
            return True
        if kind == "job_error":
            jobid = int(event.get("jobid", -1))
            self.running.discard(jobid)
            if jobid not in self.failed:  # the second copy (the final summary) says less
                logs = event.get("log") or []
                rule = str(event.get("rule_name") or self.rules.get(jobid, "?"))
                self.failed[jobid] = (rule, logs[0] if logs else None)
            return True
        if kind == "error":
            lines = (event.get("msg") or "").strip().splitlines()
            if lines and self.error is None:
                self.error = lines[-1]
            return False
        if kind == "message":
            self.slurm_jobs += 1
            return False
        if kind == "_closed":
            self.closed = True
            return False
        return False

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def running_rules(self) -> list[str]:
        """The rules of running jobs, ``rule xN`` when several jobs of one rule run."""
        counts = Counter(self.rules.get(j, "?") for j in self.running)
        return [f"{r} x{n}" if n > 1 else r for r, n in sorted(counts.items())]

    def failed_rules(self) -> list[tuple[str, str | None]]:
        return list(self.failed.values())

    def snapshot(self) -> dict[str, Any]:
        """What the server stores and the API shows."""
        return {
            "done": self.done,
            "total": self.total,
            "running": self.running_rules(),
            "failed": [r for r, _log in self.failed_rules()],
            "elapsed_s": round(self.elapsed, 1),
        }

    def line(self) -> str:
        """One line for a terminal or a batch log."""
        total = "?" if self.total is None else str(self.total)
        running = ", ".join(self.running_rules()) or "-"
        text = f"[{self.elapsed:7.1f}s] {self.done}/{total} jobs done; running: {running}"
        if self.failed:
            text += f"; failed: {', '.join(sorted({r for r, _ in self.failed_rules()}))}"
        return text
