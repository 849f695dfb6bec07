"""Embeddings as asynchronous tasks (hydro-vis's visualisation API) on products: submit (the
parameters validated by the schema: transformer, metric, n_neighbours 2-200, min_dist 0-0.99,
n_components 2-3, sample sizes) -> a task id; follow it (PENDING, STARTED, SUCCESS with the
coordinates, labels, per-point scores, top-100 neighbours and metrics, or FAILURE with the
reason); a product's stored parameters; whether a product can be embedded and why not. A worker
runs the tasks, never the request handler."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

import registry
from pzforge.embedding.task import support
from pzforge.server import models
from pzforge.server.auth import acting_registry

router = APIRouter(tags=["embeddings"])
Reg = Annotated[registry.Registry, Depends(acting_registry)]


@router.post("/embeddings", response_model=models.EmbeddingTask, status_code=202)
def submit_embedding(body: models.EmbeddingRequest, reg: Reg, request: Request) -> dict[str, Any]:
    """Queue an embedding of a product (and of ``production`` onto its map); the answer's
    ``task_id`` is followed with GET /embeddings/{task_id}. The task runs as a run of the
    ``embedding_task`` pipeline (same id) with the profile asked for (default: the site's
    first)."""
    params = body.params
    if params is None:
        stored = reg.embedding_params(body.product)
        params = models.EmbeddingParameters.model_validate(stored or {})
    profiles = request.app.state.settings.profiles
    if body.profile is not None and body.profile not in profiles:
        raise registry.ValidationError(
            f"profile {body.profile!r} is not offered here; profiles: {', '.join(profiles)}"
        )
    answer = support.supported(reg, body.product, params.features)
    if not answer["supported"]:
        raise registry.ValidationError(f"this product cannot be embedded: {answer['reason']}")
    return reg.submit_embedding(
        body.product,
        params.model_dump(),
        production=body.production,
        run_config={"pipeline": "embedding_task", "run_name": "embedding_task"},
        profile=body.profile or profiles[0],
    )


@router.get("/embeddings/{task_id}", response_model=models.EmbeddingTask)
def get_embedding(task_id: str, reg: Reg) -> dict[str, Any]:
    """A task's state; with SUCCESS, its result in hydro-vis's shape."""
    return reg.embedding_task(task_id)


@router.get("/products/{ref}/embedding-params", response_model=models.EmbeddingParameters)
def get_params(ref: str, reg: Reg) -> dict[str, Any]:
    """The product's stored embedding parameters (the defaults when none are stored)."""
    stored = reg.embedding_params(ref)
    return models.EmbeddingParameters.model_validate(stored or {}).model_dump()


@router.post("/products/{ref}/embedding-params", response_model=models.EmbeddingParameters)
def set_params(ref: str, body: models.EmbeddingParameters, reg: Reg) -> dict[str, Any]:
    """Store a product's embedding parameters (its owner or an admin)."""
    return reg.set_embedding_params(ref, body.model_dump())


@router.get("/products/{ref}/embedding-supported", response_model=models.EmbeddingSupport)
def is_supported(
    ref: str, reg: Reg, features: Annotated[list[str] | None, Query()] = None
) -> dict[str, Any]:
    """Whether the product can be embedded (a table with at least two numeric feature
    columns), and why not."""
    return support.supported(reg, ref, features)
