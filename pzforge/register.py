"""Register a pipeline's combined catalog in the product registry (by reference, no copy)."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

from pzforge.schema import COLUMNS, EXTRA_DTYPES, RESOLUTION_COLUMNS

REFERENCE_REDSHIFT_CATALOG = "Reference Redshift Catalog"


def column_specs(extra: dict[str, str]) -> list[Any]:
    """Column associations of the combined catalog (role, UCD, unit) for the registry."""
    from registry import ColumnSpec

    specs = [
        ColumnSpec(name=name, role=role, ucd=ucd, unit=unit, dtype=str(arrow_type))
        for name, (arrow_type, role, ucd, unit, _desc) in {**COLUMNS, **RESOLUTION_COLUMNS}.items()
    ]
    # z_flag (as given) and z_flag_homogenized share a role; the homogenized one is the one
    # tools should use, so the raw one is associated as "other".
    for spec in specs:
        if spec.name in ("z_flag", "type"):
            spec.role = "other"
    specs += [
        ColumnSpec(name=n, role="other", dtype=str(EXTRA_DTYPES[t])) for n, t in extra.items()
    ]
    return specs


def register_combined(
    *,
    hats_dir: str | Path,
    aux_files: list[str | Path],
    settings: dict[str, Any],
    run_name: str,
    extra: dict[str, str],
    run_id: str | None = None,
) -> dict[str, Any]:
    """Register the combined catalog; a rerun supersedes the newest product of the same name."""
    from registry import Registry

    reg = Registry.from_url(settings.get("url"))
    name = settings.get("product_name") or run_name
    previous = [
        p
        for p in reg.list_products(name=name, product_type=REFERENCE_REDSHIFT_CATALOG)
        if p.name == name
    ]
    supersedes = max(previous, key=lambda p: p.id).id if previous else None
    description = settings.get("description") or (
        f"Combined spectroscopic redshift catalog made by pzforge combine_redshift (run {run_name})."
    )
    product = reg.register_product(
        name=name,
        product_type=REFERENCE_REDSHIFT_CATALOG,
        main_file=Path(hats_dir),
        aux_files=[Path(p) for p in aux_files],
        description=description,
        columns=column_specs(extra),
        owner=os.environ.get("PZFORGE_USER") or getpass.getuser(),
        release=settings.get("release"),
        run_id=run_id,
        supersedes=supersedes,
        copy=False,
    )
    return {
        "id": product.id,
        "internal_name": product.internal_name,
        "name": name,
        "supersedes": supersedes,
        "registry_url": str(reg.url) if hasattr(reg, "url") else settings.get("url"),
    }
