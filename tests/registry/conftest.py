"""One behavioural suite, two backends: a SQLite file and a real PostgreSQL server.

PostgreSQL comes from scripts/system/postgres.sh (PZFORGE_TEST_PG_URL overrides). Without a
server the PostgreSQL cases skip with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.support.postgres import fresh_database, postgres_base_url  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def registry_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.sqlite'}"
        return
    with fresh_database() as url:
        yield url


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
