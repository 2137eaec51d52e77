"""Moderation policy: keyword rules, community bans, slow mode, and the site's policy limits.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('community_bans',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ap_id', sa.String(length=2048), nullable=True),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_community_bans_actor_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_community_bans_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['actors.id'], name=op.f('fk_community_bans_created_by_id_actors'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_bans')),
    sa.UniqueConstraint('community_id', 'actor_id', name=op.f('uq_community_bans_community_id_actor_id'))
    )
    with op.batch_alter_table('community_bans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_community_bans_actor_id'), ['actor_id'], unique=False)

    op.create_table('keyword_rules',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('pattern', sa.String(length=500), nullable=False),
    sa.Column('is_regex', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('warning', sa.String(length=500), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_keyword_rules_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['actors.id'], name=op.f('fk_keyword_rules_created_by_id_actors'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_keyword_rules'))
    )
    with op.batch_alter_table('keyword_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_keyword_rules_community_id'), ['community_id'], unique=False)

    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slow_mode_seconds', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('new_account_held_posts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('posts_per_hour', sa.Integer(), server_default='30', nullable=False))
        batch_op.add_column(sa.Column('remote_domain_posts_per_minute', sa.Integer(), server_default='120', nullable=False))
        batch_op.add_column(sa.Column('spam_mention_limit', sa.Integer(), server_default='5', nullable=False))
        batch_op.add_column(sa.Column('show_blocked_domains', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.drop_column('show_blocked_domains')
        batch_op.drop_column('spam_mention_limit')
        batch_op.drop_column('remote_domain_posts_per_minute')
        batch_op.drop_column('posts_per_hour')
        batch_op.drop_column('new_account_held_posts')

    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('slow_mode_seconds')

    with op.batch_alter_table('keyword_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_keyword_rules_community_id'))

    op.drop_table('keyword_rules')
    with op.batch_alter_table('community_bans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_community_bans_actor_id'))

    op.drop_table('community_bans')
