"""report: presence_event (viewers' joins and leaves, for watch time and retention), and
chat's (event_id, received_at) index covering what the report groups by (PostgreSQL)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "presence_event",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("viewer_id", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_presence_event_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["source.id"],
            name=op.f("fk_presence_event_source_id_source"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presence_event")),
    )
    op.create_index(
        "ix_presence_event_viewer",
        "presence_event",
        ["event_id", "platform", "viewer_id", "at"],
        unique=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        # Same key, more columns: the report's scans of an event's chat become index-only.
        # Rebuilding it holds chat writes for a few seconds per million lines: migrate
        # between events.
        _chat_index(include=["platform", "author_id", "hidden", "is_question"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _chat_index(include=[])
    op.drop_index("ix_presence_event_viewer", table_name="presence_event")
    op.drop_table("presence_event")


def _chat_index(include: list[str]) -> None:
    op.drop_index("ix_chat_message_event_id_received_at", table_name="chat_message")
    op.create_index(
        "ix_chat_message_event_id_received_at",
        "chat_message",
        ["event_id", "received_at"],
        unique=False,
        postgresql_include=include,
    )
