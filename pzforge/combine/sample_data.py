"""Deterministic sample catalogs for the demo and tests, in every input format.

Six small surveys observe one 2x2 degree field. Some galaxies are seen by several surveys
(offsets below 1 arcsec, a few at exactly the same position, some chains), a few are stars, and
some rows carry the invalid values real catalogs have (-99 redshifts, NaN positions), so the demo
exercises validation, homogenization and every resolution path. Same seed, same files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FIELD_RA, FIELD_DEC, HALF_SIZE = 150.0, 2.0, 1.0
ARCSEC = 1.0 / 3600.0


def _truth(rng: np.random.Generator, n: int) -> pd.DataFrame:
    dec = FIELD_DEC + rng.uniform(-HALF_SIZE, HALF_SIZE, n)
    ra = FIELD_RA + rng.uniform(-HALF_SIZE, HALF_SIZE, n) / np.cos(np.radians(dec))
    z = np.round(rng.gamma(2.0, 0.35, n), 5)
    star = rng.random(n) < 0.03
    z[star] = np.round(rng.normal(0, 0.0002, star.sum()), 6)
    return pd.DataFrame({"ra": ra, "dec": dec, "z": z, "star": star})


def _observe(
    rng: np.random.Generator, truth: pd.DataFrame, idx: np.ndarray, scatter_arcsec: float
) -> pd.DataFrame:
    obs = truth.iloc[idx].reset_index(drop=True).copy()
    cos_dec = np.cos(np.radians(obs["dec"]))
    obs["ra"] += rng.normal(0, scatter_arcsec, len(obs)) * ARCSEC / cos_dec
    obs["dec"] += rng.normal(0, scatter_arcsec, len(obs)) * ARCSEC
    obs["z"] = np.round(obs["z"] + rng.normal(0, 0.0003, len(obs)) * (~obs["star"]), 5)
    return obs


def generate(out_dir: str | Path, seed: int = 20261123, n_objects: int = 6000) -> dict[str, Path]:
    """Write the sample catalogs into ``out_dir``; returns name -> path."""
    from astropy.table import Table

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    truth = _truth(rng, n_objects)
    scale = n_objects / 6000  # the demo's sizes at the default; smaller sets for quick tests
    picks = {
        name: np.sort(rng.choice(n_objects, max(20, round(size * scale)), replace=False))
        for name, size in [
            ("2dfgrs", 1500),
            ("6dfgs", 900),
            ("vvds", 1200),
            ("desi", 1500),
            ("jades", 600),
            ("candels", 700),
        ]
    }
    paths: dict[str, Path] = {}

    o = _observe(rng, truth, picks["2dfgrs"], 0.25)
    quality = rng.choice([1, 2, 3, 4, 5], len(o), p=[0.05, 0.1, 0.25, 0.4, 0.2])
    df = pd.DataFrame(
        {
            "name": [f"TGS{i:06d}" for i in range(len(o))],
            "ra_j2000_deg": o["ra"],
            "dec_j2000_deg": o["dec"],
            "z": o["z"],
            "quality": quality,
            "survey_name": "2DFGRS",
        }
    )
    df.loc[df.index[::97], "z"] = -9.999  # the survey's own "no redshift" value
    paths["2dfgrs"] = out / "2dfgrs_sample.csv"
    df.to_csv(paths["2dfgrs"], index=False, float_format="%.8f")

    o = _observe(rng, truth, picks["6dfgs"], 0.3)
    quality = np.where(o["star"], 6, rng.choice([1, 2, 3, 4], len(o), p=[0.05, 0.1, 0.3, 0.55]))
    t = Table(
        {
            "SPECID": np.arange(100000, 100000 + len(o)),
            "RA_deg": o["ra"].to_numpy(),
            "DEC_deg": o["dec"].to_numpy(),
            "Z": o["z"].to_numpy(),
            "QUALITY": quality,
        }
    )
    paths["6dfgs"] = out / "6dfgs_sample.fits"
    t.write(paths["6dfgs"], format="fits", overwrite=True)

    o = _observe(rng, truth, picks["vvds"], 0.2)
    flags = rng.choice([0, 1, 2, 3, 4, 9, 12, 13, 14, 23, 24, 219], len(o))
    vv = pd.DataFrame(
        {
            "NUM": np.arange(1, len(o) + 1),
            "ALPHA": o["ra"],
            "DELTA": o["dec"],
            "Z": o["z"],
            "ZFLAGS": flags,
            "MAGI": np.round(rng.uniform(17, 24, len(o)), 3),
        }
    )
    vv.loc[vv.index[::151], "ALPHA"] = np.nan  # a lost position
    paths["vvds"] = out / "vvds_sample.hdf5"
    vv.to_hdf(paths["vvds"], key="vvds", mode="w", format="table")

    o = _observe(rng, truth, picks["desi"], 0.1)
    zwarn = np.where(rng.random(len(o)) < 0.08, 4, 0)
    spectype = np.where(o["star"], "STAR", np.where(rng.random(len(o)) < 0.05, "QSO", "GALAXY"))
    zerr = np.round(rng.uniform(1e-5, 2e-3, len(o)), 6)
    desi = pd.DataFrame(
        {
            "TARGETID": 39627000000000000 + np.arange(len(o)),
            "TARGET_RA": o["ra"],
            "TARGET_DEC": o["dec"],
            "Z": o["z"],
            "ZERR": zerr,
            "ZWARN": zwarn,
            "SPECTYPE": spectype,
            "survey_name": "DESI",
        }
    )
    paths["desi"] = out / "desi_sample.parquet"
    desi.to_parquet(paths["desi"], index=False)

    o = _observe(rng, truth, picks["jades"], 0.15)
    jades = pd.DataFrame(
        {
            "unique_id": [f"JADES-{i:05d}" for i in range(len(o))],
            "RA_TARG": o["ra"],
            "Dec_TARG": o["dec"],
            "z_Spec": o["z"],
            "z_Spec_flag": rng.choice(list("ABCDE"), len(o)),
            "survey_name": "JADES",
        }
    )
    # Some JADES objects observed twice, once at exactly the same position (distance 0).
    rep = jades.iloc[:25].copy()
    rep["unique_id"] = [f"JADES-R{i:03d}" for i in range(len(rep))]
    rep["z_Spec"] = np.where(
        np.arange(len(rep)) % 2 == 0, rep["z_Spec"], np.round(rep["z_Spec"] + 0.3, 5)
    )
    jades = pd.concat([jades, rep], ignore_index=True)
    paths["jades"] = out / "jades_sample.parquet"
    jades.to_parquet(paths["jades"], index=False)

    o = _observe(rng, truth, picks["candels"], 0.3)
    conf = rng.choice([0.0, 0.5, 0.8, 0.95, 1.0], len(o))
    kind = np.where(rng.random(len(o)) < 0.2, "p", "s")
    cand = pd.DataFrame(
        {
            "RA": o["ra"],
            "DEC": o["dec"],
            "redshift": o["z"],
            "quality": conf,
            "type": kind,
            "source": "CANDELS",
        }
    )
    paths["candels"] = out / "candels_sample.csv"
    cand.to_csv(paths["candels"], index=False, float_format="%.8f")
    return paths
