"""The pzforge product registry: products, files with checksums, columns, releases, provenance.

Knows nothing of pipelines (it never imports ``pzforge``); pipelines, the CLI and the server call
it. The public API is re-exported here:

- ``open(url, user=...)`` / ``upgrade(url)`` / ``status(url)``: a registry and its schema;
- :class:`Registry`: register, list, show, upload, download, update, delete products; record and
  query provenance (runs, jobs, files, lineage);
- product type names (``REFERENCE_REDSHIFT_CATALOG``...), ``formats`` (the one format map and
  table reader), errors.
"""

from typing import TYPE_CHECKING

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

# The rest is imported on first use (PEP 562): a pipeline job that only reads a table through
# ``registry.formats`` does not pay for SQLAlchemy and the models (about 1-2 s per process).
_LAZY = {
    "formats": "registry.formats",
    "open": "registry.admin",
    "status": "registry.admin",
    "upgrade": "registry.admin",
    "OTHER": "registry.product_types",
    "PHOTOZ_ESTIMATES": "registry.product_types",
    "PRODUCT_TYPES": "registry.product_types",
    "REFERENCE_REDSHIFT_CATALOG": "registry.product_types",
    "TRAINING_RESULTS": "registry.product_types",
    "TRAINING_SET": "registry.product_types",
    "VALIDATION_RESULTS": "registry.product_types",
    "ColumnSpec": "registry.records",
    "FileInfo": "registry.records",
    "KnownDigest": "registry.records",
    "ProductDetail": "registry.records",
    "ProductInfo": "registry.records",
    "Registration": "registry.records",
    "Registry": "registry.store",
}

if TYPE_CHECKING:
    from registry import formats
    from registry.admin import open, status, upgrade  # noqa: A004 - registry.open reads as it should
    from registry.product_types import (
        OTHER,
        PHOTOZ_ESTIMATES,
        PRODUCT_TYPES,
        REFERENCE_REDSHIFT_CATALOG,
        TRAINING_RESULTS,
        TRAINING_SET,
        VALIDATION_RESULTS,
    )
    from registry.records import (
        ColumnSpec,
        FileInfo,
        KnownDigest,
        ProductDetail,
        ProductInfo,
        Registration,
    )
    from registry.store import Registry


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'registry' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(_LAZY[name])
    value = module if name == "formats" else getattr(module, name)
    globals()[name] = value
    return value


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
