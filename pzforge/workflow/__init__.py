"""Snakemake glue, kept thin: what scripts wrap themselves in (``jobs``), what the Snakefile and
workflows call (``snakefile``), and running Snakemake as a subprocess for the CLI (``runner``)."""
