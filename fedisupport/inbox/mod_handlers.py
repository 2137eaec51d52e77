"""Moderation from other servers, accepted only under FEP-1b12's rules; and incoming reports (`Flag`).

Two ways a moderation activity (Delete with a reason, Block, Lock, Add/Remove on `featured`, and
the Undo of each) reaches us:

- Announced by a REMOTE community one of our people follows. It counts only when (1) the
  announcer is that community (post_handlers.on_announce checked it is a followed Group),
  (2) the wrapped activity's actor is the community itself, lives on the community's host, or
  is listed in the community's moderators collection (its `attributedTo`, fetched from the
  community's origin) — Lemmy's `verify_mod_action` — and (3) what it acts on belongs to that
  community: a post in it, a ban whose `target` is it, its own `featured` collection. The
  announcer is the authority for all three, so a community can never act on another's posts.
- Sent straight to one of OUR communities by a remote moderator of it: the actor must be one of
  the community's owners or moderators in our `memberships`. We apply it and the community
  announces it unchanged (domain/moderation.py, `received=`).

Everything else is refused with a reason (security reference row 14). A `Block` that is not a
community ban (Mastodon sends Block when someone blocks one of our people) is ignored.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from ..activitypub.fetch import FetchError
from ..activitypub.jsonld import as_list, get_id
from ..activitypub.origin import host_of, same_origin
from ..activitypub.render import collection_id
from ..activitypub.vocab import Activity, APActor
from ..domain import moderation, posting, reports
from ..domain.errors import DomainError
from ..models import GROUP, PERSON, Actor, Community, Post
from ..policy.check import check_report
from ..policy.decisions import Verdict
from ..remote.actors import ActorUnavailable, fetch_actor_document, get_actor
from .context import Context, Ignored, Rejected, RetryLater, local_actor

MODERATION_TYPES = frozenset({"Delete", "Block", "Lock", "Add", "Remove"})
MAX_MODERATOR_PAGES = 10


# --- who may act for a community --------------------------------------------------------------


class _Group:
    """A remote community and, fetched once when needed, its actor document from its origin."""

    def __init__(self, ctx: Context, actor: Actor) -> None:
        self.ctx = ctx
        self.actor = actor
        self._doc: APActor | None = None

    async def document(self) -> APActor:
        if self._doc is None:
            try:
                self._doc = await fetch_actor_document(self.ctx.services, self.actor.ap_id)
            except ActorUnavailable as exc:
                raise RetryLater(exc.reason) from None
        return self._doc

    async def moderators(self) -> set[str]:
        """Ids in the community's moderators collection, as its origin serves it."""
        url = (await self.document()).attributed_to
        if not url or not same_origin(url, self.actor.ap_id):
            return set()
        client, signer = self.ctx.services.client, await self.ctx.services.instance_signer()
        found: set[str] = set()
        try:
            page: Any = await client.get_json(url, signer=signer)
            page = page.get("first", page) if isinstance(page, dict) and "orderedItems" not in page \
                and "items" not in page else page
            for _ in range(MAX_MODERATOR_PAGES):
                if isinstance(page, str):
                    if not same_origin(page, url):
                        break
                    page = await client.get_json(page, signer=signer)
                if not isinstance(page, dict):
                    break
                found.update(i for i in map(get_id, as_list(page.get("orderedItems", page.get("items")))) if i)
                page = page.get("next")
                if not page:
                    break
        except FetchError as exc:
            raise RetryLater(f"could not read the moderators of {self.actor.ap_id}: {exc.reason}") from None
        return found

    async def verify_moderator(self, actor_id: str) -> None:
        """Lemmy's verify_mod_action: the community, its host, or a listed moderator."""
        if actor_id == self.actor.ap_id or same_origin(actor_id, self.actor.ap_id):
            return
        if actor_id in await self.moderators():
            return
        raise Rejected(f"{actor_id} is not a moderator of {self.actor.ap_id}")

    async def featured_url(self) -> str | None:
        return (await self.document()).featured


async def _actor(ctx: Context, ap_id: str | None) -> Actor:
    if not ap_id:
        raise Rejected("the activity names no actor")
    if ctx.actor is not None and ap_id == ctx.actor.ap_id:
        return ctx.actor
    try:
        return await get_actor(ctx.services, ctx.session, ap_id)
    except ActorUnavailable as exc:
        raise RetryLater(exc.reason) from None


async def _post_in(ctx: Context, group: Actor, object_id: str | None) -> Post:
    post = await posting.post_by_ap_id(ctx.session, object_id or "")
    if post is None:
        raise Ignored("moderation of a post we don't have")
    if post.community_id != group.id:
        raise Rejected("the post is not in the community that acts on it")
    return post


def _expires(act: Activity) -> dt.datetime | None:
    value = act.raw.get("expires")
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _domain_error(exc: DomainError) -> Rejected:
    return Rejected(str(exc))


# --- applying one moderation activity ------------------------------------------------------------


async def _apply(ctx: Context, group: Actor, moderator: Actor, act: Activity, *, undo: bool,
                 received: dict[str, Any], featured_url: str | None, moderators_url: str | None) -> None:
    """Carry out a verified moderation activity `act` (or its Undo) of the community `group`."""
    session, settings = ctx.session, ctx.settings
    try:
        if act.type == "Delete":
            post = await _post_in(ctx, group, act.object_id)
            if undo:
                await moderation.restore_post(session, settings, moderator, post, act.summary or "", received=received)
            else:
                await moderation.remove_post(session, settings, moderator, post, act.summary or "", received=received)
        elif act.type == "Lock":
            post = await _post_in(ctx, group, act.object_id)
            if not post.is_thread:
                raise Ignored("only whole threads are locked here")
            await moderation.lock_thread(session, settings, moderator, post, locked=not undo,
                                         reason=act.summary or "", received=received)
        elif act.type == "Block":
            if act.target != group.ap_id:
                raise Ignored("only bans from this community apply to it")
            person = await _actor(ctx, act.object_id)
            if person.kind != PERSON:
                raise Rejected("only people can be banned from a community")
            community = await moderation.community_for_group(session, group)
            if undo:
                await moderation.unban(session, settings, moderator, community, person, received=received)
            else:
                await moderation.ban(session, settings, moderator, community, person, act.summary or "",
                                     expires_at=_expires(act), remove_data=act.raw.get("removeData") is True,
                                     received=received)
        elif act.type in ("Add", "Remove"):
            if act.target and act.target == moderators_url:
                raise Rejected("moderators are appointed by the community's owner or an admin of its server")
            if not act.target or act.target != featured_url:
                raise Ignored("Add/Remove of something other than the community's pinned threads")
            post = await _post_in(ctx, group, act.object_id)
            if not post.is_thread:
                raise Ignored("only whole threads are pinned")
            pinned = (act.type == "Add") != undo
            await moderation.pin_thread(session, settings, moderator, post, pinned=pinned, received=received)
        else:
            raise Ignored(f"{act.type} is not a moderation activity here")
    except DomainError as exc:
        raise _domain_error(exc) from None


def _unwrap(activity: Activity) -> tuple[Activity, bool]:
    """(the moderation activity, whether it is being undone)."""
    if activity.type != "Undo":
        return activity, False
    inner = activity.object
    if not isinstance(inner, Activity) or inner.type not in MODERATION_TYPES:
        raise Ignored("undo of something that isn't moderation")
    return inner, True


async def on_announced(ctx: Context, group: Actor, inner: Activity) -> None:
    """A followed remote community announced a moderation activity (post_handlers.on_announce)."""
    if group.local:
        raise Ignored("our own communities' activities are not taken from other servers")
    act, undo = _unwrap(inner)
    info = _Group(ctx, group)
    await info.verify_moderator(inner.actor)
    moderator = await _actor(ctx, inner.actor)
    featured_url = moderators_url = None
    if act.type in ("Add", "Remove"):
        doc = await info.document()
        featured_url, moderators_url = doc.featured, doc.attributed_to
    await _apply(ctx, group, moderator, act, undo=undo, received=dict(inner.raw),
                 featured_url=featured_url, moderators_url=moderators_url)


async def handle_announced(ctx: Context, group: Actor, inner: Activity) -> bool:
    """Take an announced activity if it is moderation; False leaves it to post_handlers.on_announce.

    A Delete is moderation when its actor is not the post's author (an author's own deletion
    is checked at its origin by post_handlers).
    """
    act = inner.object if inner.type == "Undo" and isinstance(inner.object, Activity) else inner
    if act.type not in MODERATION_TYPES:
        return False
    if act.type == "Delete":
        post = await posting.post_by_ap_id(ctx.session, act.object_id or "")
        if post is None:
            return False
        author = await ctx.session.get(Actor, post.author_id)
        if author is not None and act.actor == author.ap_id:
            return False
    await on_announced(ctx, group, inner)
    return True


# --- sent straight to one of our communities ----------------------------------------------------


async def _local_community(ctx: Context, group: Actor | None) -> Community:
    if group is None or not group.local or group.kind != GROUP:
        raise Ignored("not about a community here")
    community = await ctx.session.scalar(select(Community).where(Community.actor_id == group.id))
    if community is None:
        raise Ignored("not about a community here")
    role = await moderation.role_in(ctx.session, ctx.actor, community)
    if role not in moderation.MOD_ROLES:
        raise Rejected(f"{ctx.actor.ap_id} is not a moderator of {group.ap_id}")
    return community


async def _direct(ctx: Context, activity: Activity) -> None:
    act, undo = _unwrap(activity)
    if act.type == "Block":
        group = await local_actor(ctx.session, act.target)
        if group is None or group.kind != GROUP:
            raise Ignored("a block between people; nothing for us to do")
    elif act.type in ("Add", "Remove"):
        group = None
        for suffix in ("featured", "moderators"):
            if act.target and act.target.endswith("/" + suffix):
                group = await local_actor(ctx.session, act.target[: -len(suffix) - 1])
        if group is None or group.kind != GROUP:
            raise Ignored("Add/Remove of something we don't keep")
    else:
        post = await posting.post_by_ap_id(ctx.session, act.object_id or "")
        if post is None:
            raise Ignored("moderation of a post we don't have")
        group = await ctx.session.get(Actor, post.community_id) if post.community_id else None
        if group is None or not group.local:
            raise Rejected("only the author can change a post outside our communities")
    await _local_community(ctx, group)
    await _apply(ctx, group, ctx.actor, act, undo=undo, received=dict(activity.raw),
                 featured_url=collection_id(group, "featured"), moderators_url=collection_id(group, "moderators"))


async def on_block(ctx: Context) -> None:
    await _direct(ctx, ctx.activity)


async def on_lock(ctx: Context) -> None:
    await _direct(ctx, ctx.activity)


async def on_add(ctx: Context) -> None:
    await _direct(ctx, ctx.activity)


async def on_remove(ctx: Context) -> None:
    await _direct(ctx, ctx.activity)


async def on_moderator_delete(ctx: Context) -> None:
    """A Delete of someone else's post: only a moderator of the post's community (ours) may."""
    await _direct(ctx, ctx.activity)


async def on_undo(ctx: Context) -> None:
    """Undo of a Block, Lock, removal or pin, from a remote moderator of one of our communities."""
    await _direct(ctx, ctx.activity)


# --- reports from other servers ------------------------------------------------------------------


async def reports_refused(ctx: Context, host: str) -> bool:
    """The admins' domain policy: reports from a suspended domain, or one set to reject reports."""
    return (await check_report(ctx.session, host)).verdict == Verdict.REJECT


async def on_flag(ctx: Context) -> None:
    """A report from another server becomes a report here.

    Mastodon: `Flag{actor: its instance actor, object: [account, statuses…], content: comment}`.
    Lemmy: `Flag{actor: the reporter, object: post, to: community, summary: reason}`. The
    reporter is kept for admins only, as with every report.
    """
    if await reports_refused(ctx, host_of(ctx.actor.ap_id)):
        raise Rejected("reports from this server are not accepted here")
    ids = list(dict.fromkeys(ctx.activity.object_ids))[:50]
    if not ids:
        raise Ignored("the report names nothing")
    accounts = list(await ctx.session.scalars(select(Actor).where(Actor.ap_id.in_(ids), Actor.local.is_(True),
                                                                  Actor.kind == PERSON)))
    posts = list(await ctx.session.scalars(select(Post).where(Post.ap_id.in_(ids))))
    relevant = []
    for post in posts:
        group = await ctx.session.get(Actor, post.community_id) if post.community_id else None
        if post.local or (group is not None and group.local):
            relevant.append(post)
    relevant.sort(key=lambda p: ids.index(p.ap_id))
    if not accounts and not relevant:
        raise Ignored("the report names nothing that lives here")
    reason = (ctx.activity.content or ctx.activity.summary or "").strip()
    if len(relevant) > 1:
        reason = (reason + "\n\nAlso reported: " + " ".join(p.ap_id for p in relevant[1:])).strip()
    target = accounts[0] if accounts else None
    try:
        await reports.create_report(ctx.session, reporter=ctx.actor, reason=reason[:moderation.MAX_REASON],
                                       category="other", post=relevant[0] if relevant else None, target=target,
                                       ap_id=ctx.activity.id)
    except DomainError as exc:
        raise _domain_error(exc) from None
