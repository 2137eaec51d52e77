"""Care built in: the directory of crisis services and the crisis-signal phrases.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('crisis_services',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seed_key', sa.String(length=100), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('contact', sa.String(length=500), nullable=False),
    sa.Column('region', sa.String(length=2), nullable=False),
    sa.Column('languages', sa.String(length=100), nullable=False),
    sa.Column('hours', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('source_url', sa.String(length=2048), nullable=False),
    sa.Column('last_checked', sa.Date(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crisis_services')),
    sa.UniqueConstraint('seed_key', name=op.f('uq_crisis_services_seed_key'))
    )
    with op.batch_alter_table('crisis_services', schema=None) as batch_op:
        batch_op.create_index('ix_crisis_services_region_position', ['region', 'position'], unique=False)

    op.create_table('crisis_phrases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('phrase', sa.String(length=200), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crisis_phrases')),
    sa.UniqueConstraint('language', 'phrase', name=op.f('uq_crisis_phrases_language_phrase'))
    )


def downgrade() -> None:
    op.drop_table('crisis_phrases')
    with op.batch_alter_table('crisis_services', schema=None) as batch_op:
        batch_op.drop_index('ix_crisis_services_region_position')
    op.drop_table('crisis_services')
