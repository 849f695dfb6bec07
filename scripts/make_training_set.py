"""Snakemake script: crossmatch and build the training set (pzforge.training_set)."""

from typing import TYPE_CHECKING

from pzforge.jobs import snakemake_job, write_json
from pzforge.training_set import build_training_set

if TYPE_CHECKING:
    from snakemake.script import snakemake

# Dask worker processes (dask.cluster: local) re-import this file as __mp_main__: the guard
# keeps them from running the job again.
if __name__ == "__main__":
    with snakemake_job(snakemake) as log:
        from pzforge.dask_cluster import dask_client

        p = snakemake.params
        config = {
            "crossmatch": p.crossmatch,
            "photometry": p.photometry,
            "magnitudes": p.magnitudes,
            "split": p.split,
            "allow_empty": p.allow_empty,
        }
        pairs = zip(snakemake.output.hats, snakemake.output.parquet, strict=True)
        outputs = dict(zip(p.outputs, pairs, strict=True))
        with dask_client(snakemake.config.get("dask"), n_workers=snakemake.threads) as client:
            stats = build_training_set(
                ref_hats=snakemake.input.reference,
                phot_hats=snakemake.input.photometry,
                phot_margin=snakemake.input.margin,
                config=config,
                outputs=outputs,
                client=client,
            )
        write_json(stats, snakemake.output.stats)
        log.info(
            "training set: %d rows, %d dropped as many-to-one",
            stats["rows"],
            stats["many_to_one_dropped"],
        )
