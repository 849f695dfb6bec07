"""Find every pair of rows closer than a radius, over the whole sky, and group them.

Pairs come from lsdb's self-crossmatch of the HATS catalog against itself *with its margin
cache*, using :class:`AllPairsCrossmatch`: lsdb's k-nearest-neighbour algorithm needs
``n_neighbors`` larger than the largest group, which is unknown in advance, so we return every
neighbour inside the radius instead (a ball query on lsdb's own unit-vector coordinates). Each pair
is kept once, oriented ``id_a < id_b``. Groups are the connected components of the pair graph, so
chains A-B-C whose ends are farther apart than the radius form one group.

:func:`reference_pairs` is the global brute-force answer (one KD-tree over all rows) used by the
tests to prove that the partitioned search is exact at tile borders.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

log = logging.getLogger(__name__)

PAIR_COLUMNS = ["id_a", "id_b", "sep_arcsec"]


def chord_length(radius_arcsec: float) -> float:
    """Straight-line distance between two unit vectors ``radius_arcsec`` apart on the sphere."""
    return 2.0 * np.sin(np.radians(radius_arcsec / 3600.0) / 2.0)


def unit_vectors(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    cos_dec = np.cos(dec)
    return np.column_stack([cos_dec * np.cos(ra), cos_dec * np.sin(ra), np.sin(dec)])


def chord_to_arcsec(chord: np.ndarray) -> np.ndarray:
    return np.degrees(2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))) * 3600.0


def _ordered_pairs(
    ids_left: np.ndarray, ids_right: np.ndarray, li: np.ndarray, ri: np.ndarray, chord: np.ndarray
) -> pd.DataFrame:
    a, b = ids_left[li], ids_right[ri]
    keep = a < b
    return pd.DataFrame(
        {"id_a": a[keep], "id_b": b[keep], "sep_arcsec": chord_to_arcsec(chord[keep])}
    )


def reference_pairs(df: pd.DataFrame, radius_arcsec: float) -> pd.DataFrame:
    """All pairs within the radius by one global KD-tree (the brute-force reference)."""
    xyz = unit_vectors(df["ra"].to_numpy(float), df["dec"].to_numpy(float))
    tree = cKDTree(xyz)
    pairs = tree.query_pairs(chord_length(radius_arcsec), output_type="ndarray")
    ids = df["id"].to_numpy(dtype=object).astype(str)
    i, j = pairs[:, 0], pairs[:, 1]
    a = np.where(ids[i] < ids[j], ids[i], ids[j])
    b = np.where(ids[i] < ids[j], ids[j], ids[i])
    sep = chord_to_arcsec(np.linalg.norm(xyz[i] - xyz[j], axis=1))
    return sort_pairs(pd.DataFrame({"id_a": a, "id_b": b, "sep_arcsec": sep}))


def sort_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    out = pairs.astype({"id_a": "string", "id_b": "string", "sep_arcsec": "float64"})
    return out.sort_values(["id_a", "id_b"], kind="stable").reset_index(drop=True)


def _all_pairs_algorithm(radius_arcsec: float, id_column: str):
    """Build the lsdb crossmatch algorithm lazily (lsdb import is slow)."""
    from lsdb.core.crossmatch.kdtree_match import KdTreeCrossmatch

    class AllPairsCrossmatch(KdTreeCrossmatch):
        """Every right row within the radius of each left row, kept once as id_left < id_right."""

        extra_columns = pd.DataFrame({"_dist_arcsec": pd.Series(dtype=pd.ArrowDtype(pa.float64()))})

        def perform_crossmatch(self, crossmatch_args):
            left_xyz, right_xyz = self._get_point_coordinates(
                crossmatch_args.left_df,
                crossmatch_args.left_catalog_info,
                crossmatch_args.right_df,
                crossmatch_args.right_catalog_info,
            )
            empty = np.array([], dtype=np.int64)
            if len(left_xyz) == 0 or len(right_xyz) == 0:
                return empty, empty, self.extra_columns.iloc[:0]
            left_tree, right_tree = cKDTree(left_xyz), cKDTree(right_xyz)
            sdm = left_tree.sparse_distance_matrix(
                right_tree, chord_length(self.radius_arcsec), output_type="ndarray"
            )
            li, ri, chord = sdm["i"].astype(np.int64), sdm["j"].astype(np.int64), sdm["v"]
            left_ids = crossmatch_args.left_df[id_column].to_numpy(dtype=object)
            right_ids = crossmatch_args.right_df[id_column].to_numpy(dtype=object)
            keep = left_ids[li] < right_ids[ri]
            li, ri, chord = li[keep], ri[keep], chord[keep]
            dist = pd.Series(chord_to_arcsec(chord), dtype=pd.ArrowDtype(pa.float64()))
            return li, ri, pd.DataFrame({"_dist_arcsec": dist})

    return AllPairsCrossmatch(radius_arcsec=radius_arcsec)


def find_pairs(
    catalog_dir: str | Path, margin_dir: str | Path, radius_arcsec: float, client=None
) -> pd.DataFrame:
    """All pairs within ``radius_arcsec`` in a HATS catalog, computed per tile with margins.

    ``client``: a distributed Client to run on; None uses the threaded scheduler in this process.
    """
    import lsdb

    from pzforge.jit_cache import enable_jit_cache

    enable_jit_cache()
    columns = ["id", "ra", "dec"]
    left = lsdb.open_catalog(str(catalog_dir), columns=columns)
    right = lsdb.open_catalog(str(catalog_dir), columns=columns, margin_cache=str(margin_dir))
    matched = left.crossmatch(
        right,
        algorithm=_all_pairs_algorithm(radius_arcsec, "id"),
        require_right_margin=True,
        suffixes=("_a", "_b"),
        suffix_method="all_columns",
    )
    result = compute(matched, client)
    pairs = pd.DataFrame(
        {
            "id_a": result["id_a"].to_numpy(dtype=object),
            "id_b": result["id_b"].to_numpy(dtype=object),
            "sep_arcsec": result["_dist_arcsec"].to_numpy(dtype=float),
        }
    )
    return sort_pairs(pairs)


def compute(catalog, client=None):
    """Compute an lsdb catalog on ``client``, or with the threaded scheduler when None."""
    import dask

    if client is not None:
        return catalog.compute(progress_bar=False)  # the active Client is dask's default scheduler
    with dask.config.set(scheduler="threads"):
        return catalog.compute(progress_bar=False)


def group_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """Connected components of the pair graph: one row per member (id, group_id).

    Groups are numbered 1..G in the order of their smallest member id, so numbering is
    deterministic; members are sorted by (group_id, id).
    """
    if len(pairs) == 0:
        return pd.DataFrame({"id": pd.Series(dtype="string"), "group_id": pd.Series(dtype="int64")})
    codes, uniques = pd.factorize(
        pd.concat([pairs["id_a"], pairs["id_b"]], ignore_index=True), sort=True
    )
    n = len(uniques)
    half = len(pairs)
    graph = coo_matrix((np.ones(half, dtype=np.int8), (codes[:half], codes[half:])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # uniques are sorted, so the first time a label appears is its smallest member id
    first_seen = pd.Series(np.arange(n)).groupby(labels).min().sort_values()
    order = np.empty(len(first_seen), dtype=np.int64)
    order[first_seen.index.to_numpy()] = np.arange(1, len(first_seen) + 1)
    members = pd.DataFrame({"id": pd.array(uniques, dtype="string"), "group_id": order[labels]})
    return members.sort_values(["group_id", "id"], kind="stable").reset_index(drop=True)
