"""Checksums: sha256 of files (streamed) and of collections such as HATS catalogs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

ALGORITHM = "sha256"
IGNORED = {".snakemake_timestamp"}  # Snakemake's directory-output marker, not data


@dataclass(frozen=True)
class Member:
    relpath: str
    size: int
    checksum: str
    mtime_ns: int | None = None


def sha256_file(path: str | Path) -> str:
    """Streaming sha256 (hashlib.file_digest reads into one reused buffer, no copies)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def collection_members(root: str | Path) -> list[Member]:
    """Every file under ``root`` (sorted by relative path) with its size and sha256."""
    root = Path(root)
    members = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name not in IGNORED):
        st = path.stat()
        members.append(
            Member(path.relative_to(root).as_posix(), st.st_size, sha256_file(path), st.st_mtime_ns)
        )
    return members


def collection_digest(members: list[Member]) -> str:
    """One digest for a collection: sha256 over sorted 'relpath NUL sha256 LF' lines."""
    digest = hashlib.sha256()
    for m in sorted(members, key=lambda m: m.relpath):
        digest.update(f"{m.relpath}\0{m.checksum}\n".encode())
    return digest.hexdigest()


def checksum_path(path: str | Path) -> str:
    """sha256 of a file, or the collection digest of a directory (as registered)."""
    path = Path(path)
    if path.is_dir():
        return collection_digest(collection_members(path))
    return sha256_file(path)
