"""HATS tiles and the Dask clusters that make and read them: partitioning with hats-import
(``partition``), the cluster a heavy rule runs on (``cluster``: threads, LocalCluster or SLURM
workers), and two drop-in speedups tested for identical results (``jit_cache``,
``hats_import_speedups``)."""
