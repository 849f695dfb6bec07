"""Registration takes the checksums the jobs recorded, and the registry decides the version."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import registry
from pzforge.products.manifest import ColumnAssociation, ProductManifest, write_manifest
from pzforge.products.registration import known_digests, register_manifests
from pzforge.provenance.recording import describe_file
from registry import REFERENCE_REDSHIFT_CATALOG


def _product(tmp_path: Path, z: float) -> tuple[Path, Path]:
    hats = tmp_path / "cat_hats" / "dataset"
    hats.mkdir(parents=True, exist_ok=True)
    (tmp_path / "cat_hats" / "hats.properties").write_text("dataset_type=object\n")
    pd.DataFrame({"ra": [1.0], "dec": [2.0], "z": [z]}).to_parquet(hats / "Npix=0.parquet")
    flat = tmp_path / "cat.parquet"
    pd.DataFrame({"ra": [1.0], "dec": [2.0], "z": [z]}).to_parquet(flat)
    manifest = ProductManifest(
        key="combined",
        name="cat",
        product_type=REFERENCE_REDSHIFT_CATALOG,
        main_file=str(tmp_path / "cat_hats"),
        aux_files=[str(flat)],
        columns=[ColumnAssociation(n, n) for n in ("ra", "dec", "z")],
    )
    write_manifest(manifest, tmp_path / "m.json")
    return tmp_path / "cat_hats", flat


def test_registration_uses_the_jobs_checksums_without_hashing_again(tmp_path, monkeypatch):
    main, flat = _product(tmp_path, 0.5)
    known = known_digests([describe_file(main), describe_file(flat)])  # what the jobs recorded
    # pipelines store their outputs as hard links (pzforge.products.site): nothing to hash again
    reg = registry.open(f"sqlite:///{tmp_path / 'r.sqlite'}", user="tests", store_mode="link")

    def no_hashing(*_a, **_k):
        raise AssertionError("registration hashed a file the jobs had hashed")

    monkeypatch.setattr(registry.hashing, "sha256_file", no_hashing)
    monkeypatch.setattr(registry.hashing, "collection_members", no_hashing)
    (receipt,) = register_manifests(reg, [tmp_path / "m.json"], owner="tests", known=known)
    detail = reg.get_product(receipt["id"])
    assert {f.checksum for f in detail.files} == {
        known[str(main)].checksum,
        known[str(flat)].checksum,
    }


def test_a_stale_digest_is_not_trusted(tmp_path):
    main, flat = _product(tmp_path, 0.5)
    known = known_digests([describe_file(main), describe_file(flat)])
    pd.DataFrame({"ra": [1.0], "dec": [2.0], "z": [0.75, 0.8][:1]}).to_parquet(flat)  # rewritten
    reg = registry.open(f"sqlite:///{tmp_path / 'r.sqlite'}", user="tests")
    (receipt,) = register_manifests(reg, [tmp_path / "m.json"], owner="tests", known=known)
    aux = next(f for f in reg.get_product(receipt["id"]).files if f.role == "auxiliary")
    assert aux.checksum == registry.hashing.sha256_file(flat) != known[str(flat)].checksum


def test_the_registry_decides_new_version_or_unchanged(tmp_path):
    _product(tmp_path, 0.5)
    reg = registry.open(f"sqlite:///{tmp_path / 'r.sqlite'}", user="tests")
    (first,) = register_manifests(reg, [tmp_path / "m.json"], owner="tests")
    (again,) = register_manifests(reg, [tmp_path / "m.json"], owner="tests")
    assert again["unchanged"] and again["id"] == first["id"]
    _product(tmp_path, 0.9)
    (second,) = register_manifests(reg, [tmp_path / "m.json"], owner="tests")
    assert second["supersedes"] == first["id"] and not second.get("unchanged")
    with pytest.raises(registry.NameCollision):  # a plain registration cannot take the name
        reg.register_product(
            "cat",
            REFERENCE_REDSHIFT_CATALOG,
            tmp_path / "cat.parquet",
            columns=[registry.ColumnSpec(n, n) for n in ("ra", "dec", "z")],
        )
