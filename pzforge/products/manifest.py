"""Product manifests: what a pipeline wants registered, written by a job, registered by one writer.

Compute jobs never write the registry. A pipeline's last rules write one manifest per product
(JSON: name, type, files, columns, lineage); the registration step on the submitting host turns
the manifests of a successful run into products in one place (``pzforge.products.registration``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from pzforge.io import read_json, write_json
from registry import PRODUCT_TYPES
from registry import ColumnSpec as ColumnAssociation  # the registry's column meaning

__all__ = ["ColumnAssociation", "ProductManifest", "read_manifest", "write_manifest"]


@dataclass
class ProductManifest:
    """One product to register at the end of a successful run.

    ``key`` is stable within the pipeline (e.g. ``combined``, ``training_set``, ``train``) and
    names the manifest file; ``derived_from`` lists registry product ids the product was made
    from (lineage), e.g. the Reference Redshift Catalog a Training Set was matched from.
    """

    key: str
    name: str
    product_type: str
    main_file: str
    aux_files: list[str] = field(default_factory=list)
    description: str = ""
    columns: list[ColumnAssociation] = field(default_factory=list)
    release: str | None = None
    derived_from: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.product_type not in PRODUCT_TYPES:
            raise ValueError(f"unknown product type {self.product_type!r}; one of {PRODUCT_TYPES}")
        self.columns = [
            c if isinstance(c, ColumnAssociation) else ColumnAssociation(**c) for c in self.columns
        ]
        self.main_file = str(self.main_file)
        self.aux_files = [str(p) for p in self.aux_files]


def write_manifest(manifest: ProductManifest, path: str | Path) -> None:
    write_json(asdict(manifest), path)


def read_manifest(path: str | Path) -> ProductManifest:
    return ProductManifest(**read_json(path))
