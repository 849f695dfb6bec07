"""The product a Combine Redshift Catalogs run registers: a Reference Redshift Catalog."""

from __future__ import annotations

from pathlib import Path

from pzforge.combine.columns import COLUMNS, EXTRA_DTYPES, RESOLUTION_COLUMNS
from pzforge.config import RegistrySettings
from pzforge.products.manifest import ColumnAssociation, ProductManifest
from registry import REFERENCE_REDSHIFT_CATALOG


def combined_columns(extra: dict[str, str], footprints: list[str] = ()) -> list[ColumnAssociation]:
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
        ColumnAssociation(name=n, role="other", ucd="meta.code", dtype="bool") for n in footprints
    ]
    specs += [
        ColumnAssociation(name=n, role="other", dtype=str(EXTRA_DTYPES[t]))
        for n, t in extra.items()
    ]
    return specs


def combined_manifest(
    *,
    hats_dir: str | Path,
    aux_files: list[str | Path],
    settings: RegistrySettings,
    run_name: str,
    extra: dict[str, str],
    footprints: list[str] = (),
    derived_from: list[int] = (),
) -> ProductManifest:
    """The manifest of the Combine Redshift Catalogs output."""
    return ProductManifest(
        key="combined",
        name=settings.product_name or run_name,
        product_type=REFERENCE_REDSHIFT_CATALOG,
        main_file=str(hats_dir),
        aux_files=[str(p) for p in aux_files],
        description=settings.description
        or f"Combined spectroscopic redshift catalog made by pzforge combine_redshift ({run_name}).",
        columns=combined_columns(extra, list(footprints)),
        release=settings.release,
        derived_from=[int(i) for i in derived_from],
    )
