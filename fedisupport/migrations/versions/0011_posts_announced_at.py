"""When a community passed a remote post's Create on, so a parent fetched early is announced later.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('announced_at', sa.DateTime(timezone=True), nullable=True))
    # Posts already here were handled by the rule before this one; none waits for an Announce.
    posts = sa.table('posts', sa.column('announced_at', sa.DateTime(timezone=True)),
                     sa.column('published_at', sa.DateTime(timezone=True)))
    op.execute(posts.update().values(announced_at=posts.c.published_at))


def downgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('announced_at')
