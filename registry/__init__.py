"""The pzforge product registry: products, files with checksums, columns, releases.

Knows nothing of pipelines; pipelines call it. Public API re-exported here.
"""

from registry.errors import (
    NameCollision,
    NotFound,
    PermissionDenied,
    RegistryError,
    SchemaOutdated,
    ValidationError,
)
from registry.store import ColumnSpec, FileInfo, ProductDetail, ProductInfo, Registry, upgrade

__all__ = [
    "ColumnSpec",
    "FileInfo",
    "NameCollision",
    "NotFound",
    "PermissionDenied",
    "ProductDetail",
    "ProductInfo",
    "Registry",
    "RegistryError",
    "SchemaOutdated",
    "ValidationError",
    "upgrade",
]
