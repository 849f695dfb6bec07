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


TRAINING_SET = "Training Set"
# name -> (role, UCD, unit) of the training set's fixed columns (IVOA UCD1+).
TRAINING_COLUMNS: dict[str, tuple[str, str | None, str | None]] = {
    "id": ("id", "meta.id;meta.main", None),
    "ra": ("ra", "pos.eq.ra;meta.main", "deg"),
    "dec": ("dec", "pos.eq.dec;meta.main", "deg"),
    "z": ("z", "src.redshift", None),
    "z_err": ("z_err", "stat.error;src.redshift", None),
    "z_flag_homogenized": ("z_flag", "meta.code.qual;src.redshift", None),
    "source_id": ("other", "meta.id", None),
    "catalog": ("other", "meta.dataset", None),
    "survey": ("survey", "meta.dataset", None),
    "type_homogenized": ("type", "meta.code.class;src.redshift", None),
    "phot_id": ("other", "meta.id.cross", None),
    "phot_ra": ("other", "pos.eq.ra", "deg"),
    "phot_dec": ("other", "pos.eq.dec", "deg"),
    "sep_arcsec": ("other", "pos.angDistance", "arcsec"),
    "n_candidates": ("other", "meta.number", None),
    "subset": ("other", "meta.code", None),
}


def training_columns(
    parquet: str | Path, photometry: dict[str, Any], magnitudes: dict[str, Any]
) -> list[ColumnAssociation]:
    """Column associations of a training set, from its Parquet schema and the band settings."""
    import pyarrow.parquet as pq

    from pzforge.photometry import MAG_PREFIX, MAGERR_PREFIX, band_columns

    schema = pq.read_schema(parquet)
    unit = photometry.get("flux_unit", "nJy")
    values = {v: b for b, (v, _e) in band_columns(photometry).items()}
    errors = {e: b for b, (_v, e) in band_columns(photometry).items() if e}
    flux = photometry.get("quantity", "flux") == "flux"
    specs = []
    for field in schema:
        name, dtype = field.name, str(field.type)
        if name in TRAINING_COLUMNS:
            role, ucd, col_unit = TRAINING_COLUMNS[name]
        elif name.startswith(MAGERR_PREFIX):
            role, ucd, col_unit = "error", "stat.error;phot.mag", "mag"
        elif name.startswith(MAG_PREFIX):
            role, ucd, col_unit = "magnitude", "phot.mag", "mag"
        elif name in values:
            role, ucd, col_unit = (
                ("flux", "phot.flux.density", unit) if flux else ("magnitude", "phot.mag", "mag")
            )
        elif name in errors:
            role, ucd = "error", "stat.error;phot.flux.density" if flux else "stat.error;phot.mag"
            col_unit = unit if flux else "mag"
        else:
            role, ucd, col_unit = "other", None, None
        specs.append(ColumnAssociation(name=name, role=role, ucd=ucd, unit=col_unit, dtype=dtype))
    return specs


def training_set_manifest(
    *,
    key: str,
    hats_dir: str | Path,
    parquet: str | Path,
    aux_files: list[str | Path],
    settings: dict[str, Any],
    run_name: str,
    derived_from: list[int],
    photometry: dict[str, Any],
    magnitudes: dict[str, Any],
) -> ProductManifest:
    """The manifest of one Training Set (``key``: training_set, or train / test)."""
    base = settings.get("product_name") or run_name
    name = base if key == "training_set" else f"{base}_{key}"
    empty = (Path(hats_dir) / "EMPTY").is_file()
    main = parquet if empty else hats_dir  # an empty training set has no HATS tile
    aux = [str(p) for p in ([] if empty else [parquet]) + list(aux_files)]
    what = {"training_set": "Training set", "train": "Training subset", "test": "Test subset"}[key]
    return ProductManifest(
        key=key,
        name=name,
        product_type=TRAINING_SET,
        main_file=str(main),
        aux_files=aux,
        description=settings.get("description")
        or f"{what} made by pzforge training_set ({run_name}): spectroscopic redshifts matched "
        "to photometry.",
        columns=training_columns(parquet, photometry, magnitudes),
        release=settings.get("release"),
        derived_from=list(derived_from),
    )
