"""pzforge.dask_cluster on the live two-node SLURM: tasks run on workers on both nodes, a killed
worker job is replaced while a computation goes on, SLURM refusing or never starting the workers
is a clear error within a bounded time, and no worker job outlives the context manager (also
when the job holding the cluster is scancelled)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from slurmtools import ACTIVE, job_states, squeue, wait_inactive, wait_until

from pzforge.dask_cluster import dask_client
from pzforge.errors import PipelineError

pytestmark = pytest.mark.slurm
ROOT = Path(__file__).resolve().parents[2]
BASE = {
    "cluster": "slurm",
    "jobs": 2,
    "cores": 1,
    "memory": "1GB",
    "walltime": "00:10:00",
    "queue": "debug",
    "interface": "lo",
    "worker_timeout_s": 60,
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # worker logs go to ./logs/dask-workers


def job_ids(client) -> set[str]:
    return {job.job_id for job in client.cluster.workers.values() if job.job_id}


def running_workers(client) -> dict[str, str]:
    """Worker address -> SLURM job id, for the workers connected to the scheduler."""
    info = client.scheduler_info(n_workers=-1)["workers"]
    names = {w["name"]: addr for addr, w in info.items()}
    return {
        names[name]: job.job_id
        for name, job in client.cluster.workers.items()
        if name in names and job.job_id
    }


def test_tasks_run_on_workers_on_both_nodes_and_jobs_are_cancelled():
    with dask_client(BASE) as client:
        client.wait_for_workers(2, timeout=60)
        ids = job_ids(client)
        workers = list(client.scheduler_info()["workers"])
        # os.getenv runs inside the worker's SLURM job (pickled by reference: nothing to import)
        futures = [
            client.submit(os.getenv, "SLURMD_NODENAME", workers=[addr], pure=False, key=f"n{i}")
            for i, addr in enumerate(workers * 3)
        ]
        nodes = client.gather(futures)
        import dask.array as da

        assert da.arange(10_000, chunks=500).sum().compute(scheduler=client) == 49_995_000
    assert set(nodes) == {"node1", "node2"}
    assert len(ids) == 2
    assert set(wait_inactive(ids).values()) <= {"CANCELLED", "COMPLETED", "gone"}


def test_a_killed_worker_job_is_replaced_and_the_computation_completes():
    with dask_client(BASE) as client:
        client.wait_for_workers(2, timeout=60)
        before = running_workers(client)
        futures = client.map(time.sleep, [0.5] * 24, pure=False)
        # tasks are running on both workers; kill one worker's SLURM job under them
        wait_until(lambda: any(f.status == "finished" for f in futures), 60, what="first task")
        victim = sorted(before.values())[0]
        subprocess.run(["scancel", victim], check=True)
        client.gather(futures)  # the dead worker's tasks are redone on the others
        # a new job takes the killed one's place
        wait_until(
            lambda: (
                len(running_workers(client)) == 2 and victim not in running_workers(client).values()
            ),
            90,
            what="a replacement worker",
        )
        assert client.submit(sum, [1, 2, 3], pure=False).result(timeout=60) == 6
        ids = job_ids(client) | set(before.values())
    assert job_states([victim])[victim] == "CANCELLED"
    wait_inactive(ids)


def test_an_unknown_partition_is_refused_at_once():
    start = time.monotonic()
    with (
        pytest.raises(PipelineError) as err,
        dask_client({**BASE, "queue": "no_such_partition"}),
    ):
        pass
    assert "SLURM refuses the Dask worker jobs" in str(err.value)
    assert "invalid partition" in str(err.value).lower()
    assert "dask.queue (no_such_partition)" in str(err.value)
    assert time.monotonic() - start < 30


def test_more_memory_than_any_node_is_refused_at_once():
    with (
        pytest.raises(PipelineError, match="SLURM refuses the Dask worker jobs.*dask.memory"),
        dask_client({**BASE, "memory": "500GB"}),
    ):
        pass


def test_workers_that_never_start_time_out_with_their_squeue_state():
    start = time.monotonic()
    # accepted by SLURM, but held for an hour: the worker timeout must end the wait
    settings = {
        **BASE,
        "jobs": 1,
        "worker_timeout_s": 6,
        "job_extra_directives": ["--begin=now+1hour"],
    }
    with pytest.raises(PipelineError) as err, dask_client(settings):
        pass
    text = str(err.value)
    assert text.startswith(
        "could not get Dask workers from SLURM within 6 s: worker jobs pzforge-dask-"
    )
    assert "PENDING (BeginTime)" in text and "raise dask.worker_timeout_s" in text
    assert time.monotonic() - start < 45
    name = text.split("worker jobs ")[1].split(":")[0]
    rows = squeue("-n", name, "-o", "%i|%T")
    assert rows and not ACTIVE & {state for _id, state in rows}  # cancelled, not left pending


DRIVER = """
import sys, time
from pzforge.dask_cluster import dask_client
settings = dict(cluster="slurm", jobs=2, memory="1GB", walltime="00:10:00", queue="debug",
                interface="lo", worker_timeout_s=60)
with dask_client(settings) as client:
    client.wait_for_workers(2, timeout=60)
    ids = [job.job_id for job in client.cluster.workers.values()]
    open("worker_ids.txt", "w").write(" ".join(ids))
    time.sleep(600)
"""


def test_scancel_of_the_job_holding_the_cluster_cancels_its_workers(tmp_path):
    """What happens when Snakemake is interrupted: the rule's job gets SIGTERM from scancel."""
    (tmp_path / "driver.py").write_text(DRIVER)
    done = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "-o",
            "driver.out",
            "-t",
            "10",
            "--mem",
            "1G",
            "--wrap",
            f"exec {sys.executable} driver.py",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    driver = done.stdout.strip().split(";")[0]
    ids_file = tmp_path / "worker_ids.txt"
    try:
        wait_until(ids_file.exists, 90, what="the driver job's workers")
    except BaseException:
        subprocess.run(["scancel", driver])
        raise
    workers = ids_file.read_text().split()
    assert len(workers) == 2 and all(job_states(workers)[w] == "RUNNING" for w in workers)
    subprocess.run(["scancel", driver], check=True)
    states = wait_inactive(workers, timeout=30)
    assert set(states.values()) <= {"CANCELLED", "COMPLETED", "gone"}, states
