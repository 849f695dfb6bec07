"""Snakemake script of rule make_training_set: crossmatch, build the training set and its summary (pzforge.training_set.pipeline.make_training_set)."""

from typing import TYPE_CHECKING

from pzforge.training_set.pipeline import make_training_set
from pzforge.training_set.settings import TrainingSetSettings
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

# Dask worker processes (dask.cluster: local) re-import this file as __mp_main__: the guard
# keeps them from running the job again.
if __name__ == "__main__":
    with snakemake_job(snakemake):
        p, inp, out = snakemake.params, snakemake.input, snakemake.output
        make_training_set(
            reference=inp.reference,
            photometry=inp.photometry,
            photometry_margin=inp.photometry_margin[0] if inp.photometry_margin else None,
            reference_rows=inp.reference_rows,
            reference_stats=inp.reference_stats,
            photometry_stats=inp.photometry_stats,
            settings=TrainingSetSettings.from_config(dict(p.items())),
            outputs=dict(zip(p.outputs, zip(out.hats, out.parquet, strict=True), strict=True)),
            output_paths=p.output_paths,
            colour_bands=p.report["colour_bands"],
            coverage=p.report["coverage"],
            out_stats=out.stats,
            out_summary=out.summary,
            out_text=out.text,
            out_page=out.page,
            out_plots=out.plots,
            dask_settings=snakemake.config.get("dask"),  # runtime, not a param: no reruns
            n_workers=snakemake.threads,
            stamp=p.stamp,
        )
