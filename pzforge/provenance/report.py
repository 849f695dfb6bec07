"""A run's provenance as one self-contained HTML page (inline CSS and SVG, no network)."""

from __future__ import annotations

import html
import json
from collections import defaultdict
from typing import Any

import yaml

from pzforge.provenance.diff import diff_runs, render_diff

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}pre{background:#f7f7f7;padding:.8em;overflow:auto;font-size:.8em}
.ok{color:#176317}.bad{color:#a31515}code{font-size:.85em}.mono{font-family:monospace}
"""


def short_reason(reason: str | None) -> str:
    """'Missing output files: a, b, c [changed params: ...]' -> the cause and the params."""
    if not reason:
        return ""
    cause = reason.split(":", 1)[0]
    changed = reason[reason.find("[changed params:") :] if "[changed params:" in reason else ""
    return f"{cause} {changed}".strip()


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _table(headers: list[str], rows: list[list[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers if h)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f'<table class="{cls}">{thead}<tbody>{body}</tbody></table>'


def rule_graph(run: dict[str, Any]) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Rules (with job counts) and edges rule -> rule through the files jobs passed on."""
    counts: dict[str, int] = defaultdict(int)
    maker: dict[str, str] = {}
    for job in run["jobs"]:
        counts[job["rule"]] += 1
        for f in job.get("files", []):
            if f["role"] == "generated":
                maker[f["path"]] = job["rule"]
    edges = set()
    for job in run["jobs"]:
        for f in job.get("files", []):
            src = maker.get(f["path"])
            if f["role"] == "used" and src and src != job["rule"]:
                edges.add((src, job["rule"]))
    return dict(counts), edges


def dag_svg(run: dict[str, Any]) -> str:
    """The rule graph as an SVG picture, layered by longest path from the sources.

    Hand-written rather than Graphviz: one small layout keeps the report free of a system
    dependency and of network resources.
    """
    counts, edges = rule_graph(run)
    if not counts:
        return "<p>No jobs ran in this run.</p>"
    layer = {r: 0 for r in counts}
    for _ in range(len(counts)):
        for a, b in edges:
            layer[b] = max(layer[b], layer[a] + 1)
    columns: dict[int, list[str]] = defaultdict(list)
    for r in sorted(counts, key=lambda r: (layer[r], r)):
        columns[layer[r]].append(r)
    # boxes as wide as the longest rule name (13 px text is about 8 px a character)
    w, h, gx, gy = max(150, 8 * max(len(r) for r in counts) + 24), 44, 60, 22
    pos = {}
    for col, rules in columns.items():
        for i, r in enumerate(rules):
            pos[r] = (20 + col * (w + gx), 20 + i * (h + gy))
    width = 40 + (max(columns) + 1) * (w + gx)
    height = 40 + max(len(v) for v in columns.values()) * (h + gy)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="dag" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="max-width:100%;height:auto" role="img" '
        'aria-label="job graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#555"/></marker></defs>',
    ]
    for a, b in sorted(edges):
        (x1, y1), (x2, y2) = pos[a], pos[b]
        mid = (x1 + w + x2) / 2
        parts.append(
            f'<path d="M{x1 + w},{y1 + h / 2} C{mid},{y1 + h / 2} {mid},{y2 + h / 2} {x2},{y2 + h / 2}" '
            'fill="none" stroke="#555" marker-end="url(#arrow)"/>'
        )
    failed = {j["rule"] for j in run["jobs"] if j["status"] != "success"}
    for r, (x, y) in pos.items():
        fill = "#f9d6d5" if r in failed else "#dcebf7"
        parts.append(
            f'<g class="node"><rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{fill}" '
            f'stroke="#336"/><text x="{x + w / 2}" y="{y + 18}" text-anchor="middle" '
            f'font-size="13">{_e(r)}</text><text x="{x + w / 2}" y="{y + 35}" '
            f'text-anchor="middle" font-size="11">{counts[r]} job{"s" if counts[r] > 1 else ""}'
            "</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_report(
    run: dict[str, Any],
    previous: dict[str, Any] | None,
    lineage: list[dict[str, Any]],
) -> str:
    """The HTML page: summary, DAG, config and diff, software, jobs, outputs, lineage."""
    status_cls = "ok" if run["status"] == "success" else "bad"
    summary = [
        ["run", run["id"]],
        ["pipeline", run["pipeline"]],
        ["run name", run.get("run_name")],
        ["status", run["status"]],
        ["error", run.get("error") or ""],
        ["started", run.get("started_at")],
        ["ended", run.get("ended_at")],
        ["user@host", f"{run.get('user')}@{run.get('host')}"],
        ["profile / executor", f"{run.get('profile')} / {run.get('executor')}"],
        ["workflow commit", f"{run.get('git_commit')}{' (dirty)' if run.get('git_dirty') else ''}"],
        ["working directory", run.get("workdir")],
    ]
    jobs = [
        [
            j["rule"],
            ",".join(f"{k}={v}" for k, v in sorted((j.get("wildcards") or {}).items())),
            j["status"],
            j.get("started_at"),
            (j.get("benchmark") or {}).get("wall_s"),
            (j.get("benchmark") or {}).get("max_rss_mb"),
            (j.get("benchmark") or {}).get("cpu_time_s"),
            j.get("slurm_job_id") or "",
            j.get("node") or j.get("host") or "",
            short_reason(j.get("reason")),
        ]
        for j in run["jobs"]
    ]
    outputs = sorted(
        {
            (f["path"], f["size"], f["checksum"], f.get("n_members", 0))
            for j in run["jobs"]
            for f in j.get("files", [])
            if f["role"] == "generated"
        }
    )
    diff_html = "<p>No earlier run of this pipeline and run name.</p>"
    if previous:
        diff_html = (
            f"<p>Compared with run <code>{_e(previous['id'])}</code> "
            f"({_e(previous.get('started_at'))}).</p><pre>{_e(render_diff(diff_runs(previous, run)))}</pre>"
        )
    lineage_rows = []
    for item in lineage:
        p = item["product"]
        ups = "; ".join(f"{u['internal_name']} ({u['product_type']})" for u in item["upstream"])
        downs = "; ".join(f"{d['internal_name']} ({d['product_type']})" for d in item["downstream"])
        makers = "; ".join(sorted({j["rule"] for j in item["generated_by"]}))
        lineage_rows.append([p["internal_name"], makers, ups or "-", downs or "-"])
    software = sorted((run.get("software") or {}).items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>pzforge run {_e(run["id"])}</title><style>{CSS}</style></head><body>
<h1>pzforge provenance report: {_e(run["pipeline"])} <span class="{status_cls}">{_e(run["status"])}</span></h1>
<h2 id="summary">Run</h2>{_table(["", ""], summary, "summary")}
<h2 id="dag-title">Job graph</h2>{dag_svg(run)}
<h2 id="config">Configuration</h2><details><summary>resolved config (YAML)</summary><pre>{_e(yaml.safe_dump(run.get("config") or {}, sort_keys=False))}</pre></details>
<p>Overrides: <code>{_e(json.dumps(run.get("overrides") or []))}</code></p>
<h2 id="diff">Changes since the previous run</h2>{diff_html}
<h2 id="software">Software</h2>{_table(["package", "version"], [list(s) for s in software], "software")}
<h2 id="jobs">Jobs</h2>{_table(["rule", "wildcards", "status", "started", "wall s", "max RSS MB", "CPU s", "SLURM job", "node", "reason"], jobs, "jobs")}
<h2 id="outputs">Outputs</h2>{_table(["path", "bytes", "sha256", "members"], [list(o) for o in outputs], "outputs mono")}
<h2 id="lineage">Products and lineage</h2>{_table(["product", "made by rules", "derived from", "used by"], lineage_rows, "lineage") if lineage_rows else "<p>No products were registered by this run.</p>"}
</body></html>
"""
