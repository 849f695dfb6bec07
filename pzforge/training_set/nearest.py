"""lsdb's k-d tree crossmatch with the documented tie rule, for every ``n_neighbors``.

lsdb's ``KdTreeCrossmatch`` returns the ``n_neighbors`` nearest photometric objects in the
k-d tree's order: between objects at exactly the same separation the winner depends on how
scipy walks the tree (with ``n_neighbors: 1`` a tie went to the larger id). Here, per tile (the
photometry's margin included, so it stays exact at tile borders):

1. the tree is asked for ``n_neighbors + 1`` candidates within the radius;
2. where every returned candidate sits at the nearest separation, more may tie beyond them: the
   query is repeated for those rows with twice as many candidates until one lies farther (or
   all objects were returned);
3. candidates are ordered by (separation, photometric id) and the first ``n_neighbors`` kept.

So the nearest object wins and, at equal separations, the smallest photometric id, whatever
``n_neighbors`` is (tests/training_set: planted exact ties). Imported only by
``crossmatch.crossmatch`` (this module imports lsdb).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from lsdb.core.crossmatch.crossmatch_args import CrossmatchArgs
from lsdb.core.crossmatch.kdtree_match import KdTreeCrossmatch
from scipy.spatial import KDTree

from pzforge.sky import chord_length


def chord_arcsec(chord: np.ndarray) -> np.ndarray:
    """lsdb's conversion of chord to arcsec (the same numbers as its ``_dist_arcsec``); an
    infinite chord (no neighbour) stays infinite."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(chord), np.degrees(2.0 * np.arcsin(0.5 * chord)) * 3600, np.inf)


def ranked_neighbours(
    left_xyz: np.ndarray,
    right_xyz: np.ndarray,
    right_ids: np.ndarray,
    n_neighbors: int,
    radius_arcsec: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to ``n_neighbors`` candidates of every left point within the radius, ranked by
    (separation, id); ties at the nearest separation are always complete.

    Returns (left index, right index, separation in arcsec), ordered by left index then rank.
    """
    n_right = len(right_xyz)
    empty = (np.array([], dtype=np.int64), np.array([], dtype=np.int64), np.array([], dtype=float))
    if n_right == 0 or len(left_xyz) == 0:
        return empty
    tree = KDTree(right_xyz, compact_nodes=True, balanced_tree=True, copy_data=False)
    max_chord = chord_length(radius_arcsec)

    def query(points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        dist, idx = tree.query(points, k=k, distance_upper_bound=max_chord)
        return (dist[:, None], idx[:, None]) if k == 1 else (dist, idx)

    def saturated(sep: np.ndarray) -> np.ndarray:
        """Rows whose candidates all tie at the nearest separation: the tie set may go on."""
        return np.isfinite(sep[:, -1]) & (sep[:, -1] == sep[:, 0])

    rows = np.arange(len(left_xyz))
    k = min(n_neighbors + 1, n_right)
    lefts, seps, rights = [], [], []
    while True:
        dist, idx = query(left_xyz[rows], k)
        sep = chord_arcsec(dist)
        more = saturated(sep) if k < n_right else np.zeros(len(rows), dtype=bool)
        lefts.append(np.repeat(rows[~more], k))
        seps.append(sep[~more].ravel())
        rights.append(idx[~more].ravel())
        if not more.any():
            break
        rows, k = rows[more], min(2 * k, n_right)
    left_idx, sep_all, right_idx = (
        np.concatenate(lefts),
        np.concatenate(seps),
        np.concatenate(rights),
    )
    found = np.isfinite(sep_all)
    frame = pd.DataFrame(
        {
            "left": left_idx[found],
            "sep": sep_all[found],
            "pid": np.asarray(right_ids)[right_idx[found]],
            "right": right_idx[found],
        }
    ).sort_values(["left", "sep", "pid"], kind="stable")
    frame = frame.loc[frame.groupby("left", sort=False).cumcount().to_numpy() < n_neighbors]
    return (
        frame["left"].to_numpy(np.int64),
        frame["right"].to_numpy(np.int64),
        frame["sep"].to_numpy(float),
    )


class NearestCrossmatch(KdTreeCrossmatch):
    """``KdTreeCrossmatch`` whose candidates follow the tie rule (module docstring).

    ``id_column`` is the photometric id column as it is named in the right catalog.
    """

    def __init__(self, n_neighbors: int, radius_arcsec: float, id_column: str):
        super().__init__(n_neighbors=n_neighbors, radius_arcsec=radius_arcsec)
        self.id_column = id_column

    def perform_crossmatch(
        self, crossmatch_args: CrossmatchArgs
    ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
        left_xyz, right_xyz = self._get_point_coordinates(
            crossmatch_args.left_df,
            crossmatch_args.left_catalog_info,
            crossmatch_args.right_df,
            crossmatch_args.right_catalog_info,
        )
        ids = crossmatch_args.right_df[self.id_column].to_numpy()
        left_idx, right_idx, sep = ranked_neighbours(
            left_xyz, right_xyz, ids, self.n_neighbors, self.radius_arcsec
        )
        extra = pd.DataFrame({"_dist_arcsec": pd.Series(sep, dtype=pd.ArrowDtype(pa.float64()))})
        return left_idx, right_idx, extra
