"""Headless Chromium (Debian's /usr/bin/chromium, nothing downloaded) driven over the DevTools
protocol with tornado's websocket client: open a page, wait for it, run JavaScript (a click in a
JavaScript app such as Snakemake's report), list the requests it made, take a full-page PNG.

Screenshots go to ``artifacts_dir()`` (``tests/artifacts/``, ignored by git, or
``$PZFORGE_TEST_ARTIFACTS``) so a person can look at them after the tests.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("PZFORGE_TEST_ARTIFACTS") or ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Chromium:
    """One headless browser with one page."""

    def __init__(self, width: int = 1280, height: int = 900, timeout: float = 60):
        from tornado.websocket import websocket_connect

        binary = chromium_path()
        if binary is None:
            raise RuntimeError("Chromium is not installed (apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="pzforge-chromium-")
        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.width, self.height, self.timeout = width, height, timeout
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("Chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        req = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            target = json.loads(resp.read())
        self.loop = asyncio.new_event_loop()

        async def connect() -> Any:
            return await websocket_connect(
                target["webSocketDebuggerUrl"], max_message_size=512 * 2**20
            )

        self.ws = self.loop.run_until_complete(connect())
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Network", "Runtime"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)  # fmt: skip

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        wanted = self.next_id

        async def answer() -> dict[str, Any]:
            await self.ws.write_message(
                json.dumps({"id": wanted, "method": method, "params": params})
            )
            while True:
                raw = await asyncio.wait_for(self.ws.read_message(), self.timeout)
                if raw is None:
                    raise RuntimeError("Chromium closed the connection")
                msg = json.loads(raw)
                if msg.get("id") == wanted:
                    if "error" in msg:
                        raise RuntimeError(f"{method}: {msg['error']}")
                    return msg.get("result", {})
                self.events.append(msg)

        return self.loop.run_until_complete(answer())

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)  # fmt: skip
        return result.get("result", {}).get("value")

    def open(self, url: str, settle: float = 0.5) -> None:
        """Load ``url`` in a window of the first size and wait until it and its scripts are
        done (the DOM stops changing)."""
        self.send("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)  # fmt: skip
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + self.timeout
        while self.evaluate("document.readyState") != "complete":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not finish loading")
            time.sleep(0.1)
        self.wait_still(settle)

    def wait_still(self, settle: float = 0.5) -> None:
        """Wait until the page's HTML stays the same for ``settle`` seconds."""
        deadline = time.monotonic() + self.timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            size = self.evaluate("document.documentElement.outerHTML.length")
            if size != last:
                last, since = size, time.monotonic()
            elif time.monotonic() - since >= settle:
                return
            time.sleep(0.1)

    def dom(self) -> str:
        return self.evaluate("document.documentElement.outerHTML")

    def requested_urls(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def screenshot(self, path: Path, full_page: bool = True, max_height: int = 16_000) -> Path:
        """The whole page as a PNG (``full_page=False``: the window only, for an application
        that fills the window, such as Snakemake's report)."""
        if full_page:
            metrics = self.send("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            height = min(int(size["height"]) + 1, max_height)
            self.send("Emulation.setDeviceMetricsOverride", width=self.width, height=height,
                      deviceScaleFactor=1, mobile=False)  # fmt: skip
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=full_page)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        try:
            if getattr(self, "loop", None) is not None:
                self.loop.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
