"""Products a pipeline makes: manifests (written by jobs), registration (one writer at the end of
a run), and product references used as pipeline inputs (read only)."""
