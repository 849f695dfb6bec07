"""Runs cancelled through the API, runs whose worker died, and the CLI talking to a site."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.server.conftest import running_site, write_catalog
from tests.server.test_e2e import CATALOGS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def submit_combine(site, work, user="carol"):
    from pzforge.combine import sample_data

    site.add_user(user)
    paths = sample_data.generate(work / "data", n_objects=800)
    pz = site.client(user)
    csc = pz.combine_redshift_catalogs("to_cancel")
    for name, (columns, survey) in CATALOGS.items():
        roles = {r: c for r, c in columns.items() if r in ("ra", "dec", "z")}
        info = pz.upload(f"{name} specz", "Reference Redshift Catalog", paths[name], columns=roles)
        kind, value = next(iter(survey.items()))
        csc.append_catalog(
            info["id"],
            name=name,
            columns=columns,
            **({"survey": value} if kind == "value" else {"survey_column": value}),
        )
    return pz, csc.run()


def wait_for(run, states, timeout=300):
    deadline = time.monotonic() + timeout
    while run.refresh()["state"] not in states:
        assert time.monotonic() < deadline, run.info
        time.sleep(0.5)
    return run.info


def test_cancel_a_running_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    with running_site(url, tmp_path / "site", worker=True) as site:
        pz, run = submit_combine(site, tmp_path)
        wait_for(run, ("running",))
        deadline = time.monotonic() + 120
        while not run.refresh()["progress"].get("total"):  # Snakemake has planned its jobs
            assert time.monotonic() < deadline, (run.info, site.logs()[-3000:])
            time.sleep(0.5)
        run.cancel()
        info = wait_for(run, ("cancelled", "failed", "success"), timeout=200)
        assert info["state"] == "cancelled", (info, site.logs()[-3000:])
        assert info["products"] == []
        recorded = site.http("carol").get(f"/provenance/runs/{run.id}")
        if recorded.status_code == 200:  # Snakemake got as far as recording its plan
            assert recorded.json()["status"] == "cancelled"
        assert "Traceback" not in site.logs()


def test_a_dead_workers_run_is_interrupted(tmp_path):
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    with running_site(
        url, tmp_path / "site", worker=True, worker_args=("--stale-after", "5")
    ) as site:
        pz, run = submit_combine(site, tmp_path)
        wait_for(run, ("running",))
        worker, _log = site.procs[-1]
        worker.kill()  # the worker dies without a word
        worker.wait()
        site.start_worker("--stale-after", "5")  # the next worker notices
        info = wait_for(run, ("interrupted",), timeout=120)
        assert "stopped reporting" in info["error"]


def test_cli_talks_to_the_site(tmp_path):
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    with running_site(url, tmp_path / "site") as site:
        token = site.add_user("dora")
        write_catalog(tmp_path / "cat.parquet")
        env = site.env(PZFORGE_URL=site.base, PZFORGE_TOKEN=token)
        env.pop("PZFORGE_REGISTRY_URL")

        def cli(*args):
            return subprocess.run(
                [sys.executable, "-m", "pzforge.cli", *args],
                env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
            )  # fmt: skip

        done = cli("products", "upload", "cli specz", str(tmp_path / "cat.parquet"),
                   "-C", "ra=RA", "-C", "dec=DEC", "-C", "z=redshift", "--yes")  # fmt: skip
        assert done.returncode == 0, done.stderr
        listed = cli("products", "list", "--format", "json")
        assert listed.returncode == 0, listed.stderr
        rows = json.loads(listed.stdout)
        assert [r["name"] for r in rows] == ["cli specz"] and rows[0]["owner"] == "dora"
        shown = cli("products", "show", "1_cli_specz")
        assert shown.returncode == 0 and "redshift" in shown.stdout, shown.stderr
        got = cli("products", "get", "1", "--head", "3")
        assert got.returncode == 0 and "[300 rows x 5 columns]" in got.stdout, got.stderr
        down = cli("products", "download", "1", "-o", str(tmp_path))
        assert down.returncode == 0 and (tmp_path / "1_cli_specz.zip").is_file(), down.stderr
        denied = cli("products", "official", "1")
        assert denied.returncode == 1 and "admins" in denied.stderr
        assert "Traceback" not in denied.stderr
        missing = cli("provenance", "show", "999")
        assert missing.returncode == 1 and "Traceback" not in missing.stderr
        assert not (tmp_path / "pzforge_registry.sqlite").exists()  # nothing local was made
