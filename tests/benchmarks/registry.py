"""Benchmark: registry queries at scale (not a test).

    .venv/bin/python tests/benchmarks/registry.py [--products 100000] [--files-per-product 10] [--postgres URL]

Bulk-loads N products with 10 files each (1,000,000 files at the default) into a fresh SQLite file
and, when a PostgreSQL URL is given (default: scripts/system/postgres.sh url, if reachable), into
a fresh PostgreSQL database; then times a filtered list (type + name substring + owner, sorted by
creation time, first 50) and showing one product with its files and columns. Prints the median of
repeated runs; targets: list < 100 ms, show < 20 ms.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

# This file is named registry.py (as the issue asks): keep its folder from shadowing the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from sqlalchemy import create_engine, insert, text  # noqa: E402

from registry import Registry  # noqa: E402
from registry.models import Product, ProductColumn, ProductFile  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TYPES = 6
OWNERS = [f"user{i:03d}" for i in range(200)]


def load(reg: Registry, n_products: int, files_per: int) -> float:
    start = time.perf_counter()
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    batch = 10_000
    with reg.engine.begin() as conn:
        for lo in range(0, n_products, batch):
            hi = min(lo + batch, n_products)
            conn.execute(
                insert(Product),
                [
                    {
                        "id": i + 1,
                        "name": f"catalog {i} {'deep' if i % 7 == 0 else 'wide'}",
                        "internal_name": f"{i + 1}_catalog_{i}",
                        "product_type_id": i % TYPES + 1,
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
                    for k in range(files_per)
                ],
            )
            conn.execute(
                insert(ProductColumn),
                [
                    {
                        "product_id": i + 1,
                        "name": c,
                        "role": c,
                        "ucd": None,
                        "unit": None,
                        "dtype": "double",
                    }
                    for i in range(lo, hi)
                    for c in ("ra", "dec", "z")
                ],
            )
        if conn.dialect.name == "postgresql":
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('products', 'id'), (SELECT max(id) FROM products))"
                )
            )
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - start


def timed(fn, repeat: int = 20) -> float:
    fn()  # warm caches
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def run(label: str, url: str, n: int, files_per: int) -> None:
    reg = Registry.from_url(url, user="tests")
    seconds = load(reg, n, files_per)
    mid = n // 2
    list_ms = timed(
        lambda: reg.list_products(
            product_type="Training Set",
            name="deep",
            owner=OWNERS[1],
            order_by="created_at",
            descending=True,
            limit=50,
        )
    )
    list_all_ms = timed(
        lambda: reg.list_products(product_type="Reference Redshift Catalog", limit=50)
    )
    show_ms = timed(lambda: reg.get_product(mid))
    show_name_ms = timed(lambda: reg.get_product(f"{mid}_catalog_{mid - 1}"))
    print(f"{label}: {n:,} products, {n * files_per:,} files loaded in {seconds:.1f} s")
    print(f"  filtered list (type+name+owner, sorted, 50)  {list_ms:7.2f} ms   (target < 100)")
    print(f"  list by type (50)                            {list_all_ms:7.2f} ms   (target < 100)")
    print(f"  show by id                                   {show_ms:7.2f} ms   (target < 20)")
    print(f"  show by internal name                        {show_name_ms:7.2f} ms   (target < 20)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--files-per-product", type=int, default=10)
    ap.add_argument("--postgres")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/bench.sqlite", args.products, args.files_per_product)
    base = args.postgres
    if base is None:
        try:
            base = subprocess.run(
                [str(ROOT / "scripts/system/postgres.sh"), "url"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            base = None
    if not base:
        print("PostgreSQL: skipped (no server; run scripts/system/postgres.sh start)")
        return
    name = f"pzbench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        run(
            "PostgreSQL", base.rsplit("/", 1)[0] + f"/{name}", args.products, args.files_per_product
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


if __name__ == "__main__":
    main()
