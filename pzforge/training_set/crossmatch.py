"""The crossmatch of the Training Set Maker and its brute-force reference.

:func:`crossmatch` finds each spectroscopic object's nearest photometric object within the
radius (lsdb k-NN with the photometry's margin cache: exact at tile borders);
:func:`reference_matches` is the brute-force answer (one global KD-tree) the tests compare with;
:func:`resolve_many_to_one` keeps one spectroscopic row per photometric object.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.spatial import cKDTree

from pzforge.sky import chord_length, chord_to_arcsec, unit_vectors


def crossmatch(
    ref_hats: str | Path,
    phot_hats: str | Path,
    phot_margin: str | Path,
    radius_arcsec: float,
    n_neighbors: int,
    columns: list[str] | None = None,
    client=None,
    rename: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Nearest photometric object of every spectroscopic object within the radius.

    ``columns``/``rename``: photometric columns to load and their output names (for a HATS
    photometric catalog used as it is; ingested photometry already has its output names).

    lsdb's k-NN crossmatch per tile, the right side with its margin cache (mandatory), so
    neighbours across tile borders are found. One row per matched spectroscopic object, with
    ``sep_arcsec`` and ``n_candidates`` (photometric objects within the radius, at most
    ``n_neighbors``): the nearest wins, equal separations go to the smallest phot_id, for every
    ``n_neighbors`` (``nearest.NearestCrossmatch``: lsdb's own algorithm leaves ties to the
    k-d tree's order).
    """
    import lsdb

    from pzforge.tiles.cluster import compute_catalog
    from pzforge.tiles.jit_cache import enable_jit_cache
    from pzforge.training_set.nearest import NearestCrossmatch

    enable_jit_cache()
    left = lsdb.open_catalog(str(ref_hats))
    right = lsdb.open_catalog(str(phot_hats), columns=columns, margin_cache=str(phot_margin))
    id_column = next((s for s, t in (rename or {}).items() if t == "phot_id"), "phot_id")
    try:
        matched = left.crossmatch(
            right,
            algorithm=NearestCrossmatch(n_neighbors, radius_arcsec, id_column),
            require_right_margin=True,
            suffixes=("", _RIGHT_SUFFIX),
            suffix_method="overlapping_columns",
        )
    except RuntimeError as exc:
        if "do not overlap" in str(exc):
            return pd.DataFrame()
        raise
    result = compute_catalog(matched, client).reset_index(drop=True)
    result = result.rename(columns={"_dist_arcsec": "sep_arcsec"})
    if rename:
        result = result.rename(columns=_result_names(list(left.columns), rename))
    return nearest_per_reference(result, n_neighbors)


_RIGHT_SUFFIX = "__phot"


def _result_names(left_columns: list[str], rename: dict[str, str]) -> dict[str, str]:
    """Crossmatch result column -> output name (right columns clashing with left ones carry
    the suffix lsdb added)."""
    out = {}
    for source, target in rename.items():
        in_result = source + _RIGHT_SUFFIX if source in left_columns else source
        out[in_result] = target
    return out


def nearest_per_reference(pairs: pd.DataFrame, n_neighbors: int | None = None) -> pd.DataFrame:
    """Keep the nearest candidate of each reference id; count the candidates."""
    if len(pairs) == 0:
        return pairs.assign(n_candidates=pd.Series(dtype="int64"))
    pairs = plain_dtypes(pairs)
    if n_neighbors == 1:  # lsdb returns at most one candidate per left row: nothing to choose
        out = pairs.assign(n_candidates=np.ones(len(pairs), dtype=np.int64))
        return out.sort_values("id", kind="stable", ignore_index=True)
    pairs = pairs.sort_values(["id", "sep_arcsec", "phot_id"], kind="stable")
    counts = pairs.groupby("id", sort=False)["id"].transform("size").astype("int64")
    pairs = pairs.assign(n_candidates=counts)
    return pairs.drop_duplicates("id", keep="first").reset_index(drop=True)


_NULLABLE_INT = {f"{p}int{w}": f"{p.upper()}Int{w}" for p in ("", "u") for w in (8, 16, 32, 64)}


def plain_dtypes(df: pd.DataFrame) -> pd.DataFrame:
    """Arrow-backed columns from lsdb to numpy / pandas nullable dtypes (stable sorting, IO)."""
    out = {}
    for name in df.columns:
        s = df[name]
        if isinstance(s.dtype, pd.ArrowDtype):
            t = s.dtype.pyarrow_dtype
            if pa.types.is_floating(t):
                s = s.astype("float64")
            elif pa.types.is_integer(t):  # same width, nullable only when there are nulls
                kind = str(t)
                s = s.astype(kind if not s.isna().any() else _NULLABLE_INT[kind])
            elif pa.types.is_string(t) or pa.types.is_large_string(t):
                s = s.astype("string")
            elif pa.types.is_boolean(t):
                s = s.astype("boolean")
        out[name] = s
    return pd.DataFrame(out, index=df.index)


def reference_matches(ref: pd.DataFrame, phot: pd.DataFrame, radius_arcsec: float) -> pd.DataFrame:
    """Brute force: nearest photometric object of each reference row by one global KD-tree.

    Every photometric object within the radius is listed (``query_ball_point``), then the
    smallest (separation, phot_id) wins: the documented tie rule, independently of lsdb.
    ``ref`` has id/ra/dec, ``phot`` phot_id/phot_ra/phot_dec. Returns id, phot_id, sep_arcsec.
    """
    pxyz = unit_vectors(phot["phot_ra"].to_numpy(float), phot["phot_dec"].to_numpy(float))
    rxyz = unit_vectors(ref["ra"].to_numpy(float), ref["dec"].to_numpy(float))
    near = cKDTree(pxyz).query_ball_point(rxyz, r=chord_length(radius_arcsec))
    left = np.repeat(np.arange(len(rxyz)), [len(n) for n in near])
    right = np.fromiter((j for n in near for j in n), dtype=np.int64, count=len(left))
    chord = np.linalg.norm(pxyz[right] - rxyz[left], axis=1)
    pairs = pd.DataFrame(
        {
            "id": ref["id"].to_numpy()[left],
            "phot_id": phot["phot_id"].to_numpy()[right],
            "sep_arcsec": chord_to_arcsec(chord),
        }
    )
    pairs = pairs.sort_values(["id", "sep_arcsec", "phot_id"], kind="stable")
    return pairs.drop_duplicates("id", keep="first").reset_index(drop=True)


def resolve_many_to_one(matches: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One spectroscopic row per photometric object: (kept, dropped).

    Rule, in order: the best ``z_flag_homogenized`` (highest; unknown ranks last), then the
    smallest separation, then the smallest reference ``id`` (a deterministic tiebreak).
    """
    if len(matches) == 0:
        return matches, matches
    matches = matches.reset_index(drop=True)
    # Only rows sharing a photometric object need ranking (hash first, sort the few contested).
    contested = matches.loc[matches["phot_id"].duplicated(keep=False).to_numpy()]
    flag = contested["z_flag_homogenized"].astype("Float64").fillna(-1).to_numpy(dtype="float64")
    ranked = contested.assign(_flag=-flag).sort_values(
        ["phot_id", "_flag", "sep_arcsec", "id"], kind="stable"
    )
    losers = ranked.index[ranked["phot_id"].duplicated(keep="first").to_numpy()]
    lost = np.zeros(len(matches), dtype=bool)
    lost[losers.to_numpy()] = True
    return (
        matches.loc[~lost].reset_index(drop=True),
        matches.loc[lost].sort_values("id", kind="stable", ignore_index=True),
    )
