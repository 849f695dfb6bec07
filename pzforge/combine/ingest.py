"""Ingest one input catalog: map columns, validate rows, make ids, homogenize flags.

The result is a DataFrame with the standard columns of ``pzforge.combine.columns`` (plus extra columns)
and a stats dict (rows in, rows dropped per reason) that the run summary reports.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pzforge import io
from pzforge.combine.columns import ingest_schema
from pzforge.combine.homogenize import RuleBook, check_homogenized, homogenize
from pzforge.combine.settings import CatalogSpec, HomogenizationSettings, ValidationSettings
from pzforge.errors import HomogenizationError, InputDataError
from pzforge.strings import as_text

log = logging.getLogger(__name__)

CANONICAL = ("id", "ra", "dec", "z", "z_err", "z_flag", "type")
MAX_EXAMPLES = 5


@dataclass
class IngestStats:
    """What happened to the rows of one catalog (reported in the run summary)."""

    catalog: str
    path: str
    format: str
    rows_in: int = 0
    rows_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    z_err_nulled: int = 0
    kept_without_redshift: dict[str, int] = field(default_factory=dict)
    surveys: dict[str, int] = field(default_factory=dict)
    z_flag_homogenized: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _context(spec: CatalogSpec) -> str:
    return spec.where


def _examples(values: pd.Series, mask: np.ndarray) -> str:
    """A few offending rows as 'row N: value' (0-based row positions in the input file)."""
    idx = np.flatnonzero(mask)[:MAX_EXAMPLES]
    shown = ", ".join(f"row {i}: {_plain(values.iloc[i])!r}" for i in idx)
    more = int(mask.sum()) - len(idx)
    return shown + (f" and {more} more" if more > 0 else "")


def _plain(value: Any) -> Any:
    """numpy scalars as plain Python values, so messages read 'nan', not 'np.float64(nan)'."""
    return value.item() if isinstance(value, np.generic) else value


def _numeric(df: pd.DataFrame, col: str, source: str, spec: CatalogSpec) -> pd.Series:
    """Column as float64. A column with no numeric value at all is an error; stray text is NaN."""
    s = df[col]
    if pd.api.types.is_bool_dtype(s) or not (
        pd.api.types.is_numeric_dtype(s) or pd.api.types.is_string_dtype(s) or s.dtype == object
    ):
        raise InputDataError(
            f"{_context(spec)}: column {source!r} (mapped to {col}) has type {s.dtype}, not numeric"
        )
    if pd.api.types.is_numeric_dtype(s):
        return s.astype("float64")
    out = pd.to_numeric(s, errors="coerce").astype("float64")
    bad = out.isna().to_numpy() & s.notna().to_numpy()
    if bad.all() and len(s) > 0 and s.notna().any():
        raise InputDataError(
            f"{_context(spec)}: column {source!r} (mapped to {col}) is not numeric ("
            f"{_examples(s, bad)}); map {col} to a numeric column or convert it first"
        )
    return out


def required_source_columns(spec: CatalogSpec, rulebook: RuleBook | None) -> list[str]:
    """Columns to read from the file: mapped ones, survey column, extras, rule inputs if present."""
    cols = [c for c in spec.columns.values() if c]
    if "column" in spec.survey:
        cols.append(spec.survey["column"])
    cols += list(spec.extra_columns)
    if rulebook is not None and not spec.flags_homogenized:
        for survey in rulebook.known_surveys():
            cols += sorted(rulebook.required_columns(survey))
    return list(dict.fromkeys(cols))


def ingest_catalog(
    spec: CatalogSpec | dict[str, Any],
    validation: ValidationSettings | dict[str, Any],
    homogenization: HomogenizationSettings | dict[str, Any],
    rulebook: RuleBook | None,
) -> tuple[pd.DataFrame, IngestStats]:
    """Read, validate and homogenize one catalog described by its config entry ``spec``
    (the whole catalog in memory; :func:`ingest_to_parquet` streams it)."""
    spec, validation, homogenization, path, fmt, wanted, stats = _prepare(
        spec, validation, homogenization, rulebook
    )
    raw = io.read_table(path, fmt, wanted, hdf5_key=spec.hdf5_key, fits_hdu=spec.fits_hdu)
    stats.rows_in = len(raw)
    if len(raw) == 0:
        raise InputDataError(f"{_context(spec)}: the catalog has no rows")
    df = _map_columns(raw, spec)
    df = _validate_rows(df, spec, validation, stats, rulebook)
    df = _homogenize(df, spec, homogenization, rulebook)
    df = _finalize(df, spec)
    stats.rows_out = len(df)
    stats.surveys = {str(k): int(v) for k, v in df["survey"].value_counts().sort_index().items()}
    flags = df["z_flag_homogenized"].astype("float64").fillna(-1).astype(int).value_counts()
    stats.z_flag_homogenized = {
        ("null" if k == -1 else str(k)): int(v) for k, v in flags.sort_index().items()
    }
    return df, stats


def _prepare(
    spec: CatalogSpec | dict[str, Any],
    validation: ValidationSettings | dict[str, Any],
    homogenization: HomogenizationSettings | dict[str, Any],
    rulebook: RuleBook | None,
) -> tuple[
    CatalogSpec, ValidationSettings, HomogenizationSettings, Path, str, list[str], IngestStats
]:
    spec = CatalogSpec.coerce(spec)
    validation = ValidationSettings.coerce(validation)
    homogenization = HomogenizationSettings.coerce(homogenization)
    path = Path(spec.path)
    fmt = io.detect_format(path, spec.format)
    io.check_readable(path)
    stats = IngestStats(catalog=spec.name, path=str(path), format=fmt)
    available = io.list_columns(path, fmt, hdf5_key=spec.hdf5_key, fits_hdu=spec.fits_hdu)
    _check_columns_exist(spec, available)
    wanted = [c for c in required_source_columns(spec, rulebook) if c in available]
    return spec, validation, homogenization, path, fmt, wanted, stats


# Rows per chunk when streaming a catalog: ~0.4 KB of intermediate copies a row, so about
# 0.1 GB per ingest job whatever the catalog's size.
CHUNK_ROWS = 262_144


class _NeedsWholeFile(Exception):
    """Streaming cannot decide alone (an error, or ids that repeat): redo the whole file."""


def ingest_to_parquet(
    spec: CatalogSpec | dict[str, Any],
    validation: ValidationSettings | dict[str, Any],
    homogenization: HomogenizationSettings | dict[str, Any],
    rulebook: RuleBook | None,
    extra: dict[str, str],
    out_path: str | Path,
    *,
    chunk_rows: int = CHUNK_ROWS,
) -> IngestStats:
    """:func:`ingest_catalog` straight into the ingested Parquet file (:func:`write_ingested`'s
    schema, ``extra``: every catalog's extra columns, null where this one lacks them), one
    chunk of ``chunk_rows`` rows at a time, so memory does not grow with the catalog.

    Every step but two is row by row. The two that need the whole file, whether ids repeat
    (``on_duplicate_id``) and whether any valid row is left, are checked over all chunks (the
    source ids are kept as Arrow text, about 10-20 bytes a row, and counted once at the end). Whenever the stream cannot decide alone, the catalog is
    ingested whole instead (:func:`ingest_catalog`): a user error (its message then counts
    and places rows over the whole file, exactly as before), repeated or empty ids, or a
    catalog with no valid row. The rows written, their order and the stats are the same
    either way."""
    spec, validation, homogenization, path, fmt, wanted, stats = _prepare(
        spec, validation, homogenization, rulebook
    )
    try:
        with io.atomic_path(out_path) as tmp:
            _stream(
                path, fmt, wanted, spec, validation, homogenization, rulebook, extra, stats,
                tmp, chunk_rows,
            )  # fmt: skip
        return stats
    except (_NeedsWholeFile, InputDataError, HomogenizationError) as exc:
        log.info("%s: ingested whole (%s)", spec.name, exc)
    df, stats = ingest_catalog(spec, validation, homogenization, rulebook)
    for name in extra:
        if name not in df.columns:
            df[name] = None
    write_ingested(df, extra, out_path)
    return stats


def _stream(
    path: Path,
    fmt: str,
    wanted: list[str],
    spec: CatalogSpec,
    validation: ValidationSettings,
    homogenization: HomogenizationSettings,
    rulebook: RuleBook | None,
    extra: dict[str, str],
    stats: IngestStats,
    out: Path,
    chunk_rows: int,
) -> None:
    schema = ingest_schema(extra)
    writer: pq.ParquetWriter | None = None
    ids: list[pa.Array] = []  # every source id, as Arrow text (compact), to find repeats
    surveys: Counter[str] = Counter()
    flags: Counter[int] = Counter()
    chunks = io.iter_table(
        path, fmt, wanted, chunk_rows=chunk_rows, hdf5_key=spec.hdf5_key, fits_hdu=spec.fits_hdu
    )
    try:
        for raw in chunks:
            stats.rows_in += len(raw)
            if len(raw) == 0:
                continue
            df = _map_columns(raw, spec, chunk=True)
            if spec.columns.get("id"):
                ids.append(pa.array(df["_source_id"], type=pa.string()))
            part = IngestStats(catalog=stats.catalog, path=stats.path, format=stats.format)
            df = _validate_rows(df, spec, validation, part, rulebook, chunk=True)
            _add_counts(stats, part)
            if len(df) == 0:
                continue
            df = _finalize(_homogenize(df, spec, homogenization, rulebook), spec)
            for name in extra:
                if name not in df.columns:
                    df[name] = None
            stats.rows_out += len(df)
            surveys.update(df["survey"].value_counts().to_dict())
            flags.update(
                df["z_flag_homogenized"].astype("float64").fillna(-1).astype(int).value_counts()
                .to_dict()
            )  # fmt: skip
            table = pa.Table.from_pandas(df, schema=schema, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(out, table.schema, **io.PARQUET_KWARGS)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    if stats.rows_in == 0 or stats.rows_out == 0:
        raise _NeedsWholeFile("no row, or no valid row")
    if ids:
        every = pa.chunked_array(ids, type=pa.string())
        if pc.count_distinct(every).as_py() != len(every):
            raise _NeedsWholeFile("ids repeat")
    order = _reason_order(validation)
    stats.dropped = dict(sorted(stats.dropped.items(), key=lambda kv: order.index(kv[0])))
    stats.kept_without_redshift = dict(
        sorted(stats.kept_without_redshift.items(), key=lambda kv: order.index(kv[0]))
    )
    stats.surveys = {str(k): int(v) for k, v in sorted(surveys.items())}
    stats.z_flag_homogenized = {
        ("null" if k == -1 else str(k)): int(v) for k, v in sorted(flags.items())
    }


def _add_counts(total: IngestStats, part: IngestStats) -> None:
    for reason, n in part.dropped.items():
        total.dropped[reason] = total.dropped.get(reason, 0) + n
    for reason, n in part.kept_without_redshift.items():
        total.kept_without_redshift[reason] = total.kept_without_redshift.get(reason, 0) + n
    total.z_err_nulled += part.z_err_nulled


def _reason_order(validation: ValidationSettings) -> list[str]:
    """The reasons rows are dropped or kept without a redshift, in the order they are checked."""
    return [
        "ra not a finite number",
        "dec not a finite number",
        "ra outside [0, 360)",
        "dec outside [-90, 90]",
        Z_MISSING,
        Z_SENTINEL,
        Z_PLACEHOLDER,
        "z not a finite number",
        f"z outside [{validation.z_min}, {validation.z_max}]",
    ]


def _check_columns_exist(spec: CatalogSpec, available: list[str]) -> None:
    missing = []
    for std, src in spec.columns.items():
        if src and src not in available:
            missing.append(f"{src!r} (for {std})")
    survey = spec.survey
    if "column" in survey and survey["column"] not in available:
        missing.append(f"{survey['column']!r} (survey column)")
    for extra in spec.extra_columns:
        if extra not in available:
            missing.append(f"{extra!r} (extra column)")
    if missing:
        shown = ", ".join(available[:30]) + (" ..." if len(available) > 30 else "")
        raise InputDataError(
            f"{_context(spec)}: column {', '.join(missing)} not found; the file has: {shown}. "
            "Fix the column map in the config"
        )


def _map_columns(raw: pd.DataFrame, spec: CatalogSpec, *, chunk: bool = False) -> pd.DataFrame:
    """The standard columns; ``_row`` is each row's position in the file (``raw``'s index:
    0..n-1 for a whole file, the chunk's rows when streaming). ``chunk``: any repeated id
    needs the whole file (raises ``_NeedsWholeFile``)."""
    cols = spec.columns
    out = pd.DataFrame(index=raw.index)
    for std in CANONICAL:
        src = cols.get(std)
        if src:
            out[std] = raw[src]
    for name in raw.columns:  # raw columns the survey rules or extras read keep their names
        if name not in out.columns and name not in cols.values():
            out[name] = raw[name]
    for name in spec.extra_columns:
        out[name] = raw[name]
    survey = spec.survey
    if "column" in survey:
        out["survey"] = raw[survey["column"]].astype("string").str.strip()
    else:
        out["survey"] = pd.Series(survey.get("value", spec.name), index=raw.index, dtype="string")
    out["_row"] = raw.index.to_numpy(dtype=np.int64)
    out["_source_id"] = source_ids(out, spec, chunk=chunk)
    return out


Z_MISSING = "z missing (null)"
Z_SENTINEL = "z is a sentinel value"
Z_PLACEHOLDER = "z is the survey's no-redshift placeholder"


def _validate_rows(
    df: pd.DataFrame,
    spec: CatalogSpec,
    validation: ValidationSettings,
    stats: IngestStats,
    rulebook: RuleBook | None,
    *,
    chunk: bool = False,
) -> pd.DataFrame:
    """Drop (or stop at) invalid rows; rows without a redshift follow validation.no_redshift.
    ``chunk``: part of a file, which may hold no valid row (the file is checked at its end).

    A row has no redshift when z is null, a ``z_sentinels`` value, or its survey's
    ``no_redshift`` placeholder; with ``keep`` it stays with z null (``_no_z`` marks it).
    """
    cols = spec.columns
    ra = _numeric(df, "ra", cols["ra"], spec)
    dec = _numeric(df, "dec", cols["dec"], spec)
    z = _numeric(df, "z", cols["z"], spec)
    sentinels = np.asarray(validation.z_sentinels, dtype=float)
    z_values = z.to_numpy()
    placeholder = (
        rulebook.no_redshift(df.assign(z=z)) if rulebook is not None else np.zeros(len(df), bool)
    )
    no_z_reasons: list[tuple[str, np.ndarray]] = [
        (Z_MISSING, np.isnan(z_values)),
        (Z_SENTINEL, np.isin(z_values, sentinels)),
        (Z_PLACEHOLDER, placeholder),
    ]
    no_z = np.zeros(len(df), dtype=bool)
    for _reason, mask in no_z_reasons:
        no_z |= mask
    keep_no_z = validation.no_redshift == "keep"
    checks: list[tuple[str, str, np.ndarray]] = [
        ("ra not a finite number", "ra", ~np.isfinite(ra.to_numpy())),
        ("dec not a finite number", "dec", ~np.isfinite(dec.to_numpy())),
        ("ra outside [0, 360)", "ra", ~((ra >= 0) & (ra < 360)).to_numpy()),
        ("dec outside [-90, 90]", "dec", ~((dec >= -90) & (dec <= 90)).to_numpy()),
    ]
    if not keep_no_z:
        checks += [(reason, "z", mask) for reason, mask in no_z_reasons]
    checks += [
        ("z not a finite number", "z", np.isinf(z_values)),
        (
            f"z outside [{validation.z_min}, {validation.z_max}]",
            "z",
            ~no_z & ~((z >= validation.z_min) & (z <= validation.z_max)).to_numpy(),
        ),
    ]
    invalid = np.zeros(len(df), dtype=bool)
    for reason, col, mask in checks:
        new = mask & ~invalid
        if new.any():
            stats.dropped[reason] = int(new.sum())
            if validation.on_invalid == "error":
                raise InputDataError(
                    f"{_context(spec)}: {int(new.sum())} rows with {reason} in column "
                    f"{cols[col]!r} ({_examples(df[col], new)}); fix them, or set "
                    "validation.on_invalid: drop to drop and count them"
                    + (
                        ", or validation.no_redshift: keep to keep them without a redshift"
                        if reason in (Z_MISSING, Z_SENTINEL, Z_PLACEHOLDER)
                        else ""
                    )
                )
        invalid |= mask
    if keep_no_z:
        counted = invalid.copy()
        for reason, mask in no_z_reasons:
            new = mask & ~counted
            if new.any():
                stats.kept_without_redshift[reason] = int(new.sum())
            counted |= mask
    if invalid.all() and not chunk:
        worst = max(stats.dropped, key=stats.dropped.get)
        raise InputDataError(
            f"{_context(spec)}: no valid row left (all {len(df)} rows invalid, mostly: {worst}); "
            "check the column map (ra/dec in degrees, the right z column)"
        )
    z = z.mask(no_z)  # a placeholder is never a redshift
    df = df.assign(ra=ra, dec=dec, z=z, _no_z=no_z).loc[~invalid].copy()
    if "z_err" in df.columns:
        zerr = _numeric(df, "z_err", cols["z_err"], spec)
        bad = (
            ~np.isfinite(zerr.to_numpy())
            | (zerr.to_numpy() < 0)
            | np.isin(zerr.to_numpy(), sentinels)
        )
        bad &= df["z_err"].notna().to_numpy()
        stats.z_err_nulled = int(bad.sum())
        df["z_err"] = zerr.mask(bad)
    return df


def _homogenize(
    df: pd.DataFrame,
    spec: CatalogSpec,
    homogenization: HomogenizationSettings,
    rulebook: RuleBook | None,
) -> pd.DataFrame:
    context = _context(spec)
    if spec.flags_homogenized:
        out = df.copy()
        out["z_flag_homogenized"] = df["z_flag"] if "z_flag" in df.columns else pd.NA
        out["type_homogenized"] = df["type"] if "type" in df.columns else pd.NA
        check_homogenized(out, context=context)
        out["z_flag_homogenized"] = pd.to_numeric(out["z_flag_homogenized"]).astype("Int8")
        out["type_homogenized"] = out["type_homogenized"].astype("string")
    else:
        if rulebook is None:
            raise InputDataError(f"{context}: no survey rules loaded")
        no_z = (
            df["_no_z"].to_numpy(dtype=bool) if "_no_z" in df.columns else np.zeros(len(df), bool)
        )
        parts = [
            homogenize(
                df.loc[~no_z],
                rulebook,
                on_unknown_flag=homogenization.on_unknown_flag,
                context=context,
            )
        ]
        if no_z.any():  # no redshift: the rules give the type; unknown flags do not matter
            parts.append(
                homogenize(df.loc[no_z], rulebook, on_unknown_flag="null", context=context)
            )
        out = pd.concat(parts).loc[df.index]
    if "_no_z" in out.columns:  # kept without a redshift (validation.no_redshift: keep): flag 0
        out.loc[out["_no_z"].to_numpy(dtype=bool), "z_flag_homogenized"] = 0
    if rulebook is not None:
        # One spelling per survey in the output, case-insensitively: 2DFGRS, 2dfgrs -> 2dFGRS;
        # an alias as the rules spell it (candels -> CANDELS); unknown names as given.
        names = {raw: rulebook.display_name(raw) for raw in out["survey"].dropna().unique()}
        out["survey"] = out["survey"].map(names).astype("string")
    return out


def source_ids(df: pd.DataFrame, spec: CatalogSpec, *, chunk: bool = False) -> pd.Series:
    """Source ids as text, over every row of the file (before invalid rows are dropped, so an
    object's id does not depend on the validation settings)."""
    if spec.columns.get("id"):
        source_id = as_text(df["id"])
        missing = source_id.isna().to_numpy()
        if chunk and missing.any():
            raise _NeedsWholeFile("an id is empty")
        if chunk:  # repeats are looked for over the whole file by the caller
            return source_id
        if missing.any():
            raise InputDataError(
                f"{_context(spec)}: id column {spec.columns['id']!r} is empty in "
                f"{int(missing.sum())} rows (e.g. rows {', '.join(map(str, df['_row'].to_numpy()[missing][:5]))}); "
                "fill it, or remove columns.id so pzforge numbers the rows"
            )
        dup = source_id.duplicated(keep=False).to_numpy()
        if dup.any() and spec.on_duplicate_id == "suffix":
            # Repeated ids get '#2', '#3'... in file order (the first keeps its id): deterministic.
            nth = source_id.groupby(source_id.to_numpy()).cumcount().to_numpy() + 1
            source_id = source_id.where(
                nth == 1, source_id + "#" + pd.Series(nth, index=source_id.index).astype("string")
            )
        elif dup.any():
            examples = source_id[dup].drop_duplicates().head(MAX_EXAMPLES).tolist()
            raise InputDataError(
                f"{_context(spec)}: id column {spec.columns['id']!r} is not unique "
                f"({int(source_id[dup].nunique())} values repeat, e.g. {examples}); ids must be "
                "unique within a catalog: fix the file, set on_duplicate_id: suffix, or remove "
                "columns.id so pzforge numbers the rows"
            )
    else:
        source_id = df["_row"].astype("string")
    return source_id


def _finalize(df: pd.DataFrame, spec: CatalogSpec) -> pd.DataFrame:
    name = spec.name
    source_id = df["_source_id"]
    out = pd.DataFrame(index=df.index)
    out["id"] = (name + ":" + source_id).astype("string")
    out["source_id"] = source_id.astype("string")
    out["catalog"] = pd.Series(name, index=df.index, dtype="string")
    out["survey"] = df["survey"].astype("string")
    out["ra"] = df["ra"].astype("float64")
    out["dec"] = df["dec"].astype("float64")
    out["z"] = df["z"].astype("float64")
    out["z_err"] = df["z_err"].astype("float64") if "z_err" in df.columns else np.nan
    out["z_flag"] = as_text(df["z_flag"]) if "z_flag" in df.columns else pd.NA
    out["z_flag_homogenized"] = df["z_flag_homogenized"].astype("Int8")
    out["type"] = as_text(df["type"]) if "type" in df.columns else pd.NA
    out["type_homogenized"] = df["type_homogenized"].astype("string")
    for col, kind in spec.extra_columns.items():
        out[col] = _cast_extra(df[col], col, kind, spec)
    for col in ("z_flag", "type"):
        out[col] = out[col].astype("string")
    return out.reset_index(drop=True)


def _cast_extra(s: pd.Series, col: str, kind: str, spec: CatalogSpec) -> pd.Series:
    try:
        if kind == "str":
            return as_text(s)
        if kind == "bool":
            return s.astype("boolean")
        if kind.startswith("int"):
            return pd.to_numeric(s, errors="raise").astype(kind.replace("int", "Int"))
        return pd.to_numeric(s, errors="raise").astype(kind)
    except (ValueError, TypeError) as exc:
        raise InputDataError(
            f"{_context(spec)}: extra column {col!r} cannot be converted to {kind} ({exc}); "
            "change its type in extra_columns"
        ) from exc


def write_ingested(df: pd.DataFrame, extra: dict[str, str], path: str | Path) -> None:
    """Write an ingested catalog as Parquet with the fixed schema (atomic: temp file + rename)."""
    io.write_parquet(
        pa.Table.from_pandas(df, schema=ingest_schema(extra), preserve_index=False), path
    )
