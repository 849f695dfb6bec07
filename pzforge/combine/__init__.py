"""Combine Redshift Catalogs: merge spectroscopic surveys, find duplicates, resolve them.

``ingest`` (read, validate; ``homogenize`` flags with the survey rules) -> shared partitioning ->
``duplicates`` (all pairs within the radius, exact at tile borders; groups) -> ``resolve``
(stars, ranked criteria, delta-z subsets, catalog priority, modes) -> ``write`` (HATS + one
Parquet; ``footprints`` flags) -> ``summary`` -> ``qa`` (report) -> ``manifest``.
``pipeline`` has one step per rule; ``hooks`` the config rules and preflight; ``columns`` the
output contract; ``sample_data`` the demo's catalogs.
"""
