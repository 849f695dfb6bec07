"""Snakemake script: the embedding run's readable summary (pzforge.embedding.pipeline.summary_text)."""

from pathlib import Path
from typing import TYPE_CHECKING

from pzforge.embedding.pipeline import summary_text
from pzforge.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake) as log:
    text = summary_text(snakemake.input.metrics, list(snakemake.input.outputs))
    Path(snakemake.output.text).write_text(text)
    log.info("summary written")
