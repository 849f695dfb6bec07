"""Registry behaviour on SQLite and PostgreSQL: schema, registration, queries, failures, concurrency."""

from __future__ import annotations

import multiprocessing as mp
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from registry import ColumnSpec, NameCollision, NotFound, Registry, SchemaOutdated, ValidationError
from registry.hashing import collection_digest, collection_members, sha256_file
from registry.store import current_revision, head_revision, make_engine

RRC = "Reference Redshift Catalog"
COLS = [
    ColumnSpec("RA", "ra", "pos.eq.ra;meta.main", "deg"),
    ColumnSpec("DEC", "dec", "pos.eq.dec;meta.main", "deg"),
    ColumnSpec("redshift", "z", "src.redshift"),
]


def count_products(url):
    with make_engine(url).connect() as conn:
        return conn.execute(text("SELECT count(*) FROM products")).scalar(), conn.execute(
            text("SELECT count(*) FROM product_files")
        ).scalar()


def test_empty_database_is_migrated_with_product_types(registry_url):
    reg = Registry.from_url(registry_url, user="tests")
    assert current_revision(reg.engine) == head_revision()
    names = [t["name"] for t in reg.product_types()]
    assert names == [
        RRC,
        "Training Set",
        "Training Results",
        "Validation Results",
        "Photo-z Estimates",
        "Other",
    ]
    assert {t["name"]: t["required_roles"] for t in reg.product_types()}["Training Set"] == ["z"]


def test_outdated_schema_asks_for_db_upgrade(registry_url):
    reg = Registry.from_url(registry_url, user="tests")
    with reg.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(SchemaOutdated, match="pzforge db upgrade"):
        Registry.from_url(registry_url, user="tests")


@pytest.mark.parametrize("fmt", ["csv", "parquet", "fits", "hdf5", "hats"])
def test_register_each_tabular_format(registry_url, table_files, fmt):
    df, paths = table_files
    reg = Registry.from_url(registry_url, user="alice")
    p = reg.register_product(f"cat {fmt}", RRC, paths[fmt], columns=COLS, description="test")
    assert p.internal_name == f"{p.id}_cat_{fmt}"
    detail = reg.get_product(p.internal_name)
    assert detail.owner == "alice" and detail.product_type == RRC
    main = detail.files[0]
    assert main.role == "main" and main.format == fmt and main.checksum_algorithm == "sha256"
    assert main.copied and main.name == paths[fmt].name  # stored under its id, named as given
    assert main.source_path == str(paths[fmt].resolve()) and main.path != main.source_path
    if fmt == "hats":
        members = collection_members(paths["hats"])
        assert main.n_members == len(members) > 3
        assert main.checksum == collection_digest(members)
    else:
        assert main.checksum == sha256_file(paths[fmt]) and main.size == paths[fmt].stat().st_size
    assert [(c.name, c.role, c.ucd) for c in detail.columns][0] == (
        "RA",
        "ra",
        "pos.eq.ra;meta.main",
    )


def test_required_associations_and_columns_are_checked(registry_url, table_files):
    _, paths = table_files
    reg = Registry.from_url(registry_url, user="tests")
    with pytest.raises(ValidationError, match="must associate columns with ra, dec, z; missing: z"):
        reg.register_product("x", RRC, paths["parquet"], columns=COLS[:2])
    with pytest.raises(ValidationError, match=r"\['nope'\] not in cat.parquet"):
        reg.register_product(
            "x", RRC, paths["parquet"], columns=[*COLS[:2], ColumnSpec("nope", "z")]
        )
    with pytest.raises(ValidationError, match="does not exist"):
        reg.register_product("x", RRC, paths["parquet"].with_name("missing.parquet"), columns=COLS)
    bad = paths["parquet"].with_name("notes.txt")
    bad.write_text("hello")
    with pytest.raises(ValidationError, match="tabular"):
        reg.register_product("x", RRC, bad, columns=COLS)
    truncated = paths["parquet"].with_name("cut.parquet")
    truncated.write_bytes(paths["parquet"].read_bytes()[:100])
    with pytest.raises(ValidationError, match="cannot be read"):
        reg.register_product("x", RRC, truncated, columns=COLS)
    with pytest.raises(NotFound, match="unknown product type 'Nope'"):
        reg.register_product("x", "Nope", paths["parquet"], columns=COLS)
    with pytest.raises(ValidationError, match="unknown column role"):
        reg.register_product(
            "x", RRC, paths["parquet"], columns=[*COLS, ColumnSpec("z_err", "bogus")]
        )
    assert count_products(registry_url) == (0, 0)  # nothing half-registered


def test_name_collision_and_version_chain(registry_url, table_files):
    _, paths = table_files
    reg = Registry.from_url(registry_url, user="tests")
    first = reg.register_product("combined", RRC, paths["parquet"], columns=COLS)
    with pytest.raises(NameCollision, match="already exists"):
        reg.register_product("combined", RRC, paths["csv"], columns=COLS)
    second = reg.register_product("combined", RRC, paths["csv"], columns=COLS, supersedes=first.id)
    assert second.supersedes_id == first.id
    assert reg.get_product(first.id).superseded_by == second.id
    with pytest.raises(NameCollision):  # only the newest version can be superseded
        reg.register_product("combined", RRC, paths["csv"], columns=COLS, supersedes=first.id)
    # another type may use the same name
    reg.register_product(
        "combined", "Training Set", paths["csv"], columns=[ColumnSpec("redshift", "z")]
    )


def test_list_filters_and_sorting(registry_url, table_files):
    _, paths = table_files
    reg = Registry.from_url(registry_url, user="tests")
    reg.add_release("DP1", "Data Preview 1")
    a = Registry.from_url(registry_url, user="alice")
    b = Registry.from_url(registry_url, user="bob")
    a.register_product("Deep field specz", RRC, paths["parquet"], columns=COLS, release="DP1")
    b.register_product("wide specz", RRC, paths["csv"], columns=COLS)
    b.register_product(
        "wide training", "Training Set", paths["csv"], columns=[ColumnSpec("redshift", "z")]
    )
    assert [p.name for p in reg.list_products(product_type=RRC)] == [
        "Deep field specz",
        "wide specz",
    ]
    assert [p.name for p in reg.list_products(name="WIDE")] == ["wide specz", "wide training"]
    assert [p.name for p in reg.list_products(owner="alice")] == ["Deep field specz"]
    assert [p.name for p in reg.list_products(release="DP1")] == ["Deep field specz"]
    assert reg.list_products(official=True) == []
    assert [p.name for p in reg.list_products(order_by="name", descending=True)][
        0
    ] == "wide training"
    now = datetime.now(UTC)
    assert len(reg.list_products(created_after=now - timedelta(hours=1))) == 3
    assert reg.list_products(created_before=now - timedelta(hours=1)) == []
    with pytest.raises(NotFound, match="unknown release 'DP9'"):
        reg.list_products(release="DP9")
    with pytest.raises(NotFound, match="no product"):
        reg.get_product("999_nothing")


def _register_many(url, worker, n, path):
    reg = Registry.from_url(url, user=f"w{worker}")
    ids = []
    for i in range(n):
        p = reg.register_product(
            f"w{worker} product {i}",
            RRC,
            path,
            columns=[ColumnSpec("RA", "ra"), ColumnSpec("DEC", "dec"), ColumnSpec("redshift", "z")],
        )
        ids.append(p.id)
    return ids


def test_eight_processes_register_at_once(registry_url, table_files):
    _, paths = table_files
    Registry.from_url(
        registry_url, user="tests"
    )  # schema first; the race on creation is tested separately
    ctx = mp.get_context("spawn")
    with ctx.Pool(8) as pool:
        results = pool.starmap(
            _register_many, [(registry_url, w, 5, paths["parquet"]) for w in range(8)]
        )
    ids = [i for r in results for i in r]
    assert len(ids) == 40 and len(set(ids)) == 40
    assert count_products(registry_url) == (40, 40)


def _open(url):
    return Registry.from_url(url, user="tests").product_types()[0]["name"]


def test_concurrent_first_use_creates_the_schema_once(registry_url):
    ctx = mp.get_context("spawn")
    with ctx.Pool(4) as pool:
        assert pool.map(_open, [registry_url] * 4) == [RRC] * 4
