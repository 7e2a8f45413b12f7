"""polls: poll, poll_option, vote

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 14:46:55.218215
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("state = 'open'")


def upgrade() -> None:
    op.create_table(
        "poll",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late_votes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cue_id", sa.String(length=32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_poll_event_id_event"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll")),
    )
    with op.batch_alter_table("poll", schema=None) as batch_op:
        batch_op.create_index("ix_poll_event_id", ["event_id"], unique=False)
        batch_op.create_index("ix_poll_state_closes_at", ["state", "closes_at"], unique=False)
        batch_op.create_index(
            "uq_poll_event_id_open",
            ["event_id"],
            unique=True,
            postgresql_where=OPEN,
            sqlite_where=OPEN,
        )
    op.create_table(
        "poll_option",
        sa.Column("poll_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["poll.id"], name=op.f("fk_poll_option_poll_id_poll"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("poll_id", "position", name=op.f("pk_poll_option")),
    )
    op.create_table(
        "vote",
        sa.Column("poll_id", sa.String(length=32), nullable=False),
        sa.Column("voter", sa.String(length=160), nullable=False),
        sa.Column("source_id", sa.String(length=32), nullable=True),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("choice_key", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["poll.id"], name=op.f("fk_vote_poll_id_poll"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["source.id"],
            name=op.f("fk_vote_source_id_source"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("poll_id", "voter", name=op.f("pk_vote")),
    )


def downgrade() -> None:
    op.drop_table("vote")
    op.drop_table("poll_option")
    with op.batch_alter_table("poll", schema=None) as batch_op:
        batch_op.drop_index("uq_poll_event_id_open", postgresql_where=OPEN, sqlite_where=OPEN)
        batch_op.drop_index("ix_poll_state_closes_at")
        batch_op.drop_index("ix_poll_event_id")
    op.drop_table("poll")
