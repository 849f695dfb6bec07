"""pzforge.dask_cluster without SLURM: settings validation, threads, LocalCluster, clean-up.
(The SLURM side runs against a live SLURM in tests/slurm/test_dask_slurm.py.)"""

from __future__ import annotations

import os
import signal
import time

import dask
import pytest

from pzforge.dask_cluster import (
    DEFAULTS,
    Terminated,
    _lifetime_args,
    dask_client,
    validate_dask_settings,
    walltime_seconds,
)
from pzforge.errors import ConfigError, PipelineError


def test_defaults_fill_every_key_without_touching_the_input():
    given = {"cluster": "slurm", "jobs": 3}
    cfg = validate_dask_settings(given)
    assert set(cfg) == set(DEFAULTS)
    assert cfg["jobs"] == 3 and cfg["cores"] == 1 and cfg["worker_timeout_s"] == 120
    assert given == {"cluster": "slurm", "jobs": 3}
    assert validate_dask_settings(None)["cluster"] == "threads"
    assert validate_dask_settings({})["threads_per_worker"] == 1


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"cluster": "mpi"}, "dask.cluster should be one of threads, local, slurm, not 'mpi'"),
        ({"nodes": 3}, "unknown key"),
        ({"jobs": 0}, "dask.jobs should be an integer greater than 0, not 0"),
        ({"jobs": True}, "dask.jobs should be an integer greater than 0"),
        ({"cores": 2.5}, "dask.cores should be an integer"),
        ({"n_workers": 0}, "dask.n_workers should be an integer greater than 0 or null"),
        ({"cores": 3, "processes": 2}, "dask.cores (3) should be a multiple of dask.processes"),
        ({"memory": "lots"}, "dask.memory should be a size such as 4GB"),
        ({"memory": "0GB"}, "dask.memory should be a positive size"),
        ({"memory_limit": "x"}, "dask.memory_limit should be a size"),
        ({"walltime": "1 hour"}, "dask.walltime should be a SLURM time"),
        ({"worker_timeout_s": 0}, "dask.worker_timeout_s should be a positive number"),
        ({"queue": ""}, "dask.queue should be a non-empty string or null"),
        ({"job_extra_directives": [3]}, "dask.job_extra_directives should be a list of strings"),
        ("slurm", "dask should be a mapping"),
    ],
)
def test_bad_settings_are_config_errors_naming_the_key(settings, message):
    with pytest.raises(ConfigError) as err:
        validate_dask_settings(settings)
    assert message in str(err.value)


def test_good_values_pass():
    validate_dask_settings(
        {"cluster": "local", "memory_limit": 0.5, "n_workers": 2, "threads_per_worker": 2}
    )
    validate_dask_settings({"memory_limit": None, "memory": "1.5 GiB", "walltime": "2-00:00"})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 5400), ("10:30", 630), ("01:00:00", 3600), ("2-0", 172800), ("1-02:03:04", 93784)],
)
def test_walltime_formats(text, seconds):
    assert walltime_seconds(text) == seconds


def test_workers_retire_before_the_walltime_kills_them():
    assert _lifetime_args("00:10:00") == []  # too short to bother
    assert _lifetime_args("01:00:00") == ["--lifetime", "3300s", "--lifetime-stagger", "120s"]


def test_threads_yields_no_client():
    with dask_client({"cluster": "threads"}) as client:
        assert client is None
    with dask_client(None) as client:
        assert client is None


def test_threads_with_need_client_gives_single_threaded_local_workers():
    with dask_client({"cluster": "threads"}, n_workers=1, need_client=True) as client:
        info = client.scheduler_info()["workers"]
        assert [w["nthreads"] for w in info.values()] == [1]
        assert client.submit(sum, [1, 2, 3]).result() == 6


def test_local_cluster_computes_in_separate_processes_and_is_closed():
    settings = {"cluster": "local", "n_workers": 2, "memory_limit": "1GB"}
    with dask_client(settings, n_workers=1) as client:  # the setting wins over the argument
        cluster = client.cluster
        workers = client.scheduler_info()["workers"]
        assert len(workers) == 2
        assert {w["nthreads"] for w in workers.values()} == {1}
        assert {w["memory_limit"] for w in workers.values()} == {10**9}
        pids = set(client.run(os.getpid).values())
        assert len(pids) == 2 and os.getpid() not in pids
        import dask.array as da

        total = da.ones(1000, chunks=100).sum()
        assert dask.compute(total, scheduler=client)[0] == 1000
    assert client.status == "closed"
    assert cluster.status.name == "closed"


def test_errors_inside_propagate_and_the_cluster_is_still_closed():
    with (
        pytest.raises(KeyError, match="boom"),
        dask_client({"cluster": "local"}, n_workers=1) as client,
    ):
        cluster = client.cluster
        raise KeyError("boom")
    assert cluster.status.name == "closed"


@pytest.mark.skipif(
    signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL, reason="SIGTERM handled by the runner"
)
def test_sigterm_closes_the_cluster_and_exits_with_143():
    with pytest.raises(Terminated) as err, dask_client({"cluster": "local"}, n_workers=1) as client:
        cluster = client.cluster
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)  # interrupted by the handler
    assert err.value.code == 143
    assert cluster.status.name == "closed"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler restored


def test_slurm_without_sbatch_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with (
        pytest.raises(PipelineError, match="sbatch is not on this machine's PATH"),
        dask_client({"cluster": "slurm"}),
    ):
        pass
