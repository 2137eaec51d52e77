"""Initial schema: actors, communities, posts, likes, follows, moderation and the two queues.

Revision ID: 0001
Revises: 
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('actors',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('local', sa.Boolean(), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('display_name', sa.String(length=500), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('icon_url', sa.String(length=2048), nullable=True),
    sa.Column('inbox_url', sa.String(length=2048), nullable=False),
    sa.Column('shared_inbox_url', sa.String(length=2048), nullable=True),
    sa.Column('outbox_url', sa.String(length=2048), nullable=True),
    sa.Column('followers_url', sa.String(length=2048), nullable=True),
    sa.Column('key_id', sa.String(length=2048), nullable=True),
    sa.Column('public_key_pem', sa.Text(), nullable=True),
    sa.Column('private_key_pem', sa.Text(), nullable=True),
    sa.Column('manually_approves_followers', sa.Boolean(), nullable=False),
    sa.Column('follower_count', sa.Integer(), nullable=False),
    sa.Column('following_count', sa.Integer(), nullable=False),
    sa.Column('post_count', sa.Integer(), nullable=False),
    sa.Column('suspended', sa.Boolean(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_actors')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_actors_ap_id'))
    )
    with op.batch_alter_table('actors', schema=None) as batch_op:
        batch_op.create_index('ix_actors_domain_username', ['domain', 'username'], unique=False)
        batch_op.create_index('ix_actors_key_id', ['key_id'], unique=False)

    op.create_table('domain_policies',
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('reject_media', sa.Boolean(), nullable=False),
    sa.Column('reject_reports', sa.Boolean(), nullable=False),
    sa.Column('public_comment', sa.Text(), nullable=False),
    sa.Column('private_comment', sa.Text(), nullable=False),
    sa.Column('obfuscate', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('domain', name=op.f('pk_domain_policies'))
    )
    op.create_table('instances',
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('software', sa.String(length=64), nullable=True),
    sa.Column('software_version', sa.String(length=64), nullable=True),
    sa.Column('software_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failure_days', sa.Integer(), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('paused_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('host', name=op.f('pk_instances'))
    )
    op.create_table('site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('registration_mode', sa.String(length=16), nullable=False),
    sa.Column('contact_email', sa.String(length=320), nullable=True),
    sa.Column('default_language', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site'))
    )
    op.create_table('tombstones',
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('former_type', sa.String(length=32), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('ap_id', name=op.f('pk_tombstones'))
    )
    op.create_table('communities',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('local', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('languages', sa.String(length=200), nullable=False),
    sa.Column('requires_approval', sa.Boolean(), nullable=False),
    sa.Column('allow_pseudonyms', sa.Boolean(), nullable=False),
    sa.Column('microblog_distribution', sa.String(length=16), nullable=False),
    sa.Column('thread_count', sa.Integer(), nullable=False),
    sa.Column('member_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_communities_actor_id_actors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_communities')),
    sa.UniqueConstraint('actor_id', name=op.f('uq_communities_actor_id'))
    )
    op.create_table('follows',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('follower_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('target_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['follower_id'], ['actors.id'], name=op.f('fk_follows_follower_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['actors.id'], name=op.f('fk_follows_target_id_actors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follows')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_follows_ap_id')),
    sa.UniqueConstraint('follower_id', 'target_id', name=op.f('uq_follows_follower_id_target_id'))
    )
    with op.batch_alter_table('follows', schema=None) as batch_op:
        batch_op.create_index('ix_follows_target_state', ['target_id', 'state'], unique=False)

    op.create_table('inbox_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('actor_ap_id', sa.String(length=2048), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('recipient_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['recipient_id'], ['actors.id'], name=op.f('fk_inbox_items_recipient_id_actors'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_items')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_inbox_items_ap_id'))
    )
    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.create_index('ix_inbox_items_claim', ['state', 'next_attempt_at'], unique=False)

    op.create_table('outbox_activities',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_outbox_activities_actor_id_actors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_activities')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_outbox_activities_ap_id'))
    )
    with op.batch_alter_table('outbox_activities', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_activities_actor_created', ['actor_id', 'created_at'], unique=False)

    op.create_table('posts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('local', sa.Boolean(), nullable=False),
    sa.Column('author_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('thread_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('parent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('is_thread', sa.Boolean(), nullable=False),
    sa.Column('in_reply_to_ap_id', sa.String(length=2048), nullable=True),
    sa.Column('context_ap_id', sa.String(length=2048), nullable=True),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('title', sa.String(length=500), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('content_html', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('content_warning', sa.String(length=2000), nullable=True),
    sa.Column('sensitive', sa.Boolean(), nullable=False),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('pinned', sa.Boolean(), nullable=False),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('reply_count', sa.Integer(), nullable=False),
    sa.Column('thread_reply_count', sa.Integer(), nullable=False),
    sa.Column('like_count', sa.Integer(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_activity_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['actors.id'], name=op.f('fk_posts_author_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['community_id'], ['actors.id'], name=op.f('fk_posts_community_id_actors'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['parent_id'], ['posts.id'], name=op.f('fk_posts_parent_id_posts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['thread_id'], ['posts.id'], name=op.f('fk_posts_thread_id_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_posts')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_posts_ap_id'))
    )
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.create_index('ix_posts_author', ['author_id', 'published_at'], unique=False)
        batch_op.create_index('ix_posts_community_threads', ['community_id', 'is_thread', 'last_activity_at', 'id'], unique=False)
        batch_op.create_index('ix_posts_parent_published', ['parent_id', 'published_at', 'id'], unique=False)
        batch_op.create_index('ix_posts_thread_published', ['thread_id', 'published_at', 'id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('approved', sa.Boolean(), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_users_actor_id_actors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('actor_id', name=op.f('uq_users_actor_id')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('activity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('inbox_url', sa.String(length=2048), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['activity_id'], ['outbox_activities.id'], name=op.f('fk_deliveries_activity_id_outbox_activities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('activity_id', 'inbox_url', name=op.f('uq_deliveries_activity_id_inbox_url'))
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_claim', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_deliveries_host_state', ['host', 'state'], unique=False)

    op.create_table('held_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('post_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('follow_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('inbox_item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('decided_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_held_items_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['actors.id'], name=op.f('fk_held_items_decided_by_id_actors'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['follow_id'], ['follows.id'], name=op.f('fk_held_items_follow_id_follows'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['inbox_item_id'], ['inbox_items.id'], name=op.f('fk_held_items_inbox_item_id_inbox_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_held_items_post_id_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_held_items'))
    )
    with op.batch_alter_table('held_items', schema=None) as batch_op:
        batch_op.create_index('ix_held_items_queue', ['state', 'urgent', 'created_at'], unique=False)

    op.create_table('likes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('post_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_likes_actor_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_likes_post_id_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_likes')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_likes_ap_id')),
    sa.UniqueConstraint('post_id', 'actor_id', name=op.f('uq_likes_post_id_actor_id'))
    )
    with op.batch_alter_table('likes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_likes_actor_id'), ['actor_id'], unique=False)

    op.create_table('memberships',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_memberships_actor_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_memberships_community_id_communities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memberships')),
    sa.UniqueConstraint('community_id', 'actor_id', name=op.f('uq_memberships_community_id_actor_id'))
    )
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_memberships_actor_id'), ['actor_id'], unique=False)

    op.create_table('mod_actions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('moderator_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target_actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('target_post_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_mod_actions_community_id_communities'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['moderator_id'], ['actors.id'], name=op.f('fk_mod_actions_moderator_id_actors'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['target_actor_id'], ['actors.id'], name=op.f('fk_mod_actions_target_actor_id_actors'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['target_post_id'], ['posts.id'], name=op.f('fk_mod_actions_target_post_id_posts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mod_actions'))
    )
    with op.batch_alter_table('mod_actions', schema=None) as batch_op:
        batch_op.create_index('ix_mod_actions_community_created', ['community_id', 'created_at'], unique=False)

    op.create_table('reports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=True),
    sa.Column('reporter_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('target_actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('post_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('forwarded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_reports_community_id_communities'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_reports_post_id_posts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reporter_id'], ['actors.id'], name=op.f('fk_reports_reporter_id_actors'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['actors.id'], name=op.f('fk_reports_resolved_by_id_actors'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['target_actor_id'], ['actors.id'], name=op.f('fk_reports_target_actor_id_actors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_reports_ap_id'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index('ix_reports_state_created', ['state', 'created_at'], unique=False)

    op.create_table('rules',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_rules_community_id_communities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rules'))
    )
    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rules_community_id'), ['community_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rules_community_id'))

    op.drop_table('rules')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_state_created')

    op.drop_table('reports')
    with op.batch_alter_table('mod_actions', schema=None) as batch_op:
        batch_op.drop_index('ix_mod_actions_community_created')

    op.drop_table('mod_actions')
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_memberships_actor_id'))

    op.drop_table('memberships')
    with op.batch_alter_table('likes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_likes_actor_id'))

    op.drop_table('likes')
    with op.batch_alter_table('held_items', schema=None) as batch_op:
        batch_op.drop_index('ix_held_items_queue')

    op.drop_table('held_items')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_host_state')
        batch_op.drop_index('ix_deliveries_claim')

    op.drop_table('deliveries')
    op.drop_table('users')
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_index('ix_posts_thread_published')
        batch_op.drop_index('ix_posts_parent_published')
        batch_op.drop_index('ix_posts_community_threads')
        batch_op.drop_index('ix_posts_author')

    op.drop_table('posts')
    with op.batch_alter_table('outbox_activities', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_activities_actor_created')

    op.drop_table('outbox_activities')
    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.drop_index('ix_inbox_items_claim')

    op.drop_table('inbox_items')
    with op.batch_alter_table('follows', schema=None) as batch_op:
        batch_op.drop_index('ix_follows_target_state')

    op.drop_table('follows')
    op.drop_table('communities')
    op.drop_table('tombstones')
    op.drop_table('site')
    op.drop_table('instances')
    op.drop_table('domain_policies')
    with op.batch_alter_table('actors', schema=None) as batch_op:
        batch_op.drop_index('ix_actors_key_id')

    op.drop_table('actors')
