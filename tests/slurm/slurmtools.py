"""Helpers of the SLURM tests: squeue of our own jobs, waiting with a deadline."""

from __future__ import annotations

import subprocess
import time

import pytest

ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING"}


def squeue(*args: str) -> list[list[str]]:
    """Rows of ``squeue -h -t all <args>`` split on '|'; pass -o with '|'-separated fields."""
    done = subprocess.run(["squeue", "-h", "-t", "all", *args], capture_output=True, text=True)
    if done.returncode != 0 and "Invalid job id" in done.stderr:
        return []  # purged already: long finished
    return [line.split("|") for line in done.stdout.splitlines() if line.strip()]


def job_states(job_ids) -> dict[str, str]:
    """State of each of these jobs (purged ones are left out)."""
    ids = ",".join(str(j) for j in job_ids)
    return {row[0]: row[1] for row in squeue("-j", ids, "-o", "%i|%T")} if ids else {}


def wait_until(predicate, timeout: float, interval: float = 0.5, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached within {timeout:g} s")
        time.sleep(interval)


def wait_inactive(job_ids, timeout: float = 30) -> dict[str, str]:
    """Wait until none of these jobs is pending or running; their final states."""

    def done():
        states = job_states(job_ids)
        return (states or {"-": "gone"}) if not ACTIVE & set(states.values()) else None

    return wait_until(done, timeout, what=f"jobs {sorted(job_ids)} ending")
