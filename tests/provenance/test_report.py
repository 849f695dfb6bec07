"""The provenance report's pieces without a pipeline run: the DAG recorded at onstart, job states
(ran, failed, not run, done by an earlier run), timings or why there are none, the page offline,
and the same table blocks in text and HTML. The browser tests are in test_report_pages.py."""

from __future__ import annotations

import re
from types import SimpleNamespace

from pzforge import tables
from pzforge.provenance.recording import dag_record, job_usage
from pzforge.provenance.report import (
    EARLIER,
    NOT_RUN,
    job_graph,
    job_rows,
    jobs_table,
    render_report,
)


class FakeJob(SimpleNamespace):
    def __hash__(self) -> int:
        return id(self)


def fake_dag():
    """ingest[a], ingest[b] -> merge -> all; ingest[a] up to date."""

    def job(rule, wildcards, output):
        return FakeJob(rule=SimpleNamespace(name=rule), wildcards_dict=wildcards, output=output)

    a = job("ingest", {"catalog": "a"}, ["/r/a.parquet"])
    b = job("ingest", {"catalog": "b"}, ["/r/b.parquet"])
    merge = job("merge", {}, ["/r/merged.parquet"])
    target = job("all", {}, [])
    deps = {a: {}, b: {}, merge: {a: {"/r/a.parquet"}, b: {"/r/b.parquet"}}, target: {merge: set()}}
    needrun = {b, merge, target}
    return SimpleNamespace(jobs=list(deps), dependencies=deps, needrun=lambda j: j in needrun)


def test_dag_record_keeps_every_job_and_its_edges():
    record = dag_record(fake_dag())
    jobs = record["jobs"]
    assert [(j["rule"], j["wildcards"], j["needrun"]) for j in jobs] == [
        ("all", {}, True),
        ("ingest", {"catalog": "a"}, False),  # up to date: still in the record
        ("ingest", {"catalog": "b"}, True),
        ("merge", {}, True),
    ]
    named = {(jobs[a]["rule"], jobs[b]["rule"]) for a, b in record["edges"]}
    assert named == {("ingest", "merge"), ("merge", "all")}


def test_job_usage_measures_the_process():
    usage = job_usage()  # this test process: running for a while, imports done
    assert usage["wall_s"] > 0.1 and usage["max_rss_mb"] > 10 and usage["cpu_time_s"] > 0.1
    assert usage["wall_s"] >= usage["cpu_time_s"] * 0.5  # one process, mostly one thread


def run_and_plan():
    run = {
        "id": "11111111-2222-3333-4444-555555555555",
        "pipeline": "combine_redshift",
        "run_name": "t",
        "status": "failed",
        "error": "rule merge: ValueError: [z] is text",
        "workdir": "/nowhere",
        "overrides": ["output.formats=[parquet]"],
        "config": {"run_name": "t", "note": "x" * 300},
        "software": {"pzforge": "0.1"},
        "products": [],
        "jobs": [
            {
                "rule": "ingest", "wildcards": {"catalog": "b"}, "status": "success",
                "started_at": "2026-01-01T00:00:01+00:00", "reason": "Missing output files: x",
                "benchmark": {"wall_s": 2.5, "max_rss_mb": 120.0, "cpu_time_s": 2.0},
                "files": [],
            },
            {
                "rule": "merge", "wildcards": {}, "status": "failed",
                "started_at": "2026-01-01T00:00:05+00:00", "error": "ValueError: [z] is text",
                "benchmark": {}, "log": ["logs/t/merge.log"], "files": [],
            },
            {"rule": "export", "wildcards": {}, "status": "incomplete", "files": []},
            {"rule": "all", "wildcards": {}, "status": "incomplete", "files": []},
        ],
    }  # fmt: skip
    plan = {
        "dag": {
            "jobs": [
                {"rule": "all", "wildcards": {}, "output": [], "needrun": True},
                {"rule": "export", "wildcards": {}, "output": ["/r/x.csv"], "needrun": True},
                {"rule": "ingest", "wildcards": {"catalog": "a"}, "output": ["/r/a"], "needrun": False},
                {"rule": "ingest", "wildcards": {"catalog": "b"}, "output": ["/r/b"], "needrun": True},
                {"rule": "merge", "wildcards": {}, "output": ["/r/m"], "needrun": True},
            ],
            "edges": [[2, 4], [3, 4], [4, 1], [1, 0]],
        }
    }  # fmt: skip
    return run, plan


def test_job_rows_states_and_timings():
    run, plan = run_and_plan()
    earlier = {
        ("ingest", "catalog=a"): {
            "job": {"benchmark": {"wall_s": 1.0}, "started_at": "2025-12-31T00:00:00+00:00"},
            "run": {"id": "99999999-0000-0000-0000-000000000000", "status": "interrupted"},
        }
    }
    rows = job_rows(run, plan, earlier)
    states = {(r.rule, tuple(r.wildcards.values())): r.state for r in rows}
    assert states == {
        ("ingest", ("a",)): EARLIER,
        ("ingest", ("b",)): "success",
        ("merge", ()): "failed",
        ("export", ()): NOT_RUN,
    }  # the target pseudo-job `all` is not a job to show
    table = {r[0] + r[1]: r for r in jobs_table(rows).rows}
    assert table["ingestcatalog=a"][2] == "done earlier (run 99999999, interrupted)"
    assert table["ingestcatalog=a"][4:7] == ["1", "not measured", "not measured"]
    assert table["ingestcatalog=b"][4:7] == ["2.5", "120", "2"]
    assert table["merge"][4:7] == ["not measured"] * 3  # failed before any figure
    assert "error: ValueError: [z] is text" in table["merge"][9]
    assert table["export"][4:7] == [NOT_RUN] * 3
    graph = job_graph(rows, plan, run)
    assert graph.from_dag
    assert {n.rule: n.state for n in graph.nodes} == {
        "ingest": "success", "merge": "failed", "export": NOT_RUN,
    }  # fmt: skip
    ingest = next(n for n in graph.nodes if n.rule == "ingest")
    assert ingest.label == "1 ran · 1 done earlier"
    assert {(a.rule, b.rule) for a, b in graph.edges} == {("ingest", "merge"), ("merge", "export")}
    assert ingest.y < next(n for n in graph.nodes if n.rule == "merge").y  # top to bottom


def test_page_is_offline_escapes_data_and_wraps_long_lines():
    run, plan = run_and_plan()
    summary = [tables.Table(["catalog", "dropped"], [["a [v2]", 3]], "rows per catalog")]
    page = render_report(run, None, [], plan=plan, summary=summary)
    assert not re.findall(r"(?:src|href)=\"https?:", page)
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "a [v2]" in page and "[z] is text" in page and "output.formats=[parquet]" in page
    assert "<script" not in page  # nothing to run, nothing to fetch
    assert "white-space:pre-wrap" in page  # config, diff and reasons wrap
    assert 'id="legend"' in page and 'id="failure"' in page
    assert '<td class="num">3</td>' in page  # numbers right-aligned in the summary table
    # without the plan, the graph comes from the recorded jobs and the page says so
    page = render_report(run, None, [])
    assert "is not reachable here" in page


def test_text_and_html_show_the_same_table():
    block = tables.Table(["survey", "kept"], [["VVDS [deep]", 12], ["2dFGRS", 3]], "per survey")
    text = tables.render_text([block])
    assert text.splitlines()[0] == "per survey"
    assert re.search(r"^VVDS \[deep\]\s+12$", text, re.M)
    data = tables.to_dict(block)
    assert data["rows"] == [["VVDS [deep]", "12"], ["2dFGRS", "3"]] and data["numeric"] == [
        False,
        True,
    ]
