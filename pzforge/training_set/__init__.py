"""Training Set Maker: crossmatch a Reference Redshift Catalog with a photometric catalog.

``inputs`` (reference and photometry to Parquet parts) -> shared partitioning -> ``crossmatch``
(lsdb k-NN with margins; brute-force reference) -> ``build`` (many-to-one, ``photometry``
magnitudes, ``split``, HATS + Parquet) -> ``summary`` (figures, page, plots) -> ``manifest``.
``pipeline`` has one step per rule; ``hooks`` the config rules and preflight.
"""
