"""The run queue: pipeline runs asked for through the server, claimed and run by workers.

Mixed into ``registry.Registry``. A run is ``queued`` when submitted, ``running`` once a worker
claimed it, then ``success``, ``failed``, ``cancelled`` (asked for by its user or an admin) or
``interrupted`` (its worker stopped answering). Claiming is atomic: PostgreSQL hands each queued
row to exactly one worker (``FOR UPDATE SKIP LOCKED``); on SQLite the claim is one write
transaction (``BEGIN IMMEDIATE``), so a second worker waits instead of taking the same row.

Users see and cancel their own runs; admins every run. Workers (which hold the database
credentials) claim, report progress and finish runs.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from registry.errors import NotFound, PermissionDenied, ValidationError
from registry.models import EmbeddingTask, QueuedRun, utcnow

if TYPE_CHECKING:
    from registry.store import Registry

STATES = ("queued", "running", "success", "failed", "cancelled", "interrupted")
FINAL = ("success", "failed", "cancelled", "interrupted")
LOG_TAIL_CHARS = 20_000


def _aware(t: datetime | None) -> datetime | None:
    return t if t is None or t.tzinfo else t.replace(tzinfo=UTC)


def _queued_dict(r: QueuedRun, *, config: bool = True) -> dict[str, Any]:
    started, ended = _aware(r.started_at), _aware(r.ended_at)
    elapsed = None
    if started is not None:
        elapsed = round(((ended or datetime.now(UTC)) - started).total_seconds(), 1)
    out = {
        "id": r.id,
        "pipeline": r.pipeline,
        "profile": r.profile,
        "user": r.user,
        "state": r.state,
        "cancel_requested": r.cancel_requested,
        "submitted_at": _aware(r.submitted_at).isoformat(),
        "started_at": started.isoformat() if started else None,
        "ended_at": ended.isoformat() if ended else None,
        "elapsed_s": elapsed,
        "worker": r.worker,
        "progress": dict(r.progress or {}),
        "error": r.error,
        "products": list(r.products or []),
    }
    if config:
        out["config"] = r.config
    return out


class RunQueue:
    """Mixed into ``registry.Registry``."""

    # --- users --------------------------------------------------------------------------------

    def submit_run(
        self: Registry, pipeline: str, config: dict[str, Any], *, profile: str = "local"
    ) -> dict[str, Any]:
        """Queue a run of ``pipeline`` (its config already validated by the caller) for the
        acting user; returns it, with the id its provenance will carry too."""
        if not self.user:
            raise PermissionDenied("no acting user: open the registry with user=... to submit")
        if not isinstance(config, dict):
            raise ValidationError("a run's config must be a mapping of keys to values")
        with self.session() as s:
            row = self._add_queued_run(s, str(uuid.uuid4()), pipeline, config, profile)
            s.flush()
            return _queued_dict(row)

    def _add_queued_run(
        self: Registry,
        s,
        run_id: str,
        pipeline: str,
        config: dict[str, Any],
        profile: str,
        submitted_at: datetime | None = None,
    ) -> QueuedRun:
        """A new ``queued`` run of the acting user in session ``s`` (a submitted run, or the
        run that computes an embedding task)."""
        row = QueuedRun(
            id=run_id,
            pipeline=pipeline,
            config=config,
            profile=profile,
            user=self.user,
            state="queued",
            cancel_requested=False,
            submitted_at=submitted_at or utcnow(),
            progress={},
            log_tail="",
            products=[],
        )
        s.add(row)
        return row

    def _queued(self: Registry, s, run_id: str) -> QueuedRun:
        row = s.get(QueuedRun, str(run_id)) if isinstance(run_id, str) else None
        if row is None:
            raise NotFound(f"no queued run {run_id!r}")
        if row.user != self.user and not (self.operator or self.is_admin):
            raise PermissionDenied(
                f"run {run_id} belongs to {row.user}; only they or an admin see it"
            )
        return row

    def queued_run(self: Registry, run_id: str, *, log: bool = False) -> dict[str, Any]:
        with self.session(readonly=True) as s:
            row = self._queued(s, run_id)
            out = _queued_dict(row)
            if log:
                out["log_tail"] = row.log_tail
            return out

    def list_queued_runs(
        self: Registry,
        *,
        user: str | None = None,
        state: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[int, list[dict[str, Any]]]:
        """(total, page) of queued runs, newest first: the acting user's own (admins: anyone's,
        or ``user``'s)."""
        if state is not None and state not in STATES:
            raise ValidationError(f"unknown state {state!r}; states: {', '.join(STATES)}")
        if not (self.operator or self.is_admin):
            if user not in (None, self.user):
                raise PermissionDenied("only admins see other users' runs")
            user = self.user
        with self.session(readonly=True) as s:
            q = select(QueuedRun)
            if user:
                q = q.where(QueuedRun.user == user)
            if state:
                q = q.where(QueuedRun.state == state)
            total = s.scalar(select(func.count()).select_from(q.subquery()))
            rows = s.scalars(
                q.order_by(QueuedRun.submitted_at.desc(), QueuedRun.id).offset(offset).limit(limit)
            ).all()
            return total, [_queued_dict(r, config=False) for r in rows]

    def cancel_run(self: Registry, run_id: str) -> dict[str, Any]:
        """Cancel a run (its user or an admin): a queued run at once, a running one by asking
        its worker (which stops Snakemake and records the run as cancelled)."""
        with self.session() as s:
            row = self._queued(s, run_id)
            if row.state == "queued":
                row.state, row.ended_at = "cancelled", utcnow()
                row.error = f"cancelled by {self.user or 'the operator'} before it started"
                self._end_task_of_run(s, row)
            elif row.state == "running":
                row.cancel_requested = True
            s.flush()
            return _queued_dict(row)

    # --- workers ------------------------------------------------------------------------------

    def claim_run(self: Registry, worker: str) -> dict[str, Any] | None:
        """The oldest queued run, now ``running`` for ``worker``; None when none is queued."""
        with self.session() as s:
            q = (
                select(QueuedRun)
                .where(QueuedRun.state == "queued")
                .order_by(QueuedRun.submitted_at, QueuedRun.id)
                .limit(1)
            )
            if self.engine.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            row = s.scalar(q)
            if row is None:
                return None
            now = utcnow()
            row.state, row.worker, row.started_at, row.heartbeat_at = "running", worker, now, now
            task = s.get(EmbeddingTask, row.id)  # a run that computes an embedding task
            if task is not None and task.state == "PENDING":
                task.state, task.worker, task.started_at = "STARTED", worker, now
            s.flush()
            return _queued_dict(row)

    def heartbeat(
        self: Registry,
        run_id: str,
        *,
        progress: dict[str, Any] | None = None,
        log_tail: str | None = None,
        workdir: str | None = None,
    ) -> bool:
        """A worker's sign of life with the run's progress; returns whether to cancel it."""
        with self.session() as s:
            row = s.get(QueuedRun, run_id)
            if row is None:
                raise NotFound(f"no queued run {run_id!r}")
            row.heartbeat_at = utcnow()
            if progress is not None:
                row.progress = progress
            if log_tail is not None:
                row.log_tail = log_tail[-LOG_TAIL_CHARS:]
            if workdir is not None:
                row.workdir = workdir
            return bool(row.cancel_requested) or row.state != "running"

    def finish_queued_run(
        self: Registry,
        run_id: str,
        state: str,
        *,
        error: str | None = None,
        products: list[dict[str, Any]] | None = None,
        progress: dict[str, Any] | None = None,
        log_tail: str | None = None,
    ) -> dict[str, Any]:
        if state not in FINAL:
            raise ValidationError(f"a run ends as one of {', '.join(FINAL)}, not {state!r}")
        with self.session() as s:
            row = s.get(QueuedRun, run_id)
            if row is None:
                raise NotFound(f"no queued run {run_id!r}")
            row.state, row.ended_at, row.error = state, utcnow(), error
            if products is not None:
                row.products = products
            if progress is not None:
                row.progress = progress
            if log_tail is not None:
                row.log_tail = log_tail[-LOG_TAIL_CHARS:]
            if state != "success":
                self._end_task_of_run(s, row)
            s.flush()
            return _queued_dict(row)

    def interrupt_stale_runs(self: Registry, older_than_s: float) -> list[str]:
        """Runs whose worker has not reported for ``older_than_s`` seconds become
        ``interrupted`` (the worker died with its host or process); returns their ids."""
        limit = utcnow() - timedelta(seconds=older_than_s)
        with self.session() as s:
            rows = s.scalars(
                select(QueuedRun).where(
                    QueuedRun.state == "running", QueuedRun.heartbeat_at < limit
                )
            ).all()
            for row in rows:
                row.state, row.ended_at = "interrupted", utcnow()
                row.error = (
                    f"worker {row.worker} stopped reporting (its process or host died); "
                    "submit the run again"
                )
                self._end_task_of_run(s, row)
            return [r.id for r in rows]
