"""Benchmark: how long the site's pages take on a 100,000-product registry (not a test).

    .venv/bin/python tests/benchmarks/pages.py [--products 100000] [--repeat 7] [--postgres [URL]]

Fills a fresh registry as tests/benchmarks/server_load.py does (bulk rows, plus 20 real uploaded
catalogs), starts `pzforge serve` on 127.0.0.1, logs in through the login form (CSRF token and
session cookie, as a browser) and times, one request at a time, the product list's first page, a
deep page, the last page, a name search, a sort, filters, the home page and a product page. Prints
the median and the worst time of each (whole HTTP request, HTML rendered).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

import registry  # noqa: E402
from tests.benchmarks.server_load import fill  # noqa: E402

PASSWORD = "benchmark password"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--postgres", nargs="?", const="auto", help="PostgreSQL (URL or auto)")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="pzforge-pages-"))
    drop = None
    if args.postgres:
        from tests.support.postgres import fresh_database, postgres_base_url

        if args.postgres == "auto" and postgres_base_url() is None:
            sys.exit("no PostgreSQL reachable (scripts/system/postgres.sh start)")
        drop = fresh_database()
        url = drop.__enter__()
    else:
        url = f"sqlite:///{folder / 'registry.sqlite'}"
    t = time.perf_counter()
    real, _token = fill(url, folder / "store", args.products, folder)
    op = registry.open(url, user="operator", operator=True, storage=folder / "store")
    op.set_password("bench", PASSWORD)
    op.engine.dispose()
    print(f"registry: {args.products + len(real)} products ({url.split(':')[0]}), "
          f"filled in {time.perf_counter() - t:.0f} s")  # fmt: skip
    port = 19000 + os.getpid() % 1000
    env = dict(os.environ, PYTHONPATH=str(ROOT), PZFORGE_REGISTRY_URL=url,
               PZFORGE_SITE=str(folder / "site"), PZFORGE_STORAGE=str(folder / "store"))  # fmt: skip
    log = open(folder / "server.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pzforge.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],  # fmt: skip
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    pages = {
        "list, first page": "/products",
        "list, page 1000": "/products?page=1000",
        "list, last page": f"/products?page={(args.products + len(real) + 49) // 50}",
        "search 'deep'": "/products?name=deep",
        "sort by name": "/products?sort=name&order=asc",
        "owner + official": "/products?owner=user000&official=yes",
        "created range": "/products?after=2025-01-20&before=2025-02-20&sort=created_at",
        "200 per page": "/products?per_page=200",
        "home": "/",
        "product page": f"/products/{real[0]}",
    }
    try:
        for _ in range(120):
            try:
                if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            sys.exit("server did not start: " + (folder / "server.log").read_text()[-2000:])
        with httpx.Client(base_url=base, timeout=120) as web:
            form = web.get("/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
            r = web.post("/login", data={"csrf_token": token, "name": "bench",
                                         "password": PASSWORD})  # fmt: skip
            assert r.status_code == 303, r.text[:500]
            print(f"{'page':<20}{'median ms':>11}{'worst ms':>10}  shown")
            for label, path in pages.items():
                times = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    r = web.get(path)
                    times.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200, (path, r.status_code, r.text[:300])
                shown = re.search(r"[\d,]+–[\d,]+ of [\d,]+ products", r.text)
                print(f"{label:<20}{statistics.median(times):>11.1f}{max(times):>10.1f}  "
                      f"{shown.group(0) if shown else ''}")  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=60)
        if drop is not None:
            drop.__exit__(None, None, None)


if __name__ == "__main__":
    main()
