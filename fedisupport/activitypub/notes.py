"""Our posts as ActivityStreams Notes, and the activities that carry them.

Thread starters are Notes too (Mastodon shows a Page or Article as a bare link), with the title
in `name` for forum software and at the top of `content` for microblog software. Replies put
Public in `cc` (unlisted on Mastodon) and mention the author they answer, so Mastodon notifies.
"""
from __future__ import annotations

import html
from typing import Any, Sequence

from ..models import Actor, Post
from ..models.content import MEMBERS
from .jsonld import AS_PUBLIC, CONTEXT
from .render import iso


def mention_name(actor: Actor) -> str:
    return f"@{actor.username}@{actor.domain}"


def note_document(
    post: Post, author: Actor, *, community: Actor | None, parent_author: Actor | None,
    replies: dict[str, Any] | None = None, with_context: bool = True, translations: Sequence[Any] = (),
) -> dict[str, Any]:
    """The Note for one of our posts. `replies` is the collection to embed, if any.

    `translations` (objects with language, title, content_html and updated_at): the opening
    post's published translations, each another `contentMap` entry (and `nameMap`, for titles)
    after the original's; `content` and `name` stay the original.
    """
    to: list[str] = []
    cc: list[str] = []
    tags: list[dict[str, Any]] = []
    content = post.content_html
    if post.visibility == MEMBERS:
        # Members only: to the group's followers (its members) and the group, never Public,
        # never the author's own followers (docs/small-groups.md).
        if community is not None:
            to.extend(u for u in (community.followers_url, community.ap_id) if u)
        if post.is_thread and post.title:
            content = f"<p><strong>{html.escape(post.title)}</strong></p>{content}"
        if not post.is_thread and parent_author is not None and parent_author.id != author.id:
            cc.append(parent_author.ap_id)
            tags.append({"type": "Mention", "href": parent_author.ap_id, "name": mention_name(parent_author)})
    elif post.is_thread:
        to.append(AS_PUBLIC)
        if community is not None:
            to.append(community.ap_id)
        if author.followers_url:
            cc.append(author.followers_url)
        if post.title:
            content = f"<p><strong>{html.escape(post.title)}</strong></p>{content}"
    else:
        if community is not None:
            to.append(community.ap_id)
        if parent_author is not None and parent_author.id != author.id:
            to.append(parent_author.ap_id)
            tags.append({"type": "Mention", "href": parent_author.ap_id, "name": mention_name(parent_author)})
        cc.append(AS_PUBLIC)
        if author.followers_url:
            cc.append(author.followers_url)
    doc: dict[str, Any] = {
        "id": post.ap_id,
        "type": "Note",
        "attributedTo": author.ap_id,
        "content": content,
        "mediaType": "text/html",
        "published": iso(post.published_at),
        "url": post.url or post.ap_id,
        "to": to,
        "cc": cc,
        "inReplyTo": post.in_reply_to_ap_id,
        "sensitive": bool(post.sensitive),
    }
    if with_context:
        doc = {"@context": CONTEXT, **doc}
    if post.language or translations:
        # The original first: Mastodon takes the first key as the post's language. "und" when a
        # post has no language, so a translation is never mistaken for the original.
        original = post.language or "und"
        doc["contentMap"] = {original: content}
        names = {original: post.title} if post.is_thread and post.title else {}
        for t in translations:
            if t.language == original:
                continue
            doc["contentMap"][t.language] = (
                f"<p><strong>{html.escape(t.title)}</strong></p>{t.content_html}" if t.title else t.content_html)
            if t.title:
                names[t.language] = t.title
        if len(names) > 1:
            doc["nameMap"] = names
    if post.is_thread and post.title:
        doc["name"] = post.title
    if post.content_warning:
        doc["summary"] = post.content_warning
    if post.source:
        doc["source"] = {"content": post.source, "mediaType": "text/markdown"}
    if post.context_ap_id:
        doc["context"] = post.context_ap_id
    if community is not None:
        doc["audience"] = community.ap_id
    # A new or changed translation changes the Note too: servers only take an Update that is newer.
    changed = [when for when in (post.updated_at, *(getattr(t, "updated_at", None) for t in translations)) if when]
    if changed:
        doc["updated"] = iso(max(changed))
    if tags:
        doc["tag"] = tags
    if replies is not None:
        doc["replies"] = replies
    return doc


def tombstone(post: Post) -> dict[str, Any]:
    return {"@context": CONTEXT, "id": post.ap_id, "type": "Tombstone", "formerType": "Note",
            "deleted": iso(post.updated_at) if post.updated_at else None}
