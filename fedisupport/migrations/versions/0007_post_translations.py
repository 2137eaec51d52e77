"""Posts carry their language: volunteer translations, the community switch, the language filter index.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('post_translations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('post_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('content_html', sa.Text(), nullable=False),
    sa.Column('local', sa.Boolean(), nullable=False),
    sa.Column('translator_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_post_translations_post_id_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['translator_id'], ['actors.id'], name=op.f('fk_post_translations_translator_id_actors'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_post_translations')),
    sa.UniqueConstraint('post_id', 'language', name=op.f('uq_post_translations_post_id_language'))
    )
    with op.batch_alter_table('post_translations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_post_translations_translator_id'), ['translator_id'], unique=False)

    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('volunteer_translations', sa.Boolean(), server_default=sa.true(), nullable=False))

    with op.batch_alter_table('held_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('translation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_held_items_translation_id_post_translations'), 'post_translations',
                                    ['translation_id'], ['id'], ondelete='CASCADE')

    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.create_index('ix_posts_community_language',
                              ['community_id', 'is_thread', 'language', 'last_activity_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_index('ix_posts_community_language')
    with op.batch_alter_table('held_items', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_held_items_translation_id_post_translations'), type_='foreignkey')
        batch_op.drop_column('translation_id')
    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.drop_column('volunteer_translations')
    with op.batch_alter_table('post_translations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_translations_translator_id'))
    op.drop_table('post_translations')
