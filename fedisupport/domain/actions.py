"""What a person here does to posts, each with its federation: the web layer calls only these."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..care import welfare
from ..models import Actor, Community, Post
from ..outbox import distribute
from ..models.content import HELD, PUBLISHED
from ..policy.check import PostFacts, check_edit, check_local, with_label
from ..policy.decisions import Decision, Verdict
from ..settings import Settings
from . import posting
from .errors import DomainError
from .held import hold_post
from ..i18n import _


def _admitted(decision: Decision, content_warning: str | None) -> str | None:
    """The policy's local checkpoint: a REJECT is told to the writer; a label joins the content warning."""
    if decision.verdict == Verdict.REJECT:
        raise DomainError(decision.reason)
    return with_label(content_warning, decision, posting.MAX_CW)


async def write_thread(session: AsyncSession, settings: Settings, author: Actor, community: Community, *,
                       title: str | None, body: str, language: str | None = None,
                       content_warning: str | None = None) -> Post:
    """A new thread; when the policy holds it, it waits for a moderator and is sent nowhere yet."""
    facts = PostFacts.from_text(body, title=title, content_warning=content_warning, language=language)
    decision = await check_local(session, settings, author=author, community=community, thread=None, text=facts)
    content_warning = _admitted(decision, content_warning)
    post = await posting.start_thread(session, settings, author, community, title=title, body=body,
                                      language=language, content_warning=content_warning)
    await welfare.check_post(session, post)  # crisis signal: urgent welfare report, post unchanged
    if decision.verdict == Verdict.HOLD:
        await hold_post(session, post, decision)
        return post
    await distribute.post_published(session, settings, post)
    return post


async def write_reply(session: AsyncSession, settings: Settings, author: Actor, parent: Post, *, body: str,
                      language: str | None = None, content_warning: str | None = None) -> Post:
    """A reply; when the policy holds it, it waits for a moderator and is sent nowhere yet."""
    thread = await posting.thread_of(session, parent)
    community = await session.scalar(select(Community).where(Community.actor_id == thread.community_id)) \
        if thread.community_id is not None else None
    facts = PostFacts.from_text(body, content_warning=content_warning, language=language or parent.language,
                                is_reply=True)
    decision = await check_local(session, settings, author=author, community=community, thread=thread, text=facts)
    content_warning = _admitted(decision, content_warning)
    post = await posting.reply(session, settings, author, parent, body=body, language=language,
                               content_warning=content_warning)
    await welfare.check_post(session, post)  # crisis signal: urgent welfare report, post unchanged
    if decision.verdict == Verdict.HOLD:
        await hold_post(session, post, decision)
        return post
    await distribute.post_published(session, settings, post)
    return post


def _check_author(post: Post, actor: Actor) -> None:
    if post.author_id != actor.id or not post.local:
        raise DomainError(_("Only the person who wrote a post can change it."))


async def edit(session: AsyncSession, settings: Settings, actor: Actor, post: Post, *, body: str,
               title: str | None = None, content_warning: str | None = None) -> Post:
    _check_author(post, actor)
    community = await session.scalar(select(Community).where(Community.actor_id == post.community_id)) \
        if post.community_id is not None else None
    facts = PostFacts.from_text(body, title=title, content_warning=content_warning, language=post.language)
    decision = await check_edit(session, settings, author=actor, community=community, text=facts)
    content_warning = _admitted(decision, content_warning)
    await posting.edit_post(session, post, body=body, title=title, content_warning=content_warning)
    if decision.verdict == Verdict.HOLD and post.state == PUBLISHED:
        await hold_post(session, post, decision)
    if post.state == PUBLISHED:  # a held post has not gone anywhere yet: there is nothing to update
        await distribute.post_changed(session, settings, post, deleted=False)
    return post


async def delete(session: AsyncSession, settings: Settings, actor: Actor, post: Post) -> None:
    _check_author(post, actor)
    was_sent = post.state != HELD
    await posting.delete_post(session, post)
    if was_sent:
        await distribute.post_changed(session, settings, post, deleted=True)


async def like(session: AsyncSession, settings: Settings, actor: Actor, post: Post) -> bool:
    """Show support ("I hear you"); False if this person did already."""
    if not await posting.add_like(session, actor, post):
        return False
    like_id = await distribute.like_changed(session, settings, actor, post, None, undone=False)
    await posting.set_like_ap_id(session, actor, post, like_id)
    return True


async def unlike(session: AsyncSession, settings: Settings, actor: Actor, post: Post) -> bool:
    like = await posting.remove_like(session, actor, post)
    if like is None:
        return False
    await distribute.like_changed(session, settings, actor, post, like.ap_id, undone=True)
    return True
