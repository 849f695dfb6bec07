"""What the Snakefile calls: inputs checked and registries read on the submitting host only."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pzforge.workflow import snakefile


def test_on_submit_host_computes_once_and_jobs_read_it(tmp_path, monkeypatch):
    """Registry lookups happen on the submitting host; job processes reuse the saved answer."""
    on_submit_host = snakefile.on_submit_host
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PZFORGE_RUN_ID", "00000000-0000-4000-8000-000000000042")
    calls = []

    def lookup():
        calls.append(1)
        return {"path": "/data/main.parquet", "product_id": 7}

    main, job = SimpleNamespace(is_main_process=True), SimpleNamespace(is_main_process=False)
    assert on_submit_host(main, "reference", lookup) == {
        "path": "/data/main.parquet",
        "product_id": 7,
    }
    assert (
        on_submit_host(job, "reference", lambda: pytest.fail("a job queried the registry"))[
            "product_id"
        ]
        == 7
    )
    assert len(calls) == 1
    saved = tmp_path / ".pzforge/runs/00000000-0000-4000-8000-000000000042/resolved/reference.json"
    assert saved.is_file()
    # a job started without the saved answer (another working directory) still works
    monkeypatch.chdir(tmp_path / ".pzforge")
    assert on_submit_host(job, "reference", lookup)["product_id"] == 7 and len(calls) == 2


def test_job_processes_never_run_preflight(tmp_path, monkeypatch, sample_catalogs):
    """Snakemake parses the workflow again in every job process (SLURM nodes too): there the
    config is validated but the inputs are not checked and no registry is opened."""
    import yaml

    from pzforge.paths import DEFAULT_CONFIG

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PZFORGE_RUN_ID", "00000000-0000-4000-8000-000000000043")
    monkeypatch.delenv(snakefile.PREFLIGHT_DONE_ENV, raising=False)
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    folder = next(iter(sample_catalogs.values())).parent
    for cat in config["catalogs"]:
        cat["path"] = str(folder / cat["path"].split("/")[-1])
    calls = []
    monkeypatch.setattr(snakefile.pipelines, "preflight", lambda *a: calls.append(a))
    snakefile.setup_run(SimpleNamespace(is_main_process=False), dict(config))
    assert calls == []
    pipeline, layout = snakefile.setup_run(SimpleNamespace(is_main_process=True), dict(config))
    assert len(calls) == 1 and pipeline == "combine_redshift"
    assert str(layout.results) == "results/demo_combined"
    # `pzforge run` checked already: the main process does not check again
    monkeypatch.setenv(snakefile.PREFLIGHT_DONE_ENV, "00000000-0000-4000-8000-000000000043")
    snakefile.setup_run(SimpleNamespace(is_main_process=True), dict(config))
    assert len(calls) == 1
