"""pzforge.tiles.cluster against the live SLURM: workers on both nodes, replaced when killed,
a clear error when none can start, and no worker job left behind."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from pzforge.errors import ConfigError, PipelineError
from pzforge.tiles.cluster import dask_client, validate_dask_settings

pytestmark = pytest.mark.slurm
BASE = {
    "cluster": "slurm",
    "jobs": 2,
    "memory": "1GB",
    "queue": "debug",
    "interface": "lo",
    "worker_timeout_s": 90,
}


def worker_jobs(state: str = "PENDING,RUNNING,CONFIGURING") -> list[str]:
    out = subprocess.run(
        ["squeue", "-h", "-n", "pzforge-dask", "-t", state, "-o", "%i %N"],
        capture_output=True,
        text=True,
    ).stdout
    return [line for line in out.splitlines() if line.strip()]


def test_workers_on_both_nodes_and_always_cancelled(slurm):
    with dask_client(BASE) as client:
        client.wait_for_workers(2, timeout=90)
        # os.getenv pickles by reference, so workers need nothing from the test module
        nodes = set(client.run(os.getenv, "SLURMD_NODENAME").values())
    assert nodes == {"node1", "node2"}
    deadline = time.time() + 30  # scancel reaches slurmctld at once; a loaded node acks later
    while worker_jobs() and time.time() < deadline:
        time.sleep(1)
    assert worker_jobs() == []


def test_a_killed_worker_is_replaced(slurm):
    with dask_client({**BASE, "jobs": 1}) as client:
        client.wait_for_workers(1, timeout=90)
        first = worker_jobs("RUNNING")[0].split()[0]
        subprocess.run(["scancel", first], check=True)
        deadline = time.time() + 90
        while time.time() < deadline:
            running = [j.split()[0] for j in worker_jobs("RUNNING")]
            if running and first not in running:
                break
            time.sleep(1)
        client.wait_for_workers(1, timeout=90)
        assert client.submit(sum, [1, 2, 3]).result(timeout=60) == 6
    time.sleep(2)
    assert worker_jobs() == []


def test_no_worker_is_a_clear_error_not_a_hang(slurm):
    start = time.time()
    with (
        pytest.raises(PipelineError, match="could not get Dask workers from SLURM within 8 s"),
        dask_client({**BASE, "jobs": 1, "memory": "500GB", "worker_timeout_s": 8}),
    ):
        pass
    assert time.time() - start < 60
    time.sleep(2)
    assert worker_jobs() == []


def test_settings_are_validated():
    with pytest.raises(ConfigError, match="dask.jobs should be an integer greater than 0"):
        validate_dask_settings({"cluster": "slurm", "jobs": 0})
    with pytest.raises(ConfigError, match="unknown key"):
        validate_dask_settings({"cluster": "slurm", "nodes": 3})
    assert validate_dask_settings(None)["cluster"] == "threads"
