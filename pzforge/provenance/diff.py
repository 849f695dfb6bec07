"""What changed between two runs: config keys, code, software, inputs, and the outputs it moved."""

from __future__ import annotations

from typing import Any


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}; lists of named mappings are keyed by name."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out |= flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif (
        isinstance(value, list)
        and value
        and all(isinstance(i, dict) and "name" in i for i in value)
    ):
        for item in value:
            out |= flatten(item, f"{prefix}.{item['name']}")
    else:
        out[prefix] = value
    return out


def _changes(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"key": k, "before": a.get(k), "after": b.get(k)}
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k)
    ]


def _files(run: dict[str, Any], role: str) -> dict[str, str]:
    """path -> checksum over the run's jobs; for ``used``, only files no job of the run made."""
    made = {f["path"] for j in run["jobs"] for f in j.get("files", []) if f["role"] == "generated"}
    out = {}
    for job in run["jobs"]:
        for f in job.get("files", []):
            if f["role"] == role and (role == "generated" or f["path"] not in made):
                out[f["path"]] = f["checksum"]
    return out


def _rule_codes(run: dict[str, Any]) -> dict[str, str]:
    return {j["rule"]: j["code_hash"] for j in run["jobs"] if j.get("code_hash")}


def diff_runs(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Differences from run ``a`` to run ``b`` (``registry.Registry.get_run`` dicts).

    Outputs are compared by path: a file both runs made with different content is ``changed``;
    jobs of ``b`` and the reason Snakemake gave tell why it was remade.
    """
    code_a, code_b = _rule_codes(a), _rule_codes(b)
    out_a, out_b = _files(a, "generated"), _files(b, "generated")
    in_a, in_b = _files(a, "used"), _files(b, "used")
    return {
        "runs": [a["id"], b["id"]],
        "config": _changes(flatten(a.get("config") or {}), flatten(b.get("config") or {})),
        "code": {
            "git": _changes(
                {k: a.get(k) for k in ("git_commit", "git_dirty", "git_diff_sha256")},
                {k: b.get(k) for k in ("git_commit", "git_dirty", "git_diff_sha256")},
            ),
            "rules": [
                c
                for c in _changes(code_a, code_b)
                if c["before"] is not None and c["after"] is not None
            ],
        },
        "software": _changes(a.get("software") or {}, b.get("software") or {}),
        "inputs": _changes(
            {p: in_a[p] for p in in_a if p in in_b}, {p: in_b[p] for p in in_b if p in in_a}
        ),
        "outputs": {
            "changed": sorted(p for p in out_b if p in out_a and out_a[p] != out_b[p]),
            "same": sorted(p for p in out_b if p in out_a and out_a[p] == out_b[p]),
            "new": sorted(p for p in out_b if p not in out_a),
        },
        "jobs_rerun": [
            {"rule": j["rule"], "wildcards": j["wildcards"], "reason": j.get("reason")}
            for j in b["jobs"]
        ],
    }


def render_diff(d: dict[str, Any]) -> str:
    """Plain text for terminals and logs."""
    lines = [f"run {d['runs'][0]} -> {d['runs'][1]}"]

    def section(title: str, changes: list[dict[str, Any]]) -> None:
        lines.append(f"{title}: {'none' if not changes else ''}".rstrip())
        for c in changes:
            lines.append(f"  {c['key']}: {c['before']!r} -> {c['after']!r}")

    section("config", d["config"])
    section("code (git)", d["code"]["git"])
    section("code (rules)", d["code"]["rules"])
    section("software", d["software"])
    section("inputs", d["inputs"])
    lines.append(f"jobs run in the second run: {len(d['jobs_rerun'])}")
    for j in d["jobs_rerun"]:
        wc = ",".join(f"{k}={v}" for k, v in sorted(j["wildcards"].items()))
        lines.append(f"  {j['rule']}{'[' + wc + ']' if wc else ''}: {j['reason']}")
    outs = d["outputs"]
    lines.append(
        f"outputs: {len(outs['changed'])} changed, {len(outs['same'])} identical, {len(outs['new'])} new"
    )
    lines += [f"  changed: {p}" for p in outs["changed"]]
    return "\n".join(lines)
