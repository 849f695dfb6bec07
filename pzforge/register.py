"""Register a run's product manifests in the product registry (by reference, no copy)."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

from pzforge.manifest import ColumnAssociation, ProductManifest, read_manifest
from pzforge.schema import COLUMNS, EXTRA_DTYPES, RESOLUTION_COLUMNS

REFERENCE_REDSHIFT_CATALOG = "Reference Redshift Catalog"


def combined_columns(extra: dict[str, str]) -> list[ColumnAssociation]:
    """Column associations of the combined catalog (role, UCD, unit) for the registry."""
    specs = [
        ColumnAssociation(name=name, role=role, ucd=ucd, unit=unit, dtype=str(arrow_type))
        for name, (arrow_type, role, ucd, unit, _desc) in {**COLUMNS, **RESOLUTION_COLUMNS}.items()
    ]
    # z_flag (as given) and z_flag_homogenized share a role; the homogenized one is the one
    # tools should use, so the raw one is associated as "other".
    for spec in specs:
        if spec.name in ("z_flag", "type"):
            spec.role = "other"
    specs += [
        ColumnAssociation(name=n, role="other", dtype=str(EXTRA_DTYPES[t]))
        for n, t in extra.items()
    ]
    return specs


def combined_manifest(
    *,
    hats_dir: str | Path,
    aux_files: list[str | Path],
    settings: dict[str, Any],
    run_name: str,
    extra: dict[str, str],
) -> ProductManifest:
    """The manifest of the Combine Redshift Catalogs output."""
    return ProductManifest(
        key="combined",
        name=settings.get("product_name") or run_name,
        product_type=REFERENCE_REDSHIFT_CATALOG,
        main_file=str(hats_dir),
        aux_files=[str(p) for p in aux_files],
        description=settings.get("description")
        or f"Combined spectroscopic redshift catalog made by pzforge combine_redshift ({run_name}).",
        columns=combined_columns(extra),
        release=settings.get("release"),
    )


def register_manifests(
    manifest_files: list[str | Path], settings: dict[str, Any], run_id: str | None = None
) -> list[dict[str, Any]]:
    """Register every manifest; returns one receipt per product.

    A product whose name and type match an existing one becomes its new version (supersedes
    the newest). If the newest version has the same main-file checksum, nothing is registered
    and its receipt is returned with ``unchanged: true``.
    """
    from registry import ColumnSpec, Registry

    reg = Registry.from_url(settings.get("url"))
    owner = os.environ.get("PZFORGE_USER") or getpass.getuser()
    receipts = []
    for path in manifest_files:
        m = read_manifest(path)
        previous = [
            p
            for p in reg.list_products(name=m.name, product_type=m.product_type)
            if p.name == m.name
        ]
        newest = max(previous, key=lambda p: p.id) if previous else None
        if newest is not None and _same_main_file(reg, newest.id, m):
            receipts.append(_receipt(m, newest.id, newest.internal_name, None, reg, unchanged=True))
            continue
        product = reg.register_product(
            name=m.name,
            product_type=m.product_type,
            main_file=Path(m.main_file),
            aux_files=[Path(p) for p in m.aux_files],
            description=m.description,
            columns=[ColumnSpec(**vars(c)) for c in m.columns],
            owner=owner,
            release=m.release,
            run_id=run_id,
            supersedes=newest.id if newest else None,
            derived_from=m.derived_from,
            copy=False,
        )
        receipts.append(
            _receipt(m, product.id, product.internal_name, newest.id if newest else None, reg)
        )
    return receipts


def _same_main_file(reg: Any, product_id: int, m: ProductManifest) -> bool:
    from registry.hashing import checksum_path

    detail = reg.get_product(product_id)
    mains = [f for f in detail.files if f.role == "main"]
    if not mains or mains[0].path != str(Path(m.main_file).resolve()):
        return False
    return checksum_path(m.main_file) == mains[0].checksum


def _receipt(
    m: ProductManifest, pid: int, internal: str, supersedes: int | None, reg: Any, **extra: Any
) -> dict[str, Any]:
    return {
        "key": m.key,
        "id": pid,
        "internal_name": internal,
        "name": m.name,
        "product_type": m.product_type,
        "supersedes": supersedes,
        "registry_url": str(reg.url),
        **extra,
    }
