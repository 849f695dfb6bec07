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
