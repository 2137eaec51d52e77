"""A person changes how they appear; the servers that know them are told."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Actor
from ..outbox import activities
from ..outbox.publish import inboxes_of, publish
from ..settings import Settings
from .account_deletion import remote_audience


async def update_profile(session: AsyncSession, settings: Settings, actor: Actor, *, display_name: str, bio: str) -> None:
    """Bio is plain text as typed; it is escaped into paragraphs wherever it is shown."""
    if (actor.display_name, actor.summary) == (display_name, bio):
        return
    actor.display_name = display_name
    actor.summary = bio
    await session.flush()
    audience = await remote_audience(session, actor)
    if audience:
        await publish(session, settings, actor, activities.update_actor(settings, actor), inboxes_of(audience))
