"""Provenance records: runs, jobs, the files they used and generated, and product lineage.

The registry knows nothing of Snakemake: callers hand over plain dicts (see ``ingest_run``).
Runs and jobs carry client-made UUIDs, so ingesting the same records twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from registry.errors import NotFound
from registry.models import DataFile, Job, JobFile, Product, ProductLineage, Run

RUN_FIELDS = (
    "pipeline",
    "run_name",
    "status",
    "error",
    "config",
    "overrides",
    "git_commit",
    "git_dirty",
    "git_diff_sha256",
    "software",
    "profile",
    "executor",
    "user",
    "host",
    "workdir",
    "started_at",
    "ended_at",
)
JOB_FIELDS = (
    "rule",
    "wildcards",
    "params",
    "threads",
    "resources",
    "status",
    "reason",
    "code_hash",
    "log",
    "benchmark",
    "error",
    "host",
    "slurm_job_id",
    "node",
    "started_at",
    "ended_at",
)
_CHUNK = 500  # rows per IN (...) query; far below every backend's parameter limit


def _chunks(items: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    t = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC; SQLite hands back naive datetimes (stored as UTC), PostgreSQL aware."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


class ProvenanceRecords:
    """Mixed into ``registry.Registry``."""

    # --- writing ---------------------------------------------------------------------------

    def ingest_run(
        self, run: dict[str, Any], jobs: Sequence[dict[str, Any]] = ()
    ) -> dict[str, int]:
        """Record a run, its jobs and their files in one transaction (idempotent).

        ``run``: ``id`` plus RUN_FIELDS. Each job: ``id``, JOB_FIELDS and ``files``: a list of
        ``{path, size, checksum, kind, members, role}`` with role ``used`` or ``generated``.
        Jobs already recorded (same id) are left as they are; the run row is updated.
        """
        with self.session() as s:
            row = s.get(Run, run["id"])
            values = {k: _time(run.get(k)) if k.endswith("_at") else run.get(k) for k in RUN_FIELDS}
            values = {k: v for k, v in values.items() if v is not None or k in ("error",)}
            if row is None:
                s.add(Run(id=run["id"], **values))
            else:
                for k, v in values.items():
                    if getattr(row, k) != v:
                        setattr(row, k, v)
            s.flush()
            ids = [j["id"] for j in jobs]
            known: set[str] = set()
            for part in _chunks(ids):
                known.update(s.scalars(select(Job.id).where(Job.id.in_(part))))
            new_jobs = [j for j in jobs if j["id"] not in known]
            if new_jobs:
                s.execute(
                    insert(Job),
                    [
                        {
                            "id": j["id"],
                            "run_id": run["id"],
                            **{
                                k: _time(j.get(k)) if k.endswith("_at") else j.get(k)
                                for k in JOB_FIELDS
                            },
                        }
                        | {
                            k: j.get(k) or default
                            for k, default in (
                                ("wildcards", {}),
                                ("params", {}),
                                ("resources", {}),
                                ("log", []),
                                ("benchmark", {}),
                            )
                        }
                        for j in new_jobs
                    ],
                )
            file_ids = self._file_ids(s, [f for j in new_jobs for f in j.get("files", [])])
            links = {
                (j["id"], file_ids[(f["path"], f["checksum"])], f["role"])
                for j in new_jobs
                for f in j.get("files", [])
            }
            if links:
                s.execute(
                    insert(JobFile),
                    [{"job_id": a, "file_id": b, "role": c} for a, b, c in sorted(links)],
                )
            return {"jobs": len(new_jobs), "files": len(file_ids), "links": len(links)}

    def _file_ids(self, s: Session, files: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
        """Ids of the (path, checksum) records, inserting the ones not seen before."""
        wanted = {(f["path"], f["checksum"]): f for f in files}
        found: dict[tuple[str, str], int] = {}
        paths = sorted({p for p, _ in wanted})
        for part in _chunks(paths):
            for fid, path, checksum in s.execute(
                select(DataFile.id, DataFile.path, DataFile.checksum).where(DataFile.path.in_(part))
            ):
                if (path, checksum) in wanted:
                    found[(path, checksum)] = fid
        missing = [wanted[k] for k in sorted(wanted) if k not in found]
        if missing:
            s.execute(
                insert(DataFile),
                [
                    {
                        "path": f["path"],
                        "size": f["size"],
                        "checksum": f["checksum"],
                        "kind": f.get("kind", "file"),
                        "members": f.get("members") or [],
                    }
                    for f in missing
                ],
            )
            for part in _chunks(sorted({f["path"] for f in missing})):
                for fid, path, checksum in s.execute(
                    select(DataFile.id, DataFile.path, DataFile.checksum).where(
                        DataFile.path.in_(part)
                    )
                ):
                    if (path, checksum) in wanted:
                        found[(path, checksum)] = fid
        return found

    def add_lineage(self, product_ref: int | str, sources: Iterable[int | str]) -> None:
        """Record that a product was derived from other products."""
        with self.session() as s:
            product = self._product(s, product_ref)
            for ref in sources:
                src = self._product(s, ref)
                if src.id != product.id and not s.get(ProductLineage, (product.id, src.id)):
                    s.add(ProductLineage(product_id=product.id, source_id=src.id))

    # --- reading ---------------------------------------------------------------------------

    def list_runs(self, pipeline: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        with self.session(readonly=True) as s:
            q = select(Run).order_by(Run.started_at.desc()).limit(limit)
            if pipeline:
                q = q.where(Run.pipeline == pipeline)
            return [_run_summary(r) for r in s.scalars(q)]

    def get_run(self, run_id: str) -> dict[str, Any]:
        """The run with its jobs, their files, and the products it registered."""
        with self.session(readonly=True) as s:
            run = self._run(s, run_id)
            out = _run_summary(run) | {
                "config": run.config,
                "overrides": run.overrides,
                "software": run.software,
                "workdir": run.workdir,
            }
            out["jobs"] = [_job_dict(j) for j in run.jobs]
            hidden = self._hidden_releases(s)
            out["products"] = [
                {"id": p.id, "internal_name": p.internal_name, "product_type": p.product_type.name}
                for p in s.scalars(
                    select(Product).where(Product.run_id == run.id).order_by(Product.id)
                )
                if p.release_id is None or p.release_id not in hidden
            ]
            return out

    def _run(self, s: Session, run_id: str) -> Run:
        run = s.get(Run, run_id)
        if run is None:
            matches = s.scalars(
                select(Run).where(Run.id.startswith(run_id, autoescape=True)).limit(2)
            ).all()
            if len(matches) == 1:
                return matches[0]
            raise NotFound(f"no run {run_id!r} (`pzforge provenance runs` lists them)")
        return run

    def last_job(
        self, rule: str, wildcards: dict[str, Any], run_name: str, workdir: str
    ) -> dict[str, Any] | None:
        """The newest recorded successful job of a rule (same wildcards, run name and workdir)."""
        with self.session(readonly=True) as s:
            q = (
                select(Job)
                .join(Run, Run.id == Job.run_id)
                .where(
                    Job.rule == rule,
                    Job.status == "success",
                    Run.run_name == run_name,
                    Run.workdir == workdir,
                )
                .order_by(Job.started_at.desc())
            )
            for job in s.scalars(q.limit(50)):
                if (job.wildcards or {}) == wildcards:
                    return _job_dict(job, files=False)
            return None

    def previous_run(self, run_id: str) -> dict[str, Any] | None:
        """The latest earlier run of the same pipeline and run name (what a rerun compares to)."""
        with self.session(readonly=True) as s:
            run = self._run(s, run_id)
            prev = s.scalar(
                select(Run)
                .where(
                    Run.pipeline == run.pipeline,
                    Run.run_name == run.run_name,
                    Run.id != run.id,
                    Run.started_at < run.started_at,
                )
                .order_by(Run.started_at.desc())
                .limit(1)
            )
            return self.get_run(prev.id) if prev else None

    def product_provenance(self, ref: int | str) -> dict[str, Any]:
        """The run that registered a product, the jobs that generated its files, its lineage."""
        with self.session(readonly=True) as s:
            p = self._product(s, ref)
            # jobs recorded the files where they wrote them (the source the registry stored)
            pairs = [(f.source_path or f.path, f.checksum) for f in p.files]
            conds = [(DataFile.path == a) & (DataFile.checksum == b) for a, b in pairs]
            jobs = []
            if conds:
                jobs = (
                    s.scalars(
                        select(Job)
                        .join(JobFile, JobFile.job_id == Job.id)
                        .join(DataFile, DataFile.id == JobFile.file_id)
                        .where(JobFile.role == "generated", or_(*conds))
                        .order_by(Job.started_at)
                    )
                    .unique()
                    .all()
                )
            return {
                "product": {"id": p.id, "internal_name": p.internal_name, "name": p.name},
                "run_id": p.run_id,
                "generated_by": [_job_dict(j, files=False) | {"run_id": j.run_id} for j in jobs],
                "upstream": self._lineage(s, p.id, up=True),
                "downstream": self._lineage(s, p.id, up=False),
            }

    def file_provenance(self, checksum: str) -> dict[str, Any]:
        """What the registry knows of a file by its sha256 (or collection digest): the products
        holding it and the jobs (and runs) that wrote it. Content-addressed: a copy anywhere is
        found."""
        from registry.models import ProductFile

        with self.session(readonly=True) as s:
            products = (
                s.scalars(
                    select(Product)
                    .join(ProductFile, ProductFile.product_id == Product.id)
                    .where(ProductFile.checksum == checksum)
                    .order_by(Product.id)
                )
                .unique()
                .all()
            )
            jobs = (
                s.scalars(
                    select(Job)
                    .join(JobFile, JobFile.job_id == Job.id)
                    .join(DataFile, DataFile.id == JobFile.file_id)
                    .where(JobFile.role == "generated", DataFile.checksum == checksum)
                    .order_by(Job.started_at)
                )
                .unique()
                .all()
            )
            return {
                "checksum": checksum,
                "products": [
                    {"id": p.id, "internal_name": p.internal_name, "run_id": p.run_id}
                    for p in products
                ],
                "generated_by": [_job_dict(j, files=False) | {"run_id": j.run_id} for j in jobs],
            }

    def upstream(self, ref: int | str) -> list[dict[str, Any]]:
        """Every product this one was derived from, transitively (nearest first)."""
        with self.session(readonly=True) as s:
            return self._lineage(s, self._product(s, ref).id, up=True)

    def downstream(self, ref: int | str) -> list[dict[str, Any]]:
        """Every product made from this one, transitively (nearest first)."""
        with self.session(readonly=True) as s:
            return self._lineage(s, self._product(s, ref).id, up=False)

    def _lineage(self, s: Session, pid: int, *, up: bool) -> list[dict[str, Any]]:
        # Breadth-first over the lineage table; chains are short, so a recursive CTE (which
        # SQLite and PostgreSQL spell differently enough to matter) would buy nothing.
        seen: dict[int, int] = {}
        frontier = [pid]
        depth = 0
        while frontier:
            depth += 1
            col, other = (
                (ProductLineage.product_id, ProductLineage.source_id)
                if up
                else (ProductLineage.source_id, ProductLineage.product_id)
            )
            nxt = [
                i
                for i in s.scalars(select(other).where(col.in_(frontier)).order_by(other))
                if i not in seen and i != pid
            ]
            for i in nxt:
                seen.setdefault(i, depth)
            frontier = sorted(set(nxt))
        out = []
        hidden = self._hidden_releases(s)  # products the acting user may not read are left out
        for i, d in sorted(seen.items(), key=lambda kv: (kv[1], kv[0])):
            p = s.get(Product, i)
            if p.release_id is not None and p.release_id in hidden:
                continue
            out.append(
                {
                    "id": p.id,
                    "internal_name": p.internal_name,
                    "product_type": p.product_type.name,
                    "run_id": p.run_id,
                    "depth": d,
                }
            )
        return out

    def check_product(self, ref: int | str) -> list[dict[str, Any]]:
        """Re-hash a product's files; one entry per file with ``ok`` and what changed."""
        return self.check_files(ref, full=True)

    def provenance_for_products(self, refs: Sequence[int | str]) -> dict[str, Any]:
        """Everything an export needs for some products: them, their runs, jobs and files."""
        runs: dict[str, dict[str, Any]] = {}
        products = []
        for ref in refs:
            info = self.product_provenance(ref)
            detail = self.get_product(info["product"]["id"])
            products.append(info | {"detail": detail})
            for rid in {info["run_id"], *(j["run_id"] for j in info["generated_by"])} - {None}:
                if rid not in runs:
                    runs[rid] = self.get_run(rid)
        return {"products": products, "runs": runs}

    def export_prov_json(self, refs: Sequence[int | str]) -> str:
        """PROV-JSON of some products: their runs, jobs, files and lineage."""
        from registry.exports import prov_json

        data = self.provenance_for_products(refs)
        return prov_json(list(data["runs"].values()), data["products"])


def _run_summary(r: Run) -> dict[str, Any]:
    return {
        "id": r.id,
        "pipeline": r.pipeline,
        "run_name": r.run_name,
        "status": r.status,
        "error": r.error,
        "git_commit": r.git_commit,
        "git_dirty": r.git_dirty,
        "git_diff_sha256": r.git_diff_sha256,
        "profile": r.profile,
        "executor": r.executor,
        "user": r.user,
        "host": r.host,
        "started_at": _iso(r.started_at),
        "ended_at": _iso(r.ended_at),
    }


def _job_dict(j: Job, files: bool = True) -> dict[str, Any]:
    d = {
        "id": j.id,
        "rule": j.rule,
        "wildcards": j.wildcards,
        "params": j.params,
        "threads": j.threads,
        "resources": j.resources,
        "status": j.status,
        "reason": j.reason,
        "code_hash": j.code_hash,
        "log": j.log,
        "benchmark": j.benchmark,
        "error": j.error,
        "host": j.host,
        "slurm_job_id": j.slurm_job_id,
        "node": j.node,
        "started_at": _iso(j.started_at),
        "ended_at": _iso(j.ended_at),
    }
    if files:
        d["files"] = [
            {
                "role": jf.role,
                "path": jf.file.path,
                "size": jf.file.size,
                "checksum": jf.file.checksum,
                "kind": jf.file.kind,
                "n_members": len(jf.file.members or []),
            }
            for jf in sorted(j.files, key=lambda jf: (jf.role, jf.file.path))
        ]
    return d
