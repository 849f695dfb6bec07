"""The pzforge product registry: products, files with checksums, columns, releases, provenance.

Knows nothing of pipelines (it never imports ``pzforge``); pipelines, the CLI and the server call
it. The public API is re-exported here:

- ``open(url, user=...)`` / ``upgrade(url)`` / ``status(url)``: a registry and its schema;
- :class:`Registry`: register, list, show, upload, download, update, delete products; record and
  query provenance (runs, jobs, files, lineage);
- product type names (``REFERENCE_REDSHIFT_CATALOG``...), ``formats`` (the one format map and
  table reader), errors.
"""

from registry import formats
from registry.admin import open, status, upgrade  # noqa: A004 - registry.open reads as it should
from registry.errors import (
    Conflict,
    IntegrityProblem,
    LimitReached,
    NameCollision,
    NotFound,
    PermissionDenied,
    RegistryError,
    SchemaOutdated,
    ValidationError,
)
from registry.product_types import (
    OTHER,
    PHOTOZ_ESTIMATES,
    PRODUCT_TYPES,
    REFERENCE_REDSHIFT_CATALOG,
    TRAINING_RESULTS,
    TRAINING_SET,
    VALIDATION_RESULTS,
)
from registry.store import (
    ColumnSpec,
    FileInfo,
    KnownDigest,
    ProductDetail,
    ProductInfo,
    Registration,
    Registry,
)

__all__ = [
    "OTHER",
    "PHOTOZ_ESTIMATES",
    "PRODUCT_TYPES",
    "REFERENCE_REDSHIFT_CATALOG",
    "TRAINING_RESULTS",
    "TRAINING_SET",
    "VALIDATION_RESULTS",
    "ColumnSpec",
    "Conflict",
    "FileInfo",
    "IntegrityProblem",
    "KnownDigest",
    "LimitReached",
    "NameCollision",
    "NotFound",
    "PermissionDenied",
    "ProductDetail",
    "ProductInfo",
    "Registration",
    "Registry",
    "RegistryError",
    "SchemaOutdated",
    "ValidationError",
    "formats",
    "open",
    "status",
    "upgrade",
]
