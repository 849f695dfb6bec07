"""Embedding tasks (hydro-vis's idea) and stored embedding parameters per product.

Mixed into ``registry.Registry``. A task is queued as a run (same id) of the site's run queue,
so a worker runs it as any run (its profile, provenance, progress, cancel): ``PENDING`` while
the run waits, ``STARTED`` once a worker claimed the run, then ``SUCCESS`` with its result (JSON,
set by the worker from the run's output) or ``FAILURE`` with the reason (the run failed, was
cancelled or interrupted). The caller validates the parameters and writes the run's config;
the registry checks who may read what.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from registry.errors import NotFound, PermissionDenied, ValidationError
from registry.models import EmbeddingParams, EmbeddingTask, QueuedRun, utcnow

if TYPE_CHECKING:
    from registry.store import Registry

TASK_STATES = ("PENDING", "STARTED", "SUCCESS", "FAILURE")


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).isoformat()


def _task_dict(t: EmbeddingTask, *, result: bool = True) -> dict[str, Any]:
    out = {
        "task_id": t.id,
        "product_id": t.product_id,
        "production_product_id": t.production_product_id,
        "user": t.user,
        "params": dict(t.params or {}),
        "state": t.state,
        "submitted_at": _iso(t.submitted_at),
        "started_at": _iso(t.started_at),
        "ended_at": _iso(t.ended_at),
        "worker": t.worker,
        "error": t.error,
    }
    if result:
        out["result"] = dict(t.result or {}) if t.state == "SUCCESS" else None
    return out


class EmbeddingTasks:
    """Mixed into ``registry.Registry``."""

    def submit_embedding(
        self: Registry,
        product_ref: int | str,
        params: Mapping[str, Any],
        *,
        production: int | str | None = None,
        run_config: Mapping[str, Any] | None = None,
        profile: str = "local",
    ) -> dict[str, Any]:
        """Queue an embedding of a product (and of ``production`` onto its map) for the acting
        user, who must be able to read both: the task, and the run that computes it (its config
        is ``run_config`` with the products' ids and the task's id, given by the caller who
        knows the pipeline)."""
        if not self.user:
            raise PermissionDenied("no acting user: open the registry with user=...")
        with self.session() as s:
            product = self._product(s, product_ref)
            prod = self._product(s, production) if production is not None else None
            row = EmbeddingTask(
                id=str(uuid.uuid4()),
                product_id=product.id,
                production_product_id=prod.id if prod is not None else None,
                user=self.user,
                params=dict(params),
                state="PENDING",
                submitted_at=utcnow(),
                result={},
            )
            s.add(row)
            config = dict(run_config or {}) | {
                "task_id": row.id,
                "input": {"product": product.id},
                "production": {"product": prod.id if prod is not None else None},
                "params": dict(params),
            }
            self._add_queued_run(
                s, row.id, "embedding_task", config, profile, submitted_at=row.submitted_at
            )
            s.flush()
            return _task_dict(row)

    def _task(self: Registry, s, task_id: str) -> EmbeddingTask:
        row = s.get(EmbeddingTask, str(task_id)) if isinstance(task_id, str) else None
        if row is None:
            raise NotFound(f"no embedding task {task_id!r}")
        if row.user != self.user and not (self.operator or self.is_admin):
            raise PermissionDenied(f"task {task_id} is {row.user}'s")
        return row

    def embedding_task(self: Registry, task_id: str) -> dict[str, Any]:
        with self.session(readonly=True) as s:
            return _task_dict(self._task(s, task_id))

    def finish_embedding(
        self: Registry,
        task_id: str,
        *,
        result: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> dict[str, Any]:
        """A worker's end of a task: SUCCESS with ``result`` (its run's output) or FAILURE with
        ``error``. The run that computed it is recorded by the pipeline's own provenance."""
        with self.session() as s:
            row = s.get(EmbeddingTask, str(task_id))
            if row is None:
                raise NotFound(f"no embedding task {task_id!r}")
            row.state = "FAILURE" if error else "SUCCESS"
            row.error, row.result, row.ended_at = error, dict(result or {}), utcnow()
            s.flush()
            return _task_dict(row, result=False)

    def _end_task_of_run(self: Registry, s, run: QueuedRun) -> None:
        """A run that computes a task ended without a result (failed, cancelled, interrupted):
        so does its task, with the run's reason."""
        task = s.get(EmbeddingTask, run.id)
        if task is not None and task.state in ("PENDING", "STARTED"):
            task.state, task.ended_at = "FAILURE", utcnow()
            task.error = run.error or f"its run ended {run.state}"

    def embedding_params(self: Registry, product_ref: int | str) -> dict[str, Any] | None:
        """A product's stored embedding parameters (None when none are stored)."""
        with self.session(readonly=True) as s:
            product = self._product(s, product_ref)
            row = s.get(EmbeddingParams, product.id)
            return dict(row.params) if row is not None else None

    def set_embedding_params(
        self: Registry, product_ref: int | str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Store a product's embedding parameters (its owner or an admin)."""
        if not isinstance(params, Mapping):
            raise ValidationError("embedding parameters must be a mapping")
        with self.session() as s:
            product = self._product(s, product_ref)
            self._may_edit(product)
            row = s.get(EmbeddingParams, product.id)
            if row is None:
                row = EmbeddingParams(product_id=product.id)
                s.add(row)
            row.params, row.updated_by, row.updated_at = dict(params), self.user or "", utcnow()
            s.flush()
            return dict(row.params)
