"""Finding 7: a password in registry.url (or any URL) never reaches provenance, reports, the
Snakemake metadata, job sidecars or download zips."""

from __future__ import annotations

import zipfile

import pytest

from pzforge.secrets import redact, redact_text
from tests.support.postgres import fresh_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_redaction_rules():
    assert redact_text("postgresql+psycopg://me:s3cr%40t@db:5432/x") == (
        "postgresql+psycopg://me:***@db:5432/x"
    )
    assert redact_text("sqlite:////tmp/a.sqlite") == "sqlite:////tmp/a.sqlite"
    assert redact({"registry": {"url": "https://u:p@h/"}, "api_token": "abc", "n": 3}) == {
        "registry": {"url": "https://u:***@h/"},
        "api_token": "***",
        "n": 3,
    }


def test_no_password_anywhere_a_run_records(site):
    with fresh_database() as url:
        password = url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
        secret = f":{password}@"
        proc = site.run(f"registry.url={url}")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert secret not in proc.stdout + proc.stderr
        import registry

        reg = registry.open(url)
        (run,) = reg.list_runs()
        detail = reg.get_run(run["id"])
        assert secret not in str(detail), "password in the recorded run"
        assert "***" in str(detail["config"]["registry"]["url"])
        report = site.root / "report.html"
        assert (
            site.cli("provenance", "report", run["id"], "-o", report, "--registry", url).returncode
            == 0
        )
        assert secret not in report.read_text()
        out = site.cli("products", "download", "1", "-o", site.root, "--registry", url)
        assert out.returncode == 0, out.stderr
        with zipfile.ZipFile(next(site.root.glob("*.zip"))) as zf:
            for name in zf.namelist():
                if name.endswith(".json"):
                    assert secret not in zf.read(name).decode(), name
        for folder in (".snakemake", ".pzforge", "logs", "results"):
            for path in (site.root / folder).rglob("*"):
                if not path.is_file() or path.name == "config.yaml":
                    continue  # the run's own resolved config (mode 0600) is what it connects with
                assert secret.encode() not in path.read_bytes(), path
        own = next((site.root / ".pzforge" / "runs").glob("*/config.yaml"))
        assert oct(own.stat().st_mode & 0o777) == "0o600"
