"""Snakemake script: crossmatch, build the training set (pzforge.training_set) and, from the rows
still in memory, its summary page and plots (pzforge.training_summary)."""

from typing import TYPE_CHECKING

from pzforge.jobs import read_json, snakemake_job, write_json
from pzforge.training_set import build_training_set
from pzforge.training_summary import build_summary, read_reference_z, write_summary

if TYPE_CHECKING:
    from snakemake.script import snakemake

# Dask worker processes (dask.cluster: local) re-import this file as __mp_main__: the guard
# keeps them from running the job again.
if __name__ == "__main__":
    with snakemake_job(snakemake) as log:
        from pzforge.dask_cluster import dask_client

        p, inp, out = snakemake.params, snakemake.input, snakemake.output
        config = {
            "crossmatch": p.crossmatch,
            "photometry": p.photometry,
            "magnitudes": p.magnitudes,
            "split": p.split,
            "allow_empty": p.allow_empty,
        }
        pairs = zip(out.hats, out.parquet, strict=True)
        outputs = dict(zip(p.outputs, pairs, strict=True))
        with dask_client(snakemake.config.get("dask"), n_workers=snakemake.threads) as client:
            stats, table = build_training_set(
                ref_hats=inp.reference,
                phot_hats=inp.photometry,
                phot_margin=inp.margin,
                config=config,
                outputs=outputs,
                client=client,
            )
        write_json(stats, out.stats)
        log.info(
            "training set: %d rows, %d dropped as many-to-one",
            stats["rows"],
            stats["many_to_one_dropped"],
        )
        summary = build_summary(
            table=table,
            reference=read_reference_z(inp.reference_rows),
            reference_stats=read_json(inp.reference_stats),
            photometry_stats=read_json(inp.photometry_stats),
            partition=read_json(inp.partition),
            match_stats=stats,
            radius_arcsec=p.crossmatch["radius_arcsec"],
            outputs=p.output_paths,
        )
        plots = write_summary(
            summary,
            table,
            json_path=out.summary,
            text_path=out.text,
            page_path=out.page,
            plots_dir=out.plots,
            bands=p.photometry["bands"],
            colour_bands=p.report["colour_bands"],
        )
        log.info("summary written: %d plots", len(plots))
