"""The Training Set Maker after partitioning: crossmatch, one row per photometric object,
magnitudes, split; written as HATS (aligned with the reference's tiles) and one sorted Parquet."""

from __future__ import annotations

import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pzforge.errors import ConfigError, InputDataError
from pzforge.io import atomic_path
from pzforge.io.stamps import parquet_metadata
from pzforge.strings import as_arrow_strings
from pzforge.tiles.partition import WRITE_TABLE_KWARGS, write_hats
from pzforge.training_set import photometry
from pzforge.training_set.crossmatch import crossmatch, plain_dtypes, resolve_many_to_one
from pzforge.training_set.inputs import direct_photometry_columns
from pzforge.training_set.settings import TrainingSetSettings
from pzforge.training_set.split import assign_subset

log = logging.getLogger(__name__)


def build_training_set(
    *,
    ref_hats: str | Path,
    phot_hats: str | Path,
    phot_margin: str | Path,
    config: TrainingSetSettings | dict[str, Any],
    outputs: dict[str, str | Path],
    client=None,
    stamp: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Crossmatch, many-to-one, photometry, split; write HATS + Parquet per output key (both
    carrying ``stamp``, the provenance inside the files).

    ``outputs`` maps a product key (``training_set``, or ``train`` and ``test``) to
    ``(hats_dir, parquet)``. Returns the statistics the summary reports and the training rows
    (all subsets), so the summary is computed from memory instead of re-reading the files.
    """
    if not isinstance(config, TrainingSetSettings):
        config = TrainingSetSettings.from_config(config)
    xm, mags, phot_cfg = config.crossmatch, config.magnitudes, config.photometry
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
        xm.radius_arcsec,
        xm.n_neighbors,
        columns=columns,
        client=client,
        rename=rename,
    )
    stats: dict[str, Any] = {"matched_reference_rows": int(len(matches))}
    seconds = {"crossmatch": time.perf_counter() - started}
    started = time.perf_counter()
    if len(matches) == 0 and not config.allow_empty:
        raise InputDataError(
            "no spectroscopic object has a photometric counterpart within "
            f"{xm.radius_arcsec} arcsec: {_footprints(ref_hats, phot_hats)}. Check that the "
            "catalogs cover the same sky (and ra/dec columns), or set allow_empty: true to "
            "register an empty training set"
        )
    if len(matches) == 0:
        matches = _empty_matches(ref_hats, phot_hats, columns, rename)
    kept, dropped = resolve_many_to_one(matches)
    stats["many_to_one_dropped"] = int(len(dropped))
    stats["many_to_one_dropped_ids"] = dropped["id"].astype(str).head(100).tolist()
    table = _with_photometry(kept, phot_cfg, mags, stats)
    table["subset"] = assign_subset(table, config.split)
    if config.split.method == "none":
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
        write_table(part.reset_index(drop=True), hats_dir, parquet, ref_hats, stamp=stamp)
    seconds["write"] = time.perf_counter() - started
    stats["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    return stats, table


def _empty_matches(ref_hats, phot_hats, columns=None, rename=None) -> pd.DataFrame:
    import lsdb

    left = lsdb.open_catalog(str(ref_hats)).meta
    right = lsdb.open_catalog(str(phot_hats), columns=columns).meta
    right = right.rename(columns=rename or {})
    cols = {**{c: left[c] for c in left.columns}, **{c: right[c] for c in right.columns}}
    df = plain_dtypes(pd.DataFrame(cols).iloc[:0].reset_index(drop=True))
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
    df: pd.DataFrame,
    hats_dir: str | Path,
    parquet: str | Path,
    ref_hats: str | Path,
    *,
    stamp: dict[str, Any] | None = None,
) -> None:
    """One sorted Parquet file (byte-reproducible) and a HATS catalog of the same rows.

    The HATS catalog reuses the reference catalog's partitioning (each row is a spectroscopic
    object, so it lives in its reference tile): no re-partitioning pass over the result.
    """
    df = df.sort_values("id", kind="stable", ignore_index=True)
    parquet, hats_dir = Path(parquet), Path(hats_dir)
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(
        parquet_metadata(stamp)
    )
    table = table.cast(_small_strings(table.schema))
    if hats_dir.exists():
        shutil.rmtree(hats_dir)
    # The flat file is written in a thread while lsdb writes the tiles (Arrow and zstd release
    # the GIL): the two outputs cost about as much as the slower one.
    with atomic_path(parquet) as tmp, ThreadPoolExecutor(max_workers=1) as pool:
        flat = pool.submit(pq.write_table, table, tmp, **WRITE_TABLE_KWARGS)
        if len(df) == 0:  # an empty (allow_empty) training set: no HATS tile to write
            hats_dir.mkdir(parents=True)
            (hats_dir / "EMPTY").write_text(
                "no rows: the catalogs had no match (allow_empty: true)\n"
            )
        else:
            _write_hats(df, table, hats_dir, ref_hats, stamp)
        flat.result()


def _write_hats(
    df: pd.DataFrame,
    table: pa.Table,
    hats_dir: Path,
    ref_hats: str | Path,
    stamp: dict[str, Any] | None = None,
) -> None:
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
    write_hats(catalog, hats_dir, stamp)
