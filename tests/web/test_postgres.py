"""The pages on a PostgreSQL site (a real server on 127.0.0.1:54329): the list's filters, sort
and pages, a product page, an edit through the form, a restricted release hidden - the same views
as on SQLite, over the other backend's SQL (case-insensitive search, paging, counts)."""

from __future__ import annotations

import re

import pytest

from tests.server.conftest import running_site, write_catalog
from tests.support.postgres import fresh_database
from tests.web.conftest import PASSWORDS, bulk_products
from tests.web.test_pages import session

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web-pg")
    with fresh_database() as url, running_site(url, folder) as site:
        for name in ("ada", "eve", "bob"):
            site.add_user(name, admin=name == "ada", password=PASSWORDS[name])
        op = site.operator()
        op.add_group("team")
        op.add_member("team", "bob")
        op.add_release("DP1")
        op.restrict_release("DP1", ["team"])
        bulk_products(op, 120, start=1000)
        with op.engine.begin() as conn:  # the bulk rows set ids by hand
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('products', 'id'), (SELECT max(id) FROM products))"
            )
        op.engine.dispose()
        write_catalog(folder / "cat.csv", n=30)
        cols = {"ra": "RA", "dec": "DEC", "z": "redshift"}
        site.specz = site.client("eve").upload(
            "Ève's SPECZ", "Reference Redshift Catalog", folder / "cat.csv", columns=cols,
            description="**bold** <b>raw</b>",
        )  # fmt: skip
        site.secret = site.client("bob").upload(
            "bob secret", "Reference Redshift Catalog", folder / "cat.csv", columns=cols,
            release="DP1",
        )  # fmt: skip
        yield site


def test_pages_on_postgresql(pg_site):
    eve = session(pg_site, "eve")
    page = eve.get("/products").text
    assert "1–50 of 121 products" in page and "Page 1 of 3" in page
    assert "bob secret" not in page
    page = eve.get("/products", params={"page": 3}).text
    assert "101–121 of 121 products" in page
    page = eve.get("/products", params={"name": "ève's specz"}).text  # any case, accents kept
    assert "1–1 of 1 products" in page and pg_site.specz["internal_name"] in page
    page = eve.get("/products", params={"sort": "name", "order": "desc", "per_page": 25}).text
    names = re.findall(r'<a href="/products/[^"]+">([^<]+)</a>', page)
    assert len(names) == 25  # (where "Ève" sorts is the database's collation)
    assert names.index("bulk catalog 119") + 1 == names.index("bulk catalog 118")
    page = eve.get(f"/products/{pg_site.specz['internal_name']}").text
    assert "<strong>bold</strong>" in page and "&lt;b&gt;raw&lt;/b&gt;" in page
    assert eve.get(f"/products/{pg_site.secret['internal_name']}").status_code == 403
    # an edit through the form, with its CSRF token
    form = eve.get(f"/products/{pg_site.specz['internal_name']}/edit").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    r = eve.post(
        f"/products/{pg_site.specz['internal_name']}/edit",
        data={"csrf_token": token, "name": "Ève's specz v2", "description": "new", "release": ""},
    )
    assert r.status_code == 303
    assert "Ève&#39;s specz v2" in eve.get(r.headers["location"]).text
    bob = session(pg_site, "bob")
    assert "bob secret" in bob.get("/products", params={"release": "DP1"}).text
    assert bob.get(f"/products/{pg_site.specz['internal_name']}/edit").status_code == 403
