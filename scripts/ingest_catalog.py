"""Snakemake script of rule ingest_catalog: read, validate and homogenize one catalog (pzforge.combine.pipeline.ingest_catalog)."""

from typing import TYPE_CHECKING

from pzforge.combine.pipeline import ingest_catalog
from pzforge.combine.settings import CatalogSpec, HomogenizationSettings, ValidationSettings
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    ingest_catalog(
        CatalogSpec.from_config(snakemake.params.spec),
        ValidationSettings.from_config(snakemake.params.validation),
        HomogenizationSettings.from_config(snakemake.params.homogenization),
        list(snakemake.input.surveys),
        snakemake.params.extra_columns,
        snakemake.output.table,
        snakemake.output.stats,
    )
