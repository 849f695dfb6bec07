"""End to end on loopback: a server and a worker; a user and a token; three catalogs uploaded with
the client; Combine Redshift Catalogs submitted through the API and followed to success with live
progress; the product appears with its provenance and lineage; get_product gives the DataFrame;
the zip comes through a signed link. On SQLite, on the real PostgreSQL, and with the SLURM
profile."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from tests.server.conftest import ROOT, running_site
from tests.support.postgres import fresh_database

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CATALOGS = {  # three of the sample catalogs, as in config/config.yaml
    "2dfgrs": ({"id": "name", "ra": "ra_j2000_deg", "dec": "dec_j2000_deg", "z": "z",
                "z_flag": "quality"}, {"column": "survey_name"}),
    "6dfgs": ({"id": "SPECID", "ra": "RA_deg", "dec": "DEC_deg", "z": "Z", "z_flag": "QUALITY"},
              {"value": "6dFGS"}),
    "desi": ({"id": "TARGETID", "ra": "TARGET_RA", "dec": "TARGET_DEC", "z": "Z", "z_err": "ZERR",
              "z_flag": "ZWARN"}, {"column": "survey_name"}),
}  # fmt: skip


def end_to_end(site, work: Path, profile: str | None = None, timeout: float = 600) -> dict:
    from pzforge.combine import sample_data

    site.add_user("alice")
    paths = sample_data.generate(work / "data", n_objects=800)
    pz = site.client("alice")
    uploaded = {}
    for name, (columns, _survey) in CATALOGS.items():
        roles = {r: c for r, c in columns.items() if r in ("ra", "dec", "z")}
        info = pz.upload(f"{name} specz", "Reference Redshift Catalog", paths[name], columns=roles)
        assert info["owner"] == "alice"
        uploaded[name] = info
    assert {p["name"] for p in pz.get_products_list({"owner": "alice"})} == {
        f"{n} specz" for n in CATALOGS
    }
    csc = pz.combine_redshift_catalogs("e2e_combined", profile=profile)
    for name, (columns, survey) in CATALOGS.items():
        kind, value = next(iter(survey.items()))
        csc.append_catalog(
            uploaded[name]["internal_name"],
            name=name,
            columns=columns,
            **({"survey": value} if kind == "value" else {"survey_column": value}),
        )
    csc.set_config({"output": {"formats": ["parquet"]}})
    run = csc.run()
    assert run.state == "queued"
    seen = []
    deadline = time.monotonic() + timeout
    while run.refresh()["state"] not in ("success", "failed", "cancelled", "interrupted"):
        seen.append(run.info["progress"])
        assert time.monotonic() < deadline, f"run still {run.state}:\n{site.logs()[-4000:]}"
        time.sleep(1)
    info = run.info
    assert info["state"] == "success", f"{info['error']}\n{run.log()}\n{site.logs()[-4000:]}"
    # live progress came from Snakemake's events: a total, rules by name, then all done
    assert any(p.get("total") and p.get("running") for p in seen), seen
    assert info["progress"]["done"] == info["progress"]["total"] > 0
    assert info["elapsed_s"] > 0 and "partition_catalog" in run.log(lines=5000)
    (made,) = info["products"]
    assert made["name"] == "e2e_combined"
    # the product, with provenance: the run, its user, its jobs, its lineage
    meta = pz.get_product_metadata(made["id"])
    assert meta["owner"] == "alice" and meta["run_id"] == run.id
    assert {u["id"] for u in meta["upstream"]} == {p["id"] for p in uploaded.values()}
    prov = pz.get_provenance(made["id"])
    assert prov["run"]["id"] == run.id and prov["run"]["user"] == "alice"
    assert prov["run"]["status"] == "success"
    assert {j["rule"] for j in prov["run"]["jobs"]} >= {"ingest_catalog", "find_duplicates"}
    assert "url" not in (info["config"].get("registry") or {})  # the site's, not the user's
    expected_profile = profile or "local"
    assert prov["run"]["profile"] == expected_profile
    if profile == "slurm":
        assert any(j["slurm_job_id"] for j in prov["run"]["jobs"]), prov["run"]["jobs"]
    # the table, and the zip through a signed link
    df = pz.get_product(made["id"])
    assert len(df) > 0 and {"id", "z", "z_flag_homogenized", "tie_result"} <= set(df.columns)
    head = pz.get_product(made["id"], limit=5)
    assert len(head) == 5
    zipped = pz.download_product(made["internal_name"], save_in=work / "downloads")
    with zipfile.ZipFile(zipped) as zf:
        names = zf.namelist()
    assert "metadata.json" in names and "provenance.prov.json" in names
    assert any(n.startswith("e2e_combined_hats/") for n in names)
    crate = pz.get_ro_crate(made["id"])
    assert any(e.get("@id") == "./" for e in crate["@graph"])
    return made


def test_end_to_end_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    with running_site(url, tmp_path / "site", worker=True) as site:
        end_to_end(site, tmp_path)


@pytest.mark.postgres
def test_end_to_end_on_postgres(tmp_path):
    with fresh_database() as url, running_site(url, tmp_path / "site", worker=True) as site:
        end_to_end(site, tmp_path)


@pytest.mark.slurm
def test_end_to_end_with_the_slurm_profile(slurm, tmp_path):
    fast = ROOT / "tests" / "slurm" / "fast-profile"
    with (
        fresh_database() as url,
        running_site(
            url,
            tmp_path / "site",
            "--profiles",
            "local,slurm",
            worker=True,
            worker_args=(f"--snakemake-arg=--workflow-profile={fast}",),
        ) as site,
    ):
        made = end_to_end(site, tmp_path, profile="slurm", timeout=800)
        # an embedding task on the combined product goes to SLURM too: it is a run of the
        # embedding_task pipeline, with the run's provenance, its job on a node
        pz = site.client("alice")
        params = {"features": ["z", "z_err"], "parameters": {"n_neighbours": 10}}
        task = pz.embed(made["id"], params, profile="slurm")
        done = pz.wait_embedding(task["task_id"], timeout=600, poll_s=1)
        assert done["state"] == "SUCCESS", (done["error"], site.logs()[-4000:])
        assert done["result"]["features"] == ["z", "z_err"] and done["result"]["data_shape"][1] == 2
        prov = site.http("alice").get(f"/provenance/runs/{task['task_id']}").json()
        assert prov["pipeline"] == "embedding_task" and prov["profile"] == "slurm"
        assert [j["rule"] for j in prov["jobs"]] == ["run_embedding_task"]
        assert prov["jobs"][0]["slurm_job_id"], prov["jobs"]
