"""Pseudonyms: the private link between a community-scoped pseudonym and the account behind it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pseudonyms',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retire_after', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_pseudonyms_actor_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_pseudonyms_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_pseudonyms_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pseudonyms')),
    sa.UniqueConstraint('actor_id', name=op.f('uq_pseudonyms_actor_id')),
    sa.UniqueConstraint('user_id', 'community_id', name=op.f('uq_pseudonyms_user_id_community_id'))
    )
    with op.batch_alter_table('pseudonyms', schema=None) as batch_op:
        batch_op.create_index('ix_pseudonyms_community_created', ['community_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pseudonyms', schema=None) as batch_op:
        batch_op.drop_index('ix_pseudonyms_community_created')
    op.drop_table('pseudonyms')
