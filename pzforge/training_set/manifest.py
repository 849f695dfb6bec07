"""The products a Training Set Maker run registers: one Training Set (or a train and a test one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pzforge.config import RegistrySettings
from pzforge.products.manifest import ColumnAssociation, ProductManifest
from registry import TRAINING_SET

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

    from pzforge.training_set.photometry import (
        MAG_PREFIX,
        MAGERR_PREFIX,
        STATUS_PREFIX,
        band_columns,
    )

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
        elif name.startswith(STATUS_PREFIX):
            role, ucd, col_unit = "other", "meta.code.qual;phot.mag", None
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
    settings: RegistrySettings,
    run_name: str,
    derived_from: list[int],
    photometry: dict[str, Any],
    magnitudes: dict[str, Any],
) -> ProductManifest:
    """The manifest of one Training Set (``key``: training_set, or train / test)."""
    base = settings.product_name or run_name
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
        description=settings.description
        or f"{what} made by pzforge training_set ({run_name}): spectroscopic redshifts matched "
        "to photometry.",
        columns=training_columns(parquet, photometry, magnitudes),
        release=settings.release,
        derived_from=list(derived_from),
    )
