"""Bad input and attacks, against a running server on loopback: no token, another user's product,
restricted releases, tampered and expired links, oversized and malformed uploads, path-like names,
SQL-like filters, configs that fail the schema - and no token ever in the server's log."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from tests.server.conftest import write_catalog

COLUMNS = json.dumps({"ra": "RA", "dec": "DEC", "z": "redshift"})


def upload(http, folder: Path, name: str, **fields):
    with open(folder / "cat.parquet", "rb") as fh:
        return http.post(
            "/products",
            data={"name": name, "product_type": "Reference Redshift Catalog", "columns": COLUMNS}
            | fields,
            files={"main_file": ("cat.parquet", fh)},
        )


@pytest.fixture(scope="module")
def products(live_site):
    with live_site.http("bob") as bob, live_site.http("eve") as eve:
        secret = upload(bob, live_site.folder, "bob secret", release="DP1")
        assert secret.status_code == 201, secret.text
        shared = upload(eve, live_site.folder, "eve shared")
        assert shared.status_code == 201, shared.text
    return {"secret": secret.json(), "shared": shared.json()}


def stored_products(site) -> set[str]:
    base = site.folder / "store" / "products"
    return {p.name for p in base.iterdir()} if base.is_dir() else set()


def test_no_token_is_401_everywhere(live_site, products):
    pid = products["shared"]["id"]
    with live_site.http() as anon:
        for method, path in [
            ("GET", "/products"),
            ("GET", f"/products/{pid}"),
            ("GET", f"/products/{pid}/data"),
            ("POST", f"/products/{pid}/download-link"),
            ("DELETE", f"/products/{pid}"),
            ("GET", "/product-types"),
            ("GET", "/runs"),
            ("POST", "/runs"),
            ("GET", "/provenance/runs"),
            ("GET", "/me"),
            ("POST", "/tokens"),
        ]:
            r = anon.request(method, path)
            assert r.status_code == 401, (method, path, r.text)
            assert r.headers["www-authenticate"].startswith("Bearer")
        assert anon.get("/health").status_code == 200  # the one open endpoint
    bad = {"Authorization": "Bearer pzf_" + "x" * 43}
    with live_site.http(headers=bad) as forged:
        assert forged.get("/products").status_code == 401
    with live_site.http(headers={"Authorization": "Basic YWRhOnB3"}) as basic:
        assert basic.get("/products").status_code == 401


def test_other_users_products_are_403(live_site, products):
    secret, shared = products["secret"], products["shared"]
    with live_site.http("eve") as eve, live_site.http("bob") as bob, live_site.http("ada") as ada:
        # a restricted release: hidden from eve, refused by id and by internal name
        assert secret["id"] not in {p["id"] for p in eve.get("/products").json()["results"]}
        assert secret["id"] in {p["id"] for p in bob.get("/products").json()["results"]}
        for path in (f"/products/{secret['id']}", f"/products/{secret['internal_name']}",
                     f"/products/{secret['id']}/data", f"/provenance/products/{secret['id']}"):  # fmt: skip
            assert eve.get(path).status_code == 403, path
        assert eve.post(f"/products/{secret['id']}/download-link").status_code == 403
        assert "DP1" not in {r["name"] for r in eve.get("/releases").json()}
        # edit, delete, official: owner or admin; official: admin only
        assert bob.patch(f"/products/{shared['id']}", json={"description": "x"}).status_code == 403
        assert bob.delete(f"/products/{shared['id']}").status_code == 403
        assert (
            eve.put(f"/products/{shared['id']}/official", json={"official": True}).status_code
            == 403
        )
        assert (
            eve.patch(f"/products/{shared['id']}", json={"description": "mine"}).status_code == 200
        )
        r = ada.put(f"/products/{shared['id']}/official", json={"official": True})
        assert r.status_code == 200 and r.json()["official"] is True
        # admin-only account management
        assert bob.post("/users", json={"name": "mallory"}).status_code == 403
        assert bob.post("/users/eve/tokens", json={}).status_code == 403
        assert bob.put("/releases/DP1/groups", json={"groups": []}).status_code == 403
        # the server believes no identity header unless the site turned it on
        assert eve.get("/me", headers={"X-Remote-User": "ada"}).json()["name"] == "eve"
        # uploading into a restricted release needs membership
        r = upload(eve, live_site.folder, "sneaky", release="DP1")
        assert r.status_code == 403, r.text


def test_signed_links_expire_and_cannot_be_changed(live_site, products):
    shared = products["shared"]
    with live_site.http("eve") as eve:
        link = eve.post(f"/products/{shared['id']}/download-link").json()
    import httpx

    r = httpx.get(link["url"], timeout=60)  # no token needed
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        names = zf.namelist()
        meta = json.loads(zf.read("metadata.json"))
    assert "cat.parquet" in names and "provenance.prov.json" in names
    assert all("path" not in f for f in meta["files"])  # server paths are not given away
    token = link["url"].rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert httpx.get(link["url"].replace(token, tampered)).status_code == 403
    other = URLSafeTimedSerializer(b"not the site key", salt="pzforge-download").dumps(
        {"p": products["secret"]["id"], "u": "eve"}
    )
    assert httpx.get(link["url"].replace(token, other)).status_code == 403

    class HourAgo(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 3600

    key = bytes.fromhex((live_site.folder / "site" / "secret.key").read_text())
    old = URLSafeTimedSerializer(key, salt="pzforge-download", signer=HourAgo)
    expired = old.dumps({"p": shared["id"], "u": "eve"})
    r = httpx.get(link["url"].replace(token, expired))
    assert r.status_code == 403 and "expired" in r.json()["detail"]
    # even a correctly signed link serves only what its user may read
    signed = URLSafeTimedSerializer(key, salt="pzforge-download")
    restricted = signed.dumps({"p": products["secret"]["id"], "u": "eve"})
    assert httpx.get(link["url"].replace(token, restricted)).status_code == 403


def test_oversized_and_malformed_uploads_store_nothing(live_site, products):
    before_store = stored_products(live_site)
    with live_site.http("bob") as bob:
        count = bob.get("/products").json()["count"]
        big = io.BytesIO(b"x" * (1024 * 1024 + 10))  # the site's limit is 1 MB
        r = bob.post("/products", data={"name": "big"}, files={"main_file": ("big.csv", big)})
        assert r.status_code == 413, r.text
        body = b'--xyz\r\nContent-Disposition: form-data; name="name"\r\n\r\nbroken\r\n--xy'
        r = bob.post(
            "/products",
            content=body,
            headers={"Content-Type": "multipart/form-data; boundary=xyz"},
        )
        assert r.status_code == 422, r.text
        r = bob.post("/products", content=b"{}", headers={"Content-Type": "application/json"})
        assert r.status_code == 415
        r = bob.post("/products", data={"name": "nofile"})
        assert r.status_code in (415, 422), r.text
        # validated like the CLI: z must be numeric, ra/dec/z associated, the name not a path
        write_catalog(live_site.folder / "text.csv")
        with open(live_site.folder / "text.csv", "rb") as fh:
            r = bob.post(
                "/products",
                data={
                    "name": "textz",
                    "columns": json.dumps({"ra": "RA", "dec": "DEC", "z": "survey_name"}),
                },
                files={"main_file": ("text.csv", fh)},
            )
        assert r.status_code == 422 and "not numeric" in r.json()["detail"], r.text
        r = upload(bob, live_site.folder, "no columns", columns="")
        assert r.status_code == 422 and "ra, dec, z" in r.json()["detail"], r.text
        for name in ("../../etc/passwd", "a/b", "..", "~root", "12"):
            r = upload(bob, live_site.folder, name)
            assert r.status_code == 422, (name, r.text)
        r = upload(bob, live_site.folder, "bad columns json", columns="{not json")
        assert r.status_code == 422
        assert bob.get("/products").json()["count"] == count
    assert stored_products(live_site) == before_store
    assert not any((live_site.folder / "site" / "uploads").iterdir())  # nothing half-received


def test_file_names_are_labels_not_paths(live_site):
    with live_site.http("bob") as bob, open(live_site.folder / "cat.parquet", "rb") as fh:
        r = bob.post(
            "/products",
            data={"name": "traversal", "columns": COLUMNS},
            files={"main_file": ("../../../evil.parquet", fh)},
        )
        assert r.status_code == 201, r.text
        detail = bob.get(f"/products/{r.json()['id']}").json()
    assert detail["files"][0]["name"] == "evil.parquet"
    assert not (live_site.folder.parent / "evil.parquet").exists()
    assert not list((live_site.folder / "store").rglob("*evil*"))  # stored by id and index


def test_filters_are_data_not_sql(live_site, products):
    with live_site.http("ada") as ada:
        total = ada.get("/products").json()["count"]
        for value in ("' OR 1=1 --", "%", "_", '" OR ""="', "'; DROP TABLE products; --"):
            for key in ("name", "owner", "release", "product_type"):
                r = ada.get("/products", params={key: value})
                assert r.status_code in (200, 404), (key, value, r.text)
                if r.status_code == 200:
                    assert r.json()["count"] == 0, (key, value)
        assert ada.get("/products").json()["count"] == total  # nothing dropped
        r = ada.get("/products", params={"sort": "id; DROP TABLE products"})
        assert r.status_code == 422
        r = ada.get("/products", params={"name": "SHARED", "sort": "name", "desc": "true"})
        assert [p["name"] for p in r.json()["results"]] == ["eve shared"]


def test_run_config_errors_are_all_listed(live_site, products):
    with live_site.http("bob") as bob, live_site.http("eve") as eve:
        config = {
            "run_name": "bad name!",
            "catalogs": [{"name": "a", "columns": {"ra": "RA"}}],
            "crossmatch": {"radius_arcsec": "one"},
            "nonsense": 1,
        }
        r = bob.post("/runs", json={"pipeline": "combine_redshift", "config": config})
        assert r.status_code == 422
        problems = r.json()["problems"]
        assert len(problems) >= 4, problems
        text = " ".join(problems)
        for key in ("run_name", "radius_arcsec", "nonsense", "dec"):
            assert key in text, (key, problems)
        r = bob.post("/runs", json={"pipeline": "nope", "config": {}})
        assert r.status_code == 422 and "pipelines:" in r.json()["detail"]
        good = {
            "catalogs": [
                {
                    "name": "a",
                    "product": products["secret"]["id"],
                    "columns": {"ra": "RA", "dec": "DEC", "z": "redshift"},
                    "survey": {"value": "DESI"},
                }
            ]
        }
        r = eve.post("/runs", json={"pipeline": "combine_redshift", "config": good})
        assert r.status_code == 403, r.text  # not eve's to read
        as_path = {"catalogs": [{**good["catalogs"][0], "product": None, "path": "/etc/passwd"}]}
        r = bob.post("/runs", json={"pipeline": "combine_redshift", "config": as_path})
        assert r.status_code == 422 and "registry products" in r.json()["detail"]
        r = bob.post(
            "/runs", json={"pipeline": "combine_redshift", "config": good, "profile": "slurm"}
        )
        assert r.status_code == 422 and "profile" in r.json()["detail"]
        local_dir = {**good, "dask": {"local_directory": "/tmp/x"}}
        r = bob.post("/runs", json={"pipeline": "combine_redshift", "config": local_dir})
        assert r.status_code == 422 and "set by the site" in r.json()["detail"]
        r = bob.post("/runs", json={"pipeline": "combine_redshift", "config": good})
        assert r.status_code == 201, r.text
        run = r.json()
        assert run["state"] == "queued" and run["user"] == "bob"
        assert eve.get(f"/runs/{run['id']}").status_code == 403
        assert eve.post(f"/runs/{run['id']}/cancel").status_code == 403
        assert bob.post(f"/runs/{run['id']}/cancel").json()["state"] == "cancelled"


def test_tokens_and_login(live_site):
    import httpx

    with live_site.http("eve") as eve:
        made = eve.post("/tokens", json={"label": "notebook", "expires_in_days": 1}).json()
        assert made["token"].startswith("pzf_") and made["user"] == "eve"
        listed = eve.get("/tokens").json()
        assert all("token" not in t for t in listed) and len(listed) == 2
        with live_site.http(headers={"Authorization": f"Bearer {made['token']}"}) as new:
            assert new.get("/me").json()["name"] == "eve"
            assert eve.delete(f"/tokens/{made['id']}").json()["active"] is False
            assert new.get("/me").status_code == 401
    with httpx.Client(base_url=live_site.api) as browser:
        assert browser.post("/login", json={"name": "ada", "password": "wrong"}).status_code == 401
        r = browser.post("/login", json={"name": "ada", "password": "a long enough password"})
        assert r.status_code == 200 and "httponly" in r.headers["set-cookie"].lower()
        assert browser.get("/me").json()["name"] == "ada"
        # a change made with the cookie alone (what a cross-site form could send) is refused
        assert browser.post("/tokens", json={}).status_code == 403
        ok = browser.post("/tokens", json={}, headers={"X-Requested-With": "pzforge"})
        assert ok.status_code == 201
        live_site.tokens["ada-2"] = ok.json()["token"]


def test_docs_are_offline(live_site):
    import httpx

    html = httpx.get(live_site.api + "/docs").text
    assert "swagger-ui-bundle.js" in html
    assert not re.search(r"(src|href)=[\"']https?://", html)  # nothing from a CDN
    js = httpx.get(live_site.api + "/docs/static/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    spec = httpx.get(live_site.api + "/openapi.json").json()
    assert "/api/v1/products" in spec["paths"] and "/api/v1/runs" in spec["paths"]


def test_no_secret_is_ever_logged(live_site, products):
    """Runs last in this module: every token, the session cookie and signed links stay out."""
    with live_site.http("eve") as eve:
        link = eve.post(f"/products/{products['shared']['id']}/download-link").json()["url"]
    import httpx

    httpx.get(link)
    time.sleep(0.5)
    logs = live_site.logs()
    assert "GET /api/v1/products" in logs  # the log is there, and names users
    for token in live_site.tokens.values():
        assert token not in logs
        assert token[4:20] not in logs
    assert link.rsplit("/", 1)[1] not in logs
    assert "a long enough password" not in logs
    assert "pzf_" not in logs
