"""Who receives what when something happens in a community (FEP-1b12, with care for Mastodon).

- Forum software following a community (Lemmy, PieFed, other fedisupport instances) receives
  every activity wrapped, unchanged, in an Announce from the community.
- Microblog software (Mastodon, GoToSocial, Misskey …) receives a boost of the Note's URL: for
  new threads only by default, so replies don't flood home feeds; the rest is read from the
  thread's `replies` and `context` collections. GoToSocial drops an Announce wrapping a Create.
- The author a reply answers gets the Create itself, so their server notifies them.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..activitypub.jsonld import AS_PUBLIC, get_id
from ..activitypub.notes import note_document
from ..db import batch_memo
from ..models import Actor, Community, Follow, Instance, Post, PostTranslation
from ..models.content import PUBLISHED
from ..models.social import ACCEPTED
from ..policy.check import check_announce
from ..policy.decisions import Verdict
from ..models.content import MEMBERS
from ..remote.instances import is_forum
from ..settings import Settings
from .publish import activity, inboxes_of, publish, publish_many


async def follower_inboxes(session: AsyncSession, target: Actor) -> tuple[list[str], list[str]]:
    """Remote followers' inboxes, split into (forum software, microblog software)."""
    memo = batch_memo(session, "follower_inboxes")  # an inbox batch announces many activities
    if memo is not None and target.id in memo:
        return memo[target.id]
    rows = (await session.execute(
        select(Actor.inbox_url, Actor.shared_inbox_url, Instance.software)
        .join(Follow, Follow.follower_id == Actor.id)
        .outerjoin(Instance, Instance.host == Actor.domain)
        .where(Follow.target_id == target.id, Follow.state == ACCEPTED, Actor.local.is_(False),
               Actor.deleted_at.is_(None), Actor.suspended.is_(False))
    )).all()
    forum, microblog = [], []
    for inbox, shared, software in rows:
        (forum if is_forum(software) else microblog).append(shared or inbox)
    inboxes = list(dict.fromkeys(forum)), list(dict.fromkeys(microblog))
    if memo is not None:
        memo[target.id] = inboxes
    return inboxes


async def announce(session: AsyncSession, settings: Settings, community: Actor, inner: dict[str, Any], *,
                   boost_note: str | None = None, new_thread: bool = False, members_only: bool = False) -> None:
    """The community passes an activity on to its followers (FEP-1b12 §Announce).

    `members_only`: about a small group's members-only post. The Announce is addressed to the
    followers (the members) alone and goes to forum software only: Mastodon cannot boost a
    non-public post, so its members get our own posts' Creates directly (post_published).
    """
    origin = get_id(inner.get("actor")) if isinstance(inner, dict) else get_id(inner)  # a bare URL: the post's host
    if (await check_announce(session, origin)).verdict == Verdict.REJECT:
        return  # from a limited (or suspended) domain: accepted here, never amplified
    forum, microblog = await follower_inboxes(session, community)
    if members_only:
        members = [community.followers_url] if community.followers_url else []
        if forum:
            await publish(session, settings, community,
                          activity(settings, "Announce", community, inner, to=members, cc=[]), forum)
        return
    audience = {"to": [AS_PUBLIC], "cc": [community.followers_url] if community.followers_url else []}
    if forum or new_thread:
        # A new thread's Announce is kept even with no forum follower yet: the community's
        # outbox serves it to servers that follow later (Lemmy backfills from there).
        await publish(session, settings, community, activity(settings, "Announce", community, inner, **audience), forum)
    if microblog and boost_note:
        row = await session.scalar(select(Community).where(Community.actor_id == community.id))
        if new_thread or (row is not None and row.microblog_distribution == "all"):
            await publish(session, settings, community,
                          activity(settings, "Announce", community, boost_note, **audience), microblog)


async def announce_likes(session: AsyncSession, settings: Settings, community: Actor,
                         likes: list[dict[str, Any]]) -> None:
    """`announce` for many Likes of public posts at once: what each one fans out to is the same
    (forum followers only, no boost), so their Announces and deliveries are written together."""
    forum, _ = await follower_inboxes(session, community)
    if not forum:
        return
    passed = []
    for like in likes:
        if (await check_announce(session, get_id(like.get("actor")))).verdict != Verdict.REJECT:
            passed.append(like)
    audience = {"to": [AS_PUBLIC], "cc": [community.followers_url] if community.followers_url else []}
    await publish_many(session, settings, community,
                       [activity(settings, "Announce", community, like, **audience) for like in passed], forum)


async def published_translations(session: AsyncSession, post: Post) -> list[PostTranslation]:
    """An opening post's published translations, in the order they were first added."""
    if not post.is_thread:
        return []
    return list(await session.scalars(
        select(PostTranslation).where(PostTranslation.post_id == post.id, PostTranslation.state == PUBLISHED)
        .order_by(PostTranslation.created_at, PostTranslation.id)))


async def _authors(session: AsyncSession, post: Post) -> tuple[Actor, Actor | None, Actor | None]:
    author = await session.get(Actor, post.author_id)
    community = await session.get(Actor, post.community_id) if post.community_id else None
    parent_author = None
    if post.parent_id is not None:
        parent = await session.get(Post, post.parent_id)
        parent_author = await session.get(Actor, parent.author_id) if parent else None
    return author, community, parent_author


async def post_published(session: AsyncSession, settings: Settings, post: Post) -> dict[str, Any]:
    """One of our people wrote a thread or reply: send the Create where it must go."""
    author, community, parent_author = await _authors(session, post)
    note = note_document(post, author, community=community, parent_author=parent_author, with_context=False)
    create = activity(settings, "Create", author, note, to=note["to"], cc=note["cc"])
    direct: list[Actor] = []
    if parent_author is not None and not parent_author.local:
        direct.append(parent_author)
    if community is not None and not community.local:
        direct.append(community)  # a remote community announces it to its own followers
    members_only = post.visibility == MEMBERS
    if members_only:
        # Never the author's followers; microblog members get the Create in their own inbox.
        followers = await microblog_member_inboxes(session, community) if community is not None and community.local else []
    else:
        forum_followers, micro_followers = await follower_inboxes(session, author)
        followers = forum_followers + micro_followers
    await publish(session, settings, author, create, inboxes_of(direct) + followers)
    if community is not None and community.local:
        await announce(session, settings, community, create, boost_note=post.ap_id, new_thread=post.is_thread,
                       members_only=members_only)
    return create


async def microblog_member_inboxes(session: AsyncSession, group: Actor) -> list[str]:
    """Personal inboxes of a small group's members on microblog software.

    Personal, not shared: Mastodon shows a post addressed to a collection it can't see into
    (the group's followers) only to the account whose own inbox received it.
    """
    rows = (await session.execute(
        select(Actor.inbox_url, Instance.software).join(Follow, Follow.follower_id == Actor.id)
        .outerjoin(Instance, Instance.host == Actor.domain)
        .where(Follow.target_id == group.id, Follow.state == ACCEPTED, Actor.local.is_(False),
               Actor.deleted_at.is_(None), Actor.suspended.is_(False))
    )).all()
    return list(dict.fromkeys(inbox for inbox, software in rows if not is_forum(software)))


async def post_changed(session: AsyncSession, settings: Settings, post: Post, *, deleted: bool) -> None:
    """An edit (Update) or deletion (Delete) of one of our posts, sent where the post went."""
    author, community, parent_author = await _authors(session, post)
    if deleted:
        to = [community.followers_url] if post.visibility == MEMBERS and community is not None else [AS_PUBLIC]
        doc = activity(settings, "Delete", author, {"id": post.ap_id, "type": "Tombstone"}, to=to)
    else:
        note = note_document(post, author, community=community, parent_author=parent_author, with_context=False,
                             translations=await published_translations(session, post))
        doc = activity(settings, "Update", author, note, to=note["to"], cc=note["cc"])
    await _send_about(session, settings, post, author, community, parent_author, doc)


async def like_changed(session: AsyncSession, settings: Settings, liker: Actor, post: Post, like_ap_id: str | None,
                       *, undone: bool) -> str:
    """A Like (or its Undo) by one of our people; returns the Like's id."""
    author, community, _ = await _authors(session, post)
    like = activity(settings, "Like", liker, post.ap_id, to=[author.ap_id])
    if like_ap_id:
        like["id"] = like_ap_id
    doc = like if not undone else activity(settings, "Undo", liker, {k: v for k, v in like.items() if k != "@context"},
                                           to=[author.ap_id])
    recipients = [a for a in (author, community) if a is not None and not a.local]
    await publish(session, settings, liker, doc, inboxes_of(recipients))
    if community is not None and community.local:
        await announce(session, settings, community, doc, members_only=post.visibility == MEMBERS)
    return like["id"]


async def _send_about(session: AsyncSession, settings: Settings, post: Post, author: Actor, community: Actor | None,
                      parent_author: Actor | None, doc: dict[str, Any]) -> None:
    direct = [a for a in (parent_author, community) if a is not None and not a.local]
    if post.visibility == MEMBERS:
        followers = await microblog_member_inboxes(session, community) if community is not None and community.local else []
    else:
        forum_followers, micro_followers = await follower_inboxes(session, author)
        followers = forum_followers + micro_followers
    await publish(session, settings, author, doc, inboxes_of(direct) + followers)
    if community is not None and community.local:
        await announce(session, settings, community, doc, members_only=post.visibility == MEMBERS)
