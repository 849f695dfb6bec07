"""Register a run's product manifests in the product registry (one writer, submitting host).

The registry decides whether a manifest is a new product, the next version of one, or unchanged
(``Registry.register_version``). Checksums come from the jobs that wrote the files (their
provenance sidecars): registration does not hash the outputs a second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pzforge.products.manifest import read_manifest
from registry import ColumnSpec, KnownDigest, Registry


def known_digests(files: Iterable[Mapping[str, Any]]) -> dict[str, KnownDigest]:
    """Digests of files described by jobs (``describe_file`` records), by absolute path."""
    out: dict[str, KnownDigest] = {}
    for f in files:
        if "checksum" not in f or f.get("kind") == "missing":
            continue
        members = tuple(tuple(m) for m in f.get("members") or ())
        out[f["path"]] = KnownDigest(
            size=int(f["size"]),
            checksum=f["checksum"],
            members=members,  # type: ignore[arg-type]
            mtime_ns=f.get("mtime_ns"),
        )
    return out


def register_manifests(
    reg: Registry,
    manifest_files: Iterable[str | Path],
    *,
    owner: str,
    run_id: str | None = None,
    known: Mapping[str, KnownDigest] | None = None,
) -> list[dict[str, Any]]:
    """Register every manifest; returns one receipt per product (``unchanged`` when the newest
    version already has the same main file)."""
    receipts = []
    for path in manifest_files:
        m = read_manifest(path)
        result = reg.register_version(
            m.name,
            m.product_type,
            Path(m.main_file),
            aux_files=[Path(p) for p in m.aux_files],
            description=m.description,
            columns=[ColumnSpec(**vars(c)) for c in m.columns],
            owner=owner,
            release=m.release,
            run_id=run_id,
            derived_from=m.derived_from,
            known=known,
        )
        receipt = {
            "key": m.key,
            "id": result.product.id,
            "internal_name": result.product.internal_name,
            "name": m.name,
            "product_type": m.product_type,
            "supersedes": None if result.unchanged else result.supersedes,
            "registry_url": str(reg.url),
        }
        if result.unchanged:
            receipt["unchanged"] = True
        receipts.append(receipt)
    return receipts
