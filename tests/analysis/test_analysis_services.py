"""External analysis services on loopback: a real site (server + worker) on SQLite and on
PostgreSQL, and the example photo-z validation service started as its own process.

Shown here: a service registered (credentials encrypted, never returned or logged); an analysis
started with checked parameters; only the asked-for columns sent; the service calls back; the
results registered as a Validation Results product with lineage and provenance; a second
callback with the same token refused; 20 concurrent callbacks with one token -> exactly one
success; a service that never answers swept to timed_out; a cancelled analysis's token dead;
pickle payloads refused (and the token still usable); summaries with history; the cap.
"""

from __future__ import annotations

import base64
import contextlib
import io
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from tests.server.conftest import free_port, running_site
from tests.support.postgres import fresh_database

pytestmark = [pytest.mark.timeout(600)]
SECRET = "s3rvice-bearer-secret-0123456789"


@contextlib.contextmanager
def example_service(folder: Path, *args: str):
    """The example service as a process on a free loopback port; yields its base URL."""
    port = free_port()
    log = open(folder / f"service-{port}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "pzforge.server.example_service", "--port", str(port), *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2],
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/received", timeout=2).status_code == 200:
                    break
            assert proc.poll() is None and time.monotonic() < deadline, "service did not start"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def photoz_table(path: Path, n: int = 400, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.05, 1.5, n)
    df = pd.DataFrame(
        {
            "objid": np.arange(n),
            "z": z,
            "z_phot": z + rng.normal(0, 0.03, n) * (1 + z),
            "pit": rng.uniform(0, 1, n),
            "private_flux": rng.uniform(0, 1, n),  # the service never asks for it
        }
    )
    df.to_parquet(path, index=False)
    return df


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def site(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"analysis-{request.param}")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{folder / 'registry.sqlite'}"
        else:
            url = stack.enter_context(fresh_database())
        site = stack.enter_context(running_site(url, folder, worker=True))
        site.add_user("ada", admin=True)
        site.add_user("bob")
        service = stack.enter_context(example_service(folder, "--bearer", SECRET))
        silent = stack.enter_context(example_service(folder, "--silent"))
        site.service_url, site.silent_url = service, silent
        yield site


def callback(url: str, payload=None, *, content: bytes | None = None) -> httpx.Response:
    if content is not None:
        return httpx.post(url, content=content, timeout=60)
    return httpx.post(url, json=payload, timeout=60)


def wait_status(pz, analysis_id: int, statuses: tuple[str, ...], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        info = pz.get_analysis(analysis_id)
        if info["status"] in statuses:
            return info
        assert time.monotonic() < deadline, info
        time.sleep(0.3)


def test_an_analysis_end_to_end(site, tmp_path):
    from pzforge.client import PzClientError
    from pzforge.server import example_service as ex

    ada, bob = site.client("ada"), site.client("bob")
    spec = dict(ex.REGISTRATION, url=site.service_url + "/analyze", auth_type="bearer",
                credentials={"token": SECRET}, timeout_s=120)  # fmt: skip
    with pytest.raises(PzClientError) as refused:
        bob.register_analysis_service(**spec)  # only admins register services
    assert refused.value.status == 403
    svc = ada.register_analysis_service(**spec)
    assert svc["has_credentials"] and "credentials" not in svc
    assert SECRET not in httpx.get(site.api + "/analysis-services", headers={
        "Authorization": f"Bearer {site.tokens['bob']}"}).text  # fmt: skip
    with site.operator().engine.connect() as conn:  # encrypted at rest
        stored = conn.execute(text("SELECT credentials FROM analysis_services")).scalar()
    assert stored and SECRET not in stored

    photoz_table(tmp_path / "pz.parquet")
    product = bob.upload("pz estimates", "Photo-z Estimates", tmp_path / "pz.parquet",
                         columns={"z": "z"})  # fmt: skip
    with pytest.raises(PzClientError) as bad:
        bob.start_analysis(product["id"], ex.NAME, {"bins": 0, "colour": "red"})
    assert bad.value.status == 422 and len(bad.value.problems) == 2

    t0 = time.perf_counter()
    started = bob.start_analysis(product["id"], ex.NAME, {"bins": 4})
    assert started["status"] == "pending" and started["callback_url"] is None
    done = wait_status(bob, started["id"], ("success", "failure"))
    elapsed = time.perf_counter() - t0
    assert done["status"] == "success", (done["message"], site.logs()[-3000:])
    print(f"analysis round trip (start -> service -> callback -> product): {elapsed:.2f} s")
    overall = done["results"]["overall"]
    assert overall["n"] == 400 and abs(overall["bias"]) < 0.01 and overall["sigma_nmad"] < 0.05
    assert len(done["results"]["per_bin"]) == 4
    assert set(done["plots"]) == {"zphot_vs_zspec.png", "pit_histogram.png", "pit_qq.png"}

    received = httpx.get(site.service_url + "/received").json()[-1]
    assert received["authorised"]  # the site sent the decrypted bearer token
    assert received["columns"] == ["z", "z_phot", "pit"]  # never private_flux or objid
    assert received["parameters"] == {"bins": 4}

    result = bob.get_product_metadata(done["result_product_id"])
    assert result["product_type"] == "Validation Results" and result["owner"] == "bob"
    assert [u["id"] for u in result["upstream"]] == [product["id"]]
    names = sorted(f["name"] for f in result["files"])
    assert names == sorted(["results.json", "inference_data.h5", *done["plots"]])
    prov = bob.get_provenance(done["result_product_id"])
    run = site.http("bob").get(f"/provenance/runs/{prov['run_id']}").json()
    assert run["pipeline"] == f"analysis:{ex.NAME}" and run["config"]["service"] == ex.NAME
    assert run["config"]["service_version"] == ex.VERSION
    assert run["config"]["parameters"] == {"bins": 4}
    assert bob.get_analyses(product["id"])[0]["id"] == done["id"]

    logs = site.logs()
    assert SECRET not in logs
    assert "/webhooks/analyses/***" in logs and "pza_" not in logs  # tokens never logged


def _upload_only(site, name: str, **extra) -> None:
    ada = site.client("ada")
    with contextlib.suppress(Exception):
        ada.register_analysis_service(name, upload_only=True, timeout_s=600, **extra)


def test_single_use_tokens_and_concurrent_callbacks(site, tmp_path):
    bob = site.client("bob")
    _upload_only(site, "notes")
    photoz_table(tmp_path / "t.parquet")
    product = bob.upload("tokens", "Photo-z Estimates", tmp_path / "t.parquet", columns={"z": "z"})
    started = bob.start_analysis(product["id"], "notes")
    url = started["callback_url"]
    assert url.startswith(site.api + "/webhooks/analyses/pza_")
    first = callback(url, {"status": "success", "message": "hi", "analysis": {"results": {"a": 1}}})
    assert first.status_code == 200, first.text
    again = callback(url, {"status": "success", "analysis": {"results": {"a": 2}}})
    assert again.status_code == 409 and "already used" in again.json()["detail"]
    assert (
        callback(site.api + "/webhooks/analyses/pza_nope", {"status": "success"}).status_code == 404
    )

    # 20 callbacks at once with one token: exactly one wins
    racing = bob.start_analysis(product["id"], "notes")
    barrier = threading.Barrier(20)
    codes: list[int] = []

    def post() -> None:
        barrier.wait()
        codes.append(callback(racing["callback_url"], {"status": "success",
                                                       "analysis": {"results": {}}}).status_code)  # fmt: skip

    threads = [threading.Thread(target=post) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] + [409] * 19, codes
    assert bob.get_analysis(racing["id"])["status"] == "success"


def test_pickles_are_refused_and_the_token_survives(site, tmp_path):
    bob = site.client("bob")
    _upload_only(site, "notes")
    photoz_table(tmp_path / "p.parquet")
    product = bob.upload("pickles", "Photo-z Estimates", tmp_path / "p.parquet", columns={"z": "z"})
    started = bob.start_analysis(product["id"], "notes")
    url = started["callback_url"]
    blob = pickle.dumps({"results": {"bias": 0.1}})
    raw = callback(url, content=blob)
    assert raw.status_code == 415 and "never unpickles" in raw.json()["detail"]
    skyportal_style = {"status": "success", "analysis": base64.b64encode(blob).decode()}
    assert callback(url, skyportal_style).status_code == 415
    as_plot = {"status": "success", "analysis": {"plots": [
        {"name": "p", "format": "png", "data": base64.b64encode(blob).decode()}]}}  # fmt: skip
    assert callback(url, as_plot).status_code == 415
    fake_png = {"status": "success", "analysis": {"plots": [
        {"name": "p", "format": "png", "data": base64.b64encode(b"GIF89a...").decode()}]}}  # fmt: skip
    refused = callback(url, fake_png)
    assert refused.status_code == 415 and "not a PNG" in refused.json()["detail"]
    buf = io.BytesIO()
    pd.DataFrame({"a": [1.0, 2.0]}).to_parquet(buf)
    good = {"status": "success", "message": "ok", "analysis": {
        "results": {"ok": True},
        "inference_data": {"format": "parquet", "data": base64.b64encode(buf.getvalue()).decode()},
    }}  # fmt: skip
    accepted = callback(url, good)  # the refused bodies did not use up the token
    assert accepted.status_code == 200, accepted.text
    files = bob.get_product_metadata(accepted.json()["result_product_id"])["files"]
    assert sorted(f["name"] for f in files) == ["inference_data.parquet", "results.json"]
    big = callback(bob.start_analysis(product["id"], "notes")["callback_url"],
                   content=b"{" + b" " * (51 * 1024 * 1024) + b"}")  # fmt: skip
    assert big.status_code == 413


def test_timeouts_cancels_summaries_and_the_cap(site, tmp_path):
    from pzforge.client import PzClientError

    ada, bob = site.client("ada"), site.client("bob")
    with contextlib.suppress(PzClientError):
        ada.register_analysis_service("silent", url=site.silent_url + "/analyze", timeout_s=1.5)
    photoz_table(tmp_path / "c.parquet")
    product = bob.upload("cap", "Photo-z Estimates", tmp_path / "c.parquet", columns={"z": "z"})

    never = bob.start_analysis(product["id"], "silent")
    swept = wait_status(bob, never["id"], ("timed_out",), timeout=60)  # the worker's sweep
    assert "did not answer" in swept["message"]

    with contextlib.suppress(PzClientError):
        ada.register_analysis_service("slow", url=site.silent_url + "/analyze", timeout_s=600)
    pending = bob.start_analysis(product["id"], "slow")
    assert bob.cancel_analysis(pending["id"])["status"] == "cancelled"

    _upload_only(site, "summary", is_summary=True)
    for i in range(2):
        url = bob.start_analysis(product["id"], "summary")["callback_url"]
        assert (
            callback(url, {"status": "success", "analysis": {"results": {"n": i}}}).status_code
            == 200
        )
    summary = bob.get_product_summary(product["id"])
    assert summary["current"]["summary"]["results"] == {"n": 1}
    assert [h["results"] for h in summary["history"]] == [{"n": 1}, {"n": 0}]

    # the cap: 50 analyses per product and user, pending ones counted (2 summaries so far)
    _upload_only(site, "notes")
    ids = [bob.start_analysis(product["id"], "notes")["id"] for _ in range(48)]
    with pytest.raises(PzClientError) as capped:
        bob.start_analysis(product["id"], "notes")
    assert capped.value.status == 429 and "at most 50" in str(capped.value)
    bob.cancel_analysis(ids[0])
    assert bob.start_analysis(product["id"], "notes")["status"] == "pending"
    # another user's cap is theirs
    ada.start_analysis(product["id"], "notes")


def test_the_cli_against_the_site(site, tmp_path):
    import json

    from pzforge.client import PzClientError
    from pzforge.server import example_service as ex

    with contextlib.suppress(PzClientError):
        site.client("ada").register_analysis_service(
            **dict(
                ex.REGISTRATION,
                url=site.service_url + "/analyze",
                auth_type="bearer",
                credentials={"token": SECRET},
                timeout_s=120,
            )  # fmt: skip
        )
    photoz_table(tmp_path / "cli.parquet", n=200)
    product = site.client("bob").upload(
        "cli", "Photo-z Estimates", tmp_path / "cli.parquet", columns={"z": "z"}
    )
    env = site.env(PZFORGE_URL=site.base, PZFORGE_TOKEN=site.tokens["bob"])

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "pzforge.cli", *args], env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert ex.NAME in json.dumps(json.loads(cli("analyses", "services", "-f", "json")))
    started = cli("analyses", "start", str(product["id"]), ex.NAME, "-p", "bins=3", "--wait")
    assert "success: 200 objects validated" in started
    rows = json.loads(cli("analyses", "list", "--product", str(product["id"]), "-f", "json"))
    assert [r["status"] for r in rows] == ["success"] and len(rows[0]["results"]["per_bin"]) == 3
    bad = subprocess.run([sys.executable, "-m", "pzforge.cli", "analyses", "start",
                          str(product["id"]), ex.NAME, "-p", "bins=0"], env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert bad.returncode == 1 and "bins" in bad.stderr and "Traceback" not in bad.stderr


def test_only_the_registered_url_is_called(site, tmp_path):
    """A service answering with a redirect is not followed (the site calls no other address),
    and one that is down ends its analysis as a failure with the reason."""
    import http.server

    hits: list[str] = []

    class Elsewhere(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's spelling
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    elsewhere = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)
    target = f"http://127.0.0.1:{elsewhere.server_address[1]}/steal"

    class Redirect(Elsewhere):
        def do_POST(self):  # noqa: N802
            self.send_response(307)
            self.send_header("Location", target)
            self.end_headers()

    redirect = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    for server in (elsewhere, redirect):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ada, bob = site.client("ada"), site.client("bob")
        from pzforge.client import PzClientError

        with contextlib.suppress(PzClientError):
            ada.register_analysis_service(
                "redirecting", url=f"http://127.0.0.1:{redirect.server_address[1]}/a",
                columns=["z"], timeout_s=60)  # fmt: skip
        with contextlib.suppress(PzClientError):
            ada.register_analysis_service(
                "down", url=f"http://127.0.0.1:{free_port()}/a", timeout_s=60)  # fmt: skip
        photoz_table(tmp_path / "r.parquet", n=50)
        product = bob.upload("redir", "Photo-z Estimates", tmp_path / "r.parquet",
                             columns={"z": "z"})  # fmt: skip
        moved = wait_status(bob, bob.start_analysis(product["id"], "redirecting")["id"],
                            ("failure",), timeout=60)  # fmt: skip
        assert "HTTP 307" in moved["message"] and hits == []
        down = wait_status(bob, bob.start_analysis(product["id"], "down")["id"],
                           ("failure",), timeout=60)  # fmt: skip
        assert "could not be reached: ConnectError" in down["message"]
    finally:
        for server in (elsewhere, redirect):
            server.shutdown()


def test_the_server_sweeps_without_a_worker(tmp_path):
    from tests.server.conftest import Site

    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    site = Site(url, tmp_path)
    import registry

    registry.upgrade(url)
    try:
        site.start(env=site.env(PZFORGE_ANALYSIS_SWEEP_S="0.3"))  # and no worker
        site.add_user("ada", admin=True)
        ada = site.client("ada")
        ada.register_analysis_service("notes", upload_only=True, timeout_s=0.5)
        photoz_table(tmp_path / "s.parquet", n=30)
        product = ada.upload("s", "Photo-z Estimates", tmp_path / "s.parquet", columns={"z": "z"})
        started = ada.start_analysis(product["id"], "notes")
        assert wait_status(ada, started["id"], ("timed_out",), timeout=30)["finished_at"]
        late = callback(started["callback_url"], {"status": "success"})
        assert late.status_code == 409 and "timed_out" in late.json()["detail"]
    finally:
        site.stop()
