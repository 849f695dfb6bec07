"""The API's typed records: what the server answers and what the client reads (one module for
both, as Butler's remote server and client share theirs). Plain pydantic, no FastAPI here."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

API_PREFIX = "/api/v1"


class Problem(BaseModel):
    """An error: one line saying what to change, and every problem when there are several."""

    detail: str
    problems: list[str] = []


class ProductType(BaseModel):
    id: int
    name: str
    description: str
    tabular: bool
    required_roles: list[str]


class Release(BaseModel):
    id: int
    name: str
    description: str
    restricted_to: list[str] = []


class Product(BaseModel):
    id: int
    name: str
    internal_name: str
    product_type: str
    release: str | None
    owner: str
    official: bool
    description: str
    status: str
    created_at: str
    updated_at: str
    run_id: str | None
    supersedes_id: int | None
    version: int


class ProductFile(BaseModel):
    """A file of a product (where it is on the server is not shown)."""

    role: str
    name: str | None
    size: int
    checksum: str
    checksum_algorithm: str
    format: str
    media_type: str
    n_members: int


class Column(BaseModel):
    name: str
    role: str
    ucd: str | None = None
    unit: str | None = None
    dtype: str | None = None


class LineageEntry(BaseModel):
    id: int
    internal_name: str
    product_type: str
    run_id: str | None
    depth: int


class ProductDetail(Product):
    files: list[ProductFile]
    columns: list[Column]
    superseded_by: int | None
    versions: list[Product] = []
    upstream: list[LineageEntry] = []
    downstream: list[LineageEntry] = []


class ProductPage(BaseModel):
    count: int
    limit: int
    offset: int
    results: list[Product]


class ProductUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str | None = Field(None, max_length=20_000)
    release: str | None = Field(None, max_length=200)
    name: str | None = Field(None, max_length=200)


class OfficialFlag(BaseModel):
    model_config = ConfigDict(extra="forbid")
    official: bool = True


class DownloadLink(BaseModel):
    url: str
    expires_at: str


class User(BaseModel):
    name: str
    display_name: str = ""
    id: int | None = None
    email: str | None = None
    is_admin: bool | None = None
    active: bool | None = None
    has_password: bool | None = None
    created_at: str | None = None
    last_login_at: str | None = None
    groups: list[str] = []


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    admin: bool = False
    password: str | None = Field(None, max_length=1000)
    display_name: str = Field("", max_length=200)
    email: str = Field("", max_length=200)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    admin: bool | None = None
    active: bool | None = None
    display_name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=200)
    password: str | None = Field(None, max_length=1000)


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    password: str = Field(max_length=1000)


class Token(BaseModel):
    id: int
    user: str
    label: str
    prefix: str
    created_at: str | None
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None
    active: bool


class NewTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field("", max_length=200)
    expires_in_days: float | None = Field(None, gt=0, le=3660)


class NewToken(Token):
    token: str = Field(description="The token itself: shown this once, never again.")


class Group(BaseModel):
    id: int
    name: str
    description: str
    members: list[str]


class NewGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    description: str = Field("", max_length=2000)


class NewRelease(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    description: str = Field("", max_length=2000)


class ReleaseAccess(BaseModel):
    model_config = ConfigDict(extra="forbid")
    groups: list[str] = Field(default_factory=list, max_length=100)


class Pipeline(BaseModel):
    name: str
    description: str


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pipeline: str = Field(max_length=100, description="combine_redshift, training_set, embedding")
    config: dict[str, Any] = Field(description="The pipeline's config (its JSON schema).")
    profile: str | None = Field(None, max_length=100, description="Execution profile.")


RunState = Literal["queued", "running", "success", "failed", "cancelled", "interrupted"]


class RunProgress(BaseModel):
    done: int = 0
    total: int | None = None
    running: list[str] = []
    failed: list[str] = []
    elapsed_s: float | None = None


class QueuedRun(BaseModel):
    id: str
    pipeline: str
    profile: str
    user: str
    state: RunState
    cancel_requested: bool
    submitted_at: str
    started_at: str | None
    ended_at: str | None
    elapsed_s: float | None
    worker: str | None
    progress: RunProgress
    error: str | None
    products: list[dict[str, Any]] = []
    config: dict[str, Any] | None = None
    log_tail: str | None = None


class RunPage(BaseModel):
    count: int
    limit: int
    offset: int
    results: list[QueuedRun]


class Health(BaseModel):
    status: str
    schema_revision: str | None
    version: str


# --- external analysis services ---------------------------------------------------------------

AuthType = Literal["none", "bearer", "header", "basic"]
AnalysisStatus = Literal["pending", "received", "success", "failure", "timed_out", "cancelled"]


class AnalysisServiceFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    version: str | None = Field(None, max_length=50)
    contact: str | None = Field(None, max_length=200)
    url: str | None = Field(None, max_length=2000, description="Where analyses are POSTed.")
    auth_type: AuthType | None = Field(None, description="How the site authenticates to it.")
    credentials: dict[str, str] | None = Field(
        None,
        description="bearer: {token}; header: {header, value}; basic: {user, password}. "
        "Stored encrypted, never returned.",
    )
    analysis_type: str | None = Field(None, max_length=50)
    input_types: list[str] | None = Field(None, description="Product types it takes (all: []).")
    columns: list[str] | None = Field(
        None, description="Columns it asks for: roles or names; a trailing ? marks optional."
    )
    input_format: Literal["parquet", "json"] | None = None
    parameters: dict[str, Any] | None = Field(
        None, description="JSON Schema (2020-12) of its parameters."
    )
    timeout_s: float | None = Field(None, gt=0, le=7 * 24 * 3600)
    groups: list[str] | None = Field(None, description="Only these groups may use it (all: []).")
    upload_only: bool | None = Field(None, description="It posts results; nothing is sent to it.")
    is_summary: bool | None = Field(None, description="Its results are the product's summary.")
    owner: str | None = Field(None, max_length=100)


class NewAnalysisService(AnalysisServiceFields):
    name: str = Field(max_length=100)


class AnalysisService(BaseModel):
    id: int
    name: str
    display_name: str
    description: str
    version: str
    contact: str
    url: str
    auth_type: AuthType
    has_credentials: bool
    analysis_type: str
    input_types: list[str]
    columns: list[str]
    input_format: str
    parameters: dict[str, Any]
    timeout_s: float
    groups: list[str]
    upload_only: bool
    is_summary: bool
    owner: str
    created_at: str
    updated_at: str


class AnalysisRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: str = Field(max_length=100)
    parameters: dict[str, Any] = Field(default_factory=dict)


class Analysis(BaseModel):
    id: int
    service: str
    service_version: str
    product_id: int
    user: str
    parameters: dict[str, Any]
    status: AnalysisStatus
    is_summary: bool
    created_at: str
    expires_at: str
    finished_at: str | None
    message: str
    results: dict[str, Any]
    plots: list[str]
    result_product_id: int | None
    callback_url: str | None = Field(
        None, description="Upload-only services: where to POST the results (shown once)."
    )


class ProductSummary(BaseModel):
    product_id: int
    current: dict[str, Analysis]
    history: list[Analysis]


class CallbackAccepted(BaseModel):
    analysis_id: int
    status: AnalysisStatus
    result_product_id: int | None


# --- embedding tasks (hydro-vis's API) --------------------------------------------------------

UmapMetric = Literal[
    "euclidean", "manhattan", "chebyshev", "minkowski", "canberra", "braycurtis", "cosine",
    "correlation",
]  # fmt: skip


class UmapParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: UmapMetric = "euclidean"
    n_neighbours: int = Field(15, ge=2, le=200)
    min_dist: float = Field(0.1, ge=0, le=0.99)
    n_components: int = Field(2, ge=2, le=3)
    random_state: int = Field(42, ge=0)
    n_epochs: int | None = Field(None, ge=10, le=5000)


class EmbeddingParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transformer: Literal["umap"] = "umap"
    parameters: UmapParameters = Field(default_factory=UmapParameters)
    features: list[str] | None = Field(
        None, description="Numeric columns to embed (default: every numeric column)."
    )
    label: str | None = Field(None, description="Column that labels (colours) the points.")
    # at most 10,000 points: a result carries every point's 100 neighbours as JSON (~6 MB)
    training_data_sample_size: int = Field(5000, ge=20, le=10_000)
    production_data_sample_size: int = Field(1000, ge=1, le=10_000)
    visualization_metrics: list[
        Literal["trustworthiness", "continuity", "global_score", "knn_preservation"]
    ] = Field(
        default_factory=lambda: ["trustworthiness", "continuity", "global_score"],
        description="Which metrics of the map the result reports.",
    )
    seed: int = Field(42, ge=0)


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product: str | int = Field(description="The training product (its map).")
    production: str | int | None = Field(
        None, description="A product embedded onto the training product's map."
    )
    params: EmbeddingParameters | None = Field(
        None, description="Default: the product's stored parameters, else the defaults."
    )
    profile: str | None = Field(
        None,
        description="Where the task's run goes (local or slurm, as for runs; default: the "
        "site's first profile).",
    )


class EmbeddingTask(BaseModel):
    task_id: str
    product_id: int
    production_product_id: int | None
    user: str
    params: dict[str, Any]
    state: Literal["PENDING", "STARTED", "SUCCESS", "FAILURE"]
    submitted_at: str
    started_at: str | None
    ended_at: str | None
    worker: str | None
    error: str | None
    result: dict[str, Any] | None = None


class EmbeddingSupport(BaseModel):
    supported: bool
    reason: str
    features: list[str] = []
