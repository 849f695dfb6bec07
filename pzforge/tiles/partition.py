"""HATS tiles: partition Parquet parts into a HATS catalog (+ margin cache) with hats-import,
write lsdb catalogs as HATS, and list a catalog's partition files in sky order."""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pzforge.config import PartitionSettings
from pzforge.errors import ConfigError
from pzforge.io import PARQUET_KWARGS

log = logging.getLogger(__name__)

WRITE_TABLE_KWARGS = PARQUET_KWARGS  # every HATS tile pzforge writes: zstd level 3
HEALPIX = "_healpix_29"  # hats' spatial index: a column in the files, the index in lsdb frames


def partition_files(catalog_dir: str | Path) -> list[Path]:
    """HATS partition files in sky order (order, then pixel), which is _healpix_29 order."""
    files = list((Path(catalog_dir) / "dataset").rglob("Npix=*.parquet"))

    def key(p: Path) -> tuple[int, int]:
        order = int(p.parent.parent.name.split("=")[1])
        pix = int(p.stem.split("=")[1])
        return (pix << (2 * (29 - order)), order)

    return sorted(files, key=key)


def write_hats(catalog: Any, out_dir: str | Path, stamp: dict[str, Any] | None = None) -> None:
    """Write an lsdb catalog as one HATS catalog (threads, no progress bar, empty allowed);
    ``stamp``: the provenance its ``properties`` carry (``pzforge.io.stamps``)."""
    import dask

    from pzforge.io.stamps import hats_properties

    out_dir = Path(out_dir)
    with dask.config.set(scheduler="threads"):
        catalog.write_catalog(
            str(out_dir),
            catalog_name=out_dir.name,
            as_collection=False,
            overwrite=True,
            progress_bar=False,
            write_table_kwargs=WRITE_TABLE_KWARGS,
            create_thumbnail=False,
            error_if_empty=False,
            addl_hats_properties=hats_properties(stamp) or None,
        )


def partition_catalog(
    inputs: Sequence[str | Path],
    catalog_dir: str | Path,
    margin_dir: str | Path | None,
    settings: PartitionSettings | dict[str, Any],
    *,
    n_workers: int = 1,
    tmp_dir: str | Path | None = None,
    dask_settings: dict[str, Any] | None = None,
    ra_column: str = "ra",
    dec_column: str = "dec",
    sort_column: str = "id",
    client: Any = None,
) -> dict[str, Any]:
    """Import ``inputs`` (ingested Parquet files) as a HATS catalog and build its margin cache.

    Rows are sorted by (_healpix_29, ``sort_column``) inside each partition so the output is
    deterministic. ``margin_dir`` None builds no margin cache. ``client``: an open distributed
    Client to reuse (several catalogs in one job); None starts one from ``dask_settings``.
    Returns a small dict of figures (rows, partitions) for the summary.
    """
    from hats_import.catalog.arguments import ImportArguments
    from hats_import.margin_cache.margin_cache_arguments import MarginCacheArguments
    from hats_import.pipeline import pipeline_with_client

    settings = PartitionSettings.coerce(settings)
    catalog_dir = Path(catalog_dir)
    margin_dir = Path(margin_dir) if margin_dir is not None else None
    for target in (catalog_dir, margin_dir):
        if target is not None and target.exists():
            shutil.rmtree(target)
    tmp_root = Path(tmp_dir) if tmp_dir else catalog_dir.parent / f".{catalog_dir.name}.tmp"
    progress = sys.stderr.isatty()
    common = {
        "write_table_kwargs": WRITE_TABLE_KWARGS,
        "progress_bar": progress,
        "resume": False,
        "tmp_dir": str(tmp_root),
        "dask_n_workers": n_workers,
        "dask_threads_per_worker": 1,
    }
    files = sorted(str(p) for p in inputs)
    import_args = ImportArguments(
        output_path=str(catalog_dir.parent),
        output_artifact_name=catalog_dir.name,
        input_file_list=files,
        file_reader="parquet",
        ra_column=ra_column,
        dec_column=dec_column,
        sort_columns=sort_column,
        pixel_threshold=settings.pixel_threshold,
        highest_healpix_order=settings.highest_healpix_order,
        **common,
    )
    from pzforge.tiles.cluster import dask_client

    # hats-import needs a distributed Client: single-threaded workers (threads of this job for
    # dask.cluster threads, processes for local; one per thread of the rule), or SLURM workers.
    with (
        contextlib.nullcontext(client)
        if client is not None
        else dask_client(dask_settings, n_workers=n_workers, need_client=True)
    ) as client:
        from pzforge.tiles.hats_import_speedups import register_on_client
        from pzforge.tiles.jit_cache import enable_jit_cache

        register_on_client(client)
        enable_jit_cache()  # the margin cache plans with hats' pixel-tree alignment
        started = time.perf_counter()
        try:
            pipeline_with_client(import_args, client)
        except ValueError as exc:
            if "exceeds threshold" not in str(exc):
                raise
            raise ConfigError(
                f"partition: {exc} (partition.pixel_threshold) at HEALPix order "
                f"{settings.highest_healpix_order} (partition.highest_healpix_order): the "
                "field is too dense for tiles that small; raise partition.highest_healpix_order "
                "(finer tiles) or partition.pixel_threshold"
            ) from exc
        log.info("hats-import catalog: %.1f s", time.perf_counter() - started)
        if margin_dir is not None:
            started = time.perf_counter()
            margin_args = MarginCacheArguments(
                input_catalog_path=str(catalog_dir),
                output_path=str(margin_dir.parent),
                output_artifact_name=margin_dir.name,
                margin_threshold=settings.margin_threshold_arcsec,
                **common,
            )
            pipeline_with_client(margin_args, client)
            log.info("hats-import margin cache: %.1f s", time.perf_counter() - started)
    shutil.rmtree(tmp_root, ignore_errors=True)
    import hats

    cat = hats.read_hats(catalog_dir)
    return {
        "rows": int(cat.catalog_info.total_rows),
        "partitions": len(cat.get_healpix_pixels()),
        "margin_threshold_arcsec": settings.margin_threshold_arcsec if margin_dir else None,
    }


def catalog_paths(partitioned: str | Path) -> tuple[Path, Path]:
    """The HATS catalog and its margin cache inside a ``partition_catalog`` output folder."""
    partitioned = Path(partitioned)
    return partitioned / "catalog", partitioned / "margin"


def partition_step(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    settings: PartitionSettings,
    *,
    margin: bool,
    ra_column: str = "ra",
    dec_column: str = "dec",
    sort_column: str = "id",
    n_workers: int = 1,
    dask_settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The shared ``partition_catalog`` rule: Parquet files (or folders of parts) -> one folder
    holding ``catalog/`` (HATS), ``margin/`` (its margin cache, when asked) and
    ``partition.json`` (rows, partitions, margin threshold, for the summaries)."""
    from pzforge.io import write_json

    files: list[Path] = []
    for item in map(Path, inputs):
        files += sorted(item.glob("*.parquet")) if item.is_dir() else [item]
    out_dir = Path(out_dir)
    catalog, margin_dir = catalog_paths(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    info = partition_catalog(
        files,
        catalog,
        margin_dir if margin else None,
        settings,
        n_workers=n_workers,
        dask_settings=dask_settings,
        ra_column=ra_column,
        dec_column=dec_column,
        sort_column=sort_column,
    )
    write_json(info, out_dir / "partition.json")
    log.info("partitioned %s: %s", out_dir.name, info)
    return info
