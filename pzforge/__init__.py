"""pzforge: HPC workflow pipelines for photometric-redshift data products."""

from pzforge.errors import PzforgeError

__version__ = "0.1.0"
__all__ = ["PzforgeError", "__version__"]
