"""Who is banned from which community, and until when. An expired ban no longer counts.

`community_bans.community_id` is the community's row; posts point at its Group actor, so the
helpers here take the Group actor's id, which is what a post or a thread carries.
"""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Community, CommunityBan, utcnow
from .pseudonym_links import same_person
from ..i18n import lazy_gettext

BANNED_MESSAGE = lazy_gettext("The moderators of this community have stopped this account from posting here, "
                  "so this couldn't be sent.")


def in_force():
    """The condition for a ban that still counts: no expiry, or an expiry still ahead."""
    return or_(CommunityBan.expires_at.is_(None), CommunityBan.expires_at > utcnow())


async def active_ban(session: AsyncSession, group_actor_id: int | None, actor_id: int) -> CommunityBan | None:
    """The ban in force for this person in the community whose Group actor is given, if any.

    A ban of someone's pseudonym there stops the account behind it too, and the other way round
    (domain/pseudonyms.py): nobody sheds a ban by switching names.
    """
    if group_actor_id is None:
        return None
    return await session.scalar(
        select(CommunityBan).join(Community, Community.id == CommunityBan.community_id)
        .where(Community.actor_id == group_actor_id, in_force(),
               same_person(CommunityBan.actor_id, actor_id, CommunityBan.community_id))
        .order_by(CommunityBan.id).limit(1)
    )
