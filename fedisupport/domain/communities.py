"""Setting a community up and changing it; followers' servers hear about every change."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Actor, Community, Rule
from ..outbox import activities
from ..outbox.distribute import follower_inboxes
from ..outbox.publish import publish
from ..settings import Settings
from . import moderation
from .errors import DomainError
from ..i18n import _

MAX_TITLE = 200
MAX_DESCRIPTION = 5_000
MAX_RULES = 20
MAX_RULE = 500
DISTRIBUTIONS = ("threads", "all")


@dataclass(frozen=True)
class CommunitySettings:
    title: str
    description: str
    languages: str
    requires_approval: bool
    microblog_distribution: str
    rules: tuple[str, ...]
    # Members may post under a community-scoped pseudonym (domain/pseudonyms.py).
    allow_pseudonyms: bool = False
    # Any member may add a translation of an opening post (domain/translations.py).
    volunteer_translations: bool = True

    def checked(self) -> "CommunitySettings":
        title = " ".join(self.title.split())
        if not title:
            raise DomainError("A community needs a title.")
        if len(title) > MAX_TITLE:
            raise DomainError(_("Please keep the title to %(max)s characters or fewer.", max=MAX_TITLE))
        if len(self.description) > MAX_DESCRIPTION:
            raise DomainError(_("Please keep the description to %(max)s characters or fewer.", max=MAX_DESCRIPTION))
        if self.microblog_distribution not in DISTRIBUTIONS:
            raise DomainError(_("Choose what people following from Mastodon see."))
        rules = tuple(r.strip() for r in self.rules if r.strip())
        if len(rules) > MAX_RULES or any(len(r) > MAX_RULE for r in rules):
            raise DomainError(_("Up to %(rules)s rules, each at most %(max)s characters.", rules=MAX_RULES, max=MAX_RULE))
        languages = " ".join(dict.fromkeys(tag.lower() for tag in self.languages.replace(",", " ").split()
                                           if 1 < len(tag) <= 16))
        return CommunitySettings(title, self.description.strip(), languages, self.requires_approval,
                                 self.microblog_distribution, rules, self.allow_pseudonyms, self.volunteer_translations)


async def may_configure(session: AsyncSession, actor: Actor | None, community: Community) -> bool:
    """Instance admins and the community's owner change its settings."""
    return community.local and await moderation.may_manage_moderators(session, actor, community)


async def rules_of(session: AsyncSession, community: Community) -> list[str]:
    return list(await session.scalars(select(Rule.text).where(Rule.community_id == community.id)
                                      .order_by(Rule.position, Rule.id)))


async def configure(session: AsyncSession, settings: Settings, by: Actor, community: Community,
                    new: CommunitySettings) -> None:
    if not await may_configure(session, by, community):
        raise moderation.NotAllowed("Only an admin or the community's owner can change its settings.")
    new = new.checked()
    group = await session.get(Actor, community.actor_id)
    community.title = group.display_name = new.title
    community.description = group.summary = new.description
    community.languages = new.languages
    # A small group always approves its members (docs/small-groups.md).
    community.requires_approval = group.manually_approves_followers = new.requires_approval or community.members_only
    community.microblog_distribution = new.microblog_distribution
    community.allow_pseudonyms = new.allow_pseudonyms  # local only: nothing about it federates
    community.volunteer_translations = new.volunteer_translations  # local only too
    await session.execute(delete(Rule).where(Rule.community_id == community.id))
    session.add_all(Rule(community_id=community.id, position=n, text=text) for n, text in enumerate(new.rules))
    await session.flush()
    forum, microblog = await follower_inboxes(session, group)
    if forum or microblog:
        await publish(session, settings, group, activities.update_actor(settings, group, community), forum + microblog)
