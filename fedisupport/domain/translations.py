"""Volunteer translations of a thread's opening post, and those that arrive with a remote post.

A translation belongs to one opening post and one language. Written here, it is checked by the
policy's local checkpoint like a post (a REJECT is told to the translator, a HOLD waits in the
moderators' queue), and once published it travels inside the post's Note as another
`contentMap`/`nameMap` entry: adding, changing or removing one sends an `Update` of the post.
Translations of posts from other servers come only from the post's own `contentMap`, so only
the post's author's server can change them.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Actor, Community, Follow, HeldItem, Post, PostTranslation, utcnow
from ..models.content import HELD, PUBLIC, PUBLISHED, UNLISTED
from ..models.social import ACCEPTED
from ..outbox import distribute
from ..policy.check import PostFacts, check_local
from ..policy.decisions import Verdict
from ..settings import Settings
from ..text import render_markdown
from . import languages, moderation
from .errors import DomainError, NotFound
from .posting import MAX_BODY, MAX_TITLE

REJECTED = "rejected"
# Public threads: a translation travels wherever the post went, and its page is for anyone.
TRANSLATABLE = (PUBLIC, UNLISTED)
NOT_TRANSLATABLE = "Only the opening post of a thread started here can be translated."


@dataclass(frozen=True)
class Entry:
    """One language of a post as it federates: (language, title, sanitised HTML)."""

    language: str
    title: str | None
    content_html: str


async def published_for(session: AsyncSession, post: Post) -> list[PostTranslation]:
    """A post's published translations, oldest language first (the order its contentMap keeps)."""
    if not post.is_thread:
        return []
    return list(await session.scalars(
        select(PostTranslation).where(PostTranslation.post_id == post.id, PostTranslation.state == PUBLISHED)
        .order_by(PostTranslation.created_at, PostTranslation.id)))


async def entries_for(session: AsyncSession, post: Post) -> list[Entry]:
    return [Entry(t.language, t.title, t.content_html) for t in await published_for(session, post)]


async def find(session: AsyncSession, post: Post, language: str) -> PostTranslation | None:
    return await session.scalar(select(PostTranslation).where(PostTranslation.post_id == post.id,
                                                              PostTranslation.language == language))


async def _community(session: AsyncSession, post: Post) -> Community:
    community = await moderation.community_of(session, post)
    if not (post.is_thread and post.local and post.visibility in TRANSLATABLE and community is not None
            and community.local):
        raise DomainError(NOT_TRANSLATABLE)
    if post.state != PUBLISHED:
        raise NotFound("That post is no longer here, so it can't be translated.")
    return community


async def _is_member(session: AsyncSession, actor: Actor, community: Community) -> bool:
    found = await session.scalar(select(Follow.id).where(Follow.follower_id == actor.id,
                                                         Follow.target_id == community.actor_id,
                                                         Follow.state == ACCEPTED))
    return found is not None


async def may_translate(session: AsyncSession, actor: Actor | None, post: Post, community: Community | None, *,
                        is_author: bool = False) -> bool:
    """Whether this person may add a translation of this opening post.

    The post's author (`is_author`: the caller knows whether a pseudonym of theirs wrote it) and
    the community's moderators always may; any member may when the community allows volunteers.
    """
    if actor is None or actor.suspended or community is None or not community.local:
        return False
    if not (post.is_thread and post.local and post.state == PUBLISHED and post.visibility in TRANSLATABLE):
        return False
    if is_author or await moderation.may_moderate(session, actor, community):
        return True
    return community.volunteer_translations and await _is_member(session, actor, community)


async def may_change(session: AsyncSession, actor: Actor, translation: PostTranslation, post: Post,
                     community: Community, *, is_author: bool) -> bool:
    """Whether this person may change or remove a translation someone wrote: its translator, the
    post's author and the community's moderators."""
    if translation.state == REJECTED:
        return True  # turned down: the language is free for a new translation
    if translation.translator_id == actor.id or is_author:
        return True
    return await moderation.may_moderate(session, actor, community)


def _check_text(title: str | None, body: str) -> tuple[str | None, str]:
    title = (title or "").strip() or None
    body = (body or "").strip()
    if not body:
        raise DomainError("Write the translation first: it is empty.")
    if len(body) > MAX_BODY:
        raise DomainError(f"A translation can be at most {MAX_BODY} characters.")
    if title and len(title) > MAX_TITLE:
        raise DomainError(f"A title can be at most {MAX_TITLE} characters.")
    return title, body


async def save(session: AsyncSession, settings: Settings, translator: Actor, post: Post, *, language: str,
               title: str | None, body: str, is_author: bool = False) -> PostTranslation:
    """Add a translation, or change the one in that language; federate it when it is published.

    Raises NotAllowed when this person may not, DomainError with a message for the form otherwise.
    """
    community = await _community(session, post)
    if not await may_translate(session, translator, post, community, is_author=is_author):
        raise moderation.NotAllowed("Only members of this community can add a translation here.")
    tag = languages.valid(language, community.languages)
    if tag is None:
        raise DomainError("Please choose a language from the list.")
    if tag == languages.primary(post.language):
        raise DomainError("The post is already written in that language. Please choose another one.")
    title, body = _check_text(title, body)
    if title is None and post.title:
        raise DomainError("Please translate the title too.")
    existing = await find(session, post, tag)
    if existing is not None and not await may_change(session, translator, existing, post, community,
                                                     is_author=is_author):
        raise DomainError(f"Someone has already translated this post into {languages.name_of(tag)}. "
                          "If something in it needs fixing, you could tell the moderators.")
    facts = PostFacts.from_text(body, title=title, language=tag)
    decision = await check_local(session, settings, author=translator, community=community, thread=None, text=facts)
    if decision.verdict == Verdict.REJECT:
        raise DomainError(decision.reason)
    was_published = existing is not None and existing.state == PUBLISHED
    now = utcnow()
    translation = existing or PostTranslation(post_id=post.id, language=tag, created_at=now)
    translation.title = title
    translation.source = body
    translation.content_html = render_markdown(body)
    translation.local = True
    translation.translator_id = translator.id
    translation.updated_at = now
    translation.state = HELD if decision.verdict == Verdict.HOLD else PUBLISHED
    if existing is None:
        session.add(translation)
    await session.flush()
    if translation.state == HELD:
        waiting = await session.scalar(select(HeldItem.id).where(HeldItem.translation_id == translation.id,
                                                                  HeldItem.state == "pending"))
        if waiting is None:
            session.add(HeldItem(kind="translation", post_id=post.id, translation_id=translation.id,
                                 community_id=community.id, reason=(decision.reason or "held")[:2000],
                                 urgent=decision.urgent))
            await session.flush()
    if translation.state == PUBLISHED or was_published:
        # Published, or taken out of view for review: either way the Note others hold changes.
        await distribute.post_changed(session, settings, post, deleted=False)
    return translation


async def remove(session: AsyncSession, settings: Settings, actor: Actor, post: Post, language: str, *,
                 is_author: bool = False) -> None:
    """Take a translation away (its translator, the post's author, a moderator); others hear by Update."""
    community = await _community(session, post)
    translation = await find(session, post, language)
    if translation is None or not translation.local:
        raise NotFound("That translation isn't here any more.")
    if not await may_change(session, actor, translation, post, community, is_author=is_author) \
            or translation.state == REJECTED:
        raise moderation.NotAllowed("Only the person who translated it, the post's author or a moderator can remove it.")
    was_published = translation.state == PUBLISHED
    await session.delete(translation)
    await session.flush()
    if was_published:
        await distribute.post_changed(session, settings, post, deleted=False)


async def decide_held(session: AsyncSession, settings: Settings, held: HeldItem, *, approve: bool) -> Post | None:
    """A moderator's decision on a held translation (domain/moderation.decide_held checks who may)."""
    translation = await session.get(PostTranslation, held.translation_id) if held.translation_id else None
    post = await session.get(Post, translation.post_id) if translation is not None else None
    if translation is None or post is None or translation.state != HELD:
        return post  # removed or replaced meanwhile
    translation.state = PUBLISHED if approve else REJECTED
    await session.flush()
    if approve and post.state == PUBLISHED:
        await distribute.post_changed(session, settings, post, deleted=False)
    return post


async def sync_remote(session: AsyncSession, post: Post, entries: list[Entry]) -> None:
    """Make a remote opening post's translations what its origin's contentMap says (already sanitised)."""
    if not post.is_thread or post.local:
        return
    wanted = {e.language: e for e in entries if e.language and e.language != post.language}
    current = {t.language: t for t in await session.scalars(
        select(PostTranslation).where(PostTranslation.post_id == post.id))}
    gone = [t.id for lang, t in current.items() if lang not in wanted]
    if gone:
        await session.execute(delete(PostTranslation).where(PostTranslation.id.in_(gone)))
    now = utcnow()
    for lang, entry in wanted.items():
        row = current.get(lang)
        if row is None:
            row = PostTranslation(post_id=post.id, language=lang, created_at=now, local=False, state=PUBLISHED)
            session.add(row)
        elif row.title == entry.title and row.content_html == entry.content_html:
            continue
        row.title, row.content_html, row.updated_at = entry.title, entry.content_html, now
    await session.flush()
