"""One behavioural suite, two backends: a SQLite file and a real PostgreSQL server.

PostgreSQL comes from scripts/system/postgres.sh (PZFORGE_TEST_PG_URL overrides). Without a
server the PostgreSQL cases skip with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]


def postgres_base_url() -> str | None:
    url = os.environ.get("PZFORGE_TEST_PG_URL")
    if not url:
        try:
            url = subprocess.run(
                [str(ROOT / "scripts/system/postgres.sh"), "url"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None
    try:
        with create_engine(url).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return None
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def registry_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.sqlite'}"
        return
    base = postgres_base_url()
    if base is None:
        reason = "no PostgreSQL server reachable (run scripts/system/postgres.sh start)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"pzt_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield base.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def table_files(tmp_path):
    """A small catalog as CSV, Parquet, FITS, HDF5 and HATS."""
    rng = np.random.default_rng(5)
    n = 200
    df = pd.DataFrame(
        {
            "objid": np.arange(n),
            "RA": rng.uniform(10, 11, n),
            "DEC": rng.uniform(-1, 1, n),
            "redshift": rng.uniform(0, 2, n),
            "z_err": rng.uniform(0, 0.01, n),
            "name": [f"o{i}" for i in range(n)],
        }
    )
    paths = {
        "csv": tmp_path / "cat.csv",
        "parquet": tmp_path / "cat.parquet",
        "fits": tmp_path / "cat.fits",
        "hdf5": tmp_path / "cat.hdf5",
        "hats": tmp_path / "cat_hats",
    }
    df.to_csv(paths["csv"], index=False)
    df.to_parquet(paths["parquet"], index=False)
    from astropy.table import Table

    Table.from_pandas(df).write(paths["fits"])
    df.to_hdf(paths["hdf5"], key="cat", format="table")
    import lsdb

    lsdb.from_dataframe(df, ra_column="RA", dec_column="DEC").write_catalog(
        paths["hats"], as_collection=False, progress_bar=False
    )
    return df, paths
