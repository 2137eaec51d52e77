"""What every inbox handler gets, and the three ways a handler can say no."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..activitypub.vocab import Activity
from ..models import Actor
from ..services import Services


class Rejected(Exception):
    """The activity is refused; `reason` is kept with the inbox item."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Ignored(Exception):
    """A well-formed activity we have nothing to do with (yet); kept, marked ignored."""


class RetryLater(Exception):
    """Something we need is unavailable for now (a remote server, a lock); try again later."""


class NeedsNetwork(Exception):
    """Raised inside an inbox batch, which never waits on other servers: the activity needs a
    fetch (an unknown actor, a post we lack), so it is rolled back and handled alone."""


@dataclass
class Context:
    services: Services
    session: AsyncSession
    # The activity and its actor, verified by the signature; None for posts we fetch ourselves
    # (backfill), whose authors are checked against their origin instead.
    activity: Activity | None
    actor: Actor | None
    # The InboxItem being handled (None for backfill): a held post keeps it, so that approving
    # the post can Announce the activity exactly as it was received.
    item_id: int | None = None
    # Earlier attempts at this item (each ended in RetryLater): how long it has waited already.
    attempts: int = 0

    @property
    def settings(self):
        return self.services.settings


async def local_actor(session: AsyncSession, ap_id: str | None) -> Actor | None:
    if not ap_id:
        return None
    return await session.scalar(select(Actor).where(Actor.ap_id == ap_id, Actor.local.is_(True)))
