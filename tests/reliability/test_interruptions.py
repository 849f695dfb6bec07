"""Finding 8: nothing is lost when a run is interrupted, and resuming needs only `pzforge run`.

The driver (`pzforge run` and everything it started: Snakemake and its jobs) is stopped with
SIGKILL (a lost node, an OOM kill) or SIGINT (Ctrl-C) at four moments: during an ingest job,
during the duplicate search, after the last job (before provenance is ingested) and during
registration (provenance ingested, products not yet registered). `pzforge run` again must
finish with outputs byte-identical to an uninterrupted run, a consistent registry (every
product has its files with matching checksums, every run a final status) and nothing in staging.
"""

from __future__ import annotations

import signal
import subprocess

import pytest

from registry import REFERENCE_REDSHIFT_CATALOG
from tests.reliability.conftest import Site

pytestmark = pytest.mark.slow
POINTS = ["rule:ingest_catalog", "rule:find_duplicates", "finish", "registration"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, small_catalogs) -> bytes:
    """The combined catalog of an uninterrupted run."""
    site = Site(tmp_path_factory.mktemp("uninterrupted"), small_catalogs)
    proc = site.run()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return site.combined.read_bytes()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill9", "sigint"])
@pytest.mark.parametrize("point", POINTS)
def test_interrupted_run_resumes_with_pzforge_run(site, reference, point, sig):
    proc = site.start_paused(point)
    code = site.stop(proc, sig)
    assert code != 0
    if sig == signal.SIGINT:
        assert "Traceback" not in proc.stdout.read()
    again = site.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert site.combined.read_bytes() == reference
    reg = site.registry()
    (product,) = reg.list_products(product_type=REFERENCE_REDSHIFT_CATALOG)
    runs = reg.list_runs()
    assert {r["status"] for r in runs} <= {"success", "interrupted"}
    assert any(r["status"] == "success" for r in runs)
    if point.startswith("rule:"):  # the first attempt is recorded, with the jobs it finished
        first = next(r for r in runs if r["status"] == "interrupted")
        jobs = reg.get_run(first["id"])["jobs"]
        assert any(j["status"] == "success" for j in jobs) or point == "rule:ingest_catalog"
    # the product's provenance includes jobs of whichever attempt made its files
    generated = reg.product_provenance(product.id)["generated_by"]
    assert {j["rule"] for j in generated} >= {"write_combined_catalog"}
    site.assert_consistent()
    if point == "registration" and sig == signal.SIGKILL:  # once: a third run changes nothing
        third = site.run()
        assert third.returncode == 0 and "unchanged" in third.stdout, third.stdout
        assert len(reg.list_products()) == 1


def test_a_run_started_with_sigint_ignored_still_stops_on_it(site, reference):
    """`pzforge run ... &` from a script starts with SIGINT ignored; Snakemake must not inherit
    that, or neither Ctrl-C nor a site's cancel (a SIGINT) could stop its jobs."""
    proc = site.start_paused("rule:find_duplicates", sigint=signal.SIG_IGN)
    assert site.stop(proc, signal.SIGINT) != 0  # within 60 s, or the test fails
    again = site.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert site.combined.read_bytes() == reference
    site.assert_consistent()


def test_a_second_driver_is_refused_while_the_first_lives(site):
    proc = site.start_paused("rule:find_duplicates")
    try:
        second = site.run()
        assert second.returncode == 1
        assert (
            "another pzforge run is working" in second.stderr and "Traceback" not in second.stderr
        )
    finally:
        site.stop(proc, signal.SIGKILL)
    assert site.run().returncode == 0
    site.assert_consistent()


def test_a_crash_in_the_summary_leaves_no_finished_looking_output(site):
    env = site.env(PZFORGE_FAULT_FAIL="rule:summarize_run")
    proc = site.run(env=env)
    assert proc.returncode != 0 and "summarize_run" in proc.stderr
    results = site.root / "results" / "demo_combined"
    assert not (results / "combined").exists() or not any((results / "combined").iterdir())
    assert not (results / "products").exists() or not any((results / "products").iterdir())
    reg = site.registry()
    assert reg.list_products() == []
    assert [r["status"] for r in reg.list_runs()] == ["failed"]
    site.assert_consistent()
    assert site.run().returncode == 0
    site.assert_consistent()


def test_an_interrupted_upload_leaves_no_staging(site, tmp_path):
    import pandas as pd

    big = tmp_path / "big.csv"
    n = 3_000_000
    pd.DataFrame({"ra": [1.0] * n, "dec": [2.0] * n, "z": [0.5] * n}).to_csv(big, index=False)
    args = ["products", "upload", "big", str(big), "--yes", "--registry", site.url]
    env = site.env(PZFORGE_UPLOAD_LIMIT_MB="500")
    proc = subprocess.Popen(
        [str(a) for a in [site_cli(), *args]], cwd=site.root, env=env, start_new_session=True
    )
    staging = site.root / "pzforge_storage" / ".staging"
    import time

    deadline = time.monotonic() + 120
    while not (staging.exists() and any(staging.iterdir())):
        assert proc.poll() is None and time.monotonic() < deadline, "the upload never staged"
        time.sleep(0.05)
    Site.stop(proc, signal.SIGKILL)
    assert site.registry().list_products() == []
    # the next registration (any) sweeps what the killed one left
    small = tmp_path / "small.csv"
    pd.DataFrame({"ra": [1.0], "dec": [2.0], "z": [0.5]}).to_csv(small, index=False)
    ok = site.cli("products", "upload", "small", small, "--yes", "--registry", site.url, env=env)
    assert ok.returncode == 0, ok.stderr
    site.assert_consistent()


def site_cli() -> str:
    from tests.reliability.conftest import PZFORGE

    return PZFORGE
