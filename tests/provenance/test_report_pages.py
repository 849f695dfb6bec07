"""What a person sees of a run in a browser: the provenance report of a successful, a failed and
a resumed run, and Snakemake's own report, opened in headless Chromium.

Real runs of Combine Redshift Catalogs on three small demo catalogs. Each page is loaded over the
DevTools protocol (tests/support/browser.py): it must make no request outside the file itself,
show what the issue asks for (science numbers, the job graph from the DAG with a legend, failed
and not-run jobs, jobs an earlier run did, timings for every job), and a full-page screenshot is
saved under tests/artifacts/ (printed; look at them).
"""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest

from pzforge.paths import RUNS_DIR
from registry import Registry
from tests.reliability.conftest import Site
from tests.support.browser import Chromium, artifacts_dir, chromium_path

pytestmark = pytest.mark.slow
RUN_ID = re.compile(r"run id: ([0-9a-f-]{36})")
CLICK = """(name => {
  const hits = Array.from(document.querySelectorAll('*'))
    .filter(e => e.children.length == 0 && e.textContent.trim() == name);
  if (!hits.length) return 0;
  hits[hits.length - 1].click();
  return hits.length;
})"""
VIEW = """(name => {
  const cell = Array.from(document.querySelectorAll('td'))
    .find(e => e.textContent.trim() == name);
  if (!cell) return 0;
  cell.closest('tr').querySelector('a[iconname=eye]').click();
  return 1;
})"""


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory) -> Path:
    from pzforge.combine import sample_data

    folder = tmp_path_factory.mktemp("catalogs")
    sample_data.generate(folder, n_objects=800)
    return folder


@pytest.fixture(scope="module")
def browser():
    if chromium_path() is None:
        pytest.skip("Chromium is not installed (scripts/system/setup.sh installs it)")
    with Chromium() as b:
        yield b


@pytest.fixture(scope="module")
def succeeded(tmp_path_factory, catalogs):
    """A successful run that also writes Snakemake's report (`pzforge run --report`)."""
    site = Site(tmp_path_factory.mktemp("success"), catalogs)
    report = site.root / "snakemake_report.html"
    proc = site.cli("run", "combine_redshift", "-c", site.config, "--report", report)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Snakemake report: {report}" in proc.stdout
    return site, RUN_ID.search(proc.stdout).group(1), report


@pytest.fixture(scope="module")
def failed(tmp_path_factory, catalogs):
    """A run whose duplicate resolution fails: earlier jobs ran, later ones never did."""
    site = Site(tmp_path_factory.mktemp("failed"), catalogs)
    proc = site.run(env=site.env(PZFORGE_FAULT_FAIL="rule:resolve_duplicates"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (run,) = site.registry().list_runs()
    assert run["status"] == "failed"
    return site, run["id"]


@pytest.fixture(scope="module")
def resumed(tmp_path_factory, catalogs):
    """A run killed (SIGKILL) during the duplicate search, then `pzforge run` again."""
    site = Site(tmp_path_factory.mktemp("resumed"), catalogs)
    Site.stop(site.start_paused("rule:find_duplicates"), signal.SIGKILL)
    again = site.run()
    assert again.returncode == 0, again.stdout + again.stderr
    runs = {r["status"]: r["id"] for r in site.registry().list_runs()}
    return site, runs["interrupted"], RUN_ID.search(again.stdout).group(1)


def report_page(site: Site, run_id: str, browser: Chromium, name: str) -> str:
    """Write the run's report with the CLI, open it, save a screenshot; returns the DOM."""
    html = site.root / f"{name}.html"
    proc = site.cli("provenance", "report", run_id, "-o", html,
                    env=site.env(PZFORGE_REGISTRY_URL=site.url))  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    browser.events.clear()
    browser.open(html.as_uri())
    outside = [u for u in browser.requested_urls() if not u.startswith(("file:", "data:"))]
    assert not outside, f"the report asked the network for {outside}"
    shot = browser.screenshot(artifacts_dir() / f"{name}.png")
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 30_000
    return browser.dom()


def node_states(dom: str) -> dict[str, str]:
    """rule -> state class of its box in the job graph."""
    return dict(
        (rule, state)
        for state, rule in re.findall(r'<g class="node state-([\w-]+)"><title>([\w]+):', dom)
    )


def jobs_rows(dom: str) -> list[list[str]]:
    body = re.search(r'<table class="jobs">.*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


RULES = ["ingest_catalog", "partition_catalog", "find_duplicates", "resolve_duplicates",
         "write_combined_catalog", "summarize_run", "write_qa_report", "write_combined_manifest"]  # fmt: skip


def test_report_of_a_successful_run(succeeded, browser):
    site, run_id, _ = succeeded
    dom = report_page(site, run_id, browser, "provenance_report_success")
    # science numbers, not only jobs and checksums
    science = dom[dom.index('id="science"') : dom.index('id="dag-title"')]
    for text in ("rows per catalog", "per survey", "duplicates:", "tie_reason", "rows out:"):
        assert text in science, text
    summary = json.loads((site.root / "results/demo_combined/summary.json").read_text())
    assert f">{summary['rows_out']}<" in science or f"rows out: {summary['rows_out']}" in science
    # the graph: every rule of the DAG, all ran, a legend
    assert node_states(dom) == dict.fromkeys(RULES, "success")
    assert 'id="legend"' in dom and "done by an earlier run" in dom
    assert "Every rule of the workflow's DAG" in dom
    # timings for every job (a benchmark file, or the job's own measurement)
    rows = jobs_rows(dom)
    assert len(rows) == 3 + len(RULES) - 1  # three ingest jobs
    for row in rows:
        assert row[2] == "success" and all(re.fullmatch(r"[\d.]+", v) for v in row[4:7]), row
    assert "- (first version)" in dom  # lineage: nothing superseded


def test_report_of_a_failed_run(failed, browser):
    site, run_id = failed
    dom = report_page(site, run_id, browser, "provenance_report_failed")
    callout = dom[dom.index('id="failure"') : dom.index('id="science"')]
    assert "resolve_duplicates" in callout and "fault injected" in callout
    assert "Not run" in callout and "write_combined_catalog" in callout
    states = node_states(dom)
    assert states["resolve_duplicates"] == "failed"
    assert states["ingest_catalog"] == states["find_duplicates"] == "success"
    for rule in ("write_combined_catalog", "summarize_run", "write_qa_report"):
        assert states[rule] == "not-run", (rule, states)
    rows = {r[0]: r for r in jobs_rows(dom)}
    assert rows["write_combined_catalog"][2] == "not run"
    assert rows["write_combined_catalog"][4] == "not run"
    assert "the run ended before its summary was written" in dom
    assert "No products were registered by this run." in dom


def test_report_of_a_resumed_run(resumed, browser):
    site, interrupted_id, run_id = resumed
    # the DAG recorded at the start holds the jobs the first attempt had done (up to date)
    plan = json.loads((site.root / RUNS_DIR / run_id / "run.json").read_text())
    done_before = {j["rule"] for j in plan["dag"]["jobs"] if not j["needrun"]}
    assert done_before == {"ingest_catalog", "partition_catalog"}, done_before
    dom = report_page(site, run_id, browser, "provenance_report_resumed")
    assert 'id="earlier"' in dom and "4 jobs were done by an earlier run" in dom
    states = node_states(dom)
    assert states["ingest_catalog"] == states["partition_catalog"] == "done-earlier"
    assert states["find_duplicates"] == "success"
    earlier = [r for r in jobs_rows(dom) if r[2].startswith("done earlier")]
    assert len(earlier) == 4
    for row in earlier:
        assert row[2] == f"done earlier (run {interrupted_id[:8]}, interrupted)", row
        assert re.fullmatch(r"[\d.]+", row[4]), row  # the earlier job's own timings
    # and the interrupted attempt's own report: what it did and what it never finished
    dom = report_page(site, interrupted_id, browser, "provenance_report_interrupted")
    assert "interrupted" in dom and 'id="failure"' in dom
    assert "stopped before its end (interrupted or killed)" in dom
    assert node_states(dom)["ingest_catalog"] == "success"


def test_report_block_for_a_web_page(succeeded):
    from pzforge.pipelines import summary_tables
    from pzforge.provenance.report import render_report, report_context

    site, run_id, _ = succeeded
    reg = Registry.from_url(site.url, user="tests")
    context = report_context(reg, reg.get_run(run_id), summarize=summary_tables)
    block = render_report(**context, fragment=True)
    assert block.startswith('<div class="pzf-report">') and block.rstrip().endswith("</div>")
    assert "<html" not in block and "<body" not in block
    style = re.search(r"<style>(.*?)</style>", block, re.S).group(1)
    selectors = [
        s.strip() for rule in style.split("}") if "{" in rule for s in rule.split("{")[0].split(",")
    ]
    assert all(s.startswith(".pzf-report") for s in selectors if s), selectors
    page = render_report(**context)
    assert block.strip() in page  # the page is the block in an HTML shell


def test_snakemake_report_shows_the_marked_results(succeeded, browser):
    site, _, report = succeeded
    browser.events.clear()
    browser.open(report.as_uri(), settle=1.0)
    outside = [u for u in browser.requested_urls() if not u.startswith(("file:", "data:"))]
    assert not outside, outside
    text = browser.evaluate("document.body.innerText")
    assert "Combine Redshift Catalogs" in text and "run demo_combined" in text  # description
    assert "Quality assessment" in text and "Summary" in text  # categories of report() outputs
    shot = browser.screenshot(artifacts_dir() / "snakemake_report_home.png", full_page=False)
    print(f"screenshot: {shot}")
    assert browser.evaluate(CLICK + "('Quality assessment')") and browser.evaluate(
        CLICK + "('Plots')"
    )
    browser.wait_still(1.0)
    listing = browser.evaluate("document.body.innerText")
    for name in ("sky", "redshift_per_survey", "duplicate_pairs", "per_survey", "tie_reasons"):
        assert f"results/demo_combined/qa/{name}.png" in listing, name
    assert browser.evaluate(VIEW + "('results/demo_combined/qa/per_survey.png')")
    browser.wait_still(1.5)
    assert browser.evaluate("document.querySelectorAll('img').length") >= 1
    shot = browser.screenshot(artifacts_dir() / "snakemake_report_qa_plot.png", full_page=False)
    print(f"screenshot: {shot}")
    # its caption (the info button of the row)
    browser.evaluate(
        "Array.from(document.querySelectorAll('td')).find(e => e.textContent.trim() == "
        "'results/demo_combined/qa/per_survey.png').closest('tr')"
        ".querySelector('a[iconname=information-circle]').click()"
    )
    browser.wait_still(1.0)
    assert "A quality-assessment plot of the combined catalog" in browser.evaluate(
        "document.body.innerText"
    )
    shot = browser.screenshot(artifacts_dir() / "snakemake_report_caption.png", full_page=False)
    print(f"screenshot: {shot}")
