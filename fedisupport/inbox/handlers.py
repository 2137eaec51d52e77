"""What each kind of incoming activity does. Each handler checks, then calls the domain.

Handlers run inside the worker's transaction for the item; the deliveries they cause are
written in that same transaction. `Rejected` records why an activity was refused.
"""
from __future__ import annotations

import logging
from typing import Awaitable, Callable

from sqlalchemy import select

from ..activitypub.jsonld import get_id
from ..activitypub.origin import same_origin
from ..activitypub.vocab import Activity, APActor
from ..domain import departures, following, posting
from ..models import Community
from ..policy.check import check_inbound
from ..policy.decisions import Verdict
from ..remote.actors import ActorUnavailable, get_actor
from . import mod_handlers, post_handlers
from .context import Context, Ignored, Rejected, RetryLater, local_actor

log = logging.getLogger("fedisupport.inbox")


def embedded_follow(activity: Activity) -> tuple[str | None, str | None]:
    """(Follow id, followed actor id) of the Follow an Accept/Reject/Undo refers to."""
    obj = activity.object
    if isinstance(obj, Activity):
        return obj.id, get_id(obj.raw.get("object"))
    return activity.object_id, None


async def on_follow(ctx: Context) -> None:
    target = await local_actor(ctx.session, ctx.activity.object_id)
    if target is None or target.deleted_at is not None:
        raise Rejected("the followed actor does not live here")
    if target.kind == "application":
        raise Rejected("the instance actor cannot be followed")
    community = await ctx.session.scalar(select(Community).where(Community.actor_id == target.id))
    decision = await check_inbound(ctx.session, ctx.settings, actor=ctx.actor, host=ctx.actor.domain, community=community)
    if decision.verdict == Verdict.REJECT:  # a suspended domain or account, or someone banned from the community
        raise Rejected(decision.reason)
    await following.receive_follow(ctx.session, ctx.settings, ctx.actor, target, ctx.activity.id)


async def on_undo(ctx: Context) -> None:
    obj = ctx.activity.object
    inner_type = obj.type if isinstance(obj, Activity) else None
    if inner_type in ("Like", "Dislike"):
        await post_handlers.on_undo_like(ctx, obj.id, obj.object_id)
        return
    if inner_type in mod_handlers.MODERATION_TYPES:  # a remote moderator of one of our communities
        await mod_handlers.on_undo(ctx)
        return
    if inner_type not in (None, "Follow"):
        raise Ignored(f"undoing {inner_type} is not handled")
    if isinstance(obj, Activity) and obj.actor != ctx.actor.ap_id:
        raise Rejected("only the follower can undo a follow")
    follow_id, target_id = embedded_follow(ctx.activity)
    if not await following.remote_unfollowed(ctx.session, ctx.actor, follow_id, target_id):
        raise Rejected("no such follow")


async def _answer(ctx: Context, accepted: bool) -> None:
    follow_id, _ = embedded_follow(ctx.activity)
    if not follow_id or not await following.follow_answered(ctx.session, follow_id, ctx.actor, accepted):
        raise Rejected("no follow of ours that this actor can answer")


async def on_accept(ctx: Context) -> None:
    await _answer(ctx, True)


async def on_reject(ctx: Context) -> None:
    await _answer(ctx, False)


async def on_update(ctx: Context) -> None:
    obj = ctx.activity.object
    if isinstance(obj, APActor) or ctx.activity.object_id == ctx.actor.ap_id:
        if ctx.activity.object_id != ctx.actor.ap_id:
            raise Rejected("an actor can only update itself")
        # Never trust the embedded copy: read the actor from its origin (security row 4).
        try:
            await get_actor(ctx.services, ctx.session, ctx.actor.ap_id, refresh=True)
        except ActorUnavailable as exc:
            raise RetryLater(exc.reason) from None
        ctx.services.keys.forget(ctx.actor.key_id or "")
        return
    await post_handlers.on_update_post(ctx)


async def on_delete(ctx: Context) -> None:
    if ctx.activity.object_id == ctx.actor.ap_id:
        if ctx.actor.key_id:
            ctx.services.keys.forget(ctx.actor.key_id)
        await departures.remove_remote_actor(ctx.session, ctx.actor)
        return
    post = await posting.post_by_ap_id(ctx.session, ctx.activity.object_id or "")
    if post is not None and post.author_id != ctx.actor.id:
        await mod_handlers.on_moderator_delete(ctx)  # a removal, allowed to our communities' moderators
        return
    if ctx.activity.object_id and not same_origin(ctx.activity.object_id, ctx.actor.ap_id):
        raise Rejected("an actor can only delete its own objects")
    await post_handlers.on_delete_post(ctx)


Handler = Callable[[Context], Awaitable[None]]
HANDLERS: dict[str, Handler] = {
    "Create": post_handlers.on_create,
    "Announce": post_handlers.on_announce,
    "Like": post_handlers.on_like,
    "Follow": on_follow,
    "Undo": on_undo,
    "Accept": on_accept,
    "Reject": on_reject,
    "Update": on_update,
    "Delete": on_delete,
    "Block": mod_handlers.on_block,
    "Lock": mod_handlers.on_lock,
    "Add": mod_handlers.on_add,
    "Remove": mod_handlers.on_remove,
    "Flag": mod_handlers.on_flag,
}
