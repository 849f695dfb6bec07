"""Provenance exports: W3C PROV-JSON (``prov``) and a detached Provenance Run RO-Crate (``rocrate``).

Both are built from the plain dicts of ``registry.provenance`` (a run with jobs and files, and
products with lineage), so they describe exactly what the registry holds. Data are referenced by
``file://`` URIs and sha256, never copied.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NS = "https://pzforge.org/ns/provenance#"
PROFILES = {
    "process": "https://w3id.org/ro/wfrun/process/0.5",
    "workflow": "https://w3id.org/ro/wfrun/workflow/0.5",
    "provenance": "https://w3id.org/ro/wfrun/provenance/0.5",
    "wfcrate": "https://w3id.org/workflowhub/workflow-ro-crate/1.0",
}
LICENSE = "https://spdx.org/licenses/CC-BY-4.0"
MEDIA_TYPES = {
    ".parquet": "application/vnd.apache.parquet",
    ".csv": "text/csv",
    ".fits": "application/fits",
    ".hdf5": "application/x-hdf5",
    ".h5": "application/x-hdf5",
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".txt": "text/plain",
    ".html": "text/html",
    ".png": "image/png",
}
# Every pipeline runs through the project's one Snakefile (it includes workflows/<pipeline>.smk).
SNAKEFILE = Path(__file__).resolve().parents[1] / "Snakefile"


def _uri(path: str) -> str:
    return Path(path).resolve().as_uri()


# --- W3C PROV ----------------------------------------------------------------------------------


def prov_document(runs: list[dict[str, Any]], products: list[dict[str, Any]] = ()):
    """A ``prov.model.ProvDocument``: runs and jobs as activities, files and products as
    entities (sha256 and size as attributes), users and software as agents."""
    from prov.model import ProvDocument

    doc = ProvDocument()
    doc.add_namespace("pzf", NS)
    doc.add_namespace("run", "urn:uuid:")
    doc.add_namespace("data", "file://")
    doc.add_namespace("product", "urn:pzforge:product:")
    doc.add_namespace("agent", "urn:pzforge:agent:")
    file_entities: dict[tuple[str, str], Any] = {}

    def file_entity(f: dict[str, Any]):
        key = (f["path"], f["checksum"])
        if key not in file_entities:
            # one entity per (path, content): the same bytes at two paths are two files, and a
            # path rewritten by a later run is a new entity
            file_entities[key] = doc.entity(
                f"data:{Path(f['path']).resolve().as_posix()}?sha256={f['checksum']}",
                {
                    "prov:type": "pzf:Collection" if f.get("kind") == "collection" else "pzf:File",
                    "prov:location": _uri(f["path"]),
                    "pzf:sha256": f["checksum"],
                    "pzf:size": int(f["size"]),
                },
            )
        return file_entities[key]

    for run in runs:
        user = doc.agent(f"agent:user/{run.get('user') or 'unknown'}", {"prov:type": "prov:Person"})
        engine = doc.agent(
            "agent:software/pzforge",
            {
                "prov:type": "prov:SoftwareAgent",
                "pzf:version": (run.get("software") or {}).get("pzforge", ""),
                "pzf:snakemake": (run.get("software") or {}).get("snakemake", ""),
            },
        )
        doc.actedOnBehalfOf(engine, user)
        activity = doc.activity(
            f"run:{run['id']}",
            run.get("started_at"),
            run.get("ended_at"),
            {
                "prov:type": "pzf:PipelineRun",
                "pzf:pipeline": run["pipeline"],
                "pzf:status": run["status"],
                "pzf:host": run.get("host") or "",
                "pzf:gitCommit": run.get("git_commit") or "",
                "pzf:gitDirty": bool(run.get("git_dirty")),
                "pzf:profile": run.get("profile") or "",
            },
        )
        doc.wasAssociatedWith(activity, user)
        doc.wasAssociatedWith(activity, engine)
        config = doc.entity(
            f"pzf:config/{run['id']}",
            {
                "prov:type": "pzf:Config",
                "prov:value": json.dumps(run.get("config") or {}, sort_keys=True),
                "pzf:overrides": json.dumps(run.get("overrides") or []),
            },
        )
        doc.used(activity, config)
        for job in run.get("jobs", []):
            act = doc.activity(
                f"run:{job['id']}",
                job.get("started_at"),
                job.get("ended_at"),
                {
                    "prov:type": "pzf:Job",
                    "pzf:rule": job["rule"],
                    "pzf:status": job["status"],
                    "pzf:codeHash": job.get("code_hash") or "",
                    "pzf:params": json.dumps(job.get("params") or {}, sort_keys=True),
                    "pzf:wildcards": json.dumps(job.get("wildcards") or {}, sort_keys=True),
                },
            )
            doc.wasInformedBy(act, activity)
            doc.wasAssociatedWith(act, engine)
            for f in job.get("files", []):
                entity = file_entity(f)
                if f["role"] == "used":
                    doc.used(act, entity)
                else:
                    doc.wasGeneratedBy(entity, act)
    for info in products:
        p = info["detail"]
        ent = doc.entity(
            f"product:{p.id}",
            {
                "prov:type": "pzf:Product",
                "prov:label": p.internal_name,
                "pzf:productType": p.product_type,
            },
        )
        for f in p.files:
            key = (f.source_path or f.path, f.checksum)
            if key in file_entities:
                doc.specializationOf(file_entities[key], ent) if f.role == "main" else None
        if info.get("run_id"):
            doc.wasGeneratedBy(ent, f"run:{info['run_id']}")
        for up in info.get("upstream", []):
            if up["depth"] == 1:
                doc.wasDerivedFrom(ent, f"product:{up['id']}")
        if p.supersedes_id:
            doc.wasRevisionOf(ent, f"product:{p.supersedes_id}")
    return doc


def prov_json(runs: list[dict[str, Any]], products: list[dict[str, Any]] = ()) -> str:
    return prov_document(runs, products).serialize(format="json", indent=2)


# --- RO-Crate ----------------------------------------------------------------------------------


def ro_crate(
    runs: list[dict[str, Any]], products: list[dict[str, Any]], dest: str | Path, *, name: str
) -> Path:
    """Write a detached Provenance Run Crate (``ro-crate-metadata.json``) into ``dest``.

    The workflow is the pzforge Snakefile; each run is a CreateAction of it, each job a
    CreateAction of its rule (a SoftwareApplication step), organised by an OrganizeAction of
    Snakemake; files are referenced by file:// URI with sha256; the config is a PropertyValue
    list on the run. Nothing is copied.
    """
    from rocrate.model.contextentity import ContextEntity
    from rocrate.rocrate import ROCrate

    # RO-Crate 1.1: the version the Workflow Run Crate 0.5 profiles are defined against
    crate = ROCrate(gen_preview=False, version="1.1")
    # 1.1's context has no checksum term; 1.3's maps sha256 to schema.org's, as here
    crate.metadata.extra_terms["sha256"] = "http://schema.org/sha256"
    crate.metadata["conformsTo"] = [
        {"@id": "https://w3id.org/ro/crate/1.1"},
        {"@id": PROFILES["wfcrate"]},
    ]
    crate.name = name
    crate.description = f"pzforge provenance: {name}"
    crate.root_dataset["license"] = {"@id": LICENSE}
    crate.root_dataset["conformsTo"] = [{"@id": u} for u in PROFILES.values()]
    crate.root_dataset["datePublished"] = (
        max((r.get("ended_at") or r.get("started_at") or "" for r in runs), default="") or None
    )
    crate.add(
        ContextEntity(crate, LICENSE, properties={"@type": "CreativeWork", "name": "CC-BY-4.0"})
    )
    for profile in PROFILES.values():
        crate.add(
            ContextEntity(crate, profile, properties={"@type": "CreativeWork", "name": profile})
        )
    files: dict[str, Any] = {}

    def file_entity(f: dict[str, Any]):
        if f["path"] not in files:
            props = {
                "@type": "Dataset" if f.get("kind") == "collection" else "File",
                "name": Path(f["path"]).name,
                "sha256": f["checksum"],
                "contentSize": str(f["size"]),
            }
            media = MEDIA_TYPES.get(Path(f["path"]).suffix.lower())
            if media and f.get("kind") != "collection":
                props["encodingFormat"] = media
            if f.get("kind") == "collection":
                props["@id"] = _uri(f["path"]) + "/"
            files[f["path"]] = crate.add(
                ContextEntity(crate, props.pop("@id", _uri(f["path"])), properties=props)
            )
        return files[f["path"]]

    software = runs[0].get("software", {}) if runs else {}
    workflow = crate.add_file(
        SNAKEFILE.as_uri(),
        fetch_remote=False,
        validate_url=False,
        properties={
            "@type": ["File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"],
            "name": "pzforge Snakefile",
            "encodingFormat": "text/x-snakemake",
            "programmingLanguage": {"@id": "#snakemake"},
            "version": software.get("pzforge", ""),
        },
    )
    crate.root_dataset["mainEntity"] = workflow
    crate.add(
        ContextEntity(
            crate,
            "#snakemake",
            properties={
                "@type": ["ComputerLanguage", "SoftwareApplication"],
                "name": "Snakemake",
                "url": "https://snakemake.github.io",
                "version": software.get("snakemake", ""),
            },
        )
    )
    tools: dict[str, Any] = {}
    steps: dict[str, Any] = {}
    mentions = []
    for run in runs:
        sw = run.get("software") or {}
        for pkg, version in sorted(sw.items()):
            crate.add(
                ContextEntity(
                    crate,
                    f"#software-{pkg}-{version}",
                    properties={"@type": "SoftwareApplication", "name": pkg, "version": version},
                )
            )
        agent = crate.add(
            ContextEntity(
                crate,
                f"#person-{run.get('user') or 'unknown'}",
                properties={"@type": "Person", "name": run.get("user") or "unknown"},
            )
        )
        authors = crate.root_dataset.get("author") or []
        if {"@id": agent.id} not in authors:  # who ran the pipelines made this record
            crate.root_dataset["author"] = [*authors, {"@id": agent.id}]
        config_values = [
            crate.add(
                ContextEntity(
                    crate,
                    f"#config-{run['id']}-{key}",
                    properties={
                        "@type": "PropertyValue",
                        "name": key,
                        "value": json.dumps(value, sort_keys=True),
                    },
                )
            )
            for key, value in sorted((run.get("config") or {}).items())
        ]
        run_action = crate.add(
            ContextEntity(
                crate,
                f"#run-{run['id']}",
                properties={
                    "@type": "CreateAction",
                    "name": f"{run['pipeline']} run {run['id']}",
                    "description": f"pzforge {run['pipeline']} ({run.get('run_name', '')})",
                    "instrument": {"@id": workflow.id},
                    "agent": {"@id": agent.id},
                    "startTime": run.get("started_at"),
                    "endTime": run.get("ended_at"),
                    "actionStatus": {
                        "@id": "http://schema.org/CompletedActionStatus"
                        if run["status"] == "success"
                        else "http://schema.org/FailedActionStatus"
                    },
                    "object": [{"@id": c.id} for c in config_values],
                },
            )
        )
        if run.get("error"):
            run_action["error"] = run["error"]
        mentions.append(run_action)
        controls = []
        run_inputs, run_outputs = set(), set()
        for job in run.get("jobs", []):
            rule = job["rule"]
            if rule not in tools:
                tools[rule] = crate.add(
                    ContextEntity(
                        crate,
                        f"#rule-{rule}",
                        properties={
                            "@type": "SoftwareApplication",
                            "name": f"rule {rule}",
                            "identifier": job.get("code_hash") or "",
                            # the rule changes when its code does: the code hash is its version
                            "softwareVersion": job.get("code_hash") or "",
                        },
                    )
                )
                steps[rule] = crate.add(
                    ContextEntity(
                        crate,
                        f"{workflow.id}#{rule}",
                        properties={
                            "@type": "HowToStep",
                            "name": rule,
                            "position": str(len(steps)),
                            "workExample": {"@id": tools[rule].id},
                        },
                    )
                )
            used = [file_entity(f) for f in job.get("files", []) if f["role"] == "used"]
            made = [file_entity(f) for f in job.get("files", []) if f["role"] == "generated"]
            run_inputs.update(e.id for e in used)
            run_outputs.update(e.id for e in made)
            action = crate.add(
                ContextEntity(
                    crate,
                    f"#job-{job['id']}",
                    properties={
                        "@type": "CreateAction",
                        "name": f"{rule} {json.dumps(job.get('wildcards') or {}, sort_keys=True)}",
                        "description": (job.get("reason") or "")[:500],
                        "agent": {"@id": agent.id},
                        "instrument": {"@id": tools[rule].id},
                        "startTime": job.get("started_at"),
                        "endTime": job.get("ended_at"),
                        "object": [{"@id": e.id} for e in used],
                        "result": [{"@id": e.id} for e in made],
                        "actionStatus": {
                            "@id": "http://schema.org/CompletedActionStatus"
                            if job["status"] == "success"
                            else "http://schema.org/FailedActionStatus"
                        },
                    },
                )
            )
            mentions.append(action)
            controls.append(
                crate.add(
                    ContextEntity(
                        crate,
                        f"#control-{job['id']}",
                        properties={
                            "@type": "ControlAction",
                            "name": f"orchestrate {rule}",
                            "instrument": {"@id": steps[rule].id},
                            "object": {"@id": action.id},
                        },
                    )
                )
            )
        run_action["object"] = run_action["object"] + [
            {"@id": i} for i in sorted(run_inputs - run_outputs)
        ]
        run_action["result"] = [{"@id": i} for i in sorted(run_outputs)]
        crate.add(
            ContextEntity(
                crate,
                f"#engine-{run['id']}",
                properties={
                    "@type": "OrganizeAction",
                    "name": f"Snakemake run {run['id']}",
                    "instrument": {"@id": "#snakemake"},
                    "agent": {"@id": agent.id},
                    "object": [{"@id": c.id} for c in controls],
                    "result": {"@id": run_action.id},
                    "startTime": run.get("started_at"),
                    "endTime": run.get("ended_at"),
                },
            )
        )
    workflow["step"] = [{"@id": s.id} for s in steps.values()]
    workflow["hasPart"] = [{"@id": t.id} for t in tools.values()]
    for info in products:
        p = info["detail"]
        mains = [f for f in p.files if f.role == "main"]
        if mains and (mains[0].source_path or mains[0].path) in files:
            files[mains[0].source_path or mains[0].path]["description"] = (
                f"product {p.internal_name} ({p.product_type})"
            )
    crate.root_dataset["mentions"] = [{"@id": m.id} for m in mentions]
    crate.root_dataset["hasPart"] = [{"@id": workflow.id}] + [{"@id": e.id} for e in files.values()]
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    crate.write(dest)
    return dest / "ro-crate-metadata.json"
