"""The steps of Combine Redshift Catalogs, one function per rule of ``workflows/combine_redshift.smk``.

Each step takes the rule's paths and typed settings and writes its outputs; the scripts in
``scripts/`` only call them. ``partition_catalog`` and ``export_catalog`` are shared rules
(``pzforge.tiles.partition.partition_step``, ``pzforge.io.export.export_catalog``).

ingest_catalog (one per catalog) -> partition_catalog -> find_duplicates -> resolve_duplicates
-> write_combined_catalog -> export_catalog (per format) -> summarize_run -> write_qa_report -> write_combined_manifest
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pzforge import io
from pzforge.tiles.partition import catalog_paths

if TYPE_CHECKING:
    from pzforge.combine import ingest
    from pzforge.combine.settings import (
        CatalogSpec,
        HomogenizationSettings,
        ResolutionSettings,
        ValidationSettings,
    )
    from pzforge.config import RegistrySettings

# Each step imports what it needs when it runs: a job process pays only for its own step's
# libraries (scipy for the duplicate search, matplotlib for the QA page...), not for all of them.

log = logging.getLogger(__name__)


def ingest_catalog(
    spec: CatalogSpec,
    validation: ValidationSettings,
    homogenization: HomogenizationSettings,
    surveys_files: list[str | Path] | str | Path,
    extra_columns: dict[str, str],
    out_table: str | Path,
    out_stats: str | Path,
) -> ingest.IngestStats:
    """One catalog: read, validate, homogenize; Parquet with every catalog's extra columns.

    ``surveys_files``: the shipped rules, then the user's file adding to and overriding them."""
    from pzforge.combine import ingest
    from pzforge.combine.homogenize import RuleBook

    files = [surveys_files] if isinstance(surveys_files, (str, Path)) else list(surveys_files)
    rulebook = RuleBook.load_layers(files)
    # streamed in chunks (memory does not grow with the catalog); another catalog's extra
    # column is null here
    stats = ingest.ingest_to_parquet(
        spec, validation, homogenization, rulebook, extra_columns, out_table
    )
    io.write_json(stats.to_dict(), out_stats)
    log.info(
        "%s: %d rows in, %d out, dropped %s",
        spec.name,
        stats.rows_in,
        stats.rows_out,
        stats.dropped,
    )
    return stats


def ingest_catalogs(
    specs: list[CatalogSpec],
    validation: ValidationSettings,
    homogenization: HomogenizationSettings,
    surveys_files: list[str | Path] | str | Path,
    extra_columns: dict[str, str],
    out_tables: list[str | Path],
    out_stats: list[str | Path],
    logs: list[str | Path],
) -> list[ingest.IngestStats]:
    """Several small catalogs in one job, each exactly as :func:`ingest_catalog` ingests it
    alone, each logging to its own file (``logs``: the first is the job's log, already open).

    Every catalog is attempted; a catalog's user error goes to its log. One failed catalog
    ends the job with its own error; several with one error naming each."""
    from pzforge.errors import PzforgeError
    from pzforge.faults import checkpoint

    root = logging.getLogger()
    job_handlers = root.handlers[:]
    failed: list[tuple[str, PzforgeError]] = []
    done = []
    for i, (spec, table, stats, log_path) in enumerate(
        zip(specs, out_tables, out_stats, logs, strict=True)
    ):
        handler = None
        if i > 0:  # the first catalog logs to the job's log
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(log_path, mode="w")
            handler.setFormatter(job_handlers[0].formatter if job_handlers else None)
            root.handlers[:] = [handler]
        try:
            log.info("catalog %s (%d of %d in this job)", spec.name, i + 1, len(specs))
            checkpoint("rule:ingest_catalog")
            done.append(
                ingest_catalog(
                    spec, validation, homogenization, surveys_files, extra_columns, table, stats
                )
            )
        except PzforgeError as exc:
            log.error("%s: %s", spec.name, exc)
            failed.append((spec.name, exc))
        finally:
            if handler is not None:
                root.handlers[:] = job_handlers
                handler.close()
    if len(failed) == 1:
        raise failed[0][1]
    if failed:
        raise type(failed[0][1])(
            f"{len(failed)} catalogs failed: "
            + " | ".join(f"{name}: {exc}" for name, exc in failed)
        )
    return done


def find_duplicates(
    partitioned: str | Path,
    radius_arcsec: float,
    out_pairs: str | Path,
    out_groups: str | Path,
    *,
    dask_settings: dict[str, Any] | None = None,
    n_workers: int = 1,
) -> None:
    """All pairs within the radius over the whole sky (tiles + margins), grouped transitively."""
    import pyarrow as pa

    from pzforge.combine import duplicates

    catalog, margin = catalog_paths(partitioned)
    pairs, groups = duplicates.find_duplicates(
        catalog, margin, radius_arcsec, dask_settings=dask_settings, n_workers=n_workers
    )
    io.write_parquet(pa.Table.from_pandas(pairs, preserve_index=False), out_pairs)
    io.write_parquet(pa.Table.from_pandas(groups, preserve_index=False), out_groups)
    log.info("%d pairs in %d groups", len(pairs), groups["group_id"].nunique())


def resolve_duplicates(
    partitioned: str | Path,
    groups: str | Path,
    settings: ResolutionSettings,
    out_resolution: str | Path,
) -> None:
    """Rank group members by the configured criteria; mark or choose the rows to keep."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pzforge.combine import resolve

    catalog, _margin = catalog_paths(partitioned)
    counts: dict[int, int] = {}

    def tables():  # whole groups at a time: memory does not grow with the rows
        for chunk in resolve.resolve_duplicates(catalog, pq.read_table(groups), settings):
            for code, n in chunk["tie_result"].value_counts().items():
                counts[int(code)] = counts.get(int(code), 0) + int(n)
            yield pa.Table.from_pandas(chunk, preserve_index=False)

    io.write_parquet_stream(tables(), out_resolution)
    log.info("tie_result counts: %s", dict(sorted(counts.items())))


def write_combined_catalog(
    partitioned: str | Path,
    resolution: str | Path | None,
    mode: str,
    extra_columns: dict[str, str],
    out_hats: str | Path,
    out_parquet: str | Path,
    *,
    footprints: list[dict[str, Any]] | None = None,
    z_flag_min: int | None = None,
    stamp: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The combined catalog as HATS and as one sorted, byte-reproducible Parquet file, with the
    footprint flags and the optional z_flag_homogenized cut; both carry ``stamp``."""
    import pandas as pd

    from pzforge.combine import write

    catalog, _margin = catalog_paths(partitioned)
    table = pd.read_parquet(resolution) if resolution else None
    info = write.write_combined(
        catalog,
        table,
        mode,
        extra_columns,
        out_hats,
        out_parquet,
        footprints=footprints,
        z_flag_min=z_flag_min,
        stamp=stamp,
    )
    log.info("combined catalog: %s", info)
    return info


def summarize_run(
    *,
    stats_files: list[str],
    partitioned: str | Path,
    duplicate_files: list[str],
    resolution_files: list[str],
    combined_parquet: str | Path,
    mode: str,
    ties: str,
    outputs: list[str],
    out_json: str | Path,
    out_text: str | Path,
    z_flag_min: int | None = None,
) -> dict[str, Any]:
    """Counts per catalog and survey, as JSON and as readable text with the same numbers."""
    from pzforge.combine import summary

    data = summary.build_summary(
        stats_files=stats_files,
        partitioned=str(partitioned),
        duplicate_files=duplicate_files,
        resolution_files=resolution_files,
        combined_parquet=str(combined_parquet),
        mode=mode,
        ties=ties,
        outputs=outputs,
        z_flag_min=z_flag_min,
    )
    io.write_json(data, out_json)
    io.write_text(summary.render_summary(data), out_text)
    return data


def write_qa_report(
    *,
    partitioned: str | Path,
    duplicate_files: list[str],
    resolution_files: list[str],
    summary_file: str | Path,
    settings: dict[str, Any],
    out_html: str | Path,
    out_dir: str | Path,
) -> dict[str, Any]:
    """The QA report next to the summary: qa.html (PNGs embedded) and qa/ (PNGs, qa.json)."""
    from pzforge.combine import qa

    numbers = qa.build_qa(
        partitioned=partitioned,
        pairs_file=duplicate_files[0] if duplicate_files else None,
        resolution_file=resolution_files[0] if resolution_files else None,
        summary_file=summary_file,
        settings=settings,
        out_html=out_html,
        out_dir=out_dir,
    )
    log.info("residual close pairs after remove: %s", numbers["residual_pairs_after_remove"])
    return numbers


def write_combined_manifest(
    *,
    hats_dir: str | Path,
    aux_files: list[str | Path],
    registry: RegistrySettings,
    run_name: str,
    extra_columns: dict[str, str],
    out_manifest: str | Path,
    footprints: list[str] = (),
    derived_from: list[int] = (),
) -> None:
    """What to register: the combined catalog (HATS) with its Parquet, exports, summary and QA
    page; ``derived_from``: the registry products among its inputs (lineage)."""
    from pzforge.combine.manifest import combined_manifest
    from pzforge.products.manifest import write_manifest

    manifest = combined_manifest(
        hats_dir=hats_dir,
        aux_files=aux_files,
        settings=registry,
        run_name=run_name,
        extra=extra_columns,
        footprints=list(footprints),
        derived_from=list(derived_from),
    )
    write_manifest(manifest, out_manifest)
    log.info("manifest of %s written", manifest.name)
