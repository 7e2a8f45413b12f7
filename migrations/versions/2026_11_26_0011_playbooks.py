"""playbooks: versioned contingency playbook and its entries

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 19:00:00.000000

The default playbook is not inserted here: migrations must not depend on app code, and
the app loads it as version 1 the first time the playbook is read.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "playbook",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("yaml", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbook")),
        sa.UniqueConstraint("version", name=op.f("uq_playbook_version")),
    )
    op.create_table(
        "playbook_entry",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("playbook_id", sa.String(length=32), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("default_severity", sa.String(length=8), nullable=False),
        sa.Column("owner_role", sa.String(length=16), nullable=False),
        sa.Column("detection", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("escalation", sa.JSON(), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("templates", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["playbook_id"],
            ["playbook.id"],
            name=op.f("fk_playbook_entry_playbook_id_playbook"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbook_entry")),
        sa.UniqueConstraint(
            "playbook_id", "slug", name=op.f("uq_playbook_entry_playbook_id_slug")
        ),
    )


def downgrade() -> None:
    op.drop_table("playbook_entry")
    op.drop_table("playbook")
