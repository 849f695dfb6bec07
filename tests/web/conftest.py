"""The web site in a real browser: `pzforge serve` on loopback (tests/server/conftest.py's Site),
headless Debian Chromium over the DevTools protocol (tests/support/browser.py), real SQLite.

`web_site` holds admin ada, users bob and eve (with passwords), a release DP1 restricted to
group team (bob), products with a Markdown description carrying an injection payload, two
versions of one product, lineage between products, and a product of bob's in DP1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest

import registry
from tests.server.conftest import Site, running_site, write_catalog
from tests.support.browser import Chromium, artifacts_dir, chromium_path

PASSWORDS = {
    "ada": "ada's long password",
    "bob": "bob's long password",
    "eve": "eve's long password",
}
PAYLOAD = (
    "# Spectra from *DESI*\n\n"
    "<script>window.pwned = 1</script>\n\n"
    '<img src=x onerror="window.pwned = 2">\n\n'
    "[click me](javascript:window.pwned=3) and [the survey](https://www.desi.lbl.gov)\n\n"
    "| a | b |\n|---|---|\n| 1 | 2 |\n"
)


@pytest.fixture(scope="module")
def web_site(tmp_path_factory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{folder / 'registry.sqlite'}"
    with running_site(url, folder, "--upload-limit-mb", "2") as site:
        for name, password in PASSWORDS.items():
            site.add_user(name, admin=name == "ada", password=password)
        op = site.operator()
        op.add_group("team")
        op.add_member("team", "bob")
        op.add_release("DP1")
        op.add_release("DR1")
        op.restrict_release("DP1", ["team"])
        op.engine.dispose()
        write_catalog(folder / "cat.parquet")
        write_catalog(folder / "cat.csv", n=40, seed=5)
        columns = {"ra": "RA", "dec": "DEC", "z": "redshift"}
        eve, bob = site.client("eve"), site.client("bob")
        specz = eve.upload(
            "eve specz", "Reference Redshift Catalog", folder / "cat.parquet",
            description=PAYLOAD, columns=columns, release="DR1",
        )  # fmt: skip
        secret = bob.upload(
            "bob secret", "Reference Redshift Catalog", folder / "cat.csv",
            columns=columns, release="DP1",
        )  # fmt: skip
        derived = bob.upload(
            "bob training", "Training Set", folder / "cat.csv", columns={"z": "redshift"}
        )
        op = site.operator()
        (folder / "v2").mkdir()
        write_catalog(folder / "v2" / "cat.parquet", seed=11)
        newer = op.register_version(
            "eve specz", "Reference Redshift Catalog", folder / "v2" / "cat.parquet",
            owner="eve", release="DR1", description="The second version.",
            columns=[registry.ColumnSpec(name=c, role=r) for r, c in columns.items()],
        ).product  # fmt: skip
        plots = op.register_product(
            "eve embedding", "Validation Results", folder / "cat.csv",
            aux_files=make_plots(folder / "plots"), owner="eve",
            description="Quality plots and the interactive plot.",
        )  # fmt: skip
        op.add_lineage(derived["id"], [specz["id"]])
        bulk_products(op, 60, start=100)
        op.acting_as("ada").set_official(specz["id"], True)
        op.engine.dispose()
        site.ids = {
            "specz": specz["id"],
            "secret": secret["id"],
            "derived": derived["id"],
            "v2": newer.id,
            "plots": plots.id,
        }
        site.names = {
            "specz": specz["internal_name"],
            "secret": secret["internal_name"],
            "derived": derived["internal_name"],
            "v2": newer.internal_name,
            "plots": plots.internal_name,
        }
        yield site


def make_plots(folder: Path) -> list[Path]:
    """A QA plot (PNG, matplotlib) and an interactive page with its own inline script."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir()
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.hist([0.1, 0.2, 0.2, 0.5, 0.9, 1.3], bins=5)
    ax.set_xlabel("z")
    fig.savefig(folder / "z_hist.png", dpi=80)
    plt.close(fig)
    (folder / "interactive.html").write_text(
        "<!doctype html><title>plot</title><p id=out>static</p>"
        "<script>document.getElementById('out').textContent = 'interactive ok';</script>"
    )
    return [folder / "z_hist.png", folder / "interactive.html"]


def bulk_products(reg: registry.Registry, n: int, start: int) -> None:
    """``n`` product rows of ada's (no files: for lists and paging only)."""
    from sqlalchemy import insert

    from registry.models import Product

    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    with reg.engine.begin() as conn:
        conn.execute(
            insert(Product),
            [
                {
                    "id": start + i,
                    "name": f"bulk catalog {i:03d}",
                    "internal_name": f"{start + i}_bulk_catalog_{i:03d}",
                    "product_type_id": 6,
                    "owner": "ada",
                    "official": False,
                    "description": "",
                    "status": "registered",
                    "created_at": t0 + timedelta(days=i),
                    "updated_at": t0 + timedelta(days=i),
                }
                for i in range(n)
            ],
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    if chromium_path() is None:
        pytest.skip("Chromium is not installed (scripts/system/setup.sh installs it)")
    with Chromium(width=1280, height=900) as b:
        b.send("Log.enable")
        yield b


class Pages:
    """A browser on the site, as one user at a time: open pages, fill forms, keep screenshots,
    collect console errors, exceptions and CSP violations."""

    def __init__(self, browser: Chromium, site: Site):
        self.b, self.site = browser, site

    def problems(self) -> list[str]:
        out = []
        for e in self.b.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append(json.dumps(params.get("args", []))[:500])
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                entry = params["entry"]
                # a page answered with its own status (403, 404, 422) is what a test asked for
                if entry.get("source") == "network" and "status of 4" in entry.get("text", ""):
                    continue
                out.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        return out

    def open(self, path: str, settle: float = 0.3) -> str:
        self.b.events.clear()
        self.b.open(self.site.base + path, settle=settle)
        return self.text()

    def text(self) -> str:
        return self.b.evaluate("document.body.innerText")

    def url(self) -> str:
        return self.b.evaluate("location.pathname + location.search")

    def status_of(self, path: str) -> int:
        """The HTTP status the browser got for the last navigation to ``path``."""
        for e in reversed(self.b.events):
            if e.get("method") == "Network.responseReceived":
                resp = e["params"]["response"]
                if (
                    resp["url"].startswith(self.site.base + path.split("?")[0])
                    and e["params"].get("type") == "Document"
                ):
                    return resp["status"]
        raise AssertionError(f"no document response for {path}")

    def fill(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            ok = self.b.evaluate(
                f"""(() => {{ const el = document.querySelector('[name={json.dumps(name)}]');
                if (!el) return false;
                if (el.type === 'checkbox') el.checked = {json.dumps(value)} === 'on';
                else el.value = {json.dumps(value)};
                el.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})()"""
            )
            assert ok, f"no form field {name!r} on {self.url()}"

    def submit(self, selector: str = "main form button[type=submit]", settle: float = 0.3) -> str:
        """Click a submit button and wait for the next page."""
        self.b.events.clear()
        before = self.b.evaluate("performance.timeOrigin")
        assert self.b.evaluate(
            f"(() => {{ const b = document.querySelector({json.dumps(selector)}); if (!b) return false; b.click(); return true; }})()"
        ), f"no {selector} on {self.url()}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.1)
            try:
                if (
                    self.b.evaluate("performance.timeOrigin") != before
                    and self.b.evaluate("document.readyState") == "complete"
                ):
                    break
            except RuntimeError:
                continue
        self.b.wait_still(settle)
        return self.text()

    def login(self, user: str) -> None:
        self.logout()
        self.open("/login")
        self.fill({"name": user, "password": PASSWORDS[user]})
        self.submit()
        assert f"{user}\n" in self.text() or self.text().count(user), self.text()[:500]

    KEYS = {"Tab": 9, "Enter": 13, "Escape": 27, " ": 32}

    def press(self, key: str, shift: bool = False) -> None:
        """A key pressed and released, as a keyboard does (focus moves, buttons fire)."""
        code = self.KEYS[key]
        extra = {"modifiers": 8} if shift else {}
        text = {"Enter": "\r", " ": " "}.get(key)
        self.b.send("Input.dispatchKeyEvent", type="keyDown", key=key, code=key,
                    windowsVirtualKeyCode=code, **({"text": text} if text else {}), **extra)  # fmt: skip
        self.b.send("Input.dispatchKeyEvent", type="keyUp", key=key, code=key,
                    windowsVirtualKeyCode=code, **extra)  # fmt: skip

    def type(self, text: str) -> None:
        self.b.send("Input.insertText", text=text)

    def focused(self) -> str:
        """What has the keyboard focus: its id, or its tag and text."""
        return self.b.evaluate(
            "(e => e.id || (e.tagName + ':' + e.textContent.trim()))(document.activeElement)"
        )

    def tab_to(self, wanted: str, limit: int = 60) -> None:
        for _ in range(limit):
            self.press("Tab")
            if self.focused() == wanted:
                return
        raise AssertionError(f"Tab never reached {wanted!r} on {self.url()}")

    def set_files(self, selector: str, paths: list[Path]) -> None:
        """Choose files in a file input, as a person does in the file dialog."""
        root = self.b.send("DOM.getDocument")["root"]["nodeId"]
        node = self.b.send("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        assert node, f"no {selector} on {self.url()}"
        self.b.send("DOM.setFileInputFiles", files=[str(p) for p in paths], nodeId=node)

    def no_browser_checks(self) -> None:
        """Turn off the browser's own form checks: the server's answers are what is tested."""
        self.b.evaluate("document.querySelectorAll('form').forEach(f => f.noValidate = true)")

    def logout(self) -> None:
        self.b.send("Network.clearBrowserCookies")

    def shot(self, name: str) -> Path:
        path = self.b.screenshot(artifacts_dir() / f"web_{name}.png")
        print(f"screenshot: {path}")
        self.b.send("Emulation.setDeviceMetricsOverride", width=self.b.width,
                    height=self.b.height, deviceScaleFactor=1, mobile=False)  # fmt: skip
        return path

    def query(self, path: str, **params: str) -> str:
        return path + ("?" + urlencode(params) if params else "")


@pytest.fixture(scope="module")
def pages(browser, web_site) -> Pages:
    return Pages(browser, web_site)
