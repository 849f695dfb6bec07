"""external analysis services, their analyses (single-use callback tokens), embedding tasks and
stored embedding parameters

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 09:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
NEVER_REUSED = {"sqlite_autoincrement": True}  # ids shown to people are never handed out twice
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "analysis_services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("auth_type", sa.String(length=20), nullable=False),
        sa.Column("credentials", sa.Text(), nullable=True),
        sa.Column("analysis_type", sa.String(length=50), nullable=False),
        sa.Column("input_types", JSON, nullable=False),
        sa.Column("columns", JSON, nullable=False),
        sa.Column("input_format", sa.String(length=20), nullable=False),
        sa.Column("parameters", JSON, nullable=False),
        sa.Column("timeout_s", sa.Float(), nullable=False),
        sa.Column("groups", JSON, nullable=False),
        sa.Column("upload_only", sa.Boolean(), nullable=False),
        sa.Column("is_summary", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_services")),
        sa.UniqueConstraint("name", name=op.f("uq_analysis_services_name")),
        **NEVER_REUSED,
    )
    op.create_table(
        "analyses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("service_name", sa.String(length=100), nullable=False),
        sa.Column("service_version", sa.String(length=50), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("user", sa.String(length=100), nullable=False),
        sa.Column("parameters", JSON, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("is_summary", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("results", JSON, nullable=False),
        sa.Column("plots", JSON, nullable=False),
        sa.Column("result_product_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["analysis_services.id"],
            name=op.f("fk_analyses_service_id_analysis_services"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_analyses_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["result_product_id"],
            ["products.id"],
            name=op.f("fk_analyses_result_product_id_products"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analyses")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_analyses_token_hash")),
        **NEVER_REUSED,
    )
    op.create_index("ix_analyses_product_user_status", "analyses", ["product_id", "user", "status"])
    op.create_index("ix_analyses_status_expires", "analyses", ["status", "expires_at"])
    op.create_index(op.f("ix_analyses_service_id"), "analyses", ["service_id"])
    op.create_table(
        "embedding_tasks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("production_product_id", sa.Integer(), nullable=True),
        sa.Column("user", sa.String(length=100), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("worker", sa.String(length=255), nullable=True),
        sa.Column("result", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_embedding_tasks_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["production_product_id"],
            ["products.id"],
            name=op.f("fk_embedding_tasks_production_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_embedding_tasks")),
    )
    op.create_index(
        "ix_embedding_tasks_state_submitted", "embedding_tasks", ["state", "submitted_at"]
    )
    op.create_index(op.f("ix_embedding_tasks_user"), "embedding_tasks", ["user"])
    op.create_table(
        "embedding_params",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_embedding_params_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_embedding_params")),
    )


def downgrade() -> None:
    op.drop_table("embedding_params")
    op.drop_table("embedding_tasks")
    op.drop_table("analyses")
    op.drop_table("analysis_services")
