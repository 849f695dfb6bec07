"""Snakemake script of rule export_rail: a training set in RAIL's layout (pzforge.training_set.pipeline.export_rail)."""

from typing import TYPE_CHECKING

from pzforge.training_set.pipeline import export_rail
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    export_rail(
        parquet=snakemake.input.parquet,
        bands=snakemake.params.bands,
        settings=snakemake.params.rail,
        out_file=snakemake.output.file,
        out_json=snakemake.output.report,
    )
