"""Training Set Maker inputs: the reference (a product or a file) and the photometry, read to
standard columns and written as Parquet parts for hats-import.

- :func:`ingest_reference`: ``id, ra, dec, z, z_err, z_flag_homogenized`` plus kept columns;
  invalid rows dropped and counted;
- :func:`ingest_photometry`: streamed in batches where the format allows, ``phot_id, phot_ra,
  phot_dec`` and the photometry columns (``phot_<name>`` where a name clashes).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from pzforge import io
from pzforge.errors import InputDataError
from pzforge.products.references import locate
from pzforge.strings import as_text
from pzforge.tiles.partition import WRITE_TABLE_KWARGS
from pzforge.training_set import photometry
from registry import REFERENCE_REDSHIFT_CATALOG

# Columns of a combined catalog (DESIGN.md) kept by default when the reference is one.
DEFAULT_KEEP = ("source_id", "catalog", "survey")
MATCH_COLUMNS = ["phot_id", "phot_ra", "phot_dec", "sep_arcsec", "n_candidates"]
ROWS_PER_FILE = 500_000
# The reference's standard columns (ingest_reference writes them all).
REFERENCE_COLUMNS = ["id", "ra", "dec", "z", "z_err", "z_flag_homogenized", "type_homogenized"]
SURVEY_COLUMN = "survey"  # per-survey counts use it when the reference has it
ALL_SURVEYS = "(all)"  # the one row of per-survey counts when it does not
STAR_FLAG = 6
# Why a reference row is dropped, in the order the reasons are tried (the first one counts).
DROP_DISCARDED = "discarded duplicate (tie_result 0)"
DROP_POSITION = "ra/dec not finite or out of range"
DROP_Z = "z not a finite number"
DROP_SENTINEL = "z is a sentinel value"
DROP_STAR = "star (z_flag_homogenized 6)"
DROP_TYPE = "type not selected"


def is_sentinel(values: Any, sentinels: list[float]) -> np.ndarray:
    """Which values equal one of ``sentinels`` to a relative 1e-6 (at least 1e-6 absolute), so
    a placeholder stored as float32 (9.9999 -> 9.99989986) is one; NaN never is."""
    values = np.asarray(values, dtype="float64")
    hit = np.zeros(values.shape, dtype=bool)
    for s in sentinels:
        with np.errstate(invalid="ignore"):
            hit |= np.abs(values - float(s)) <= 1e-6 * max(abs(float(s)), 1.0)
    return hit


def drop_flag_reason(min_flag: int) -> str:
    return f"z_flag_homogenized below {min_flag} or unknown"


def resolve_reference(ref: dict[str, Any], registry_url: str | None) -> dict[str, Any]:
    """The reference catalog: a Reference Redshift Catalog product or a file."""
    return locate(ref, registry_url, "reference", REFERENCE_REDSHIFT_CATALOG)


def resolve_photometry(phot: dict[str, Any], registry_url: str | None) -> dict[str, Any]:
    """The photometric catalog: a product of any type (its main file) or a file."""
    return locate(phot, registry_url, "photometry")


def _context(what: str, path: str | Path) -> str:
    return f"{what} catalog ({path})"


def reference_keep_columns(ref: dict[str, Any], available: list[str]) -> list[str]:
    keep = ref.get("keep_columns")
    if keep is None:
        keep = [c for c in DEFAULT_KEEP if c in available]
    return [c for c in keep if c not in REFERENCE_COLUMNS]


_COLUMN_FIXES = {
    "z_flag": "or set reference.columns.z_flag: null and reference.selection.min_z_flag: null "
    "to keep every row whatever its quality",
    "type": "or set reference.columns.type: null and reference.selection.types: null to keep "
    "every type",
}


def ingest_reference(
    ref: dict[str, Any], location: dict[str, Any], out_dir: str | Path
) -> dict[str, Any]:
    """Read the reference catalog to standard columns; write Parquet parts; return stats."""
    path, fmt = location["path"], location["format"]
    where = _context("reference", path)
    kwargs = {"hdf5_key": ref.get("hdf5_key"), "fits_hdu": ref.get("fits_hdu", 1)}
    available = io.list_columns(path, fmt, **kwargs)
    cols = {k: v for k, v in ref["columns"].items() if v}
    missing = [f"{v!r} (for {k})" for k, v in cols.items() if v not in available]
    keep = reference_keep_columns(ref, available)
    missing += [f"{c!r} (keep_columns)" for c in keep if c not in available]
    if missing:
        fixes = [
            _COLUMN_FIXES[k] for k, v in cols.items() if v not in available and k in _COLUMN_FIXES
        ]
        raise InputDataError(
            f"{where}: column {', '.join(missing)} not found; the file has: "
            f"{', '.join(available[:30])}. Fix reference.columns in the config"
            + (f" ({'; '.join(fixes)})" if fixes else "")
        )
    tie = "tie_result" if ref.get("drop_discarded", True) and "tie_result" in available else None
    survey_col = SURVEY_COLUMN if SURVEY_COLUMN in available else None
    extra = [c for c in (tie, survey_col) if c]
    wanted = list(dict.fromkeys([*cols.values(), *keep, *extra]))
    raw = io.read_table(path, fmt, wanted, **kwargs)
    if len(raw) == 0:
        raise InputDataError(f"{where}: the catalog has no rows")
    survey = (
        as_text(raw[survey_col]).fillna("(none)").to_numpy(dtype=object)
        if survey_col
        else np.full(len(raw), ALL_SURVEYS, dtype=object)
    )
    stats: dict[str, Any] = {"path": str(path), "rows_in": len(raw)}
    df = pd.DataFrame(index=raw.index)
    if "id" in cols:
        df["id"] = as_text(raw[cols["id"]]).astype("string")
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
    if "type" in cols:
        df["type_homogenized"] = as_text(raw[cols["type"]]).astype("string")
    else:
        df["type_homogenized"] = pd.Series(pd.NA, index=df.index, dtype="string")
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
    reasons = drop_reasons(df, raw[tie] if tie else None, ref)
    stats.update(count_drops(reasons, survey))
    stats["selection"] = selection_summary(ref)
    df = df.loc[reasons == ""]
    stats["rows_out"] = len(df)
    stats["product_id"] = location.get("product_id")
    if len(df) == 0:
        raise InputDataError(
            f"{where}: no valid row left (dropped: {stats['dropped']}); check "
            "reference.selection (min_z_flag, types, stars) and reference.z_sentinels"
        )
    df = df.sort_values("id", kind="stable").reset_index(drop=True)
    _write_parts(pa.Table.from_pandas(df, preserve_index=False), out_dir)
    return stats


def drop_reasons(df: pd.DataFrame, tie_result: pd.Series | None, ref: dict[str, Any]) -> np.ndarray:
    """Per row, the first reason it is not a usable spectroscopic redshift ('' when it is).

    In order: discarded duplicate; invalid position; z not finite; z a survey sentinel
    (``reference.z_sentinels``); a star (flag 6, unless ``selection.stars``); flag below
    ``selection.min_z_flag`` or unknown; type not in ``selection.types`` (or unknown).
    """
    sel = ref.get("selection") or {}
    n = len(df)
    ra, dec = df["ra"].to_numpy(dtype="float64"), df["dec"].to_numpy(dtype="float64")
    z = df["z"].to_numpy(dtype="float64")
    flag = df["z_flag_homogenized"].to_numpy(dtype="float64", na_value=np.nan)
    checks: list[tuple[str, np.ndarray]] = []
    if tie_result is not None:
        tie = tie_result.to_numpy(dtype="float64", na_value=np.nan)
        checks.append((DROP_DISCARDED, tie == 0))
    bad_pos = ~np.isfinite(ra) | ~np.isfinite(dec) | (ra < 0) | (ra >= 360) | (dec < -90)
    checks.append((DROP_POSITION, bad_pos | (dec > 90)))
    checks.append((DROP_Z, ~np.isfinite(z)))
    checks.append((DROP_SENTINEL, is_sentinel(z, ref.get("z_sentinels") or [])))
    if not sel.get("stars", False):
        checks.append((DROP_STAR, flag == STAR_FLAG))
    min_flag = sel.get("min_z_flag")
    if min_flag is not None:  # a star's 6 passes: stars are kept or dropped above
        checks.append((drop_flag_reason(min_flag), ~(np.isfinite(flag) & (flag >= min_flag))))
    types = sel.get("types")
    if types is not None:
        wanted = pd.array([str(t) for t in types], dtype="string")
        checks.append((DROP_TYPE, ~df["type_homogenized"].isin(wanted).to_numpy(dtype=bool)))
    reasons = np.full(n, "", dtype=object)
    for why, mask in checks:
        reasons[mask & (reasons == "")] = why
    return reasons


def count_drops(reasons: np.ndarray, survey: np.ndarray) -> dict[str, Any]:
    """Drops per reason, and per survey: rows in, each reason, rows kept."""
    dropped = pd.Series(reasons[reasons != ""]).value_counts()
    order = [
        DROP_DISCARDED,
        DROP_POSITION,
        DROP_Z,
        DROP_SENTINEL,
        DROP_STAR,
        *sorted(r for r in dropped.index if r.startswith("z_flag")),
        DROP_TYPE,
    ]
    by_survey: dict[str, dict[str, int]] = {}
    frame = pd.DataFrame({"survey": survey, "reason": reasons})
    for name, part in frame.groupby("survey", sort=True):
        counts = part["reason"].value_counts()
        row = {"rows_in": int(len(part))}
        row |= {r: int(counts[r]) for r in order if r in counts.index}
        row["rows_out"] = int(counts.get("", 0))
        by_survey[str(name)] = row
    return {
        "dropped": {r: int(dropped[r]) for r in order if r in dropped.index},
        "by_survey": by_survey,
    }


def selection_summary(ref: dict[str, Any]) -> dict[str, Any]:
    """The reference cuts as configured (for the summary)."""
    sel = ref.get("selection") or {}
    return {
        "min_z_flag": sel.get("min_z_flag"),
        "types": sel.get("types"),
        "stars": bool(sel.get("stars", False)),
        "z_sentinels": list(ref.get("z_sentinels") or []),
    }


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
