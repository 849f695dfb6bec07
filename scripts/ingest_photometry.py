"""Snakemake script of rule ingest_photometry: the photometric catalog to Parquet parts (pzforge.training_set.pipeline.ingest_photometry)."""

from typing import TYPE_CHECKING

from pzforge.training_set.pipeline import ingest_photometry
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    ingest_photometry(
        snakemake.params.photometry,
        snakemake.params.reference,
        snakemake.output.parts,
        snakemake.output.stats,
    )
