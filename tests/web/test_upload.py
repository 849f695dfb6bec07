"""The four-step upload wizard in headless Chromium, end to end: errors next to their fields at
every step, nothing registered until the last one, then the product with its columns."""

from __future__ import annotations

import httpx

from tests.server.conftest import write_catalog
from tests.web.test_pages import check_page


def registered(site, name: str) -> list[dict]:
    r = httpx.get(
        site.api + "/products",
        params={"name": name},
        headers={"Authorization": f"Bearer {site.tokens['eve']}"},
    )
    return r.json()["results"]


def test_upload_wizard_end_to_end(pages, web_site, tmp_path):
    write_catalog(tmp_path / "wizard.csv", n=25, seed=8)
    (tmp_path / "README.md").write_text("# About this catalog\n")
    (tmp_path / "notes.txt").write_text("not a table")
    pages.login("eve")

    # step 1: name, type, release, description
    pages.open("/upload")
    check_page(pages, "upload_1")
    pages.no_browser_checks()
    pages.fill({"name": "", "description": "A *small* catalog."})
    text = pages.submit()
    assert "a product name cannot be empty" in pages.b.evaluate(
        "document.getElementById('e-name').textContent"
    )
    check_page(pages, "upload_1_errors")
    pages.fill({"name": "eve specz", "product_type": "Reference Redshift Catalog"})
    text = pages.submit()
    assert "already exists" in text  # a name taken is said at once
    pages.fill({"name": "wizard specz", "release": "DR1"})
    pages.submit()
    assert pages.url().endswith("/files")
    draft = pages.url().split("/")[2]

    # step 2: files (none chosen; a text file for a tabular type; then the table and a README)
    check_page(pages, "upload_2")
    text = pages.submit()
    assert "choose the main file" in text
    pages.set_files("#f-main_file", [tmp_path / "notes.txt"])
    text = pages.submit()
    assert "must be CSV, FITS, HDF5 or Parquet (got notes.txt)" in text
    check_page(pages, "upload_2_errors")
    pages.set_files("#f-main_file", [tmp_path / "wizard.csv"])
    pages.set_files("#f-aux_files", [tmp_path / "README.md"])
    pages.submit()
    assert pages.url() == f"/upload/{draft}/columns"

    # step 3: columns suggested from their names; the roles the type needs are enforced
    roles = pages.b.evaluate(
        "Array.from(document.querySelectorAll('table.assoc select')).map(s => s.value)"
    )
    assert roles == ["id", "ra", "dec", "z", "survey"]  # objid, RA, DEC, redshift, survey_name
    assert pages.b.evaluate("document.getElementById('ucd-1').value") == "pos.eq.ra;meta.main"
    check_page(pages, "upload_3")
    pages.fill({"role-3": "", "role-0": "ra"})
    text = pages.submit()
    assert "missing: z" in text
    assert "ra is already the role of column" in pages.b.evaluate(
        "document.getElementById('e-role-1').textContent"
    )
    check_page(pages, "upload_3_errors")
    assert registered(web_site, "wizard") == []  # nothing half-registered
    pages.fill({"role-0": "id", "role-3": "z", "ucd-3": "src.redshift", "unit-1": "deg"})
    pages.submit()
    assert pages.url() == f"/upload/{draft}/review"

    # step 4: review, then register
    text = pages.text()
    assert "wizard.csv" in text and "README.md" in text and "pos.eq.dec;meta.main" in text
    assert "small" in pages.b.evaluate("document.querySelector('.markdown').innerHTML")
    check_page(pages, "upload_4")
    assert registered(web_site, "wizard") == []
    text = pages.submit("form[action$='/finish'] button")
    assert "Uploaded and registered." in text
    (product,) = registered(web_site, "wizard")
    assert pages.url() == f"/products/{product['internal_name']}?done=uploaded"
    assert product["owner"] == "eve" and product["release"] == "DR1"
    assert "src.redshift" in text and "README.md" in text
    check_page(pages, "upload_done")
    # the draft is gone
    text = pages.open(f"/upload/{draft}/review")
    assert pages.status_of(f"/upload/{draft}/review") == 404


def test_someone_elses_draft_is_not_found(pages, web_site):
    pages.login("eve")
    pages.open("/upload")
    pages.fill({"name": "eve's draft"})
    pages.submit()
    draft_url = pages.url()
    pages.login("bob")
    pages.open(draft_url)
    assert pages.status_of(draft_url) == 404


def test_wizard_size_limit_and_a_type_without_columns(web_site, tmp_path):
    """Over the site's limit: said next to the file field, nothing kept. A non-tabular type goes
    from its files straight to the review."""
    import re

    from tests.web.test_pages import session

    eve = session(web_site, "eve")

    def token(page: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    r = eve.post("/upload", data={"csrf_token": token(eve.get("/upload").text),
                                  "name": "eve notes", "product_type": "Other"})  # fmt: skip
    assert r.status_code == 303
    files_url = r.headers["location"]
    page = eve.get(files_url).text
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (3 * 2**20))  # the test site's limit is 2 MB
    with big.open("rb") as fh:
        r = eve.post(files_url, data={"csrf_token": token(page)}, files={"main_file": fh})
    assert r.status_code == 413
    assert re.search(r'id="e-main_file"[^>]*>[^<]*over the site(&#39;|\')s limit of 2 MB', r.text)
    assert "Received:" not in r.text  # nothing kept
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4 notes")
    with (tmp_path / "notes.pdf").open("rb") as fh:
        r = eve.post(files_url, data={"csrf_token": token(page)}, files={"main_file": fh})
    assert r.status_code == 303 and r.headers["location"].endswith("/review")
    review = eve.get(r.headers["location"]).text
    assert "notes.pdf" in review and "Columns: none for this type" in review
    r = eve.post(r.headers["location"].replace("/review", "/finish"),
                 data={"csrf_token": token(review)})  # fmt: skip
    assert r.status_code == 303 and "eve_notes" in r.headers["location"]
    assert registered(web_site, "eve notes")[0]["product_type"] == "Other"
