"""Snakemake script of the ingest_catalogs_<batch> rules: several small catalogs in one job, each with its own outputs and log (pzforge.combine.pipeline.ingest_catalogs)."""

from typing import TYPE_CHECKING

from pzforge.combine.pipeline import ingest_catalogs
from pzforge.combine.settings import CatalogSpec, HomogenizationSettings, ValidationSettings
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    ingest_catalogs(
        [CatalogSpec.from_config(spec) for spec in snakemake.params.specs],
        ValidationSettings.from_config(snakemake.params.validation),
        HomogenizationSettings.from_config(snakemake.params.homogenization),
        list(snakemake.input.surveys),
        snakemake.params.extra_columns,
        list(snakemake.output.tables),
        list(snakemake.output.stats),
        list(snakemake.log),
    )
