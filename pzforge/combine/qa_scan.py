"""The rows the QA report draws, gathered partition by partition in bounded memory.

Holding every valid row's survey, position and redshift made the QA job the largest of a run
(1.75 GiB at 20M rows, growing with rows). The maps draw at most ``max_points`` rows, the zooms
a few square degrees and the histograms 40 bins, so three passes over the partition files (in
sky order, the same every run) give the same pictures with memory that does not grow with rows:

1. counts: rows per survey, group members, rows per sky cell, and per survey the redshifts'
   count, minimum and a coarse histogram of their order (:func:`order_bucket`);
2. samples: the rows the maps draw (the same random picks as from the whole table: indices
   into the global row order), the rows around the densest cells, and the redshifts in the
   bucket that holds each survey's 99.5th percentile;
3. histograms: each survey's redshift histogram on the range that percentile sets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pzforge.tiles.partition import HEALPIX, partition_files

Z_TAIL = 0.995  # the z histograms pile values above this quantile into their last bin
Z_BINS = 40
FIELD_CELL_DEG = 1.0
FIELDS = 6
FIELD_MIN_ROWS = 20
BUCKET_SHIFT = 44  # order_bucket keeps the top 20 bits: sign, exponent, 8 mantissa bits


def subsample(n: int, limit: int, seed: int = 0) -> np.ndarray:
    """Sorted positions of at most ``limit`` of ``n`` rows, the same for the same n."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def order_bucket(z: np.ndarray) -> np.ndarray:
    """A key whose order is the values' order, cut to its top bits (IEEE 754 floats ordered
    as unsigned integers: flip every bit of negatives, the sign bit of the rest).

    A bucket holds values within 1/256 of each other in relative terms, so the bucket of a
    quantile's rank holds a small share of the rows whatever the range of the values."""
    z = np.asarray(z, dtype=np.float64) + 0.0  # -0.0 + 0.0 is +0.0: equal values, one key
    bits = z.view(np.uint64)
    negative = (bits >> np.uint64(63)).astype(bool)
    key = np.where(negative, ~bits, bits | np.uint64(1 << 63))
    return (key >> np.uint64(BUCKET_SHIFT)).astype(np.int64)


def tail_rank(n: int) -> int:
    """1-based rank of the Z_TAIL quantile among n values: the smallest value with at least
    99.5 % of the values at or below it (integer arithmetic: exact for any n)."""
    return max(1, -(-n * round(Z_TAIL * 1000) // 1000))


@dataclass
class SurveyZ:
    """One survey's redshifts, as far as the histogram needs them."""

    rows: int = 0
    finite: int = 0
    zmin: float = np.inf
    buckets: dict[int, int] = field(default_factory=dict)
    tail_values: list[np.ndarray] = field(default_factory=list)
    hi: float | None = None  # the histogram's upper end (the tail quantile * 1.05, >= 0.01)
    counts: np.ndarray | None = None

    @property
    def no_z(self) -> int:
        return self.rows - self.finite

    @property
    def edges(self) -> np.ndarray:
        return np.histogram_bin_edges([], bins=Z_BINS, range=(min(0.0, self.zmin), self.hi))

    def count(self, z: np.ndarray) -> None:
        self.rows += len(z)
        z = z[np.isfinite(z)]
        self.finite += len(z)
        if len(z):
            self.zmin = min(self.zmin, float(z.min()))
            keys, counts = np.unique(order_bucket(z), return_counts=True)
            for k, c in zip(keys.tolist(), counts.tolist(), strict=True):
                self.buckets[k] = self.buckets.get(k, 0) + c

    def tail_bucket(self) -> tuple[int, int]:
        """The bucket holding the tail rank, and the number of values in lower buckets."""
        below = 0
        rank = tail_rank(self.finite)
        for key in sorted(self.buckets):
            if below + self.buckets[key] >= rank:
                return key, below
            below += self.buckets[key]
        raise AssertionError("tail rank beyond the counted values")

    def set_range(self) -> None:
        if not self.finite:
            return
        _key, below = self.tail_bucket()
        values = np.sort(np.concatenate(self.tail_values))
        tail = float(values[tail_rank(self.finite) - below - 1])
        self.hi = max(tail * 1.05, 0.01)
        self.tail_values = []
        self.counts = np.zeros(Z_BINS, dtype=np.int64)

    def add_to_histogram(self, z: np.ndarray) -> None:
        z = z[np.isfinite(z)]
        if len(z):
            counts, _ = np.histogram(
                np.clip(z, None, self.hi), bins=Z_BINS, range=(min(0.0, self.zmin), self.hi)
            )
            self.counts += counts


@dataclass
class Field:
    """A dense sky cell and the rows inside the box drawn around it (global row order)."""

    cell: tuple[int, int]
    rows: int  # rows inside the cell
    near: list[pd.DataFrame] = field(default_factory=list)
    ra: tuple[float, float] = (0.0, 0.0)
    dec: tuple[float, float] = (0.0, 0.0)
    table: pd.DataFrame | None = None

    def set_box(self, cell_deg: float) -> None:
        """The box: the 1-99 percentiles of the cell's rows, padded by 8 % of its larger side
        (``pad`` is at most 0.08 cells: every row of the box is among ``near``)."""
        near = pd.concat(self.near, ignore_index=True)
        self.near = []
        ra, dec = near["ra"].to_numpy(float), near["dec"].to_numpy(float)
        inside = (np.floor(ra / cell_deg) == self.cell[0]) & (
            np.floor(dec / cell_deg) == self.cell[1]
        )
        lo_ra, hi_ra = np.percentile(ra[inside], [1, 99])
        lo_dec, hi_dec = np.percentile(dec[inside], [1, 99])
        pad = max(hi_ra - lo_ra, hi_dec - lo_dec, 0.02) * 0.08
        self.ra, self.dec = (lo_ra - pad, hi_ra + pad), (lo_dec - pad, hi_dec + pad)
        box = (ra >= self.ra[0]) & (ra <= self.ra[1]) & (dec >= self.dec[0]) & (dec <= self.dec[1])
        self.table = near.loc[box].reset_index(drop=True)


@dataclass
class QARows:
    """What the QA maps and histograms need from the valid rows."""

    rows: int
    members: int  # rows that are members of a duplicate group
    totals: pd.Series  # valid rows per survey, sorted by name
    sample: pd.DataFrame  # survey, ra, dec of the rows the all-sky map draws
    member_sample: pd.DataFrame  # ra, dec of the group members it draws
    fields: list[Field]
    z: dict[str, SurveyZ]


class MemberIndex:
    """Group member ids sorted by sky position (``_healpix_29``, as the partitions are): a
    partition's ids are looked up only among the members inside its own index range (the
    write step's trick). One Arrow hash set of all members, rebuilt for each partition, cost
    0.45 s a partition: 29 s at 20M rows."""

    def __init__(self, ids: pa.Array, healpix: np.ndarray):
        order = np.argsort(healpix, kind="stable")
        self.healpix = healpix[order]
        self.ids = ids.take(pa.array(order))

    def flags(self, ids: pa.ChunkedArray | pa.Array, healpix: np.ndarray) -> np.ndarray:
        """Whether each id is a member's."""
        if len(healpix) == 0:
            return np.zeros(0, dtype=bool)
        start = int(np.searchsorted(self.healpix, healpix.min(), side="left"))
        stop = int(np.searchsorted(self.healpix, healpix.max(), side="right"))
        if stop == start:
            return np.zeros(len(healpix), dtype=bool)
        found = pc.is_in(ids, value_set=self.ids.slice(start, stop - start))
        return found.to_numpy(zero_copy_only=False).astype(bool)


@dataclass
class Chunk:
    """One partition's rows: survey as codes into ``names``, position, redshift, membership."""

    codes: np.ndarray
    names: list[str]
    ra: np.ndarray
    dec: np.ndarray
    z: np.ndarray
    member: np.ndarray

    def __len__(self) -> int:
        return len(self.ra)

    def by_survey(self) -> Iterator[tuple[str, np.ndarray]]:
        for code, name in enumerate(self.names):
            yield name, self.z[self.codes == code]

    def frame(self, rows: np.ndarray, member: bool = False) -> pd.DataFrame:
        """Survey (text), ra, dec and z (and member) of the given rows."""
        out = pd.DataFrame(
            {
                "survey": np.array(self.names, dtype=object)[self.codes[rows]],
                "ra": self.ra[rows],
                "dec": self.dec[rows],
                "z": self.z[rows],
            }
        )
        return out.assign(member=self.member[rows]) if member else out


class _Partitions:
    """The partition files in sky order, each read as a :class:`Chunk`."""

    def __init__(self, catalog_dir: str | Path, members: MemberIndex):
        self.files = partition_files(catalog_dir)
        self.members = members
        self.member_bits: list[np.ndarray] = []  # pass 1 -> 2, 3: packed member flags

    def scan(self) -> Iterator[Chunk]:
        first = not self.member_bits
        for i, path in enumerate(self.files):
            columns = ["survey", "ra", "dec", "z", *([HEALPIX, "id"] if first else [])]
            table = pq.read_table(path, columns=columns)
            if first:
                healpix = table[HEALPIX].to_numpy()
                member = self.members.flags(table["id"], healpix)
                self.member_bits.append(np.packbits(member))
            else:
                member = np.unpackbits(self.member_bits[i], count=table.num_rows).astype(bool)
            survey = pc.dictionary_encode(table["survey"].cast(pa.string())).combine_chunks()
            names = [str(n) for n in survey.dictionary.to_pylist()]
            codes = survey.indices.to_numpy(zero_copy_only=False)
            if survey.null_count:  # a missing survey, spelled as astype(str) spells NaN
                codes = np.where(survey.is_null().to_numpy(zero_copy_only=False), len(names), codes)
                names.append("nan")
            yield Chunk(
                codes=np.asarray(codes, dtype=np.int64),
                names=names,
                ra=table["ra"].to_numpy(),
                dec=table["dec"].to_numpy(),
                z=table["z"].to_numpy().astype(np.float64, copy=False),
                member=member,
            )


def _cell_counts(frames: list[pd.Series]) -> pd.Series:
    if not frames:
        return pd.Series(dtype=np.int64)
    return pd.concat(frames).groupby(level=[0, 1]).sum().sort_index()


def dense_cells(counts: pd.Series, n: int = FIELDS) -> list[tuple[tuple[int, int], int]]:
    """The ``n`` densest cells (at least FIELD_MIN_ROWS rows, none next to a denser one
    already chosen); ties in cell order. ``counts``: rows per (i, j) cell, sorted by cell."""
    counts = counts.sort_values(ascending=False, kind="stable")
    chosen: list[tuple[tuple[int, int], int]] = []
    for (i, j), count in counts.items():
        if count < FIELD_MIN_ROWS or len(chosen) == n:
            break
        if any(abs(i - ci) <= 2 and abs(j - cj) <= 2 for (ci, cj), _ in chosen):
            continue
        chosen.append(((int(i), int(j)), int(count)))
    return chosen


def scan_rows(
    catalog_dir: str | Path, members: MemberIndex, limit: int, cell_deg: float = FIELD_CELL_DEG
) -> QARows:
    """The three passes over the valid rows (module docstring)."""
    parts = _Partitions(catalog_dir, members)
    totals: dict[str, int] = {}
    surveys: dict[str, SurveyZ] = {}
    cells: list[pd.Series] = []
    n_rows = n_members = 0
    for chunk in parts.scan():  # 1: counts
        n_rows += len(chunk)
        n_members += int(chunk.member.sum())
        for survey, z in chunk.by_survey():
            totals[survey] = totals.get(survey, 0) + len(z)
            surveys.setdefault(survey, SurveyZ()).count(z)
        ij = pd.DataFrame({"i": np.floor(chunk.ra / cell_deg), "j": np.floor(chunk.dec / cell_deg)})
        cells.append(ij.value_counts())
    fields = [Field(c, n) for c, n in dense_cells(_cell_counts(cells))]
    pick, member_pick = subsample(n_rows, limit), subsample(n_members, limit)
    tails = {s: z.tail_bucket()[0] for s, z in surveys.items() if z.finite}
    sample, member_sample = [], []
    offset = member_offset = 0
    margin = 0.1 * max(cell_deg, 0.02)
    for chunk in parts.scan():  # 2: samples
        sample.append(chunk.frame(_within(pick, offset, len(chunk))))
        member_rows = np.flatnonzero(chunk.member)
        chosen = member_rows[_within(member_pick, member_offset, len(member_rows))]
        member_sample.append(chunk.frame(chosen)[["ra", "dec"]])
        offset += len(chunk)
        member_offset += len(member_rows)
        for f in fields:
            lo_ra, hi_ra = f.cell[0] * cell_deg - margin, (f.cell[0] + 1) * cell_deg + margin
            lo_dec, hi_dec = f.cell[1] * cell_deg - margin, (f.cell[1] + 1) * cell_deg + margin
            near = (chunk.ra >= lo_ra) & (chunk.ra <= hi_ra)
            near &= (chunk.dec >= lo_dec) & (chunk.dec <= hi_dec)
            if near.any():
                f.near.append(chunk.frame(np.flatnonzero(near), member=True))
        for survey, z in chunk.by_survey():
            if survey in tails:
                z = z[np.isfinite(z)]
                surveys[survey].tail_values.append(z[order_bucket(z) == tails[survey]])
    for f in fields:
        f.set_box(cell_deg)
    for z in surveys.values():
        z.set_range()
    if tails:
        for chunk in parts.scan():  # 3: z histograms
            for survey, z in chunk.by_survey():
                if survey in tails:
                    surveys[survey].add_to_histogram(z)
    return QARows(
        rows=n_rows,
        members=n_members,
        totals=pd.Series(totals, dtype=np.int64).sort_index(),
        sample=_concat(sample, ["survey", "ra", "dec", "z"]),
        member_sample=_concat(member_sample, ["ra", "dec"]),
        fields=fields,
        z=dict(sorted(surveys.items())),
    )


def _within(positions: np.ndarray, offset: int, n: int) -> np.ndarray:
    """The sorted global ``positions`` that fall in rows [offset, offset + n), made local."""
    lo, hi = np.searchsorted(positions, [offset, offset + n])
    return positions[lo:hi] - offset


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    return pd.concat(frames, ignore_index=True)


def scan_settings(settings: dict[str, Any]) -> int:
    """The number of points a map draws at most (qa.max_points)."""
    return int(settings.get("max_points", 200_000))
