"""A pipeline run from the site, in headless Chromium: the form made from the config schema
(errors next to their fields), submitted, followed live on the run page to success, its product
registered with lineage and its provenance report shown; a queued run cancelled from its page.
A real server and worker on loopback (SQLite), a real Snakemake run of Combine Redshift Catalogs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.server.conftest import Site, running_site
from tests.web.conftest import PASSWORDS, Pages
from tests.web.test_pages import check_page

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
CATALOGS = {  # two of the sample catalogs, as in config/config.yaml
    "2dfgrs": {"id": "name", "ra": "ra_j2000_deg", "dec": "dec_j2000_deg", "z": "z",
               "z_flag": "quality", "survey.column": "survey_name"},
    "6dfgs": {"id": "SPECID", "ra": "RA_deg", "dec": "DEC_deg", "z": "Z", "z_flag": "QUALITY",
              "survey.value": "6dFGS"},
}  # fmt: skip


@pytest.fixture(scope="module")
def run_site(tmp_path_factory) -> Iterator[Site]:
    from pzforge.combine import sample_data

    folder = tmp_path_factory.mktemp("web-runs")
    url = f"sqlite:///{folder / 'registry.sqlite'}"
    with running_site(url, folder, worker=True) as site:
        site.add_user("eve", password=PASSWORDS["eve"])
        site.add_user("ada", admin=True, password=PASSWORDS["ada"])
        paths = sample_data.generate(folder / "data", n_objects=400)
        pz = site.client("eve")
        site.uploaded = {}
        for name, columns in CATALOGS.items():
            roles = {r: columns[r] for r in ("ra", "dec", "z")}
            info = pz.upload(f"{name} specz", "Reference Redshift Catalog", paths[name],
                             columns=roles)  # fmt: skip
            site.uploaded[name] = info
        yield site


@pytest.fixture(scope="module")
def run_pages(browser, run_site) -> Pages:
    return Pages(browser, run_site)


def fill_catalog(pages: Pages, index: int, name: str) -> None:
    values = {f"catalogs.{index}.name": name,
              f"catalogs.{index}.product": str(pages.site.uploaded[name]["id"])}  # fmt: skip
    for key, column in CATALOGS[name].items():
        target = key if key.startswith("survey.") else f"columns.{key}"
        values[f"catalogs.{index}.{target}"] = column
    pages.fill(values)


def wait_for_state(pages: Pages, states: tuple[str, ...], timeout: float = 600) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = pages.b.evaluate(
            "(document.querySelector('[data-field=state]') || {}).textContent || ''"
        )
        if state in states:
            pages.b.wait_still(1.0)
            return state
        time.sleep(1)
    raise AssertionError(f"the run page still says {state}:\n{pages.site.logs()[-4000:]}")


def test_pipelines_form_to_registered_product(run_pages, run_site):
    pages = run_pages
    pages.login("eve")
    text = pages.open("/pipelines")
    assert "Combine Redshift Catalogs" in text and "Training Set Maker" in text
    check_page(pages, "pipelines")
    pages.open("/pipelines/combine_redshift")
    # made from the schema: help text, defaults, products the user can read
    assert pages.b.evaluate("document.getElementById('f-run_name').value") == "combined"
    options = pages.b.evaluate(
        "Array.from(document.getElementById('f-catalogs-0-product').options).map(o => o.text)"
    )
    assert any("2dfgrs_specz" in o for o in options)
    assert "Unique key of the catalog" in pages.text()
    check_page(pages, "pipeline_form")
    # problems: a bad run name, a catalog without its columns -> next to their fields
    pages.no_browser_checks()
    pages.fill({"run_name": "no spaces allowed", "catalogs.0.name": "2dfgrs",
                "catalogs.0.product": str(run_site.uploaded["2dfgrs"]["id"]),
                "catalogs.0.fits_hdu": "1"})  # fmt: skip
    text = pages.submit("form.pipeline-form button[type=submit]")
    assert "The run was not queued." in text
    assert pages.b.evaluate("document.getElementById('e-f-run_name') !== null")
    assert "is a required property" in text or "required" in pages.b.evaluate(
        "document.getElementById('e-f-catalogs-0-columns-ra').textContent"
    )
    check_page(pages, "pipeline_form_errors")
    # a good config: two catalogs (the second added with the button), Parquet output only
    pages.fill({"run_name": "web_combined", "output.formats": "parquet"})
    fill_catalog(pages, 0, "2dfgrs")
    pages.b.evaluate("document.querySelector('[data-add-item]').click()")
    fill_catalog(pages, 1, "6dfgs")
    pages.submit("form.pipeline-form button[type=submit]")
    assert pages.url().startswith("/runs/"), pages.text()[:2000]
    run_id = pages.url().split("/")[2]
    check_page(pages, "run_queued")
    state = wait_for_state(pages, ("success", "failed", "cancelled", "interrupted"))
    text = pages.text()
    assert state == "success", text + run_site.logs()[-4000:]
    assert "web_combined" in text and "Provenance report" in text
    check_page(pages, "run_success")
    # the product, its lineage (the two uploads) and its provenance report
    href = pages.b.evaluate(
        "document.querySelector('section a[href^=\"/products/\"]').getAttribute('href')"
    )
    text = pages.open(href)
    assert "2dfgrs_specz" in text and "6dfgs_specz" in text  # made from
    assert f"the report of run {run_id[:8]}" in text
    check_page(pages, "product_from_run")
    text = pages.open(f"/runs/{run_id}/report")
    assert run_id in text and "partition_catalog" in text
    check_page(pages, "run_report")
    text = pages.open("/runs")
    assert run_id[:8] in text
    check_page(pages, "runs")


def test_cancel_a_run_from_its_page(run_pages, run_site):
    pages = run_pages
    pages.login("eve")
    pages.open("/pipelines/combine_redshift")
    pages.fill({"run_name": "to_cancel", "output.formats": "parquet"})
    fill_catalog(pages, 0, "6dfgs")
    pages.submit("form.pipeline-form button[type=submit]")
    assert pages.url().startswith("/runs/")
    pages.submit("form[action$='/cancel'] button")
    assert "Cancel asked for." in pages.text()
    assert wait_for_state(pages, ("cancelled",), timeout=300) == "cancelled"
    check_page(pages, "run_cancelled")


def test_runs_list_mine_and_everyones(run_pages, run_site):
    pages = run_pages
    pages.login("eve")
    text = pages.open("/runs?who=all")  # not an admin: her own runs only, no "Everyone's"
    assert "Everyone's" not in text and "cancelled" in text and "success" in text
    pages.login("ada")
    assert "No runs" in pages.open("/runs")  # ada ran nothing
    text = pages.open("/runs?who=all")
    assert "eve" in text and "cancelled" in text and "success" in text
    check_page(pages, "runs_everyone")
