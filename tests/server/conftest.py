"""A real site on loopback for the server tests: `pzforge serve` (and `pzforge worker`) started as
processes on 127.0.0.1, users and tokens made by the operator on the database, logs kept."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

import registry
from tests.slurm.conftest import slurm  # noqa: F401 - the live-SLURM fixture, for the e2e test

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Site:
    """One site: its database, folders, processes and the tokens of its users."""

    url: str  # the registry's SQLAlchemy URL
    folder: Path
    port: int = 0
    tokens: dict[str, str] = field(default_factory=dict)
    procs: list[tuple[subprocess.Popen, Path]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return self.base + "/api/v1"

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
            PZFORGE_REGISTRY_URL=self.url,
            PZFORGE_SITE=str(self.folder / "site"),
            PZFORGE_STORAGE=str(self.folder / "store"),
            XDG_DATA_HOME=str(self.folder / "data-home"),
        )
        for key in ("PZFORGE_URL", "PZFORGE_TOKEN", "PZFORGE_ADMINS"):
            env.pop(key, None)
        env.update(extra)
        return env

    def operator(self) -> registry.Registry:
        return registry.open(
            self.url, user="operator", operator=True, storage=self.folder / "store"
        )

    def add_user(self, name: str, *, admin: bool = False, password: str | None = None) -> str:
        op = self.operator()
        op.add_user(name, admin=admin, password=password)
        token, _ = op.create_token(name, label="tests")
        op.engine.dispose()
        self.tokens[name] = token
        return token

    def start(self, *extra: str, env: dict[str, str] | None = None, timeout: float = 60) -> None:
        self.port = free_port()
        log = self.folder / f"server-{self.port}.log"
        cmd = [sys.executable, "-m", "pzforge.cli", "serve", "--port", str(self.port), *extra]
        self._spawn(cmd, log, env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.api + "/health", timeout=2).status_code == 200:
                    return
            if self.procs[-1][0].poll() is not None:
                break
            time.sleep(0.3)
        raise RuntimeError(f"the server did not start:\n{log.read_text()[-3000:]}")

    def start_worker(self, *extra: str, env: dict[str, str] | None = None) -> None:
        log = self.folder / f"worker-{len(self.procs)}.log"
        cmd = [sys.executable, "-m", "pzforge.cli", "worker", "--poll", "0.5", *extra]
        self._spawn(cmd, log, env)

    def _spawn(self, cmd: list[str], log: Path, env: dict[str, str] | None) -> None:
        fh = open(log, "w")  # noqa: SIM115 - the process writes it until stop()
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=env or self.env(), cwd=self.folder
        )
        self.procs.append((proc, log))

    def logs(self) -> str:
        return "\n".join(log.read_text(errors="replace") for _p, log in self.procs if log.exists())

    def http(self, user: str | None = None, headers: dict | None = None, **kw) -> httpx.Client:
        auth = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.Client(base_url=self.api, headers=auth | (headers or {}), timeout=120, **kw)

    def client(self, user: str):
        from pzforge.client import PzClient

        return PzClient(self.base, self.tokens[user])

    def stop(self) -> None:
        for proc, _log in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc, _log in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def running_site(url: str, folder: Path, *serve_args: str, worker: bool = False,
                 worker_args: tuple[str, ...] = ()) -> Iterator[Site]:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    site = Site(url, folder)
    registry.upgrade(url)
    try:
        site.start(*serve_args)
        if worker:
            site.start_worker(*worker_args)
        yield site
    finally:
        site.stop()


def write_catalog(path: Path, n: int = 300, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "objid": np.arange(n),
            "RA": rng.uniform(150, 151, n),
            "DEC": rng.uniform(2, 3, n),
            "redshift": rng.uniform(0.01, 2, n),
            "survey_name": ["DESI"] * n,
        }
    )
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return df


@pytest.fixture(scope="module")
def live_site(tmp_path_factory) -> Iterator[Site]:
    """A SQLite site (no worker) with admin ada, users bob and eve, a release DP1 restricted to
    group team (bob), and a product of bob's in it and one of eve's in the open."""
    folder = tmp_path_factory.mktemp("site")
    url = f"sqlite:///{folder / 'registry.sqlite'}"
    with running_site(url, folder, "--upload-limit-mb", "1") as site:
        site.add_user("ada", admin=True, password="a long enough password")
        site.add_user("bob")
        site.add_user("eve")
        op = site.operator()
        op.add_group("team")
        op.add_member("team", "bob")
        op.add_release("DP1")
        op.restrict_release("DP1", ["team"])
        op.engine.dispose()
        write_catalog(folder / "cat.parquet")
        yield site
