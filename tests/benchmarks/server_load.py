"""Benchmark: the site under load on loopback (not a test).

    .venv/bin/python tests/benchmarks/server_load.py [--products 100000] [--clients 50]
        [--seconds 30] [--workers 1] [--postgres [URL]]

Fills a fresh registry (SQLite by default; PostgreSQL with --postgres) with N products (bulk
rows, 3 files and 3 columns each) plus 20 real uploaded catalogs, starts `pzforge serve` on
127.0.0.1, and runs C concurrent clients for S seconds, each looping over: list products
(a name filter, a sort, a random page), show one product (metadata, files, columns, versions,
lineage), and download one of the real catalogs (signed link, then the zip). Prints p50/p99
latency per kind and overall, requests per second, and the error count (any status >= 400 or
transport error). Traffic goes to 127.0.0.1 only; the loop stops by itself after S seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

import registry  # noqa: E402
from registry.models import Product, ProductColumn, ProductFile  # noqa: E402

OWNERS = [f"user{i:03d}" for i in range(200)]
REAL = 20


def fill(url: str, store: Path, n: int, folder: Path) -> tuple[list[int], str]:
    """N bulk products, then REAL uploaded ones; returns their ids and a user's token."""
    reg = registry.open(url, user="bench", operator=True, storage=store)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    batch = 10_000
    with reg.engine.begin() as conn:
        for lo in range(0, n, batch):
            hi = min(lo + batch, n)
            conn.execute(
                insert(Product),
                [
                    {
                        "id": i + 1,
                        "name": f"catalog {i} {'deep' if i % 7 == 0 else 'wide'}",
                        "internal_name": f"{i + 1}_catalog_{i}",
                        "product_type_id": i % 6 + 1,
                        "owner": OWNERS[i % len(OWNERS)],
                        "official": i % 50 == 0,
                        "description": "",
                        "status": "registered",
                        "created_at": t0 + timedelta(minutes=i),
                        "updated_at": t0 + timedelta(minutes=i),
                    }
                    for i in range(lo, hi)
                ],
            )
            conn.execute(
                insert(ProductFile),
                [
                    {
                        "product_id": i + 1,
                        "role": "main" if k == 0 else "auxiliary",
                        "path": f"/data/{i}/f{k}.parquet",
                        "size": 1000 + k,
                        "checksum": uuid.uuid4().hex * 2,
                        "checksum_algorithm": "sha256",
                        "format": "parquet",
                        "media_type": "application/vnd.apache.parquet",
                        "copied": False,
                        "n_members": 0,
                    }
                    for i in range(lo, hi)
                    for k in range(3)
                ],
            )
            conn.execute(
                insert(ProductColumn),
                [
                    {"product_id": i + 1, "name": c, "role": c, "dtype": "double"}
                    for i in range(lo, hi)
                    for c in ("ra", "dec", "z")
                ],
            )
        if conn.dialect.name == "postgresql":
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('products', 'id'), "
                    "(SELECT max(id) FROM products))"
                )
            )
        conn.execute(text("ANALYZE"))
    rng = np.random.default_rng(1)
    path = folder / "real.parquet"
    pd.DataFrame(
        {
            "ra": rng.uniform(0, 360, 2000),
            "dec": rng.uniform(-60, 60, 2000),
            "z": rng.uniform(0, 2, 2000),
        }  # fmt: skip
    ).to_parquet(path)
    cols = [registry.ColumnSpec(c, c) for c in ("ra", "dec", "z")]
    ids = [
        reg.upload(f"real {k}", registry.REFERENCE_REDSHIFT_CATALOG, path, columns=cols).id
        for k in range(REAL)
    ]
    reg.add_user("bench")
    token, _ = reg.create_token("bench", label="load test")
    reg.engine.dispose()
    return ids, token


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def client(
    base: str, token: str, n: int, real: list[int], until: float, out: dict, seed: int
):
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        while time.monotonic() < until:
            kind = rng.choices(["list", "show", "download"], weights=[4, 4, 2])[0]
            start = time.perf_counter()
            try:
                if kind == "list":
                    params = {
                        "name": rng.choice(["deep", "wide", "catalog 12", "real"]),
                        "sort": rng.choice(["id", "created_at", "name"]),
                        "desc": rng.choice(["true", "false"]),
                        "limit": 50,
                        "offset": rng.randrange(0, 2000),
                    }
                    r = await http.get("/api/v1/products", params=params)
                    ok = r.status_code == 200
                elif kind == "show":
                    r = await http.get(f"/api/v1/products/{rng.randrange(1, n + 1)}")
                    ok = r.status_code == 200
                else:
                    r = await http.post(f"/api/v1/products/{rng.choice(real)}/download-link")
                    ok = r.status_code == 200
                    if ok:
                        r = await http.get(r.json()["url"])  # the link is the credential
                        ok = r.status_code == 200 and len(r.content) > 1000
            except httpx.HTTPError:
                ok = False
            elapsed = (time.perf_counter() - start) * 1000
            out.setdefault(kind, []).append(elapsed)
            if not ok:
                out.setdefault("errors", []).append(kind)


async def load(base: str, token: str, n: int, real: list[int], clients: int, seconds: float):
    out: dict[str, list] = {}
    until = time.monotonic() + seconds
    await asyncio.gather(
        *(client(base, token, n, real, until, out, seed) for seed in range(clients))
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30)
    # one server process on a 2-core machine that also runs the clients: more contend for it
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--postgres", nargs="?", const="auto", help="PostgreSQL (URL or auto)")
    ap.add_argument("--log-level", default="warning", help="the server's (info: access log)")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="pzforge-load-"))
    drop = None
    if args.postgres:
        from tests.support.postgres import fresh_database, postgres_base_url

        if args.postgres == "auto" and postgres_base_url() is None:
            sys.exit("no PostgreSQL reachable (scripts/system/postgres.sh start)")
        ctx = fresh_database()
        url = ctx.__enter__()
        drop = ctx
    else:
        url = f"sqlite:///{folder / 'registry.sqlite'}"
    t = time.perf_counter()
    real, token = fill(url, folder / "store", args.products, folder)
    print(f"registry: {args.products + REAL} products ({url.split(':')[0]}), "
          f"filled in {time.perf_counter() - t:.0f} s")  # fmt: skip
    port = 18000 + os.getpid() % 1000
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
            "--workers",
            str(args.workers),
            "--log-level",
            args.log_level,
        ],  # fmt: skip
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            sys.exit("server did not start: " + (folder / "server.log").read_text()[-2000:])
        asyncio.run(load(base, token, args.products, real, 5, 3))  # warm-up: zips built once
        out = asyncio.run(load(base, token, args.products, real, args.clients, args.seconds))
    finally:
        server.terminate()
        server.wait(timeout=60)
        print(f"server log: {folder / 'server.log'}")
        if drop is not None:
            drop.__exit__(None, None, None)
    errors = out.pop("errors", [])
    total = sum(len(v) for v in out.values())
    print(f"{args.clients} clients, {args.seconds:.0f} s, {args.workers} server processes: "
          f"{total} requests ({total / args.seconds:.0f}/s)")  # fmt: skip
    print(f"{'kind':<10}{'count':>8}{'p50 ms':>10}{'p99 ms':>10}")
    for kind, values in sorted(out.items()):
        print(
            f"{kind:<10}{len(values):>8}{percentile(values, 0.5):>10.1f}{percentile(values, 0.99):>10.1f}"
        )
    every = [v for values in out.values() for v in values]
    print(
        f"{'all':<10}{len(every):>8}{percentile(every, 0.5):>10.1f}{percentile(every, 0.99):>10.1f}"
    )
    print(f"errors: {len(errors)}" + (f" ({statistics.multimode(errors)})" if errors else ""))


if __name__ == "__main__":
    main()
