"""Reports filed by the instance itself (crisis signals) are marked, so they use no one's quota.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# The crisis-signal reports filed before this revision, known by the reason they were given.
CRISIS_SIGNAL_REASON = "crisis signal: %"


def upgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('automatic', sa.Boolean(), server_default=sa.false(), nullable=False))
    reports = sa.table('reports', sa.column('automatic', sa.Boolean()), sa.column('reporter_id'),
                       sa.column('ap_id'), sa.column('reason'))
    op.execute(reports.update()
               .where(reports.c.reporter_id.is_(None), reports.c.ap_id.is_(None),
                      reports.c.reason.like(CRISIS_SIGNAL_REASON))
               .values(automatic=True))


def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('automatic')
