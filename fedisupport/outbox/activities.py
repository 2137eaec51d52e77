"""The activities we send, as ActivityStreams documents."""
from __future__ import annotations

from typing import Any

from ..activitypub import render
from ..activitypub.jsonld import AS_PUBLIC
from ..models import Actor, Community
from ..settings import Settings
from .publish import activity


def follow(settings: Settings, follower: Actor, target: Actor) -> dict[str, Any]:
    return activity(settings, "Follow", follower, target.ap_id, to=[target.ap_id])


def follow_object(follow_ap_id: str, follower: Actor, target: Actor) -> dict[str, Any]:
    """The Follow being answered, embedded so the receiver needn't fetch it (Mastodon does this)."""
    return {"id": follow_ap_id, "type": "Follow", "actor": follower.ap_id, "object": target.ap_id}


def accept_follow(settings: Settings, target: Actor, follower: Actor, follow_ap_id: str) -> dict[str, Any]:
    return activity(settings, "Accept", target, follow_object(follow_ap_id, follower, target), to=[follower.ap_id])


def reject_follow(settings: Settings, target: Actor, follower: Actor, follow_ap_id: str) -> dict[str, Any]:
    return activity(settings, "Reject", target, follow_object(follow_ap_id, follower, target), to=[follower.ap_id])


def undo_follow(settings: Settings, follower: Actor, target: Actor, follow_ap_id: str) -> dict[str, Any]:
    return activity(settings, "Undo", follower, follow_object(follow_ap_id, follower, target), to=[target.ap_id])


def update_actor(settings: Settings, actor: Actor, community: Community | None = None) -> dict[str, Any]:
    """Tell other servers a profile (or a community's description) changed."""
    document = render.actor_document(settings, actor, community)
    document.pop("@context", None)
    return activity(settings, "Update", actor, document, to=[AS_PUBLIC])
