"""The site's pages in headless Chromium against a real `pzforge serve` on loopback (SQLite).

Every page is opened as a user would (log in through the form, click, fill), must render
without console errors, exceptions or CSP violations, must pass axe-core's WCAG 2 A/AA rules
(when axe-core is installed: scripts/system/chromium.sh), and leaves a full-page screenshot in
tests/artifacts/web_*.png (printed; look at them).
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import PASSWORDS

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(pages) -> list[str]:
    """axe-core's WCAG 2 A/AA violations on the open page (empty when axe is not installed)."""
    if not AXE.is_file():
        return []
    if not pages.b.evaluate("typeof axe !== 'undefined'"):
        pages.b.evaluate(AXE.read_text() + "\n;true")
    found = pages.b.evaluate(
        """axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})
           .then(r => r.violations.map(v => v.id + ': ' + v.help + ' @ ' +
                 v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')))"""
    )
    return found or []


def check_page(pages, name: str) -> str:
    """No console error, a clean axe report, unlabeled controls none; screenshot saved."""
    problems = pages.problems()
    assert problems == [], f"{problems}\n{pages.site.logs()[-3000:]}"
    unlabeled = pages.b.evaluate(
        """Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
           .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
           .map(el => el.name || el.id)"""
    )
    assert unlabeled == [], f"form controls without a label on {name}: {unlabeled}"
    assert axe_violations(pages) == []
    pages.shot(name)
    return pages.text()


def login_form_token(client: httpx.Client) -> str:
    page = client.get("/login").text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def session(site, user: str) -> httpx.Client:
    """A plain HTTP client logged in through the login form (cookies kept)."""
    c = httpx.Client(base_url=site.base, timeout=60)
    r = c.post(
        "/login",
        data={"csrf_token": login_form_token(c), "name": user, "password": PASSWORDS[user]},
    )
    assert r.status_code == 303, r.text
    return c


def test_login_home_and_headers(pages, web_site):
    pages.logout()
    text = pages.open("/")
    assert "Log in to see the products" in text
    check_page(pages, "home_anonymous")
    pages.open("/products")
    assert pages.url().startswith("/login?next=%2Fproducts")
    pages.fill({"name": "eve", "password": "not her password"})
    text = pages.submit()
    assert "Wrong name or password." in text
    check_page(pages, "login_error")
    pages.fill({"name": "eve", "password": PASSWORDS["eve"]})
    pages.submit()
    assert pages.url() == "/products"  # back where the login started
    text = pages.open("/")
    assert "Newest products" in text and web_site.names["specz"] in text
    check_page(pages, "home")
    requested = pages.b.requested_urls()
    r = httpx.get(web_site.base + "/login")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    cookie = r.headers["set-cookie"]
    assert "pzforge_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    # the CSP is enforced, and a violation is what check_page would catch
    pages.b.evaluate(
        "(() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        " document.body.appendChild(s); })()"
    )
    pages.b.wait_still(0.3)
    assert pages.b.evaluate("window.ran === undefined")
    assert any("Content Security Policy" in p for p in pages.problems()), pages.problems()
    # nothing from outside the site: every request went to it
    outside = [u for u in requested if not u.startswith(web_site.base)]
    assert requested and outside == []


def test_product_list_search_filter_sort_pages(pages, web_site):
    pages.login("eve")
    text = pages.open("/products")
    assert "1–50 of 64 products" in text  # 60 bulk rows + 4 eve can read (not bob's DP1 one)
    assert web_site.names["secret"] not in text  # the restricted release is hidden from eve
    check_page(pages, "products")
    text = pages.open("/products?page=2")
    assert "51–64 of 64 products" in text and "Page 2 of 2" in text
    pages.open("/products")
    pages.fill({"name": "SPECZ", "official": "yes"})
    text = pages.submit("form.filters button[type=submit]")
    assert "1–1 of 1 products" in text and web_site.names["specz"] in text
    assert "official" in text
    pages.open("/products")
    pages.fill({"type": "Training Set"})
    text = pages.submit("form.filters button[type=submit]")
    assert web_site.names["derived"] in text and "bulk" not in text
    # sort by name, ascending then descending: the column header links
    pages.open("/products?sort=name&order=asc&per_page=100")
    names = pages.b.evaluate(
        "Array.from(document.querySelectorAll('table.list tbody tr td:nth-child(2) a'))"
        ".map(a => a.textContent)"
    )
    assert names == sorted(names) and len(names) == 64
    pages.open("/products?after=2025-02-01&before=2025-02-05&sort=created_at&order=asc")
    text = pages.text()
    assert "1–4 of 4 products" in text and "bulk catalog 031" in text
    # a bad filter is shown next to its field, the list still answers
    text = pages.open("/products?after=yesterday&type=Nonsense")
    assert "created from: use a date like 2026-01-31" in text
    assert "no product type 'Nonsense'" in text
    check_page(pages, "products_bad_filter")


def test_product_page(pages, web_site):
    pages.login("eve")
    name = web_site.names["specz"]
    text = pages.open(f"/products/{name}")
    # Markdown rendered, its raw HTML shown as text, its javascript: link not a link
    assert pages.b.evaluate("window.pwned === undefined")
    desc = pages.b.evaluate("document.querySelector('.markdown').innerHTML")
    assert "<h1>Spectra from <em>DESI</em></h1>" in desc
    assert "&lt;script&gt;" in desc and "<script" not in desc
    assert "<img" not in desc and 'href="javascript' not in desc
    assert 'href="https://www.desi.lbl.gov"' in desc and "<table>" in desc
    # metadata, files with sha256, columns with UCDs, a preview, versions, lineage, actions
    assert "Reference Redshift Catalog" in text and "DR1" in text
    sha = re.search(r"\b[0-9a-f]{64}\b", text)
    assert sha, "no sha256 on the page"
    assert "pos.eq.ra;meta.main" in text and "src.redshift" in text
    assert pages.b.evaluate("document.querySelectorAll('table.preview tbody tr').length") == 10
    assert f"v2: {web_site.names['v2']}" in text
    assert pages.b.evaluate("document.querySelector('svg.lineage-graph') !== null")
    assert pages.b.evaluate(
        f"!!document.querySelector('svg.lineage-graph a[href=\"/products/{web_site.names['derived']}\"]')"
    )
    assert "Edit" in text and "Delete" in text  # her own product
    assert "Mark official" not in text and "Unmark official" not in text  # not an admin
    check_page(pages, "product")
    # the share dialog: internal name and URL
    pages.b.evaluate("document.querySelector('[data-open-dialog=share-dialog]').click()")
    assert pages.b.evaluate("document.getElementById('share-dialog').open")
    assert pages.b.evaluate("document.getElementById('share-name').value") == name
    assert pages.b.evaluate("document.getElementById('share-url').value") == (
        f"{web_site.base}/products/{name}"
    )
    check_page(pages, "product_share")
    pages.b.evaluate("document.querySelector('#share-dialog form button').click()")
    # the download form: a signed link to the zip (followed by fetch, as the browser would)
    status, ctype, size = pages.b.evaluate(
        """(async () => { const f = document.querySelector('form[action$="/download"]');
            const r = await fetch(f.action, {method: 'POST', body: new FormData(f)});
            return [r.status, r.headers.get('content-type'), (await r.arrayBuffer()).byteLength]; })()"""
    )
    assert (status, ctype) == (200, "application/zip") and size > 1000
    # the version page names what it supersedes
    text = pages.open(f"/products/{web_site.names['v2']}")
    assert f"supersedes product {web_site.ids['specz']}" in text
    text = pages.open(f"/products/{name}")
    assert f"A newer version exists: v2, {web_site.names['v2']}" in text


def test_someone_elses_product_has_no_edit_buttons_and_403s(pages, web_site):
    pages.login("eve")
    derived = web_site.names["derived"]
    text = pages.open(f"/products/{derived}")
    assert "bob training" in text
    assert not pages.b.evaluate(
        "Array.from(document.querySelectorAll('main a, main button'))"
        ".some(e => ['Edit', 'Delete', 'Mark official'].includes(e.textContent.trim()))"
    )
    check_page(pages, "product_not_mine")
    for path in (f"/products/{derived}/edit", f"/products/{derived}/delete"):
        text = pages.open(path)
        assert pages.status_of(path) == 403 and "Not allowed" in text, path
    check_page(pages, "forbidden")
    # a forged POST with eve's own valid CSRF token: refused by the registry's rule
    status = pages.b.evaluate(
        f"""(async () => {{ const token = document.querySelector('[name=csrf_token]').value;
            const body = new URLSearchParams({{csrf_token: token}});
            const r = await fetch('/products/{derived}/delete', {{method: 'POST', body}});
            return r.status; }})()"""
    )
    assert status == 403
    # a restricted release: 403 for eve, the page for bob (a member of its group)
    secret = web_site.names["secret"]
    pages.open(f"/products/{secret}")
    assert pages.status_of(f"/products/{secret}") == 403
    pages.login("bob")
    text = pages.open(f"/products/{secret}")
    assert "bob secret" in text and "DP1" in text
    assert web_site.names["secret"] in pages.open("/products?release=DP1")


def test_csrf_is_required(web_site):
    eve = session(web_site, "eve")
    name = web_site.names["specz"]
    r = eve.post(f"/products/{name}/edit", data={"name": "hijacked", "description": ""})
    assert r.status_code == 403 and "CSRF" in r.text
    r = eve.post(f"/products/{name}/edit", data={"name": "hijacked", "csrf_token": "forged"})
    assert r.status_code == 403
    # a token signed for another browser's cookie does not fit this one
    other = httpx.Client(base_url=web_site.base)
    foreign = login_form_token(other)
    r = eve.post(f"/products/{name}/edit", data={"name": "hijacked", "csrf_token": foreign})
    assert r.status_code == 403
    assert "hijacked" not in eve.get(f"/products/{name}").text
    # the login form too
    r = httpx.post(web_site.base + "/login", data={"name": "eve", "password": PASSWORDS["eve"]})
    assert r.status_code == 403


def test_edit_shows_errors_next_to_fields_and_saves(pages, web_site):
    pages.login("eve")
    name = web_site.names["v2"]
    pages.open(f"/products/{name}/edit")
    check_page(pages, "edit")
    # a release eve may not use (not offered: the form is tampered with)
    pages.b.evaluate("document.getElementById('f-release').add(new Option('DP1', 'DP1'))")
    pages.fill({"name": "   ", "release": "DP1"})
    text = pages.submit()
    assert "Nothing was saved" in text
    assert pages.b.evaluate("document.getElementById('e-name').textContent").startswith(
        "a product name cannot be empty"
    )
    assert "no release 'DP1'" in pages.b.evaluate(
        "document.getElementById('e-release').textContent"
    )
    assert pages.b.evaluate("document.getElementById('f-name').getAttribute('aria-invalid')")
    check_page(pages, "edit_errors")
    assert "eve specz" in pages.open(f"/products/{name}")  # unchanged
    pages.open(f"/products/{name}/edit")
    pages.fill({"name": "eve specz, second cut", "description": "Now with **more** rows."})
    text = pages.submit()
    assert pages.url() == f"/products/{name}?done=saved"
    assert "Saved." in text and "eve specz, second cut" in text
    assert "<strong>more</strong>" in pages.b.evaluate(
        "document.querySelector('.markdown').innerHTML"
    )


def test_admin_marks_official_and_owner_deletes(pages, web_site):
    pages.login("ada")
    name = web_site.names["derived"]
    text = pages.open(f"/products/{name}")
    assert "Mark official" in text and "Edit" in text  # an admin may edit anyone's
    pages.submit("form[action$='/official'] button")
    text = pages.text()
    assert "Official flag changed." in text and "Unmark official" in text
    check_page(pages, "product_admin")
    pages.login("bob")
    text = pages.open(f"/products/{name}/delete")
    check_page(pages, "delete")
    text = pages.submit()
    assert pages.url().startswith("/products?deleted=")
    assert f"Deleted {name}." in text
    pages.open(f"/products/{name}")
    assert pages.status_of(f"/products/{name}") == 404


def test_tokens_created_shown_once_and_revoked(pages, web_site):
    pages.login("bob")
    pages.open("/account")
    check_page(pages, "account")
    pages.fill({"label": "", "days": "0"})
    # the browser's own checks off: the server's answer is what is tested
    pages.b.evaluate("document.querySelector(\"form[action='/account/tokens']\").noValidate = true")
    text = pages.submit("form[action='/account/tokens'] button")
    assert "give the token a label" in text and "a whole number of days" in text
    check_page(pages, "account_errors")
    pages.fill({"label": "my notebook", "days": "30"})
    pages.submit("form[action='/account/tokens'] button")
    token = pages.b.evaluate("document.getElementById('token-value').value")
    assert token.startswith("pzf_")
    check_page(pages, "account_new_token")
    api = httpx.Client(base_url=web_site.api, headers={"Authorization": f"Bearer {token}"})
    assert api.get("/me").json()["name"] == "bob"
    text = pages.open("/account")
    assert token not in pages.b.dom()  # shown once only
    assert "my notebook" in text
    pages.submit("form[action$='/revoke'] button[aria-label='Revoke token my notebook']")
    assert "revoked" in pages.text()
    assert api.get("/me").status_code == 401


def test_run_report_page(pages, web_site):
    """A product made by a run links to its provenance report, shown inside the site."""
    pages.login("eve")
    text = pages.open("/runs/00000000-0000-0000-0000-000000000000/report")
    assert pages.status_of("/runs/00000000-0000-0000-0000-000000000000/report") == 404
    assert "Not found" in text
    check_page(pages, "not_found")


def test_keyboard_only(pages, web_site):
    """Log in, search, open a product and share it with the keyboard alone."""
    pages.logout()
    pages.open("/login")
    assert pages.focused() == "f-name"  # the login form starts in its first field
    pages.type("eve")
    pages.press("Tab")
    assert pages.focused() == "f-password"
    pages.type(PASSWORDS["eve"])
    pages.b.events.clear()
    pages.press("Enter")  # submits the form
    pages.b.wait_still(0.5)
    assert pages.url() == "/" and "Newest products" in pages.text()
    pages.open("/products")
    pages.press("Tab")
    assert pages.focused() == "A:Skip to the content"  # the first stop skips the header
    pages.press("Enter")
    pages.press("Tab")
    assert pages.focused() == "f-name"  # straight to the search
    pages.type("specz")
    pages.press("Enter")
    pages.b.wait_still(0.5)
    assert pages.url().startswith("/products?name=specz")
    pages.tab_to("A:eve specz")  # (v1 or v2, whichever is listed first)
    pages.press("Enter")
    pages.b.wait_still(0.5)
    assert pages.url() in (f"/products/{web_site.names[k]}" for k in ("specz", "v2"))
    pages.tab_to("BUTTON:Share")
    pages.press("Enter")
    pages.b.wait_still(0.3)
    assert pages.b.evaluate("document.getElementById('share-dialog').open")
    assert pages.b.evaluate(
        "document.getElementById('share-dialog').contains(document.activeElement)"
    )
    pages.press("Escape")
    assert not pages.b.evaluate("document.getElementById('share-dialog').open")
    assert pages.problems() == []


def test_admin_users_groups_releases(pages, web_site):
    pages.login("eve")
    pages.open("/admin")
    assert pages.status_of("/admin") == 403
    assert "Admin" not in pages.b.evaluate("document.querySelector('header').innerText")
    pages.login("ada")
    text = pages.open("/admin")
    assert "Users" in text and "bob" in text and "DP1" in text
    check_page(pages, "admin")
    # a password too short: said next to it, no user added
    pages.fill({"user_name": "zed", "password": "short"})
    pages.no_browser_checks()
    text = pages.submit("form[action='/admin/users'] button[type=submit]")
    assert "a password needs at least" in pages.b.evaluate(
        "document.getElementById('e-password').textContent"
    )
    check_page(pages, "admin_errors")
    pages.fill({"user_name": "zed", "password": "zed's long password", "display_name": "Zed"})
    text = pages.submit("form[action='/admin/users'] button[type=submit]")
    assert "User saved." in text and "Zed" in text
    # a group with eve in it, then release DR1 readable by that group only
    pages.fill({"group_name": "lab", "group_description": "the lab"})
    pages.submit("form[action='/admin/groups'] button[type=submit]")
    pages.b.evaluate(
        "document.querySelector(\"form[action='/admin/groups/lab/members'] select\").value = 'eve'"
    )
    text = pages.submit("form[action='/admin/groups/lab/members'].row-form button")
    assert "Group saved." in text
    pages.b.evaluate(
        "document.querySelector(\"form[action='/admin/releases/DR1/groups'] input[value=lab]\")"
        ".checked = true"
    )
    pages.submit("form[action='/admin/releases/DR1/groups'] button")
    pages.login("bob")
    assert web_site.names["v2"] not in pages.open("/products?release=DR1")
    pages.login("eve")
    assert web_site.names["v2"] in pages.open("/products?release=DR1")
    # open it again
    pages.login("ada")
    pages.open("/admin")
    pages.b.evaluate(
        "document.querySelector(\"form[action='/admin/releases/DR1/groups'] input[value=lab]\")"
        ".checked = false"
    )
    pages.submit("form[action='/admin/releases/DR1/groups'] button")
    pages.login("bob")
    assert web_site.names["v2"] in pages.open("/products?release=DR1")


def test_plots_on_the_product_page(pages, web_site):
    """Auxiliary plots are shown (images) and embedded (the interactive page, sandboxed)."""
    pages.login("bob")
    name = web_site.names["plots"]
    text = pages.open(f"/products/{name}", settle=1.0)
    assert "Plots" in text and "z_hist.png" in text and "interactive.html" in text
    assert pages.b.evaluate(
        "Array.from(document.querySelectorAll('.plots img')).every(i => i.complete && i.naturalWidth > 0)"
    )
    assert pages.b.evaluate("document.querySelector('iframe').getAttribute('sandbox')") == (
        "allow-scripts"
    )
    check_page(pages, "product_plots")
    bob = session(web_site, "bob")
    index = pages.b.evaluate("document.querySelector('iframe').getAttribute('src')")
    r = bob.get(index)
    assert r.status_code == 200 and "interactive ok" in r.text
    assert r.headers["content-security-policy"].startswith("sandbox allow-scripts")
    assert bob.get(f"/products/{name}/files/99").status_code == 404


@pytest.mark.parametrize(
    "target", ["//evil.example", "/\t/evil.example", "https://evil.example", "/\\evil.example"]
)
def test_login_never_sends_elsewhere(web_site, target):
    c = httpx.Client(base_url=web_site.base)
    r = c.post(
        "/login",
        data={
            "csrf_token": login_form_token(c),
            "name": "eve",
            "password": PASSWORDS["eve"],
            "next": target,
        },  # fmt: skip
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    r = c.get("/login", params={"next": target})
    assert 'name="next" value="/"' in r.text
