"""Embedding tasks (hydro-vis's idea) and stored embedding parameters per product.

Mixed into ``registry.Registry``. A task is ``PENDING`` when submitted, ``STARTED`` once a worker
claimed it (atomically, as runs are: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, one write
transaction on SQLite), then ``SUCCESS`` with its result (JSON) or ``FAILURE`` with a reason.
The caller validates the parameters; the registry checks who may read what.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from registry.errors import NotFound, PermissionDenied, ValidationError
from registry.models import EmbeddingParams, EmbeddingTask, Run, utcnow

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
    ) -> dict[str, Any]:
        """Queue an embedding of a product (and of ``production`` onto its map) for the acting
        user, who must be able to read both."""
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

    def claim_embedding(self: Registry, worker: str) -> dict[str, Any] | None:
        """The oldest pending task, now ``STARTED`` for ``worker``; None when none waits."""
        with self.session() as s:
            q = (
                select(EmbeddingTask)
                .where(EmbeddingTask.state == "PENDING")
                .order_by(EmbeddingTask.submitted_at, EmbeddingTask.id)
                .limit(1)
            )
            if self.engine.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            row = s.scalar(q)
            if row is None:
                return None
            row.state, row.worker, row.started_at = "STARTED", worker, utcnow()
            s.flush()
            return _task_dict(row)

    def finish_embedding(
        self: Registry,
        task_id: str,
        *,
        result: Mapping[str, Any] | None = None,
        error: str | None = None,
        software: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A worker's end of a task: SUCCESS with ``result`` or FAILURE with ``error``. The task
        is recorded as a provenance run too (its id, ``embedding_task``, the parameters and
        products, the user, the worker, the software), so `provenance show` finds it."""
        with self.session() as s:
            row = s.get(EmbeddingTask, str(task_id))
            if row is None:
                raise NotFound(f"no embedding task {task_id!r}")
            row.state = "FAILURE" if error else "SUCCESS"
            row.error, row.result, row.ended_at = error, dict(result or {}), utcnow()
            if s.get(Run, row.id) is None:
                s.add(
                    Run(
                        id=row.id,
                        pipeline="embedding_task",
                        run_name=f"embedding task {row.id}",
                        status="failed" if error else "success",
                        error=error,
                        config={
                            "product_id": row.product_id,
                            "production_product_id": row.production_product_id,
                            **dict(row.params or {}),
                        },
                        overrides=[],
                        software=dict(software or {}),
                        user=row.user,
                        host=row.worker or "",
                        workdir="",
                        started_at=row.started_at,
                        ended_at=row.ended_at,
                    )
                )
            s.flush()
            return _task_dict(row, result=False)

    def fail_stale_embeddings(self: Registry, older_than_s: float) -> list[str]:
        """Tasks ``STARTED`` more than ``older_than_s`` ago (their worker died) fail."""
        limit = utcnow() - timedelta(seconds=older_than_s)
        with self.session() as s:
            rows = s.scalars(
                select(EmbeddingTask).where(
                    EmbeddingTask.state == "STARTED", EmbeddingTask.started_at < limit
                )
            ).all()
            for row in rows:
                row.state, row.ended_at = "FAILURE", utcnow()
                row.error = f"worker {row.worker} stopped before the task ended; submit it again"
            return [r.id for r in rows]

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
