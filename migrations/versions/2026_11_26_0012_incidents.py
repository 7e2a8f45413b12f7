"""incidents: incident, steps, roles, append-only timeline, detector signals

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "signal IS NOT NULL AND state IN ('triage','acknowledged','mitigating','monitoring')"


def _at(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "incident",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("entry_slug", sa.String(length=64), nullable=True),
        sa.Column("playbook_version", sa.Integer(), nullable=True),
        sa.Column("suggested_slug", sa.String(length=64), nullable=True),
        sa.Column("match_confirmed", sa.Boolean(), nullable=False),
        sa.Column("signal", sa.String(length=32), nullable=True),
        sa.Column("scope", sa.String(length=80), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("detection", sa.JSON(), nullable=False),
        sa.Column("drill", sa.Boolean(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("escalations_done", sa.Integer(), nullable=False),
        _at("impact_started_at"),
        _at("detected_at"),
        _at("declared_at"),
        _at("acknowledged_at"),
        _at("mitigated_at"),
        _at("resolved_at"),
        _at("closed_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        _at("created_at", False),
        _at("updated_at", False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_incident_event_id_event"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
        sa.UniqueConstraint("event_id", "number", name=op.f("uq_incident_event_id_number")),
    )
    op.create_index("ix_incident_event_id_state", "incident", ["event_id", "state"])
    op.create_index(
        "uq_incident_open_signal",
        "incident",
        ["event_id", "signal", "scope"],
        unique=True,
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    op.create_table(
        "incident_step",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("owner_role", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("action", sa.JSON(), nullable=True),
        sa.Column("from_playbook", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("done_by", sa.String(length=64), nullable=True),
        _at("done_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_step_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_step")),
    )
    op.create_index("ix_incident_step_incident_id", "incident_step", ["incident_id", "position"])
    op.create_table(
        "incident_role",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("assigned_by", sa.String(length=64), nullable=False),
        _at("assigned_at", False),
        _at("ended_at"),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_role_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_role")),
    )
    op.create_index("ix_incident_role_incident_id", "incident_role", ["incident_id"])
    op.create_table(
        "timeline_entry",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        _at("at", False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_timeline_entry_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_entry")),
    )
    op.create_index("ix_timeline_entry_incident_id", "timeline_entry", ["incident_id", "id"])
    op.create_table(
        "detector_signal",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        _at("at", False),
        sa.Column("signal", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("entry_slug", sa.String(length=64), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=True),
        sa.Column("drill", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_detector_signal_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detector_signal")),
    )
    op.create_index("ix_detector_signal_event_id_at", "detector_signal", ["event_id", "at"])


def downgrade() -> None:
    for table in ("detector_signal", "timeline_entry", "incident_role", "incident_step", "incident"):
        op.drop_table(table)
