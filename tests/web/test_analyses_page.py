"""A product's analyses on its page, in headless Chromium against a real `pzforge serve` on
loopback (SQLite) and the example photo-z validation service as its own process.

Shown here: the services offered are those the user may use that take the product's type; an
analysis started from the page's form (its parameters a form made from the service's schema)
is called back by the service and shows completed with a link to its Validation Results
product; a bad parameter is said in plain words next to its field and starts nothing (the
database's count unchanged); a pending analysis is cancelled from the page (the database says
cancelled, its callback token is dead) and another user gets no Cancel button and a 403; the
summary and its history; a product the user cannot read: 403, an unknown one: 404. Every page
passes the checks of test_pages (no console errors, axe-core, labels) and is screenshotted; the
product page with its analyses also to /tmp/analyses_page.png.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from pzforge.server import example_service as ex
from tests.analysis.test_analysis_services import example_service, photoz_table
from tests.web.test_pages import check_page, session

pytestmark = [pytest.mark.timeout(600)]
SCREENSHOT = Path("/tmp/analyses_page.png")


@pytest.fixture(scope="module")
def site(web_site, tmp_path_factory):
    """web_site with the example service, three upload-only services (one for any type, one
    that makes summaries, one for group team only) and one for Training Sets only, and eve's
    Photo-z Estimates product (readable by everyone)."""
    folder = tmp_path_factory.mktemp("analyses")
    with example_service(folder) as url:
        ada = web_site.client("ada")
        ada.register_analysis_service(**dict(ex.REGISTRATION, url=url + "/analyze", timeout_s=120))
        ada.register_analysis_service(
            "notes", display_name="Notes by hand", version="0.1", upload_only=True,
            timeout_s=600, description="Post your own results to the address you are given.",
        )  # fmt: skip
        ada.register_analysis_service(
            "quality", display_name="Quality summary", version="2.0", upload_only=True,
            timeout_s=600, is_summary=True, input_types=["Photo-z Estimates"],
        )  # fmt: skip
        ada.register_analysis_service(
            "team_only", display_name="Team secret check", upload_only=True, groups=["team"]
        )
        ada.register_analysis_service(
            "training_only", display_name="Training set check", upload_only=True,
            input_types=["Training Set"],
        )  # fmt: skip
        photoz_table(folder / "pz.parquet", n=300)
        product = web_site.client("eve").upload(
            "eve photo-z", "Photo-z Estimates", folder / "pz.parquet", columns={"z": "z"}
        )
        web_site.names["pz"] = product["internal_name"]
        web_site.ids["pz"] = product["id"]
        yield web_site


def db_analyses(site, product_id: int) -> list[tuple[int, str]]:
    """(id, status) of the product's analyses, read from the database itself."""
    reg = site.operator()
    try:
        with reg.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, status FROM analyses WHERE product_id = :p ORDER BY id"),
                {"p": product_id},
            )
            return [(r[0], r[1]) for r in rows]
    finally:
        reg.engine.dispose()


def wait_done(site, analysis_id: int, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = dict(db_analyses(site, site.ids["pz"]))[analysis_id]
        if status not in ("pending", "received"):
            return status
        assert time.monotonic() < deadline, site.logs()[-3000:]
        time.sleep(0.3)


def table_rows(pages) -> list[dict[str, str]]:
    """The analyses table as {column header: cell text} per row."""
    return pages.b.evaluate(
        """(() => { const t = document.querySelector('table.analyses'); if (!t) return [];
           const heads = Array.from(t.querySelectorAll('thead th')).map(h => h.textContent.trim());
           return Array.from(t.querySelectorAll('tbody tr')).map(r => Object.fromEntries(
             Array.from(r.cells).map((c, i) => [heads[i], c.innerText.trim()]))); })()"""
    )


def test_start_from_the_page_and_see_the_result(pages, site):
    pages.login("eve")
    name = site.names["pz"]
    text_ = pages.open(f"/products/{name}")
    assert "No analyses of this product yet." in text_
    offered = pages.b.evaluate(
        "Array.from(document.querySelectorAll('ul.services a')).map(a => a.textContent)"
    )
    # eve may not use team_only; training_only does not take Photo-z Estimates
    assert offered == ["Notes by hand", "Photo-z validation", "Quality summary"]
    check_page(pages, "analyses_none")

    pages.submit("ul.services a[href$='service=photoz_validation']")
    assert pages.url() == f"/products/{name}/analyses/new?service=photoz_validation"
    assert "It is sent the columns z, z_phot, pit (if present)" in pages.text()
    assert pages.b.evaluate("document.getElementById('f-bins').value") == "5"  # the default
    check_page(pages, "analysis_new")
    pages.fill({"bins": "4"})
    text_ = pages.submit("form.stack button[type=submit]")
    assert pages.url() == f"/products/{name}?done=analysis", text_[:500]
    assert "Analysis started." in text_
    [(analysis_id, _status)] = db_analyses(site, site.ids["pz"])
    assert wait_done(site, analysis_id) == "success"

    pages.open(f"/products/{name}")
    [row] = table_rows(pages)
    assert row["Service"] == "Photo-z validation\n1.0.0 · #1"
    # the form's defaults are sent too: the analysis records every value it was run with
    assert row["Parameters"] == "bins=4, outlier_threshold=0.15" and row["Started by"] == "eve"
    assert row["Status"] == "completed" and row["Message"] == "300 objects validated"
    assert row["Started"] and row["Ended"]
    result = site.client("eve").get_analyses(site.ids["pz"])[0]["result_product_id"]
    result_name = site.client("eve").get_product_metadata(result)["internal_name"]
    link = f"table.analyses a[href='/products/{result_name}']"
    assert pages.b.evaluate(f"!!document.querySelector({link!r})")
    assert not pages.b.evaluate("!!document.querySelector('table.analyses button')")  # not pending
    check_page(pages, "analyses_done")
    text_ = pages.submit(link)  # the Validation Results product, made from this one
    assert "Validation Results" in text_ and "results.json" in text_


def test_a_bad_parameter_is_said_plainly_and_starts_nothing(pages, site):
    pages.login("eve")
    name = site.names["pz"]
    before = db_analyses(site, site.ids["pz"])
    pages.open(f"/products/{name}/analyses/new?service=photoz_validation")
    pages.no_browser_checks()
    pages.fill({"bins": "0", "outlier_threshold": "-1"})
    text_ = pages.submit("form.stack button[type=submit]")
    assert pages.status_of(f"/products/{name}/analyses/new") == 422
    assert "Nothing was started." in text_
    errors = pages.b.evaluate(
        "[document.getElementById('e-f-bins').textContent,"
        " document.getElementById('e-f-outlier_threshold').textContent]"
    )
    assert errors == ["must be at least 1", "must be more than 0"]
    assert "minimum" not in text_ and "is less than" not in text_  # not jsonschema's wording
    assert pages.b.evaluate("document.getElementById('f-bins').getAttribute('aria-invalid')")
    assert pages.b.evaluate("document.getElementById('f-bins').value") == "0"  # kept
    check_page(pages, "analysis_errors")
    # a value that is not a number at all (a tampered form): said as plainly
    pages.b.evaluate("document.getElementById('f-bins').type = 'text'")
    pages.fill({"bins": "four", "outlier_threshold": "0.2"})
    pages.submit("form.stack button[type=submit]")
    assert pages.b.evaluate("document.getElementById('e-f-bins').textContent") == "a whole number"
    assert db_analyses(site, site.ids["pz"]) == before  # nothing was started


def test_cancel_a_pending_analysis_from_the_page(pages, site):
    name = site.names["pz"]
    pages.login("eve")
    ids = []
    for _ in range(2):
        pages.open(f"/products/{name}/analyses/new?service=notes")
        assert "This service takes no parameters." in pages.text()
        text_ = pages.submit("form.stack button[type=submit]")
        assert "shown only this once" in text_
        ids.append(db_analyses(site, site.ids["pz"])[-1][0])
    url = pages.b.evaluate("document.getElementById('callback-url').value")
    assert url.startswith(site.base + "/api/v1/webhooks/analyses/pza_")
    check_page(pages, "analysis_started")
    # another reader of the product sees eve's pending analyses, without a Cancel button
    pages.login("bob")
    pages.open(f"/products/{name}")
    assert [r["Status"] for r in table_rows(pages)[:2]] == ["pending", "pending"]
    assert not pages.b.evaluate("!!document.querySelector('table.analyses button')")
    status = pages.b.evaluate(
        f"""(async () => {{ const token = document.querySelector('[name=csrf_token]').value;
            const r = await fetch('/products/{name}/analyses/{ids[0]}/cancel',
                                  {{method: 'POST', body: new URLSearchParams({{csrf_token: token}})}});
            return r.status; }})()"""
    )
    assert status == 403  # the registry's rule: the analysis is eve's
    pages.login("eve")
    pages.open(f"/products/{name}")
    check_page(pages, "analyses_pending")
    text_ = pages.submit(f"button[aria-label='Cancel analysis {ids[1]}']")
    assert pages.url() == f"/products/{name}?done=analysis_cancelled"
    assert "Analysis cancelled." in text_
    statuses = dict(db_analyses(site, site.ids["pz"]))
    assert statuses[ids[1]] == "cancelled" and statuses[ids[0]] == "pending"
    row = next(r for r in table_rows(pages) if r["Service"].endswith(f"#{ids[1]}"))
    assert row["Status"] == "cancelled" and row["Message"] == "cancelled by eve" and row["Ended"]
    late = httpx.post(url, json={"status": "success"}, timeout=30)  # its token is dead
    assert late.status_code == 409
    # without a CSRF token nothing is cancelled
    eve = session(site, "eve")
    assert eve.post(f"/products/{name}/analyses/{ids[0]}/cancel").status_code == 403
    assert dict(db_analyses(site, site.ids["pz"]))[ids[0]] == "pending"


def test_the_summary_and_its_history(pages, site):
    eve = site.client("eve")
    for i, bias in enumerate((0.02, 0.01)):
        url = eve.start_analysis(site.ids["pz"], "quality", {})["callback_url"]
        body = {"status": "success", "message": f"quality pass {i + 1}", "analysis": {"results": {
            "overall": {"bias": bias, "n": 300}, "grade": "B" if i else "C",
            "per_bin": [{"z_min": 0.0, "z_max": 0.5, "bias": bias}, {"z_min": 0.5, "z_max": 1.5, "bias": -bias}],
        }}}  # fmt: skip
        assert httpx.post(url, json=body, timeout=60).status_code == 200
    pages.login("eve")
    name = site.names["pz"]
    text_ = pages.open(f"/products/{name}")
    card = pages.b.evaluate("document.querySelector('.card.summary').innerText")
    assert "Quality summary" in card and "quality pass 2" in card and "quality pass 1" not in card
    assert "overall.bias\t0.01" in card and "grade\tB" in card
    assert (
        pages.b.evaluate("document.querySelectorAll('.card.summary table.list tbody tr').length")
        == 2
    )
    assert "Earlier summaries (1)" in text_
    assert not pages.b.evaluate("document.querySelector('details.history').open")  # collapsed
    history = pages.b.evaluate("document.querySelector('details.history tbody').textContent")
    assert "quality pass 1" in history
    check_page(pages, "analyses_summary")
    pages.b.evaluate("document.querySelector('details.history').open = true")
    pages.b.wait_still(0.3)
    pages.b.screenshot(SCREENSHOT)
    print(f"screenshot: {SCREENSHOT}")


def test_a_product_that_cannot_be_read(pages, site):
    pages.login("eve")
    secret = site.names["secret"]  # bob's, in release DP1 (group team)
    before = db_analyses(site, site.ids["secret"])
    for path in (f"/products/{secret}", f"/products/{secret}/analyses/new?service=notes"):
        text_ = pages.open(path)
        assert pages.status_of(path) == 403 and "Not allowed" in text_, path
    check_page(pages, "analyses_forbidden")
    status = pages.b.evaluate(
        f"""(async () => {{ const token = document.querySelector('[name=csrf_token]').value;
            const r = await fetch('/products/{secret}/analyses/new?service=notes',
                                  {{method: 'POST', body: new URLSearchParams({{csrf_token: token}})}});
            return r.status; }})()"""
    )
    assert status == 403 and db_analyses(site, site.ids["secret"]) == before
    for path in ("/products/999999/analyses/new?service=notes",
                 f"/products/{site.names['pz']}/analyses/new?service=team_only"):  # fmt: skip
        text_ = pages.open(path)
        assert pages.status_of(path) == 404 and "Not found" in text_, path
    # bob, of group team, may: the team's own service is offered to him
    pages.login("bob")
    pages.open(f"/products/{secret}")
    offered = pages.b.evaluate(
        "Array.from(document.querySelectorAll('ul.services a')).map(a => a.textContent)"
    )
    assert "Team secret check" in offered and "Photo-z validation" not in offered
