"""The activities we send, as ActivityStreams documents."""
from __future__ import annotations

import html
from typing import Any

from .. import i18n
from ..activitypub import render
from ..activitypub.jsonld import AS_PUBLIC
from ..models import Actor, Community, utcnow
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


# The invitation's words, marked for the catalogues; each message is put into one language.
INVITED_YOU = i18n.lazy_gettext("%(inviter)s invited you to join the small group “%(group)s”, started from a "
                                "conversation you took part in.")
HOW_TO_JOIN = i18n.lazy_gettext("To join, follow %(handle)s. Its posts are for members only. If you'd rather not, "
                                "there is nothing to do.")


def _words(language: str, text: i18n.LazyString, **html_parts: str) -> str:
    """`text` in `language`, escaped for HTML, with its (already escaped) parts filled in."""
    return html.escape(i18n.translations(language).gettext(text.message), quote=False) % html_parts


def invitation_message(settings: Settings, by: Actor, invitee: Actor, group: Actor, title: str,
                       language: str | None = None) -> dict[str, Any]:
    """An invitation into a small group, as a direct message Mastodon and others show and act on.

    Mastodon ignores an `Invite` activity; a direct Note with the group's handle and link is
    something its people can act on: they open the group and follow it, and the follow is
    accepted at once because the invitation stands (docs/small-groups.md).

    It is written in `language` (the thread's, which the invitee took part in) when we have
    that language, else in the inviter's.
    """
    language = i18n.supported(language) or i18n.current().code
    handle = f"@{group.username}@{group.domain}"
    mention = f"@{invitee.username}@{invitee.domain}"
    content = (
        f'<p><span class="h-card"><a href="{html.escape(invitee.url or invitee.ap_id)}" class="u-url mention">'
        f"{html.escape(mention)}</a></span> "
        + _words(language, INVITED_YOU, inviter=html.escape(by.display_name or by.username),
                 group=html.escape(title)) + "</p><p>"
        + _words(language, HOW_TO_JOIN, handle=f'<a href="{html.escape(group.ap_id)}">{html.escape(handle)}</a>')
        + "</p>"
    )
    doc = activity(settings, "Create", by, None, to=[invitee.ap_id], cc=[])
    doc["object"] = {
        "id": doc["id"] + "/note",
        "type": "Note",
        "attributedTo": by.ap_id,
        "to": [invitee.ap_id],
        "cc": [],
        "content": content,
        "contentMap": {language: content},
        "mediaType": "text/html",
        "published": render.iso(utcnow()),
        "tag": [{"type": "Mention", "href": invitee.ap_id, "name": mention}],
    }
    return doc
