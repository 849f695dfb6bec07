"""Provenance of runs: recorded from the Snakemake DAG and the jobs, ingested once per run.

- ``recording``: the run's plan (onstart) and one JSON sidecar per job (inside the job);
- ``ingest``: plan + sidecars + benchmarks into the registry, then registration (submitting host);
- ``report``: one self-contained HTML page per run; ``diff``: what changed between two runs.
W3C PROV-JSON and RO-Crate exports are the registry's (``registry.exports``), from one record.
"""
