"""The steps of the Training Set Maker, one function per rule of ``workflows/training_set.smk``.

ingest_reference, ingest_photometry (or describe_photometry for a HATS catalog used as it is)
-> partition_catalog (shared rule; the photometry with its margin cache) -> make_training_set
-> export_catalog (shared rule, per format), export_rail (optional) -> write_training_set_manifest
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pzforge import io
from pzforge.tiles.partition import catalog_paths

if TYPE_CHECKING:
    from pzforge.config import RegistrySettings
    from pzforge.training_set.settings import TrainingSetSettings

# Each step imports its own libraries when it runs (a job pays only for its step's imports).

log = logging.getLogger(__name__)


def ingest_reference(
    reference: dict[str, Any],
    location: dict[str, Any],
    out_parts: str | Path,
    out_stats: str | Path,
) -> dict[str, Any]:
    """The Reference Redshift Catalog (product or file) to standard columns, invalid rows counted."""
    from pzforge.training_set import inputs

    stats = inputs.ingest_reference(reference, location, out_parts)
    io.write_json(stats, out_stats)
    log.info(
        "reference: %d rows in, %d out, dropped %s",
        stats["rows_in"],
        stats["rows_out"],
        stats["dropped"],
    )
    return stats


def ingest_photometry(
    photometry: dict[str, Any],
    reference: dict[str, Any],
    out_parts: str | Path,
    out_stats: str | Path,
) -> dict[str, Any]:
    """The photometric catalog, streamed to Parquet parts with phot_id, phot_ra, phot_dec."""
    from pzforge.training_set import inputs

    ref_columns = [*inputs.REFERENCE_COLUMNS, *(reference["keep_columns"] or [])]
    reserved = inputs.reserved_names([*ref_columns, *inputs.DEFAULT_KEEP])
    stats = inputs.ingest_photometry(photometry, out_parts, reserved)
    io.write_json(stats, out_stats)
    log.info(
        "photometry: %d rows in, %d out, dropped %s",
        stats["rows_in"],
        stats["rows_out"],
        stats["dropped"],
    )
    return stats


def describe_photometry(catalog: str | Path, margin: str | Path, out_stats: str | Path) -> None:
    """Rows and location of a HATS photometric catalog used as it is (no ingest), for the summary."""
    import hats

    rows = int(hats.read_hats(catalog).catalog_info.total_rows)
    stats = {
        "path": str(catalog),
        "format": "hats",
        "margin_cache": str(margin),
        "used_as_is": True,
        "rows_in": rows,
        "rows_out": rows,
        "dropped": {},
    }
    io.write_json(stats, out_stats)
    log.info("photometry used as it is: %d rows", rows)


def make_training_set(
    *,
    reference: str | Path,
    photometry: str | Path,
    photometry_margin: str | Path | None,
    reference_rows: str | Path,
    reference_stats: str | Path,
    photometry_stats: str | Path,
    settings: TrainingSetSettings,
    outputs: dict[str, tuple[str, str]],
    output_paths: list[str],
    colour_bands: list[str] | None,
    out_stats: str | Path,
    out_summary: str | Path,
    out_text: str | Path,
    out_page: str | Path,
    out_plots: str | Path,
    coverage: dict[str, Any] | None = None,
    dask_settings: dict[str, Any] | None = None,
    n_workers: int = 1,
    stamp: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Crossmatch (margins), one row per photometric object, magnitudes, split; HATS + Parquet;
    then the summary (JSON, text, Markdown page, PNG plots) from the rows still in memory, with
    the colour-magnitude ``coverage`` (``report.coverage``) against the whole photometry.

    ``reference`` and ``photometry`` are ``partition_catalog`` folders; a HATS photometric
    catalog used as it is comes with its own ``photometry_margin``.
    """
    from pzforge.tiles.cluster import dask_client
    from pzforge.training_set import build, summary

    ref_hats, _ = catalog_paths(reference)
    partitions = {"reference": io.read_json(Path(reference) / "partition.json"), "photometry": None}
    if photometry_margin is None:
        phot_hats, phot_margin = catalog_paths(photometry)
        partitions["photometry"] = io.read_json(Path(photometry) / "partition.json")
    else:
        phot_hats, phot_margin = Path(photometry), Path(photometry_margin)
    with dask_client(dask_settings, n_workers=n_workers) as client:
        stats, table = build.build_training_set(
            ref_hats=ref_hats,
            phot_hats=phot_hats,
            phot_margin=phot_margin,
            config=settings,
            outputs=outputs,
            client=client,
            stamp=stamp,
        )
    io.write_json(stats, out_stats)
    log.info(
        "training set: %d rows, %d dropped as many-to-one",
        stats["rows"],
        stats["many_to_one_dropped"],
    )
    phot_stats = io.read_json(photometry_stats)
    chosen = summary.colour_bands(settings.photometry["bands"], colour_bands, list(table.columns))
    cov = None
    if chosen and (coverage or {}).get("enabled", True):
        cov = _coverage(table, phot_hats, settings, chosen, phot_stats, coverage or {})
    data = summary.build_summary(
        table=table,
        reference=summary.read_reference_z(reference_rows),
        reference_stats=io.read_json(reference_stats),
        photometry_stats=phot_stats,
        partition=partitions,
        match_stats=stats,
        radius_arcsec=settings.crossmatch.radius_arcsec,
        outputs=output_paths,
        coverage=cov,
    )
    plots = summary.write_summary(
        data,
        table,
        json_path=out_summary,
        text_path=out_text,
        page_path=out_page,
        plots_dir=out_plots,
        bands=settings.photometry["bands"],
        colour_bands=colour_bands,
    )
    log.info("summary written: %d plots", len(plots))
    return stats


def _coverage(
    table, phot_hats, settings: TrainingSetSettings, bands, phot_stats, cfg
) -> dict[str, Any]:
    """Colour-magnitude coverage of the training set against every photometric object."""
    import time

    from pzforge.training_set import coverage

    started = time.perf_counter()
    m_bin, c_bin = float(cfg.get("magnitude_bin", 0.5)), float(cfg.get("colour_bin", 0.2))
    cells = coverage.photometric_cells(
        phot_hats,
        settings.photometry,
        settings.magnitudes,
        bands,
        phot_stats.get("renamed") or {},
        m_bin,
        c_bin,
    )
    result = coverage.coverage_summary(table, cells, bands, m_bin, c_bin)
    log.info(
        "coverage: %.3f of %d photometric objects in cells without spec-z (%.1f s)",
        result["photometric_fraction_in_cells_without_specz"] or 0.0,
        result["photometric_objects"],
        time.perf_counter() - started,
    )
    return result


def export_rail(
    *,
    parquet: str | Path,
    bands: list[str],
    settings: dict[str, Any],
    out_file: str | Path,
    out_json: str | Path,
) -> dict[str, Any]:
    """A training set in RAIL's layout (``training_set.rail``) and the stage settings to read it."""
    from pzforge.training_set import rail

    report = rail.write_rail(parquet, bands, settings, out_file, out_json)
    log.info(
        "RAIL %s file: %d of %d rows (dropped %s)",
        report["format"],
        report["rows"],
        report["rows_in"],
        report["dropped"] or "none",
    )
    return report


def write_training_set_manifest(
    *,
    key: str,
    hats_dir: str | Path,
    parquet: str | Path,
    aux_files: list[str | Path],
    plots_dir: str | Path,
    registry: RegistrySettings,
    run_name: str,
    derived_from: list[int],
    photometry: dict[str, Any],
    magnitudes: dict[str, Any],
    out_manifest: str | Path,
) -> None:
    """What to register: each training set (HATS) with its Parquet, exports, summary and plots."""
    from pzforge.products.manifest import write_manifest
    from pzforge.training_set.manifest import training_set_manifest

    plots = sorted(str(p) for p in Path(plots_dir).glob("*.png"))
    manifest = training_set_manifest(
        key=key,
        hats_dir=hats_dir,
        parquet=parquet,
        aux_files=[*aux_files, *plots],
        settings=registry,
        run_name=run_name,
        derived_from=derived_from,
        photometry=photometry,
        magnitudes=magnitudes,
    )
    write_manifest(manifest, out_manifest)
    log.info("manifest of %s written (derived from %s)", manifest.name, manifest.derived_from)
