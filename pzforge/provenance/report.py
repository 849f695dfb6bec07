"""A run's provenance as one self-contained HTML page (Jinja2 templates, inline CSS and SVG).

``report_context`` gathers what the page shows (the run, the run before it, product lineage with
the versions they supersede, the run's plan with its whole DAG, which earlier run made the jobs
that were up to date, the science summary); ``render_report`` fills the templates. With
``fragment=True`` it returns only the report's ``<div class="pzf-report">`` (styles scoped to
it), for a web page to include; ``templates/report_body.html.j2`` is that block.

The job graph comes from the DAG recorded when the run started (``.pzforge/runs/<id>/run.json``,
``dag``): every job of the workflow, including those an earlier run had done. Where the run's
folder is not reachable, the graph is drawn from the jobs recorded in the registry and the page
says so.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pzforge import tables
from pzforge.io import read_json
from pzforge.paths import run_dir
from pzforge.provenance.diff import diff_runs, render_diff

TEMPLATES = Path(__file__).parent / "templates"
EARLIER = "done earlier"
NOT_RUN = "not run"
NOT_MEASURED = "not measured"
STATES = {  # state -> (label in the legend, fill, stroke, dashed)
    "success": ("ran in this run", "#dcebf7", "#2f5f8a", False),
    "failed": ("failed", "#f9d6d5", "#a31515", False),
    NOT_RUN: ("planned, not run (the run stopped first)", "#ffffff", "#777777", True),
    EARLIER: ("done by an earlier run (up to date)", "#e2f0d9", "#4a7a3d", False),
}
STATE_ORDER = ("failed", "success", EARLIER, NOT_RUN)


def short_reason(reason: str | None) -> str:
    """'Missing output files: a, b, c [changed params: ...]' -> the cause and the params."""
    if not reason:
        return ""
    cause = reason.split(":", 1)[0]
    changed = reason[reason.find("[changed params:") :] if "[changed params:" in reason else ""
    return f"{cause} {changed}".strip()


def _wildcards(wildcards: dict[str, Any] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((wildcards or {}).items()))


def _key(rule: str, wildcards: dict[str, Any] | None) -> tuple[str, str]:
    return rule, _wildcards(wildcards)


# --- what the page shows -----------------------------------------------------------------


@dataclass
class JobRow:
    rule: str
    wildcards: dict[str, Any]
    state: str  # success | failed | not run | done earlier
    job: dict[str, Any] = field(default_factory=dict)  # the registry's job (or the earlier one)
    earlier_run: dict[str, Any] | None = None  # the run that made an up-to-date job's outputs


def job_rows(
    run: dict[str, Any],
    plan: dict[str, Any] | None = None,
    earlier: dict[tuple[str, str], dict[str, Any]] | None = None,
) -> list[JobRow]:
    """Every job of the run: those it recorded (success, failed, incomplete = not run) and, from
    its DAG, the jobs that were up to date (done by an earlier run, named where known)."""
    earlier = earlier or {}
    dag_jobs = (plan or {}).get("dag", {}).get("jobs", [])
    targets = {dj["rule"] for dj in dag_jobs if not dj["output"]} or {"all"}  # `rule all`
    rows = []
    seen = set()
    for j in run["jobs"]:
        if j["rule"] in targets and j["status"] not in ("success", "failed"):
            continue  # the target pseudo-job: nothing to run, nothing to show
        state = j["status"] if j["status"] in ("success", "failed") else NOT_RUN
        rows.append(JobRow(j["rule"], j.get("wildcards") or {}, state, j))
        seen.add(_key(j["rule"], j.get("wildcards")))
    for dj in dag_jobs:
        key = _key(dj["rule"], dj["wildcards"])
        if not dj["output"] or key in seen:
            continue
        seen.add(key)
        found = earlier.get(key) or {}
        state = EARLIER if not dj["needrun"] else NOT_RUN
        rows.append(
            JobRow(dj["rule"], dj["wildcards"], state, found.get("job") or {}, found.get("run"))
        )
    order = {s: i for i, s in enumerate(STATE_ORDER)}
    layer = dag_layers(plan)
    rows.sort(
        key=lambda r: (
            r.job.get("started_at") or "~",  # what ran, in time order; then the rest by the DAG
            layer.get(r.rule, 0),
            order[r.state],
            r.rule,
            _wildcards(r.wildcards),
        )
    )
    return rows


def dag_layers(plan: dict[str, Any] | None) -> dict[str, int]:
    """Rule -> its depth in the recorded DAG (longest path from a source)."""
    dag = (plan or {}).get("dag") or {"jobs": [], "edges": []}
    rules = [j["rule"] for j in dag["jobs"]]
    layer = dict.fromkeys(rules, 0)
    for _ in range(len(set(rules))):
        for a, b in dag["edges"]:
            if rules[a] != rules[b]:
                layer[rules[b]] = max(layer[rules[b]], layer[rules[a]] + 1)
    return layer


def _figure(row: JobRow, key: str) -> str:
    if row.state == NOT_RUN:
        return NOT_RUN
    value = (row.job.get("benchmark") or {}).get(key)
    return NOT_MEASURED if value is None else f"{value:g}"


def jobs_table(rows: Iterable[JobRow]) -> tables.Table:
    """One line per job: state, timings (or why there are none), host, reason."""
    out = []
    for r in rows:
        status = r.state
        if r.state == EARLIER:
            made_by = r.earlier_run
            status = (
                f"done earlier (run {made_by['id'][:8]}, {made_by['status']})"
                if made_by
                else "done earlier (before this run)"
            )
        reason = short_reason(r.job.get("reason")) if r.state != EARLIER else "up to date"
        if r.state == "failed" and r.job.get("error"):
            reason = f"{reason}; error: {r.job['error']}".lstrip("; ")
        out.append(
            [
                r.rule,
                _wildcards(r.wildcards),
                status,
                (r.job.get("started_at") or "")[:19].replace("T", " "),
                _figure(r, "wall_s"),
                _figure(r, "max_rss_mb"),
                _figure(r, "cpu_time_s"),
                r.job.get("slurm_job_id") or "",
                r.job.get("node") or r.job.get("host") or "",
                reason,
            ]
        )
    columns = ["rule", "wildcards", "status", "started (UTC)", "wall s", "max RSS MB", "CPU s",
               "SLURM job", "node", "reason"]  # fmt: skip
    return tables.Table(columns, out, "jobs")


def outputs_table(run: dict[str, Any]) -> tables.Table:
    """Every file the run's jobs wrote, with its sha256 (whole: it is how a copy is found);
    paths relative to the run's working directory."""
    workdir = Path(run.get("workdir") or "/")

    def shown(path: str) -> str:
        p = Path(path)
        return (
            str(p.relative_to(workdir))
            if p.is_relative_to(workdir) and workdir != Path("/")
            else path
        )

    rows = sorted(
        {
            (shown(f["path"]), f["size"], f["checksum"], f.get("n_members", 0) or "")
            for j in run["jobs"]
            for f in j.get("files", [])
            if f["role"] == "generated"
        }
    )
    note = f"Paths relative to the working directory {workdir}" if run.get("workdir") else None
    return tables.Table(
        ["path", "bytes", "sha256", "members"], [list(r) for r in rows], "outputs", note=note
    )


@dataclass
class Node:
    rule: str
    counts: dict[str, int]
    failed: list[str]
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 48

    @property
    def state(self) -> str:
        return next(s for s in STATE_ORDER if self.counts.get(s))

    @property
    def label(self) -> str:
        parts = [
            f"{n} {'ran' if s == 'success' else s}"
            for s in STATE_ORDER
            if (n := self.counts.get(s))
        ]
        return " · ".join(parts)


@dataclass
class Graph:
    nodes: list[Node]
    edges: list[tuple[Node, Node]]
    width: float
    height: float
    from_dag: bool


def job_graph(rows: list[JobRow], plan: dict[str, Any] | None, run: dict[str, Any]) -> Graph:
    """The rules of the run as a layered graph (top to bottom), edges from the DAG (or, without
    it, from the files jobs passed on), each rule with its jobs counted by state."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    failed: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        counts[r.rule][r.state] += 1
        if r.state == "failed":
            failed[r.rule].append(_wildcards(r.wildcards))
    dag = (plan or {}).get("dag")
    edges: set[tuple[str, str]] = set()
    if dag:
        rules = [j["rule"] for j in dag["jobs"]]
        edges = {(rules[a], rules[b]) for a, b in dag["edges"]}
    else:
        maker = {
            f["path"]: j["rule"]
            for j in run["jobs"]
            for f in j.get("files", [])
            if f["role"] == "generated"
        }
        for j in run["jobs"]:
            for f in j.get("files", []):
                src = maker.get(f["path"])
                if f["role"] == "used" and src and src != j["rule"]:
                    edges.add((src, j["rule"]))
    edges = {(a, b) for a, b in edges if a in counts and b in counts and a != b}
    layer = {r: 0 for r in counts}
    for _ in range(len(counts)):
        for a, b in edges:
            layer[b] = max(layer[b], layer[a] + 1)
    nodes = {r: Node(r, dict(c), failed[r]) for r, c in counts.items()}
    for n in nodes.values():  # 13 px names are about 8 px a character, 11 px counts 6.5
        n.w = max(8 * len(n.rule), 6.5 * len(n.label)) + 28
    rows_of: dict[int, list[Node]] = defaultdict(list)
    for r in sorted(counts):
        rows_of[layer[r]].append(nodes[r])
    gap_x, gap_y, margin = 26, 34, 12
    width = (
        max(sum(n.w for n in row) + gap_x * (len(row) - 1) for row in rows_of.values()) + 2 * margin
    )
    parents = defaultdict(list)
    for a, b in edges:
        parents[b].append(a)
    y = margin
    for i in sorted(rows_of):
        row = rows_of[i]
        if i:  # under their parents, roughly: fewer crossings
            row.sort(
                key=lambda n: (
                    sum(nodes[p].x for p in parents[n.rule]) / max(len(parents[n.rule]), 1)
                )
            )
        x = (width - (sum(n.w for n in row) + gap_x * (len(row) - 1))) / 2
        for n in row:
            n.x, n.y = x, y
            x += n.w + gap_x
        y += max(n.h for n in row) + gap_y
    return Graph(
        list(nodes.values()),
        [(nodes[a], nodes[b]) for a, b in sorted(edges)],
        width,
        y - gap_y + margin,
        bool(dag),
    )


# --- gathering ---------------------------------------------------------------------------


def read_plan(run: dict[str, Any]) -> dict[str, Any] | None:
    """The run's plan as written when it started (``run.json``: planned jobs, the DAG)."""
    path = run_dir(run["id"], run.get("workdir") or ".") / "run.json"
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def earlier_jobs(reg: Any, run: dict[str, Any], plan: dict[str, Any] | None) -> dict:
    """For each job of the DAG that was up to date: the earlier job (and its run) that wrote the
    outputs, found by checksum: the files this run's jobs used, then the files those earlier
    jobs used (an up-to-date job whose outputs only another up-to-date job read)."""
    pending = [dj for dj in (plan or {}).get("dag", {}).get("jobs", []) if not dj["needrun"]]
    known: dict[str, str] = {}  # path -> checksum as the run (or the earlier run) used it

    def learn(jobs: Iterable[dict[str, Any]]) -> None:
        for j in jobs:
            for f in j.get("files", []):
                if f["role"] == "used":
                    known.setdefault(f["path"], f["checksum"])

    learn(run["jobs"])
    found: dict[tuple[str, str], dict[str, Any]] = {}
    runs: dict[str, dict[str, Any]] = {}
    progress = True
    while pending and progress:
        progress = False
        for dj in list(pending):
            checksum = next((known[p] for p in dj["output"] if p in known), None)
            if checksum is None:
                continue
            pending.remove(dj)
            makers = [
                j
                for j in reg.file_provenance(checksum)["generated_by"]
                if j["rule"] == dj["rule"] and j["run_id"] != run["id"]
            ]
            if not makers:
                continue
            job = makers[-1]
            if job["run_id"] not in runs:
                runs[job["run_id"]] = reg.get_run(job["run_id"])
                learn(runs[job["run_id"]]["jobs"])
                progress = True
            made_by = runs[job["run_id"]]
            found[_key(dj["rule"], dj["wildcards"])] = {
                "job": job,
                "run": {k: made_by.get(k) for k in ("id", "status", "started_at")},
            }
            progress = True
    return found


def summary_data(reg: Any, run: dict[str, Any], name: str = "summary.json") -> Any:
    """The run's own summary JSON: the file its job wrote, if unchanged since (sha256), else the
    copy registered with its product; None when neither exists (a failed run)."""
    from registry.hashing import sha256_file

    suffix = f"/results/{run.get('run_name')}/{name}"
    for j in run["jobs"]:
        for f in j.get("files", []):
            if f["role"] == "generated" and f["path"].endswith(suffix):
                path = Path(f["path"])
                if path.is_file() and sha256_file(path) == f["checksum"]:
                    return read_json(path)
    for p in run.get("products", []):
        with contextlib.suppress(Exception):
            for f in reg.get_product(p["id"]).files:
                if (f.name or Path(f.path).name) == name and Path(f.path).is_file():
                    return read_json(f.path)
    return None


def lineage_rows(reg: Any, run: dict[str, Any]) -> list[dict[str, Any]]:
    """Each product the run registered: version, the version it supersedes, its makers and
    the products it was derived from and used by."""
    out = []
    for p in run.get("products", []):
        info = reg.product_provenance(p["id"])
        detail = reg.get_product(p["id"])
        supersedes = None
        if detail.supersedes_id:
            try:
                old = reg.get_product(detail.supersedes_id)
                supersedes = f"{old.internal_name} (version {old.version})"
            except Exception:  # deleted since
                supersedes = f"product id {detail.supersedes_id} (deleted)"
        out.append(
            {
                "product": info["product"]["internal_name"],
                "type": p.get("product_type", ""),
                "version": detail.version,
                "supersedes": supersedes,
                "rules": ", ".join(sorted({j["rule"] for j in info["generated_by"]})),
                "upstream": [
                    f"{u['internal_name']} ({u['product_type']})" for u in info["upstream"]
                ],
                "downstream": [
                    f"{d['internal_name']} ({d['product_type']})" for d in info["downstream"]
                ],
            }
        )
    return out


def report_context(
    reg: Any,
    run: dict[str, Any],
    *,
    summarize: Callable[[str, Any], list[tables.Block] | None] | None = None,
) -> dict[str, Any]:
    """Everything ``render_report`` shows, from the registry and the run's folder.
    ``summarize(pipeline, summary_json)`` turns the run's summary into tables
    (``pzforge.pipelines.summary_tables``)."""
    plan = read_plan(run)
    data = summary_data(reg, run) if summarize else None
    return {
        "run": run,
        "previous": reg.previous_run(run["id"]),
        "lineage": lineage_rows(reg, run),
        "plan": plan,
        "earlier": earlier_jobs(reg, run, plan),
        "summary": summarize(run["pipeline"], data) if data is not None else None,
    }


# --- rendering ---------------------------------------------------------------------------


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["block"] = tables.to_dict
    return env


def render_report(
    run: dict[str, Any],
    previous: dict[str, Any] | None = None,
    lineage: list[dict[str, Any]] | None = None,
    *,
    plan: dict[str, Any] | None = None,
    earlier: dict | None = None,
    summary: list[tables.Block] | None = None,
    fragment: bool = False,
) -> str:
    """The HTML page (or, ``fragment``, its ``<div class="pzf-report">``): run, science
    summary, job graph with legend, jobs with timings, config and its diff, software, outputs,
    products and lineage."""
    rows = job_rows(run, plan, earlier)
    graph = job_graph(rows, plan, run)
    diff = render_diff(diff_runs(previous, run)) if previous else None
    failed = [r for r in rows if r.state == "failed"]
    not_run = [r for r in rows if r.state == NOT_RUN]
    context = {
        "run": run,
        "status_class": "ok" if run["status"] == "success" else "bad",
        "facts": [
            ("run", run["id"]),
            ("pipeline", run["pipeline"]),
            ("run name", run.get("run_name")),
            ("status", run["status"]),
            ("error", run.get("error") or ""),
            ("started", run.get("started_at")),
            ("ended", run.get("ended_at")),
            ("user@host", f"{run.get('user')}@{run.get('host')}"),
            ("profile / executor", f"{run.get('profile')} / {run.get('executor')}"),
            (
                "workflow commit",
                f"{run.get('git_commit')}{' (dirty)' if run.get('git_dirty') else ''}",
            ),
            ("working directory", run.get("workdir")),
        ],
        "summary": summary,
        "graph": graph,
        "states": STATES,
        "state_counts": {s: sum(r.state == s for r in rows) for s in STATE_ORDER},
        "failed": failed,
        "not_run": not_run,
        "jobs": jobs_table(rows),
        "config_yaml": yaml.safe_dump(run.get("config") or {}, sort_keys=False),
        "overrides": json.dumps(run.get("overrides") or []),
        "previous": previous,
        "diff": diff,
        "software": sorted((run.get("software") or {}).items()),
        "outputs": outputs_table(run),
        "lineage": lineage or [],
        "wildcards": _wildcards,
        "plan": plan,
    }
    env = _environment()
    name = "report_body.html.j2" if fragment else "report.html.j2"
    return env.get_template(name).render(context)
