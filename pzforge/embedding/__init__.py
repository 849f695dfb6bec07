"""UMAP embeddings of photometric features and their quality metrics (docs/embedding.md).

- ``features``: read a catalog, build features (columns, colours from magnitudes or fluxes), drop
  rows with missing or sentinel values, standardise, sample;
- ``fit``: UMAP (umap-learn) and PCA embeddings, seed/subsample replicates for stability;
- ``metrics``: trustworthiness, continuity, kNN preservation, global structure, stability and a
  supervised photo-z score, for the UMAP embedding and a PCA baseline;
- ``plots``: PNG plots and an offline interactive HTML plot;
- ``pipeline``: the steps the Snakemake scripts call.
"""
