"""The plain records the registry hands out and takes in (no database objects leave it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry import hashing

if TYPE_CHECKING:
    from registry.models import Product

ROLES = (
    "ra",
    "dec",
    "z",
    "z_err",
    "z_flag",
    "type",
    "survey",
    "id",
    "magnitude",
    "flux",
    "error",
    "other",
)
FILE_ROLES = ("main", "auxiliary", "description")


@dataclass
class ColumnSpec:
    """A column association: which column plays which role, with its UCD and unit."""

    name: str
    role: str
    ucd: str | None = None
    unit: str | None = None
    dtype: str | None = None


@dataclass(frozen=True)
class KnownDigest:
    """A file's size and sha256 as already measured by whoever wrote it (a pipeline job).

    ``members`` for a collection: (relpath, size, sha256[, mtime_ns]); ``mtime_ns`` for a file.
    The registry trusts it only while the file on disk still has that size and mtime (for a
    collection: the same members with the same sizes and mtimes).
    """

    size: int
    checksum: str
    members: tuple[tuple[Any, ...], ...] = ()
    mtime_ns: int | None = None

    def matches(self, path: Path) -> bool:
        if path.is_dir():
            if not self.members:
                return False
            on_disk = {
                p.relative_to(path).as_posix(): p.stat()
                for p in path.rglob("*")
                if p.is_file() and p.name not in hashing.IGNORED
            }
            if set(on_disk) != {m[0] for m in self.members}:
                return False
            for m in self.members:
                st = on_disk[m[0]]
                if st.st_size != m[1] or (len(m) > 3 and m[3] not in (None, st.st_mtime_ns)):
                    return False
            return True
        try:
            st = path.stat()
        except OSError:
            return False
        return st.st_size == self.size and self.mtime_ns in (None, st.st_mtime_ns)


@dataclass
class FileInfo:
    """A product's file as the registry serves it: ``path`` is absolute (in the store when
    ``copied``), ``name`` the name it was registered under, ``source_path`` where from."""

    role: str
    path: str
    size: int
    checksum: str
    checksum_algorithm: str
    format: str
    media_type: str
    copied: bool
    n_members: int
    name: str | None = None
    source_path: str | None = None


@dataclass
class ProductInfo:
    id: int
    name: str
    internal_name: str
    product_type: str
    release: str | None
    owner: str
    official: bool
    description: str
    status: str
    created_at: datetime
    updated_at: datetime
    run_id: str | None
    supersedes_id: int | None
    version: int = 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        d["updated_at"] = self.updated_at.isoformat()
        return d


@dataclass
class ProductDetail(ProductInfo):
    files: list[FileInfo] = field(default_factory=list)
    columns: list[ColumnSpec] = field(default_factory=list)
    superseded_by: int | None = None


@dataclass
class Registration:
    """What registering a version did: the product, the version it supersedes, or nothing new."""

    product: ProductInfo
    supersedes: int | None
    unchanged: bool


def product_info(p: Product, version: int = 1) -> ProductInfo:
    """The record of a product row (``version``: its place among the versions of its name)."""
    return ProductInfo(
        id=p.id,
        name=p.name,
        internal_name=p.internal_name,
        product_type=p.product_type.name,
        release=p.release.name if p.release else None,
        owner=p.owner,
        official=p.official,
        description=p.description,
        status=p.status,
        created_at=p.created_at,
        updated_at=p.updated_at,
        run_id=p.run_id,
        supersedes_id=p.supersedes_id,
        version=version,
    )
