"""Snakemake script: UMAP fit + stability replicates (pzforge.embedding.pipeline.fit_embedding)."""

from pathlib import Path
from typing import TYPE_CHECKING

from pzforge.embedding.pipeline import fit_embedding
from pzforge.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake) as log:
    if snakemake.params.refit:
        log.info("refit: true - fitting again (run %s)", snakemake.params.refit)
    fit_embedding(
        snakemake.input.features,
        snakemake.params.umap,
        snakemake.params.stability,
        snakemake.output.embedding,
        snakemake.output.replicates,
    )
    # the next run without refit keeps this token as its param, so it reuses this fit
    Path(snakemake.output.token).write_text(snakemake.params.refit + "\n")
