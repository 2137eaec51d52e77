"""What a community sends when its moderators act, and the reports our instance forwards.

Shapes follow Lemmy's (FEP-1b12): a removal is a `Delete` with `summary` = the reason, a ban a
`Block` with `target` = the community, a lock `Lock`, pins and moderator changes `Add`/`Remove`
on the community's `featured` and `moderators` collections, each undone by `Undo` with the
activity regenerated inside. The actor of every one is the community itself, never the volunteer
who acted: their name stays on this instance (in `mod_actions`, for admins) and off the network.
Followers on forum software receive each wrapped in the community's `Announce`.

A forwarded report is Mastodon's `Flag`: from our instance actor, objects = [account, posts…],
`content` = the moderator's comment, addressed to the account. The reporter is never named.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..activitypub.jsonld import AS_PUBLIC
from ..activitypub.render import collection_id, iso
from ..models import Actor, OutboxActivity, Post
from ..settings import Settings
from . import distribute
from .publish import activity, inboxes_of, publish


def _addressed(community: Actor, **fields: Any) -> dict[str, Any]:
    return {"to": [AS_PUBLIC], "cc": [community.ap_id], "audience": community.ap_id, **fields}


def removal(settings: Settings, community: Actor, post_ap_id: str, reason: str) -> dict[str, Any]:
    return activity(settings, "Delete", community, post_ap_id, **_addressed(community, summary=reason or None))


def block(settings: Settings, community: Actor, person: Actor, reason: str, *, expires: dt.datetime | None,
          remove_data: bool, ap_id: str | None = None) -> dict[str, Any]:
    doc = activity(settings, "Block", community, person.ap_id,
                   **_addressed(community, target=community.ap_id, summary=reason or None, removeData=remove_data))
    if expires is not None:
        doc["expires"] = iso(expires)
    if ap_id:
        doc["id"] = ap_id
    return doc


def lock(settings: Settings, community: Actor, thread_ap_id: str, reason: str) -> dict[str, Any]:
    return activity(settings, "Lock", community, thread_ap_id, **_addressed(community, summary=reason or None))


def featured(settings: Settings, community: Actor, thread_ap_id: str, *, add: bool) -> dict[str, Any]:
    return activity(settings, "Add" if add else "Remove", community, thread_ap_id,
                    **_addressed(community, target=collection_id(community, "featured")))


def moderator_change(settings: Settings, community: Actor, person: Actor, *, add: bool) -> dict[str, Any]:
    return activity(settings, "Add" if add else "Remove", community, person.ap_id,
                    **_addressed(community, target=collection_id(community, "moderators")))


def undo(settings: Settings, community: Actor, inner: dict[str, Any]) -> dict[str, Any]:
    inner = {k: v for k, v in inner.items() if k != "@context"}
    return activity(settings, "Undo", community, inner, **_addressed(community))


def _clean(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if v is not None}


async def send(session: AsyncSession, settings: Settings, community: Actor, doc: dict[str, Any],
               direct: Iterable[Actor] = ()) -> None:
    """The community's own moderation activity: stored (so its id resolves), sent to the actors it
    concerns directly, and announced to the community's followers on forum software."""
    doc = _clean(doc)
    if isinstance(doc.get("object"), dict):
        doc["object"] = _clean(doc["object"])
    await publish(session, settings, community, doc, inboxes_of(a for a in direct if not a.local))
    await distribute.announce(session, settings, community, doc)


async def pass_on(session: AsyncSession, settings: Settings, community: Actor, received: dict[str, Any]) -> None:
    """A remote moderator's action on one of our communities: announced unchanged (FEP-1b12)."""
    await distribute.announce(session, settings, community, received)


async def withdraw_boost(session: AsyncSession, settings: Settings, community: Actor, post: Post) -> None:
    """Undo the community's boost of a removed thread, so it leaves microblog home feeds too."""
    needle = f'"object":{json.dumps(post.ap_id)}'
    bodies = list(await session.scalars(
        select(OutboxActivity.body).where(OutboxActivity.actor_id == community.id, OutboxActivity.type == "Announce",
                                          OutboxActivity.created_at >= post.published_at,
                                          OutboxActivity.body.contains(needle, autoescape=True))
        .order_by(OutboxActivity.id).limit(5)))
    boosts = [doc for doc in map(json.loads, bodies) if doc.get("object") == post.ap_id]
    if not boosts:
        return
    _, microblog = await distribute.follower_inboxes(session, community)
    for boost in boosts:
        await publish(session, settings, community, undo(settings, community, boost), microblog)


async def reboost_thread(session: AsyncSession, settings: Settings, community: Actor, post: Post) -> None:
    """A restored thread is boosted to microblog followers again."""
    _, microblog = await distribute.follower_inboxes(session, community)
    if microblog:
        audience = {"to": [AS_PUBLIC], "cc": [community.followers_url] if community.followers_url else []}
        await publish(session, settings, community, activity(settings, "Announce", community, post.ap_id, **audience),
                      microblog)


def flag(settings: Settings, instance_actor: Actor, account: Actor, posts: Iterable[Post], comment: str) -> dict[str, Any]:
    return activity(settings, "Flag", instance_actor, [account.ap_id, *(p.ap_id for p in posts)],
                    content=comment, to=[account.ap_id])


async def send_flag(session: AsyncSession, settings: Settings, instance_actor: Actor, account: Actor,
                    posts: Iterable[Post], comment: str) -> dict[str, Any]:
    doc = flag(settings, instance_actor, account, posts, comment)
    await publish(session, settings, instance_actor, doc, [account.shared_inbox_url or account.inbox_url])
    return doc
