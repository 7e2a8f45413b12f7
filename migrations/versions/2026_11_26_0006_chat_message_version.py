"""chat message version, hold queue index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 13:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A server default: existing lines start at version 1, and on PostgreSQL adding the
    # column is a catalogue change, not a rewrite of the (large) chat table.
    with op.batch_alter_table('chat_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
        batch_op.create_index(
            'ix_chat_message_held',
            ['event_id', 'received_at'],
            unique=False,
            postgresql_where=sa.text('held'),
            sqlite_where=sa.text('held = 1'),
        )


def downgrade() -> None:
    with op.batch_alter_table('chat_message', schema=None) as batch_op:
        batch_op.drop_index('ix_chat_message_held')
        batch_op.drop_column('version')
