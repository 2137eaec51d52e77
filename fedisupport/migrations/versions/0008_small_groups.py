"""Small groups: members-only communities started from a thread, and the invitations into them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('members_only', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('parent_thread_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('parent_community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_communities_parent_thread_id_posts'), 'posts', ['parent_thread_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_communities_parent_community_id_communities'), 'communities', ['parent_community_id'], ['id'], ondelete='SET NULL')
    op.create_table('group_invitations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('invitee_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('invited_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_group_invitations_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invited_by_id'], ['actors.id'], name=op.f('fk_group_invitations_invited_by_id_actors'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['invitee_id'], ['actors.id'], name=op.f('fk_group_invitations_invitee_id_actors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_invitations')),
    sa.UniqueConstraint('community_id', 'invitee_id', name=op.f('uq_group_invitations_community_id_invitee_id'))
    )
    with op.batch_alter_table('group_invitations', schema=None) as batch_op:
        batch_op.create_index('ix_group_invitations_invitee_state', ['invitee_id', 'state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('group_invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_group_invitations_invitee_state')
    op.drop_table('group_invitations')
    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_communities_parent_community_id_communities'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_communities_parent_thread_id_posts'), type_='foreignkey')
        batch_op.drop_column('parent_community_id')
        batch_op.drop_column('parent_thread_id')
        batch_op.drop_column('members_only')
