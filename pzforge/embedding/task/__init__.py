"""Embedding tasks (hydro-vis's visualisation API) as runs of the ``embedding_task`` pipeline.

A task submitted to a site (``POST /api/v1/embeddings``) is queued as a run like any other, so
the worker runs it with the site's profile (local or SLURM), provenance is recorded from its DAG
and it can be followed and cancelled as a run. ``hooks`` resolves the products on the submitting
host (the job never opens the registry), ``compute`` is the job (the embedding pipeline's own
feature preparation and UMAP fit, so a task and a pipeline run with the same settings give the
same coordinates), ``store`` keeps fitted maps as the site's artefacts (plain arrays, no pickle)
and ``support`` says whether a product can be embedded and why not.
"""
