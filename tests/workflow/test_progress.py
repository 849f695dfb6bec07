"""Live progress folded from Snakemake's events (what the logger plugin writes)."""

from __future__ import annotations

import json

from pzforge.workflow.progress import EventTail, Progress

EVENTS = [
    {"event": "run_info", "stats": {"ingest": 2, "combine": 1, "total": 3}},
    {"event": "job_started", "jobs": [1, 2]},
    {"event": "job_info", "jobid": 1, "rule_name": "ingest"},
    {"event": "job_info", "jobid": 2, "rule_name": "ingest"},
    {"event": "job_finished", "job_id": 1},
    {"event": "progress", "done": 1, "total": 3},
    {"event": "job_error", "jobid": 2, "rule_name": "ingest", "log": ["logs/ingest/b.log"]},
    {"event": "job_error", "jobid": 2, "rule_name": "ingest", "log": []},  # the summary copy
    {"event": "error", "msg": "WorkflowError:\\nAt least one job did not complete successfully."},
    {"event": "_closed"},
]


def test_events_fold_into_progress(tmp_path):
    path = tmp_path / "events.jsonl"
    text = "".join(json.dumps(e) + "\n" for e in EVENTS)
    tail, progress = EventTail(path), Progress()
    path.write_text(text[:150])  # a half-written line waits for its end
    first = tail.read()
    with open(path, "a") as fh:
        fh.write(text[150:])
    for event in first + tail.read():
        progress.apply(event)
    assert tail.read() == []
    assert (progress.done, progress.total) == (1, 3)
    assert progress.running_rules() == []
    assert progress.failed_rules() == [("ingest", "logs/ingest/b.log")]  # once, with its log
    assert progress.closed and "did not complete" in progress.error
    snap = progress.snapshot()
    assert snap["failed"] == ["ingest"] and snap["elapsed_s"] >= 0
    assert "1/3 jobs done" in progress.line() and "failed: ingest" in progress.line()


def test_running_rules_are_counted():
    progress = Progress()
    for event in EVENTS[:4]:
        progress.apply(event)
    assert progress.running_rules() == ["ingest x2"]
    assert "0/3 jobs done; running: ingest x2" in progress.line()
