"""Training Set Maker: crossmatch a Reference Redshift Catalog with a photometric catalog.

Steps, each a plain function the rules call:

1. :func:`ingest_reference` - the reference (a registry product or a file) to standard columns
   ``id, ra, dec, z, z_err, z_flag_homogenized`` plus kept columns; invalid rows dropped, counted.
2. :func:`ingest_photometry` - the photometric catalog, streamed in batches where the format
   allows, to Parquet parts with ``phot_id, phot_ra, phot_dec`` and the photometry columns.
3. Both are partitioned with hats-import (the photometry with a margin cache,
   :func:`pzforge.partition.partition_catalog`).
4. :func:`crossmatch` - each spectroscopic object to its nearest photometric object within the
   radius (lsdb k-NN with the right margin cache: exact at tile borders).
   :func:`reference_matches` is the brute-force answer (one global KD-tree) the tests compare with.
5. :func:`resolve_many_to_one` - one spectroscopic row per photometric object.
6. :func:`assign_subset` - optional train/test split; :func:`build_training_set` writes HATS and
   one sorted, byte-reproducible Parquet file.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from scipy.spatial import cKDTree

from pzforge import io, photometry
from pzforge.arrow_strings import as_arrow_strings
from pzforge.duplicates import chord_length, chord_to_arcsec, unit_vectors
from pzforge.errors import ConfigError, InputDataError
from pzforge.partition import WRITE_TABLE_KWARGS, write_hats

log = logging.getLogger(__name__)

REFERENCE_PRODUCT_TYPE = "Reference Redshift Catalog"
# Columns of a combined catalog (DESIGN.md) kept by default when the reference is one.
DEFAULT_KEEP = ("source_id", "catalog", "survey", "type_homogenized")
MATCH_COLUMNS = ["phot_id", "phot_ra", "phot_dec", "sep_arcsec", "n_candidates"]
ROWS_PER_FILE = 500_000
SUBSET_TRAIN, SUBSET_TEST = "train", "test"


# --- reference ---------------------------------------------------------------------------------


def resolve_product(
    ref: dict[str, Any], registry_url: str | None, what: str, product_type: str | None = None
) -> dict[str, Any]:
    """Where an input is: ``{"path", "format", "product_id"}``.

    A product reference (``ref["product"]``, an id or internal name) is looked up in the registry
    (read only) and its main file used; otherwise ``ref["path"]`` is used as it is.
    """
    if ref.get("product") is not None:
        from registry import Registry

        try:
            reg = Registry.from_url(registry_url, auto_create=False)
            detail = reg.get_product(ref["product"])
        except Exception as exc:
            raise InputDataError(
                f"{what} product {ref['product']!r}: {exc}"
                if "no product" in str(exc)
                else f"{what} product {ref['product']!r}: cannot read the registry ({exc})"
            ) from exc
        if product_type and detail.product_type != product_type:
            raise InputDataError(
                f"{what} product {detail.internal_name} is a {detail.product_type}, not a "
                f"{product_type}; give a {product_type.lower()}"
            )
        main = next(f for f in detail.files if f.role == "main")
        path = Path(main.path)
        return {
            "path": str(path),
            "format": io.detect_format(path, ref.get("format")),
            "product_id": detail.id,
            "internal_name": detail.internal_name,
        }
    path = Path(ref["path"])
    io.check_readable(path)
    return {
        "path": str(path),
        "format": io.detect_format(path, ref.get("format")),
        "product_id": None,
    }


def resolve_reference(ref: dict[str, Any], registry_url: str | None) -> dict[str, Any]:
    """The reference catalog: a Reference Redshift Catalog product or a file."""
    return resolve_product(ref, registry_url, "reference", REFERENCE_PRODUCT_TYPE)


def resolve_photometry(phot: dict[str, Any], registry_url: str | None) -> dict[str, Any]:
    """The photometric catalog: a product of any type (its main file) or a file."""
    return resolve_product(phot, registry_url, "photometry")


def _context(what: str, path: str | Path) -> str:
    return f"{what} catalog ({path})"


def reference_keep_columns(ref: dict[str, Any], available: list[str]) -> list[str]:
    keep = ref.get("keep_columns")
    if keep is None:
        return [c for c in DEFAULT_KEEP if c in available]
    return list(keep)


def ingest_reference(
    ref: dict[str, Any], location: dict[str, Any], out_dir: str | Path
) -> dict[str, Any]:
    """Read the reference catalog to standard columns; write Parquet parts; return stats."""
    from pzforge.ingest import _as_text

    path, fmt = location["path"], location["format"]
    where = _context("reference", path)
    kwargs = {"hdf5_key": ref.get("hdf5_key"), "fits_hdu": ref.get("fits_hdu", 1)}
    available = io.list_columns(path, fmt, **kwargs)
    cols = {k: v for k, v in ref["columns"].items() if v}
    missing = [f"{v!r} (for {k})" for k, v in cols.items() if v not in available]
    keep = reference_keep_columns(ref, available)
    missing += [f"{c!r} (keep_columns)" for c in keep if c not in available]
    if missing:
        raise InputDataError(
            f"{where}: column {', '.join(missing)} not found; the file has: "
            f"{', '.join(available[:30])}. Fix reference.columns in the config"
        )
    tie = "tie_result" if ref.get("drop_discarded", True) and "tie_result" in available else None
    wanted = list(dict.fromkeys([*cols.values(), *keep, *([tie] if tie else [])]))
    raw = io.read_table(path, fmt, wanted, **kwargs)
    stats: dict[str, Any] = {"path": str(path), "rows_in": len(raw), "dropped": {}}
    if len(raw) == 0:
        raise InputDataError(f"{where}: the catalog has no rows")
    if tie:
        discarded = raw[tie].to_numpy(dtype="float64", na_value=np.nan) == 0
        stats["dropped"]["discarded duplicate (tie_result 0)"] = int(discarded.sum())
        raw = raw.loc[~discarded].reset_index(drop=True)
    df = pd.DataFrame(index=raw.index)
    if "id" in cols:
        df["id"] = _as_text(raw[cols["id"]]).astype("string")
    else:
        df["id"] = pd.Series(np.arange(len(raw)), index=raw.index).astype("string")
    for std in ("ra", "dec", "z", "z_err"):
        df[std] = (
            pd.to_numeric(raw[cols[std]], errors="coerce").astype("float64")
            if std in cols
            else np.nan
        )
    if "z_flag" in cols:
        flag = pd.to_numeric(raw[cols["z_flag"]], errors="coerce").astype("Float64")
        off_scale = flag.notna() & ~flag.isin([0, 1, 2, 3, 4, 6])
        if off_scale.any():
            raise InputDataError(
                f"{where}: z_flag column {cols['z_flag']!r} is not on the homogenized 0-4 (6 star) "
                f"scale (e.g. {flag[off_scale].head(3).tolist()}); map reference.columns.z_flag "
                "to a homogenized flag (a combine_redshift output has z_flag_homogenized) or to null"
            )
        unknown = flag.isna() & raw[cols["z_flag"]].notna()
        if unknown.any():
            stats["z_flag_not_numeric_as_unknown"] = int(unknown.sum())
        df["z_flag_homogenized"] = flag.astype("Int8")
    else:
        df["z_flag_homogenized"] = pd.array([pd.NA] * len(df), dtype="Int8")
    for name in keep:
        df[name] = raw[name]
    if df["id"].isna().any():
        raise InputDataError(f"{where}: id column {cols.get('id')!r} has empty values")
    dup = df["id"].duplicated(keep=False)
    if dup.any():
        raise InputDataError(
            f"{where}: id column {cols.get('id')!r} is not unique (e.g. "
            f"{df.loc[dup, 'id'].head(3).tolist()}); give a unique id column or none"
        )
    df = _drop_invalid_positions(df, "ra", "dec", stats)
    bad_z = ~np.isfinite(df["z"].to_numpy())
    if bad_z.any():
        stats["dropped"]["z not a finite number"] = int(bad_z.sum())
        df = df.loc[~bad_z]
    stats["rows_out"] = len(df)
    stats["product_id"] = location.get("product_id")
    if len(df) == 0:
        raise InputDataError(f"{where}: no valid row left (dropped: {stats['dropped']})")
    df = df.sort_values("id", kind="stable").reset_index(drop=True)
    _write_parts(pa.Table.from_pandas(df, preserve_index=False), out_dir)
    return stats


def _drop_invalid_positions(
    df: pd.DataFrame, ra: str, dec: str, stats: dict[str, Any]
) -> pd.DataFrame:
    r, d = df[ra].to_numpy(dtype="float64"), df[dec].to_numpy(dtype="float64")
    bad = ~np.isfinite(r) | ~np.isfinite(d) | (r < 0) | (r >= 360) | (d < -90) | (d > 90)
    if bad.any():
        key = "ra/dec not finite or out of range"
        stats["dropped"][key] = stats["dropped"].get(key, 0) + int(bad.sum())
        return df.loc[~bad]
    return df


def _write_parts(table: pa.Table, out_dir: str | Path, start: int = 0) -> int:
    """Write ``table`` as Parquet files of at most ROWS_PER_FILE rows (one hats-import task each)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n = max(1, math.ceil(table.num_rows / ROWS_PER_FILE))
    size = math.ceil(table.num_rows / n) if table.num_rows else 0
    for i in range(n):
        pq.write_table(
            table.slice(i * size, size),
            out_dir / f"part-{start + i:05d}.parquet",
            **WRITE_TABLE_KWARGS,
        )
    return start + n


# --- photometry ----------------------------------------------------------------------------------


def photometry_source_columns(phot: dict[str, Any], available: list[str]) -> list[str]:
    """Columns to read: positions, id, band values and errors, E(B-V), kept columns."""
    cols = [phot["columns"][k] for k in ("id", "ra", "dec") if phot["columns"].get(k)]
    bands = [c for pair in photometry.band_columns(phot).values() for c in pair if c]
    keep = phot.get("keep_columns", "bands")
    if keep == "all":
        extra = [c for c in available if c not in cols]
    elif keep == "bands":
        extra = []
    else:
        extra = list(keep)
    ebv = phot.get("ebv_column")
    return list(dict.fromkeys([*cols, *bands, *([ebv] if ebv else []), *extra]))


def check_photometry_columns(phot: dict[str, Any], available: list[str], where: str) -> None:
    photometry.check_band_columns(phot, available, where)
    needed = photometry_source_columns(phot, available)
    missing = [c for c in needed if c not in available]
    if missing:
        raise InputDataError(
            f"{where}: column {', '.join(repr(c) for c in missing)} not found (photometry.columns,"
            f" ebv_column or keep_columns); the file has: {', '.join(available[:30])}"
        )


def reserved_names(ref_columns: list[str]) -> set[str]:
    return {*ref_columns, *MATCH_COLUMNS, "subset", "_healpix_29"}


def photometry_renames(
    phot: dict[str, Any], wanted: list[str], reserved: set[str]
) -> dict[str, str]:
    """Photometric column -> output name: phot_id/phot_ra/phot_dec, phot_<name> on a clash."""
    cols = phot["columns"]
    rename = {cols["ra"]: "phot_ra", cols["dec"]: "phot_dec"}
    if cols.get("id"):
        rename[cols["id"]] = "phot_id"
    for c in wanted:
        if c not in rename and c in reserved:
            rename[c] = f"phot_{c}"
    return rename


def direct_photometry_columns(
    phot: dict[str, Any], phot_hats: str | Path, ref_columns: list[str]
) -> tuple[list[str], dict[str, str]]:
    """A HATS photometric catalog used as it is: the columns to load and their output names."""
    where = _context("photometric", phot_hats)
    available = io.list_columns(phot_hats, "hats")
    check_photometry_columns(phot, available, where)
    wanted = photometry_source_columns(phot, available)
    return wanted, photometry_renames(phot, wanted, reserved_names(ref_columns))


def ingest_photometry(
    phot: dict[str, Any], out_dir: str | Path, reserved: set[str]
) -> dict[str, Any]:
    """Stream the photometric catalog into Parquet parts with phot_id/phot_ra/phot_dec.

    Parquet and HATS inputs are read in batches (memory stays flat); CSV, FITS and HDF5 whole.
    Columns whose names clash with the reference's (``reserved``) get a ``phot_`` prefix.
    """
    path = Path(phot["path"])
    fmt = io.detect_format(path, phot.get("format"))
    where = _context("photometric", path)
    kwargs = {"hdf5_key": phot.get("hdf5_key"), "fits_hdu": phot.get("fits_hdu", 1)}
    available = io.list_columns(path, fmt, **kwargs)
    check_photometry_columns(phot, available, where)
    wanted = photometry_source_columns(phot, available)
    cols = phot["columns"]
    rename = photometry_renames(phot, wanted, reserved)
    stats: dict[str, Any] = {"path": str(path), "format": fmt, "rows_in": 0, "dropped": {}}
    out_dir = Path(out_dir)
    if out_dir.exists():
        for old in out_dir.glob("*.parquet"):
            old.unlink()
    part, offset, ids, buffer = 0, 0, [], []
    for batch in _batches(path, fmt, wanted, kwargs):
        df = batch.rename(columns=rename)
        if "phot_id" not in df.columns:
            df.insert(0, "phot_id", np.arange(offset, offset + len(df), dtype=np.int64))
        offset += len(df)
        stats["rows_in"] += len(df)
        df["phot_ra"] = pd.to_numeric(df["phot_ra"], errors="coerce").astype("float64")
        df["phot_dec"] = pd.to_numeric(df["phot_dec"], errors="coerce").astype("float64")
        df = _drop_invalid_positions(df, "phot_ra", "phot_dec", stats)
        if df["phot_id"].isna().any():
            raise InputDataError(f"{where}: id column {cols.get('id')!r} has empty values")
        ids.append(df["phot_id"].to_numpy())
        order = list(dict.fromkeys(["phot_id", "phot_ra", "phot_dec", *df.columns]))
        buffer.append(pa.Table.from_pandas(df[order], preserve_index=False))
        if sum(t.num_rows for t in buffer) >= ROWS_PER_FILE:  # small row groups: few big parts
            part = _write_parts(pa.concat_tables(buffer, promote_options="default"), out_dir, part)
            buffer = []
    if buffer:
        part = _write_parts(pa.concat_tables(buffer, promote_options="default"), out_dir, part)
    all_ids = np.concatenate(ids) if ids else np.array([])
    if len(all_ids) and len(pd.unique(all_ids)) != len(all_ids):
        raise InputDataError(
            f"{where}: id column {cols.get('id')!r} is not unique; photometric objects need "
            "unique ids (or set photometry.columns.id: null to number the rows)"
        )
    stats["rows_out"] = int(len(all_ids))
    positions = (cols["ra"], cols["dec"], cols.get("id"))
    stats["renamed"] = {k: v for k, v in rename.items() if k not in positions}
    if stats["rows_out"] == 0:
        raise InputDataError(f"{where}: no row with a valid position (dropped: {stats['dropped']})")
    return stats


def _batches(path: Path, fmt: str, columns: list[str], kwargs: dict[str, Any]):
    if fmt in ("parquet", "hats"):
        files = (
            [str(p) for p in sorted((path / "dataset").rglob("*.parquet"))]
            if fmt == "hats"
            else [str(path)]
        )
        dataset = pads.dataset(files, format="parquet")
        for batch in dataset.to_batches(columns=columns, batch_size=ROWS_PER_FILE):
            yield batch.to_pandas()
    else:
        yield io.read_table(path, fmt, columns, **kwargs)


# --- crossmatch -------------------------------------------------------------------------------


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
    ``n_neighbors``): the nearest wins, equal separations go to the smallest phot_id.
    """
    import lsdb

    from pzforge.duplicates import compute
    from pzforge.jit_cache import enable_jit_cache

    enable_jit_cache()
    left = lsdb.open_catalog(str(ref_hats))
    right = lsdb.open_catalog(str(phot_hats), columns=columns, margin_cache=str(phot_margin))
    try:
        matched = left.crossmatch(
            right,
            n_neighbors=n_neighbors,
            radius_arcsec=radius_arcsec,
            require_right_margin=True,
            suffixes=("", _RIGHT_SUFFIX),
            suffix_method="overlapping_columns",
        )
    except RuntimeError as exc:
        if "do not overlap" in str(exc):
            return pd.DataFrame()
        raise
    result = compute(matched, client).reset_index(drop=True)
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
    pairs = _plain_dtypes(pairs)
    if n_neighbors == 1:  # lsdb returns at most one candidate per left row: nothing to choose
        out = pairs.assign(n_candidates=np.ones(len(pairs), dtype=np.int64))
        return out.sort_values("id", kind="stable", ignore_index=True)
    pairs = pairs.sort_values(["id", "sep_arcsec", "phot_id"], kind="stable")
    counts = pairs.groupby("id", sort=False)["id"].transform("size").astype("int64")
    pairs = pairs.assign(n_candidates=counts)
    return pairs.drop_duplicates("id", keep="first").reset_index(drop=True)


_NULLABLE_INT = {f"{p}int{w}": f"{p.upper()}Int{w}" for p in ("", "u") for w in (8, 16, 32, 64)}


def _plain_dtypes(df: pd.DataFrame) -> pd.DataFrame:
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

    ``ref`` has id/ra/dec, ``phot`` phot_id/phot_ra/phot_dec. Returns id, phot_id, sep_arcsec.
    """
    pxyz = unit_vectors(phot["phot_ra"].to_numpy(float), phot["phot_dec"].to_numpy(float))
    rxyz = unit_vectors(ref["ra"].to_numpy(float), ref["dec"].to_numpy(float))
    dist, idx = cKDTree(pxyz).query(rxyz, k=1, distance_upper_bound=chord_length(radius_arcsec))
    ok = np.isfinite(dist)
    return pd.DataFrame(
        {
            "id": ref["id"].to_numpy()[ok],
            "phot_id": phot["phot_id"].to_numpy()[idx[ok]],
            "sep_arcsec": chord_to_arcsec(dist[ok]),
        }
    ).sort_values("id", kind="stable", ignore_index=True)


# --- many-to-one, split ---------------------------------------------------------------------------


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


def assign_subset(df: pd.DataFrame, split: dict[str, Any]) -> pd.Series:
    """``train`` / ``test`` per row (or None when there is no split).

    random: exactly ``round(training_fraction * n)`` rows are train, chosen by a permutation
    seeded with ``seed`` over the rows sorted by id (so the result does not depend on row order).
    column: rows whose ``column`` value is in ``train_values`` are train, the others test.
    """
    method = split.get("method", "none")
    if method == "none":
        return pd.Series([pd.NA] * len(df), index=df.index, dtype="string")
    if method == "random":
        n = len(df)
        n_train = int(round(split["training_fraction"] * n))
        ids = as_arrow_strings(df["id"])
        order = pc.sort_indices(ids).to_numpy()
        perm = np.random.default_rng(split["seed"]).permutation(n)
        is_train = np.zeros(n, dtype=bool)
        is_train[order[perm[:n_train]]] = True
    elif method == "column":
        col = split["column"]
        if col not in df.columns:
            raise InputDataError(
                f"split.column {col!r} is not a column of the training set; columns: "
                f"{', '.join(df.columns)}"
            )
        values = split.get("train_values") or [True, 1, "train", "training"]
        is_train = df[col].isin(values).to_numpy(dtype=bool)
    else:
        raise ConfigError(f"unknown split.method {method!r}; use none, random or column")
    return pd.Series(np.where(is_train, SUBSET_TRAIN, SUBSET_TEST), index=df.index, dtype="string")


# --- the whole step after partitioning ---------------------------------------------------------------


def build_training_set(
    *,
    ref_hats: str | Path,
    phot_hats: str | Path,
    phot_margin: str | Path,
    config: dict[str, Any],
    outputs: dict[str, str | Path],
    client=None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Crossmatch, many-to-one, photometry, split; write HATS + Parquet per output key.

    ``outputs`` maps a product key (``training_set``, or ``train`` and ``test``) to
    ``(hats_dir, parquet)``. Returns the statistics the summary reports and the training rows
    (all subsets), so the summary is computed from memory instead of re-reading the files.
    """
    xm, mags = config["crossmatch"], config["magnitudes"]
    phot_cfg = config["photometry"]
    import lsdb  # imported before the clock starts: timings are of the work

    columns = rename = None
    if phot_cfg.get("margin_cache"):  # a HATS photometric catalog used as it is
        ref_columns = list(lsdb.open_catalog(str(ref_hats)).columns)
        columns, rename = direct_photometry_columns(phot_cfg, phot_hats, ref_columns)
    started = time.perf_counter()
    matches = crossmatch(
        ref_hats,
        phot_hats,
        phot_margin,
        xm["radius_arcsec"],
        xm["n_neighbors"],
        columns=columns,
        client=client,
        rename=rename,
    )
    stats: dict[str, Any] = {"matched_reference_rows": int(len(matches))}
    seconds = {"crossmatch": time.perf_counter() - started}
    started = time.perf_counter()
    if len(matches) == 0 and not config["allow_empty"]:
        raise InputDataError(
            "no spectroscopic object has a photometric counterpart within "
            f"{xm['radius_arcsec']} arcsec: {_footprints(ref_hats, phot_hats)}. Check that the "
            "catalogs cover the same sky (and ra/dec columns), or set allow_empty: true to "
            "register an empty training set"
        )
    if len(matches) == 0:
        matches = _empty_matches(ref_hats, phot_hats, columns, rename)
    kept, dropped = resolve_many_to_one(matches)
    stats["many_to_one_dropped"] = int(len(dropped))
    stats["many_to_one_dropped_ids"] = dropped["id"].astype(str).head(100).tolist()
    table = _with_photometry(kept, phot_cfg, mags, stats)
    table["subset"] = assign_subset(table, config["split"])
    if config["split"]["method"] == "none":
        table = table.drop(columns="subset")
    stats["rows"] = int(len(table))
    if "subset" in table.columns:
        stats["subsets"] = {
            k: int(v) for k, v in table["subset"].value_counts().sort_index().items()
        }
    seconds["many_to_one_photometry_split"] = time.perf_counter() - started
    started = time.perf_counter()
    for key, (hats_dir, parquet) in outputs.items():
        part = table if key == "training_set" else table.loc[table["subset"] == key]
        if key != "training_set":
            part = part.drop(columns="subset")
        write_table(part.reset_index(drop=True), hats_dir, parquet, ref_hats)
    seconds["write"] = time.perf_counter() - started
    stats["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    return stats, table


def _empty_matches(ref_hats, phot_hats, columns=None, rename=None) -> pd.DataFrame:
    import lsdb

    left = lsdb.open_catalog(str(ref_hats)).meta
    right = lsdb.open_catalog(str(phot_hats), columns=columns).meta
    right = right.rename(columns=rename or {})
    cols = {**{c: left[c] for c in left.columns}, **{c: right[c] for c in right.columns}}
    df = _plain_dtypes(pd.DataFrame(cols).iloc[:0].reset_index(drop=True))
    return df.assign(sep_arcsec=pd.Series(dtype="float64"), n_candidates=pd.Series(dtype="int64"))


def _footprints(ref_hats, phot_hats) -> str:
    import hats

    parts = []
    for what, p in (("reference", ref_hats), ("photometry", phot_hats)):
        cat = hats.read_hats(str(p))
        pixels = cat.get_healpix_pixels()
        parts.append(f"{what} covers {len(pixels)} HEALPix tiles (e.g. {pixels[0]})")
    return "; ".join(parts) + ", with no sky in common"


def _with_photometry(
    kept: pd.DataFrame, phot: dict[str, Any], mags: dict[str, Any], stats: dict[str, Any]
) -> pd.DataFrame:
    bands = photometry.band_columns(phot)
    raw_band_cols = [c for pair in bands.values() for c in pair if c]
    table = kept.copy()
    if bands and mags["compute"]:
        new, pstats = photometry.compute_magnitudes(table, phot, mags)
        stats["photometry"] = pstats.to_dict()
        drop = raw_band_cols if (phot["quantity"] == "magnitude" or not mags["keep_fluxes"]) else []
        clash = [c for c in new.columns if c in table.columns and c not in drop]
        if clash:
            raise ConfigError(
                f"magnitude column {clash[0]!r} would overwrite a photometric column of that name;"
                " set magnitudes.keep_fluxes: false or keep_columns without it"
            )
        table = pd.concat([table.drop(columns=drop), new], axis=1)
    for c in ("ra", "dec", "z", "z_err", "phot_ra", "phot_dec", "sep_arcsec"):
        if c in table.columns:
            table[c] = table[c].astype("float64")
    return table


def _small_strings(schema: pa.Schema) -> pa.Schema:
    """large_string (pandas 3's default) as string: the same Arrow types as the other products."""
    return pa.schema(
        [pa.field(f.name, pa.string()) if pa.types.is_large_string(f.type) else f for f in schema]
    )


def write_table(
    df: pd.DataFrame, hats_dir: str | Path, parquet: str | Path, ref_hats: str | Path
) -> None:
    """One sorted Parquet file (byte-reproducible) and a HATS catalog of the same rows.

    The HATS catalog reuses the reference catalog's partitioning (each row is a spectroscopic
    object, so it lives in its reference tile): no re-partitioning pass over the result.
    """
    df = df.sort_values("id", kind="stable", ignore_index=True)
    parquet, hats_dir = Path(parquet), Path(hats_dir)
    parquet.parent.mkdir(parents=True, exist_ok=True)
    tmp = parquet.with_name(parquet.name + ".tmp")
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    table = table.cast(_small_strings(table.schema))
    if hats_dir.exists():
        shutil.rmtree(hats_dir)
    # The flat file is written in a thread while lsdb writes the tiles (Arrow and zstd release
    # the GIL): the two outputs cost about as much as the slower one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        flat = pool.submit(pq.write_table, table, tmp, **WRITE_TABLE_KWARGS)
        if len(df) == 0:  # an empty (allow_empty) training set: no HATS tile to write
            hats_dir.mkdir(parents=True)
            (hats_dir / "EMPTY").write_text(
                "no rows: the catalogs had no match (allow_empty: true)\n"
            )
        else:
            _write_hats(df, table, hats_dir, ref_hats)
        flat.result()
    tmp.replace(parquet)


def _write_hats(df: pd.DataFrame, table: pa.Table, hats_dir: Path, ref_hats: str | Path) -> None:
    """The rows as HATS tiles aligned with the reference catalog's (lsdb.write_catalog)."""
    import lsdb

    ids = table.column("id").combine_chunks()
    rows = table.to_pandas(types_mapper=pd.ArrowDtype)
    meta = rows.iloc[:0].set_axis(pd.Index([], dtype="int64", name="_healpix_29"), axis=0)

    def _tile(part: pd.DataFrame) -> pd.DataFrame:
        where = pc.index_in(as_arrow_strings(part["id"]), ids)
        found = pc.is_valid(where).to_numpy(zero_copy_only=False)
        picked = rows.take(pc.drop_null(where).to_numpy())
        return picked.set_axis(part.index[found], axis=0)

    ref = lsdb.open_catalog(str(ref_hats), columns=["id"])
    catalog = ref.map_partitions(_tile, meta=meta)
    write_hats(catalog, hats_dir)
