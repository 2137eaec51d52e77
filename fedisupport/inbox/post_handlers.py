"""Incoming threads, replies, likes, edits and deletions, from any server.

Origin rules (security reference rows 3, 4, 14): an author can only create, edit or delete their
own posts; an object that arrives embedded from another host is fetched from its origin; an
Announce is only taken from a community one of our people follows, and what it wraps is
checked at its origin, never taken on the announcer's word.
"""
from __future__ import annotations

import dataclasses
import html
import logging

from sqlalchemy import select

from ..activitypub.jsonld import AS_PUBLIC
from ..activitypub.origin import host_of, same_origin
from ..activitypub.vocab import Activity, APObject
from ..care import welfare
from ..db import batch_memo
from ..domain import languages, posting, translations
from ..domain import small_groups
from ..domain.bans import active_ban
from ..domain.held import hold_post
from ..domain.posting import RemotePost
from ..models import GROUP, Actor, Community, Follow, Like, Post, Tombstone, utcnow
from ..models.content import HELD, PUBLISHED
from ..models.content import MEMBERS
from ..models.social import ACCEPTED
from ..outbox.distribute import announce
from ..policy.check import PostFacts, check_domain, check_inbound, check_remote_translation, with_label
from ..policy.decisions import Decision, Verdict, hold, strictest
from ..remote.actors import ActorUnavailable, get_actor
from ..remote.objects import POST_TYPES, ObjectUnavailable, fetch_post
from ..text import plain_text, sanitize_html, storable
from . import mod_handlers
from .backfill_queue import request_backfill
from .context import Context, Ignored, Rejected, RetryLater

log = logging.getLogger("fedisupport.inbox")
MAX_PARENT_FETCHES = 8
LIKE_WAITS = 5  # retries (about a minute apart) of a Like whose post is not here yet


async def trusted_object(ctx: Context, obj: object, origin_actor: str) -> APObject:
    """The post as its origin serves it; an embedded copy counts only from the author's host."""
    if isinstance(obj, APObject) and same_origin(obj.id, origin_actor) and obj.type in POST_TYPES:
        return obj
    url = obj.id if isinstance(obj, (APObject, Activity)) else obj
    if not isinstance(url, str):
        raise Rejected("the activity has no object")
    await _refuse_suspended(ctx, url)
    try:
        return await fetch_post(ctx.services, url)
    except ObjectUnavailable as exc:
        if exc.gone:
            raise Rejected(exc.reason) from None
        raise RetryLater(exc.reason) from None


async def _author(ctx: Context, obj: APObject) -> Actor:
    if not obj.attributed_to or not same_origin(obj.id, obj.attributed_to):
        raise Rejected("a post must live on its author's server")
    if ctx.actor is not None and obj.attributed_to == ctx.actor.ap_id:
        return ctx.actor
    try:
        return await get_actor(ctx.services, ctx.session, obj.attributed_to)
    except ActorUnavailable as exc:
        raise RetryLater(exc.reason) from None


async def _followed_here(ctx: Context, group: Actor) -> bool:
    return bool(await ctx.session.scalar(
        select(Follow.id).join(Actor, Actor.id == Follow.follower_id)
        .where(Follow.target_id == group.id, Follow.state == ACCEPTED, Actor.local.is_(True)).limit(1)))


async def _community_for_thread(ctx: Context, obj: APObject, announced_by: Actor | None) -> tuple[Actor | None, bool]:
    """The community a new thread belongs to, and whether it was started by a mention."""
    addressed = [*obj.audience, *obj.to, *obj.cc]
    rows = list(await ctx.session.scalars(select(Actor).where(Actor.ap_id.in_(addressed + list(obj.mentions)),
                                                              Actor.kind == GROUP)))
    by_id = {a.ap_id: a for a in rows}
    for ap_id in addressed:
        group = by_id.get(ap_id)
        if group is not None and group.local:
            return group, False
    for ap_id in obj.mentions:
        group = by_id.get(ap_id)
        if group is not None and group.local:
            return group, True  # a Mastodon post that mentions the community starts a thread
    if announced_by is not None and announced_by.kind == GROUP:
        return announced_by, False
    for ap_id in addressed:
        group = by_id.get(ap_id)
        if group is not None and await _followed_here(ctx, group):
            return group, False
    return None, False


async def _parent(ctx: Context, url: str, depth: int = 0) -> Post:
    """The post being replied to, fetched (with its own missing parents) when we lack it."""
    post = await posting.post_by_ap_id(ctx.session, url)
    if post is not None:
        return post
    if depth >= MAX_PARENT_FETCHES:
        raise Rejected("the conversation above this reply is too deep to fetch")
    if await ctx.session.get(Tombstone, url) is not None:
        raise Rejected("it replies to a deleted post")
    await _refuse_suspended(ctx, url)
    try:
        obj = await fetch_post(ctx.services, url)
    except ObjectUnavailable as exc:
        if exc.gone:
            raise Rejected(f"it replies to a post that is gone ({url})") from None
        raise RetryLater(exc.reason) from None
    post, _ = await ingest(ctx, obj, announced_by=None, depth=depth + 1)
    if post is None:
        raise Ignored("the conversation it belongs to is not followed here")
    return post


def _original_language(obj: APObject) -> str | None:
    """The language of `content`: the contentMap entry that is `content`, else Mastodon's rule."""
    if obj.content is not None:
        for tag, text in obj.content_map.items():
            if text == obj.content and languages.is_tag(tag):
                return tag
    return obj.language


def _without_title(content_html: str, title: str | None) -> str:
    """Drop the bold title line we (and others) put at the top of a thread for microblog readers."""
    if title:
        lead = sanitize_html(f"<p><strong>{html.escape(title)}</strong></p>")  # as the content was cleaned
        if content_html.startswith(lead):
            return content_html[len(lead):]
    return content_html


def _translations(obj: APObject, original: str | None) -> list[translations.Entry]:
    """The other contentMap entries of a thread: translations, sanitised like all remote HTML."""
    if obj.content is None:
        original = original or next(iter(obj.content_map), None)  # content only in contentMap: the first is it
    out = []
    for tag, text in obj.content_map.items():
        if tag == original or not languages.is_tag(tag):
            continue
        title = obj.name_map.get(tag) or None
        title = title and storable(title)[:500]
        out.append(translations.Entry(storable(tag), title, _without_title(sanitize_html(text), title)))
    return out


async def _store_translations(ctx: Context, post: Post | None, obj: APObject) -> None:
    """A remote opening post's translations, each through the policy's keyword rules."""
    if post is None or not post.is_thread or post.local:
        return
    community = await _community_row(ctx, post.community_id)
    kept = []
    for entry in _translations(obj, _original_language(obj)):
        text = "\n".join(part for part in (entry.title, html.unescape(plain_text(entry.content_html))) if part)
        decision = await check_remote_translation(ctx.session, PostFacts(text=text, language=entry.language), community)
        if decision.verdict == Verdict.ACCEPT and not decision.label:
            kept.append(entry)
        else:
            log.info("translation %s of %s left out: %s", entry.language, obj.id, decision.reason or decision.label)
    await translations.sync_remote(ctx.session, post, kept)


def _remote_post(obj: APObject, title: str | None, members_only: bool = False) -> RemotePost:
    content = sanitize_html(obj.content or next(iter(obj.content_map.values()), "") or "")
    language = _original_language(obj)
    return RemotePost(
        ap_id=obj.id, content_html=content, title=(title or None) and storable(title)[:500],
        language=(language or None) and storable(language)[:16],
        content_warning=(obj.summary or None) and storable(obj.summary)[:2000], sensitive=obj.sensitive, url=obj.url,
        context_ap_id=obj.context, in_reply_to_ap_id=obj.in_reply_to, published_at=obj.published,
        updated_at=obj.updated,
        visibility=MEMBERS if members_only else "public" if AS_PUBLIC in obj.to else "unlisted",
    )


async def _addresses_members(ctx: Context, obj: APObject, group_actor_id: int | None) -> bool:
    """Whether a post is addressed to this group's followers: a small group's members-only post."""
    group = await ctx.session.get(Actor, group_actor_id) if group_actor_id is not None else None
    return group is not None and bool(group.followers_url) and group.followers_url in (*obj.to, *obj.cc)


async def _members_only(ctx: Context, obj: APObject, author: Actor, group_actor_id: int | None,
                        thread: Post | None) -> bool:
    """True when the post belongs to a members-only conversation; refuses it from a non-member.

    In one of our small groups only accepted members write (docs/small-groups.md). A remote
    group's members-only posts reach us addressed to its followers; we keep them members-only.
    A reply takes its thread's visibility, so a thread is always all public or all members-only.
    """
    community = await _community_row(ctx, group_actor_id)
    if thread is not None:
        members_only = thread.visibility == MEMBERS
    else:
        members_only = (community is not None and community.members_only) or \
            (not obj.is_public and await _addresses_members(ctx, obj, group_actor_id))
    if not members_only:
        if not obj.is_public:
            raise Ignored("only public posts are taken into communities")
        return False
    if community is not None and community.local and not await small_groups.is_member(ctx.session, author, group_actor_id):
        raise Rejected("only the group's members can write in its members-only threads")
    return True


async def ingest(ctx: Context, obj: APObject, *, announced_by: Actor | None, depth: int = 0) -> tuple[Post | None, bool]:
    """Store a remote thread or reply; (post, newly stored). None when it belongs nowhere here."""
    existing = await posting.post_by_ap_id(ctx.session, obj.id)
    if existing is not None:
        return existing, False
    await _refuse_suspended(ctx, obj.attributed_to)
    author = await _author(ctx, obj)
    if author.suspended:
        raise Rejected("the author is suspended here")
    if obj.in_reply_to:
        parent = await _parent(ctx, obj.in_reply_to, depth)
        thread = await posting.thread_of(ctx.session, parent)
        if await active_ban(ctx.session, thread.community_id, author.id):
            raise Rejected("the author is banned from this community")
        if parent.state not in (PUBLISHED, HELD, "deleted"):
            raise Rejected("it replies to a post that is not public")
        members_only = await _members_only(ctx, obj, author, thread.community_id, thread)
        decision = await _admit(ctx, obj, author, thread.community_id, thread, parent)
        post = await _store(ctx, author, _remote_post(obj, None, members_only), decision, community=None, parent=parent,
                            depth=depth)
        await welfare.check_post(ctx.session, post)  # crisis signal: urgent welfare report here, nothing sent
        return post, post is not None
    community, by_mention = await _community_for_thread(ctx, obj, announced_by)
    if community is None:
        return None, False
    if await active_ban(ctx.session, community.id, author.id):
        raise Rejected("the author is banned from this community")
    members_only = await _members_only(ctx, obj, author, community.id, None)
    decision = await _admit(ctx, obj, author, community.id, None)
    title = obj.name or (posting.title_from_text(sanitize_html(obj.content or "")) if by_mention or community.local else None)
    post = await _store(ctx, author, _remote_post(obj, title, members_only), decision, community=community, parent=None,
                        depth=depth)
    await _store_translations(ctx, post, obj)
    await welfare.check_post(ctx.session, post)  # crisis signal: urgent welfare report here, nothing sent
    if post is not None and not community.local:
        # We see a remote community's thread from its start or later: fetch what came before.
        await request_backfill(ctx.session, post)
    return post, post is not None


# --- the policy's inbound checkpoint for posts (fedisupport/policy) -----------------------------

async def _refuse_suspended(ctx: Context, url: str | None) -> None:
    """Nothing in or out with a suspended domain: not even a fetch of its posts or actors."""
    try:
        host = host_of(url) if url else None
    except ValueError:
        return
    decision = await check_domain(ctx.session, host)
    if decision.verdict == Verdict.REJECT:
        raise Rejected(decision.reason)


async def _community_row(ctx: Context, group_actor_id: int | None) -> Community | None:
    if group_actor_id is None:
        return None
    memo = batch_memo(ctx.session, "communities")
    if memo is not None and group_actor_id in memo:
        return memo[group_actor_id]
    row = await ctx.session.scalar(select(Community).where(Community.actor_id == group_actor_id))
    if memo is not None:
        memo[group_actor_id] = row
    return row


async def _admit(ctx: Context, obj: APObject, author: Actor, group_actor_id: int | None, thread: Post | None,
                 parent: Post | None = None) -> Decision:
    """The policy's decision on a remote post before it is stored; a REJECT raises Rejected."""
    sender = ctx.actor.domain if ctx.actor is not None else author.domain
    decision = await check_inbound(ctx.session, ctx.settings, actor=author, host=sender, post=PostFacts.from_object(obj),
                                   community=await _community_row(ctx, group_actor_id), thread=thread)
    if parent is not None and parent.state == HELD and decision.verdict != Verdict.REJECT:
        decision = strictest([decision, hold("it answers a post that is waiting for review")])
    if decision.verdict == Verdict.REJECT:
        raise Rejected(decision.reason)
    return decision


async def _store(ctx: Context, author: Actor, data: RemotePost, decision: Decision, *, community: Actor | None,
                 parent: Post | None, depth: int) -> Post | None:
    """Store a remote post as the policy decided: labelled, or held (never announced) until approved."""
    if decision.label:
        data = dataclasses.replace(data, content_warning=with_label(data.content_warning, decision, 2000), sensitive=True)
    held = decision.verdict == Verdict.HOLD
    post = await posting.store_remote_post(ctx.session, author, data, community=community, parent=parent,
                                           state=HELD if held else PUBLISHED)
    if held and post is not None and post.state == HELD:
        # The activity to Announce on approval is this item's only when the post is its object.
        await hold_post(ctx.session, post, decision, inbox_item_id=ctx.item_id if depth == 0 else None)
    return post


async def _community_actor(ctx: Context, post: Post) -> Actor | None:
    if not post.community_id:
        return None
    memo = batch_memo(ctx.session, "community_actors")
    if memo is not None and post.community_id in memo:
        return memo[post.community_id]
    actor = await ctx.session.get(Actor, post.community_id)
    if memo is not None:
        memo[post.community_id] = actor
    return actor


async def on_create(ctx: Context) -> None:
    obj = await trusted_object(ctx, ctx.activity.object, ctx.actor.ap_id)
    if obj.attributed_to != ctx.actor.ap_id:
        raise Rejected("only the author can create a post")
    post, created = await ingest(ctx, obj, announced_by=None)
    if post is None:
        raise Ignored("not addressed to a community here")
    community = await _community_actor(ctx, post)
    if community is not None and community.local and post.state == PUBLISHED and post.announced_at is None:
        # FEP-1b12: the community passes the activity on unchanged (a held post: once approved).
        # Not only when the post is new: a reply's missing parent is fetched and stored first,
        # and its own Create, arriving later, still has to reach the community's followers.
        await announce(ctx.session, ctx.settings, community, dict(ctx.activity.raw),
                       boost_note=post.ap_id, new_thread=post.is_thread, members_only=post.visibility == MEMBERS)
        post.announced_at = utcnow()


async def on_announce(ctx: Context) -> None:
    group = ctx.actor
    if group.kind != GROUP or not await _followed_here(ctx, group):
        raise Ignored("only announces from communities followed here are taken")
    inner = ctx.activity.object
    if isinstance(inner, Activity):
        # A Delete by a moderator, Block, Lock, Add/Remove featured, and their Undo.
        if await mod_handlers.handle_announced(ctx, group, inner):
            return
        if inner.type in ("Create", "Update"):
            # Trust an embedded copy only from the announcing community's own host (FEP-1b12).
            obj = await trusted_object(ctx, inner.object, group.ap_id)
            if obj.attributed_to != inner.actor:
                raise Rejected("the wrapped activity's actor is not the post's author")
            if inner.type == "Update":
                await _apply_update(ctx, obj)
                return
            post, _ = await ingest(ctx, obj, announced_by=group)
            if post is None:
                raise Ignored("nothing for us in it")
            return
        if inner.type == "Like":
            if not same_origin(inner.actor, group.ap_id):
                raise Ignored("votes from other hosts are only counted when they reach us directly")
            liker = await get_actor(ctx.services, ctx.session, inner.actor)
            post = await posting.post_by_ap_id(ctx.session, inner.object_id or "")
            if post is not None and post.state == PUBLISHED:
                await posting.add_like(ctx.session, liker, post, ap_id=inner.id)
            return
        if inner.type == "Delete":
            await _apply_delete_from_origin(ctx, inner.object_id)
            return
        raise Ignored(f"announced {inner.type} is not handled")
    if isinstance(inner, (str, APObject)):
        obj = await trusted_object(ctx, inner, group.ap_id)
        post, _ = await ingest(ctx, obj, announced_by=group)
        if post is None:
            raise Ignored("nothing for us in it")
        return
    raise Ignored("announce of something we don't show")


async def _liked_post(ctx: Context, ap_id: str) -> Post | None:
    memo = batch_memo(ctx.session, "posts")  # the batch read the posts its Likes are for
    if memo is not None and ap_id in memo:
        return memo[ap_id]
    return await posting.post_by_ap_id(ctx.session, ap_id)


async def on_like(ctx: Context) -> None:
    post = await _liked_post(ctx, ctx.activity.object_id or "")
    if post is None and ctx.attempts < LIKE_WAITS:
        # Likes overtake their post: a reply whose sender we first meet waits for its key while
        # later activities get in, and servers retry. Wait for the post rather than lose the like.
        raise RetryLater("the post it likes has not arrived (yet)")
    if post is None or post.state != PUBLISHED:
        raise Ignored("like of a post we don't have")
    decision = await check_inbound(ctx.session, ctx.settings, actor=ctx.actor, host=ctx.actor.domain,
                                   community=await _community_row(ctx, post.community_id))
    if decision.verdict == Verdict.REJECT:
        raise Rejected(decision.reason)
    community = await _community_actor(ctx, post)
    members_only = post.visibility == MEMBERS
    if members_only and community is not None and community.local and \
            not await small_groups.is_member(ctx.session, ctx.actor, community.id):
        raise Rejected("only the group's members can show support for its members-only posts")
    added = await posting.add_like(ctx.session, ctx.actor, post, ap_id=ctx.activity.id)
    if added and community is not None and community.local:
        await announce(ctx.session, ctx.settings, community, dict(ctx.activity.raw), members_only=members_only)


async def on_undo_like(ctx: Context, inner_id: str | None, post_id: str | None) -> None:
    like = await ctx.session.scalar(select(Like).where(Like.ap_id == inner_id)) if inner_id else None
    post = await ctx.session.get(Post, like.post_id) if like else await posting.post_by_ap_id(ctx.session, post_id or "")
    if post is None or (like is not None and like.actor_id != ctx.actor.id):
        raise Ignored("no such like")
    if await posting.remove_like(ctx.session, ctx.actor, post) is None:
        raise Ignored("no such like")
    community = await _community_actor(ctx, post)
    if community is not None and community.local:
        await announce(ctx.session, ctx.settings, community, dict(ctx.activity.raw),
                       members_only=post.visibility == MEMBERS)


async def _apply_update(ctx: Context, obj: APObject) -> Post | None:
    post = await posting.post_by_ap_id(ctx.session, obj.id)
    if post is None:
        return None
    author = await ctx.session.get(Actor, post.author_id)
    if author.ap_id != obj.attributed_to:
        raise Rejected("only the author can edit a post")
    data = _remote_post(obj, obj.name if post.is_thread else None)
    # An edit meets the same rules as a new post (a REJECT keeps the old text; a HOLD takes it out of view).
    decision = await _admit(ctx, obj, author, post.community_id, None)
    content_warning = with_label(data.content_warning, decision, 2000)
    title = data.title if post.is_thread else None
    if (post.content_html, post.title, post.content_warning) != (data.content_html, title, content_warning):
        # (An Update that only adds or changes translations leaves the post itself unedited.)
        await posting.edit_post(ctx.session, post, content_html=data.content_html, title=title,
                                content_warning=content_warning)
    await _store_translations(ctx, post, obj)
    if decision.verdict == Verdict.HOLD and post.state == PUBLISHED:
        await hold_post(ctx.session, post, decision)
    return post


async def on_update_post(ctx: Context) -> None:
    obj = await trusted_object(ctx, ctx.activity.object, ctx.actor.ap_id)
    if obj.attributed_to != ctx.actor.ap_id:
        raise Rejected("only the author can edit a post")
    post = await _apply_update(ctx, obj)
    if post is None:
        raise Ignored("update of a post we don't have")
    community = await _community_actor(ctx, post)
    if community is not None and community.local and post.state == PUBLISHED:
        await announce(ctx.session, ctx.settings, community, dict(ctx.activity.raw),
                       members_only=post.visibility == MEMBERS)


async def on_delete_post(ctx: Context) -> None:
    object_id = ctx.activity.object_id or ""
    post = await posting.post_by_ap_id(ctx.session, object_id)
    if post is None:
        if same_origin(object_id, ctx.actor.ap_id) and await ctx.session.get(Tombstone, object_id) is None:
            # Remember it, so a Create that arrives late cannot bring it back.
            ctx.session.add(Tombstone(ap_id=object_id, former_type="Note"))
        raise Ignored("deletion of a post we don't have")
    author = await ctx.session.get(Actor, post.author_id)
    if author.id != ctx.actor.id:
        raise Rejected("only the author can delete a post")
    was_announced = post.state != HELD  # a held post never went out: nothing to take back
    await posting.delete_post(ctx.session, post)
    community = await _community_actor(ctx, post)
    if community is not None and community.local and was_announced:
        await announce(ctx.session, ctx.settings, community, dict(ctx.activity.raw),
                       members_only=post.visibility == MEMBERS)


async def _apply_delete_from_origin(ctx: Context, object_id: str | None) -> None:
    """A community says a post was deleted: believe it once the origin no longer serves it."""
    post = await posting.post_by_ap_id(ctx.session, object_id or "")
    if post is None:
        raise Ignored("deletion of a post we don't have")
    try:
        await fetch_post(ctx.services, post.ap_id)
    except ObjectUnavailable as exc:
        if not exc.gone:
            raise RetryLater(exc.reason) from None
        await posting.delete_post(ctx.session, post)
        return
    raise Ignored("the post is still there at its origin")
