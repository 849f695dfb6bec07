"""Helpers of the reliability suite: a small real pipeline run, the CLI as a user runs it, and
one check that the registry, its storage and the run folders are consistent after anything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import registry
from pzforge.paths import DEFAULT_CONFIG

PZFORGE = str(Path(sys.executable).parent / "pzforge")
TIMEOUT = 600
KEEP = ("2dfgrs", "6dfgs", "vvds")


@pytest.fixture(scope="session")
def small_catalogs(tmp_path_factory) -> Path:
    """The demo's six catalogs (CSV, FITS, HDF5, Parquet), smaller: runs take seconds."""
    from pzforge.combine import sample_data

    folder = tmp_path_factory.mktemp("small-catalogs")
    sample_data.generate(folder, n_objects=800)
    return folder


class Site:
    """A working directory with a config, a SQLite registry and helpers to run the CLI there."""

    def __init__(self, root: Path, catalogs: Path):
        self.root = root
        self.url = f"sqlite:///{root / 'registry.sqlite'}"
        config = yaml.safe_load(DEFAULT_CONFIG.read_text())
        # three of the demo's catalogs (CSV, FITS, HDF5): every reader, few jobs
        config["catalogs"] = [c for c in config["catalogs"] if c["name"] in KEEP]
        for cat in config["catalogs"]:
            cat["path"] = str(catalogs / Path(cat["path"]).name)
        config["output"] = {"formats": ["parquet"]}
        config["registry"] = {"url": self.url}
        self.config = root / "config.yaml"
        self.config.write_text(yaml.safe_dump(config))
        self.faults = root / "faults"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PZFORGE_FAULT")}
        return env | {"PZFORGE_FAULT_DIR": str(self.faults)} | extra

    def cli(self, *args: str, env: dict | None = None, stdin: str | None = None):
        return subprocess.run(
            [PZFORGE, *map(str, args)],
            cwd=self.root,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            input=stdin,
        )

    def run(self, *sets: str, env: dict | None = None):
        args = ["run", "combine_redshift", "-c", self.config]
        for s in sets:
            args += ["--set", s]
        return self.cli(*args, env=env)

    def start_paused(
        self, point: str, *sets: str, sigint: object = signal.SIG_DFL
    ) -> subprocess.Popen:
        """A run that stops at fault point ``point`` (its own process group, to kill);
        ``sigint``: the disposition it starts with (SIG_IGN: as a script's background job)."""
        args = [PZFORGE, "run", "combine_redshift", "-c", str(self.config)]
        for s in sets:
            args += ["--set", s]
        proc = subprocess.Popen(
            args,
            cwd=self.root,
            env=self.env(PZFORGE_FAULT_PAUSE=point),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            # as from a terminal: SIGINT at its default even when pytest runs with it ignored
            # (a background job of a script), or the Ctrl-C cases would end by the SIGKILL below
            preexec_fn=lambda: signal.signal(signal.SIGINT, sigint),
        )
        marker = self.faults / point
        deadline = time.monotonic() + TIMEOUT
        while not marker.exists():
            if proc.poll() is not None:
                raise AssertionError(f"the run ended before {point}: {proc.stdout.read()}")
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"the run never reached {point}")
            time.sleep(0.2)
        marker.unlink()
        return proc

    @staticmethod
    def stop(proc: subprocess.Popen, sig: int) -> int:
        """Send ``sig`` to the run's process group; its exit code. A run that ignores SIGINT
        fails the test (it would otherwise be ended by SIGKILL and pass for the wrong reason)."""
        os.killpg(proc.pid, sig)
        try:
            return proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise AssertionError(f"the run was still alive 60 s after signal {sig}") from None

    def registry(self) -> registry.Registry:
        from pzforge.products.site import os_user

        return registry.open(self.url, user=os_user())  # who ran the pipelines

    @property
    def combined(self) -> Path:
        return self.root / "results" / "demo_combined" / "combined" / "demo_combined.parquet"

    def assert_consistent(self) -> None:
        """Every product has its files with their registered checksums, every run a final
        status, nothing in staging or orphaned in the store, every run folder ingested."""
        reg = self.registry()
        for p in reg.list_products():
            bad = [r for r in reg.check_files(p.id, full=True) if not r["ok"]]
            assert not bad, bad
        statuses = {r["id"]: r["status"] for r in reg.list_runs(limit=10_000)}
        assert set(statuses.values()) <= {"success", "failed", "interrupted"}, statuses
        assert reg.check_storage() == {"orphan_folders": [], "staging": [], "missing_folders": []}
        runs = self.root / ".pzforge" / "runs"
        for folder in runs.iterdir() if runs.is_dir() else []:
            if (folder / "run.json").is_file():
                assert (folder / "ingested.json").is_file(), f"run {folder.name} never recorded"
                assert folder.name in statuses


@pytest.fixture
def site(tmp_path, small_catalogs) -> Site:
    return Site(tmp_path, small_catalogs)


def one_line_error(proc) -> str:
    """The user-facing error: exactly one 'error:' line and no traceback."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def product_rows(url: str) -> int:
    return len(registry.open(url).list_products())


def receipts(site: Site) -> list[dict]:
    path = site.root / "results" / "demo_combined" / "registry" / "products.json"
    return json.loads(path.read_text()) if path.is_file() else []
