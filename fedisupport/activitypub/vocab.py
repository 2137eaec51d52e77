"""Parse and validate incoming ActivityPub JSON into frozen dataclasses.

Covers the subset fedisupport speaks: the activities in `ACTIVITY_TYPES`, the
post-like objects in `OBJECT_TYPES` and the actors in `ACTOR_TYPES`, in the
shapes Mastodon, Lemmy, PieFed, Misskey and GoToSocial send. Pure functions:
no database, no HTTP. Anything malformed, or over a `Limits` bound, raises
`Invalid` with a reason fit for a log line or a 400 body.

Policy for references: an id we act on (activity, actor, object, target,
inReplyTo, attributedTo, inbox, addressing) must be an absolute http(s) URL
without userinfo, or the document is refused; a link we only display (url,
icon, attachment, tag href, replies, featured) is dropped when it is not one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

from fedisupport.activitypub.jsonld import AS_PUBLIC, PUBLIC_ADDRESSES, as_list, get_id

ACTIVITY_TYPES = frozenset(
    {
        "Create", "Update", "Delete", "Follow", "Accept", "Reject", "Undo",
        "Announce", "Like", "Dislike", "EmojiReact", "Flag", "Block", "Add",
        "Remove", "Lock", "Move",
    }
)
POST_TYPES = frozenset({"Note", "Page", "Article", "Question", "ChatMessage"})
OBJECT_TYPES = POST_TYPES | {"Tombstone"}
ACTOR_TYPES = frozenset({"Person", "Group", "Service", "Application", "Organization"})

# BCP 47 shape, loose: "en", "pt-BR", "zh-Hant-TW".
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


class Invalid(ValueError):
    """An incoming document we refuse; the message says why."""


@dataclass(frozen=True)
class Limits:
    """Upper bounds on incoming fields (CVE-2026-23962/23963: unbounded fields are a DoS)."""

    content: int = 100_000
    name: int = 500
    summary: int = 2_000
    tags: int = 64
    attachments: int = 16
    addressing: int = 1_000
    id_length: int = 2_048
    languages: int = 32  # entries in contentMap
    public_key_pem: int = 16_384  # an RSA-4096 PEM is about 800 characters
    nesting: int = 4  # activities in a chain, e.g. Announce(Undo(Like))


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class PublicKey:
    """An actor's signing key, Mastodon style (`publicKey {id, owner, publicKeyPem}`)."""

    id: str
    owner: str
    pem: str


@dataclass(frozen=True)
class Tag:
    """One entry of `tag`: a Mention, Hashtag, Emoji or anything else with a type."""

    type: str
    name: str | None
    href: str | None


@dataclass(frozen=True)
class Attachment:
    """One media attachment or link attachment of a post."""

    type: str
    url: str
    media_type: str | None
    name: str | None  # alt text


@dataclass(frozen=True)
class APObject:
    """A post-like object (Note, Page, Article, Question, ChatMessage) or a Tombstone."""

    id: str
    type: str
    attributed_to: str | None
    content: str | None  # HTML as received; sanitising happens elsewhere
    content_map: Mapping[str, str]
    name: str | None  # thread title
    summary: str | None  # content warning
    sensitive: bool
    in_reply_to: str | None
    context: str | None  # FEP-7888 context, or Mastodon's `conversation`
    quote: str | None
    audience: tuple[str, ...]
    to: tuple[str, ...]
    cc: tuple[str, ...]
    tags: tuple[Tag, ...]
    attachments: tuple[Attachment, ...]
    published: datetime | None
    updated: datetime | None
    url: str | None
    language: str | None
    replies: str | None  # id of the replies collection
    raw: Mapping[str, Any]
    name_map: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # titles by language (translations of `name`)

    @property
    def mentions(self) -> tuple[str, ...]:
        """Actor ids this object mentions."""
        return tuple(t.href for t in self.tags if t.type == "Mention" and t.href)

    @property
    def hashtags(self) -> tuple[str, ...]:
        """Hashtag names without the leading '#'."""
        return tuple(t.name.lstrip("#") for t in self.tags if t.type == "Hashtag" and t.name)

    @property
    def is_public(self) -> bool:
        """Whether Public is in `to` or `cc` (Mastodon's public or unlisted)."""
        return AS_PUBLIC in self.to or AS_PUBLIC in self.cc


@dataclass(frozen=True)
class APActor:
    """A Person, Group, Service, Application or Organization."""

    id: str
    type: str
    preferred_username: str
    name: str | None
    summary: str | None
    inbox: str
    outbox: str | None
    followers: str | None
    shared_inbox: str | None
    featured: str | None
    public_key: PublicKey | None
    manually_approves_followers: bool
    discoverable: bool | None
    posting_restricted_to_mods: bool
    attributed_to: str | None  # on Lemmy/PieFed Groups: the moderators collection
    also_known_as: tuple[str, ...]
    icon: str | None
    url: str | None
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class Activity:
    """An activity; `known` is False for types outside `ACTIVITY_TYPES` (store, then ignore)."""

    id: str
    type: str
    known: bool
    actor: str
    # The first object: its id, or the parsed object when it came embedded.
    object: str | APObject | APActor | Activity | None
    object_ids: tuple[str, ...]  # every object's id; a Flag names several
    target: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    bto: tuple[str, ...]
    bcc: tuple[str, ...]
    audience: tuple[str, ...]
    published: datetime | None
    summary: str | None  # Lemmy puts moderation reasons here
    content: str | None  # a Flag's comment, an EmojiReact's emoji
    raw: Mapping[str, Any]

    @property
    def object_id(self) -> str | None:
        """The id of the first object."""
        return self.object_ids[0] if self.object_ids else None


def parse_activity(doc: Any, limits: Limits = DEFAULT_LIMITS) -> Activity:
    """Parse an activity document, or raise `Invalid`."""
    return _parse_activity(doc, limits, depth=1)


def parse_object(doc: Any, limits: Limits = DEFAULT_LIMITS) -> APObject | APActor:
    """Parse a post-like object, a Tombstone or an actor, or raise `Invalid`."""
    doc = _require_dict(doc, "object")
    kind = _type_of(doc, limits)
    if kind in ACTOR_TYPES:
        return parse_actor(doc, limits)
    if kind not in OBJECT_TYPES:
        raise Invalid(f"unsupported object type {kind!r}")
    attributed_to = _attributed_to(doc.get("attributedTo"), limits)
    if attributed_to is None and kind in POST_TYPES:
        raise Invalid(f"{kind} has no attributedTo")
    return APObject(
        id=_url(doc.get("id"), "id", limits),
        type=kind,
        attributed_to=attributed_to,
        content=_text(doc, "content", limits.content),
        content_map=_content_map(doc.get("contentMap"), limits),
        name=_text(doc, "name", limits.name),
        summary=_text(doc, "summary", limits.summary),
        sensitive=doc.get("sensitive") is True,
        in_reply_to=_optional_url(_first_id(doc.get("inReplyTo")), "inReplyTo", limits),
        context=_context(doc, limits),
        quote=_quote(doc, limits),
        audience=_addressing(doc.get("audience"), "audience", limits),
        to=_addressing(doc.get("to"), "to", limits),
        cc=_addressing(doc.get("cc"), "cc", limits),
        tags=_tags(doc.get("tag"), limits),
        attachments=_attachments(doc.get("attachment"), limits),
        published=_datetime(doc.get("published")),
        updated=_datetime(doc.get("updated")),
        url=_link(doc.get("url"), limits),
        language=_language(doc),
        replies=_link_or_none(get_id(doc.get("replies")), limits),
        raw=doc,
        name_map=_content_map(doc.get("nameMap"), limits, limit=limits.name, field="nameMap"),
    )


def _name_from_id(actor_id: str) -> str:
    path = urlsplit(actor_id).path.rstrip("/")
    return unquote(path.rsplit("/", 1)[-1]) or urlsplit(actor_id).hostname or "someone"


def parse_actor(doc: Any, limits: Limits = DEFAULT_LIMITS) -> APActor:
    """Parse an actor document, or raise `Invalid`."""
    doc = _require_dict(doc, "actor")
    kind = _type_of(doc, limits)
    if kind not in ACTOR_TYPES:
        raise Invalid(f"unsupported actor type {kind!r}")
    actor_id = _url(doc.get("id"), "id", limits)
    # preferredUsername is optional in ActivityPub; without it, the id's last path segment is
    # the most recognisable name we can show (and WebFinger is not needed to talk to it).
    username = _text(doc, "preferredUsername", limits.name) or _name_from_id(actor_id)
    endpoints = doc.get("endpoints")
    aliases = as_list(doc.get("alsoKnownAs"))
    if len(aliases) > limits.addressing:
        raise Invalid(f"alsoKnownAs has more than {limits.addressing} entries")
    discoverable = doc.get("discoverable")
    return APActor(
        id=actor_id,
        type=kind,
        preferred_username=username,
        name=_text(doc, "name", limits.name),
        # Lemmy and PieFed put a community's whole sidebar here, so it gets the content bound.
        summary=_text(doc, "summary", limits.content),
        inbox=_url(doc.get("inbox"), "inbox", limits),
        outbox=_link_or_none(get_id(doc.get("outbox")), limits),
        followers=_link_or_none(get_id(doc.get("followers")), limits),
        shared_inbox=_link_or_none(
            endpoints.get("sharedInbox") if isinstance(endpoints, dict) else None, limits
        ),
        featured=_link_or_none(get_id(doc.get("featured")), limits),
        public_key=_public_key(doc.get("publicKey"), actor_id, limits),
        manually_approves_followers=doc.get("manuallyApprovesFollowers") is True,
        discoverable=discoverable if isinstance(discoverable, bool) else None,
        posting_restricted_to_mods=doc.get("postingRestrictedToMods") is True,
        attributed_to=_link_or_none(
            _first_id(doc.get("attributedTo")) or get_id(doc.get("moderators")), limits
        ),
        also_known_as=tuple(
            url for url in (_link_or_none(get_id(a), limits) for a in aliases) if url
        ),
        icon=_link(doc.get("icon"), limits),
        url=_link(doc.get("url"), limits),
        raw=doc,
    )


def embedded_origin_ok(activity: Activity) -> bool:
    """Whether every object embedded in `activity` has its id on its enclosing actor's host.

    When this is False the embedded copy proves nothing (the signer could have
    written anything into it): the caller must treat it as a bare id and fetch
    it from its own origin. A bare-id object is trivially fine.
    """
    # Imported here so origin.py may in turn import this module's types.
    from fedisupport.activitypub.origin import same_origin

    embedded = activity.object
    if embedded is None or isinstance(embedded, str):
        return True
    if not same_origin(activity.actor, embedded.id):
        return False
    if isinstance(embedded, Activity):
        return embedded_origin_ok(embedded)
    return True


def _parse_activity(doc: Any, limits: Limits, depth: int) -> Activity:
    doc = _require_dict(doc, "activity")
    kind = _type_of(doc, limits)
    activity_id = _url(doc.get("id"), "id", limits)
    actor = _first_id(doc.get("actor"))
    if actor is None:
        raise Invalid(f"{kind} has no actor")
    known = kind in ACTIVITY_TYPES
    entries = as_list(doc.get("object"))
    if len(entries) > limits.addressing:
        raise Invalid(f"object has more than {limits.addressing} entries")
    if known:
        if not entries:
            raise Invalid(f"{kind} has no object")
        objects = [_embedded(entry, limits, depth) for entry in entries]
        first: str | APObject | APActor | Activity | None = objects[0]
        object_ids = tuple(o if isinstance(o, str) else o.id for o in objects)
        target = _optional_url(_first_id(doc.get("target")), "target", limits)
    else:
        # Stored and ignored: keep whatever references are usable, refuse nothing here.
        object_ids = tuple(
            url for url in (_link_or_none(get_id(e), limits) for e in entries) if url
        )
        first = object_ids[0] if object_ids else None
        target = _link_or_none(_first_id(doc.get("target")), limits)
    return Activity(
        id=activity_id,
        type=kind,
        known=known,
        actor=_url(actor, "actor", limits),
        object=first,
        object_ids=object_ids,
        target=target,
        to=_addressing(doc.get("to"), "to", limits),
        cc=_addressing(doc.get("cc"), "cc", limits),
        bto=_addressing(doc.get("bto"), "bto", limits),
        bcc=_addressing(doc.get("bcc"), "bcc", limits),
        audience=_addressing(doc.get("audience"), "audience", limits),
        published=_datetime(doc.get("published")),
        summary=_text(doc, "summary", limits.summary),
        content=_text(doc, "content", limits.content),
        raw=doc,
    )


def _embedded(entry: Any, limits: Limits, depth: int) -> str | APObject | APActor | Activity:
    """One `object` entry: a checked id, or the parsed object it embeds."""
    if isinstance(entry, str):
        return _url(entry, "object", limits)
    if not isinstance(entry, dict):
        raise Invalid("object must be a URL or an object")
    kind = entry.get("type")
    if kind in ACTIVITY_TYPES:
        if depth >= limits.nesting:
            raise Invalid(f"activities nested more than {limits.nesting} deep")
        return _parse_activity(entry, limits, depth + 1)
    if kind in ACTOR_TYPES or kind in OBJECT_TYPES:
        return parse_object(entry, limits)
    # A type we don't speak (Video, Event, Image…): keep only the reference.
    return _url(get_id(entry), "object id", limits)


def _require_dict(doc: Any, what: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise Invalid(f"{what} must be a JSON object")
    return doc


def _type_of(doc: dict[str, Any], limits: Limits) -> str:
    kind = doc.get("type")
    if not isinstance(kind, str) or not kind:
        raise Invalid("type must be a non-empty string")
    if len(kind) > limits.name:
        raise Invalid(f"type is longer than {limits.name} characters")
    return kind


def _is_http_url(value: str) -> bool:
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # raises ValueError on a malformed port
    except ValueError:
        return False
    # "@" in the authority means userinfo, and browsers read a backslash as "/":
    # both are host-confusion vectors (CVE-2023-42451), so neither is accepted.
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and "@" not in parts.netloc
        and "\\" not in parts.netloc
    )


def _url(value: Any, field: str, limits: Limits) -> str:
    """A reference we act on: an absolute http(s) URL without userinfo, or `Invalid`."""
    if not isinstance(value, str) or not value:
        raise Invalid(f"{field} must be a URL")
    if len(value) > limits.id_length:
        raise Invalid(f"{field} is longer than {limits.id_length} characters")
    if not _is_http_url(value):
        raise Invalid(f"{field} is not an absolute http(s) URL without userinfo: {value[:100]!r}")
    return value


def _optional_url(value: str | None, field: str, limits: Limits) -> str | None:
    return None if value is None else _url(value, field, limits)


def _link_or_none(value: Any, limits: Limits) -> str | None:
    """A link we only display or follow later: kept if it is a sound http(s) URL."""
    if isinstance(value, str) and len(value) <= limits.id_length and _is_http_url(value):
        return value
    return None


def _link(value: Any, limits: Limits) -> str | None:
    """The first usable URL of a `url`/`icon` value: a string, a Link or Image, or a list."""
    for entry in as_list(value):
        if isinstance(entry, dict):
            entry = entry.get("href", entry.get("url"))
            if isinstance(entry, dict):  # an Image whose url is itself a Link
                entry = entry.get("href")
        url = _link_or_none(entry, limits)
        if url:
            return url
    return None


def _first_id(value: Any) -> str | None:
    for entry in as_list(value):
        ident = get_id(entry)
        if ident is not None:
            return ident
    return None


def _text(doc: dict[str, Any], key: str, limit: int) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{key} must be a string")
    if len(value) > limit:
        raise Invalid(f"{key} is longer than {limit} characters")
    return value


def _addressing(value: Any, field: str, limits: Limits) -> tuple[str, ...]:
    entries = as_list(value)
    if len(entries) > limits.addressing:
        raise Invalid(f"{field} has more than {limits.addressing} entries")
    addresses = []
    for entry in entries:
        ident = get_id(entry)
        # Normalise the compacted spellings so callers compare against AS_PUBLIC only.
        addresses.append(AS_PUBLIC if ident in PUBLIC_ADDRESSES else _url(ident, field, limits))
    return tuple(addresses)


def _attributed_to(value: Any, limits: Limits) -> str | None:
    """The author: a string, a list, or objects of which the first Person wins.

    PeerTube lists a Person and its channel Group; the Person is the author.
    """
    entries = as_list(value)
    persons = [get_id(e) for e in entries if isinstance(e, dict) and e.get("type") == "Person"]
    candidates = persons or [get_id(e) for e in entries]
    author = next((c for c in candidates if c is not None), None)
    return _optional_url(author, "attributedTo", limits)


def _context(doc: dict[str, Any], limits: Limits) -> str | None:
    # Mastodon's `conversation` is an opaque tag: URI, so neither is held to http(s).
    for key in ("context", "conversation"):
        value = _first_id(doc.get(key))
        if value and len(value) <= limits.id_length:
            return value
    return None


def _quote(doc: dict[str, Any], limits: Limits) -> str | None:
    # FEP-044f `quote`, then the older spellings Mastodon also reads.
    for key in ("quote", "quoteUrl", "quoteUri", "_misskey_quote"):
        value = _link_or_none(get_id(doc.get(key)), limits)
        if value:
            return value
    return None


def _content_map(value: Any, limits: Limits, *, limit: int | None = None,
                 field: str = "contentMap") -> Mapping[str, str]:
    if not isinstance(value, dict):
        return MappingProxyType({})
    limit = limits.content if limit is None else limit
    if len(value) > limits.languages:
        raise Invalid(f"{field} has more than {limits.languages} languages")
    texts = {}
    for language, text in value.items():
        if isinstance(text, str):
            if len(text) > limit:
                raise Invalid(f"{field}[{language[:20]!r}] is longer than {limit} characters")
            texts[language] = text
    return MappingProxyType(texts)


def _language(doc: dict[str, Any]) -> str | None:
    """Mastodon's rule (first key of contentMap), then Lemmy's `language.identifier`."""
    content_map = doc.get("contentMap")
    candidates = [next(iter(content_map), None)] if isinstance(content_map, dict) else []
    candidates += [
        entry.get("identifier") for entry in as_list(doc.get("language")) if isinstance(entry, dict)
    ]
    for tag in candidates:
        # Lemmy sends "und" (undetermined), which tells us nothing.
        if isinstance(tag, str) and tag != "und" and _LANGUAGE_TAG.fullmatch(tag):
            return tag
    return None


def _tags(value: Any, limits: Limits) -> tuple[Tag, ...]:
    entries = as_list(value)
    if len(entries) > limits.tags:
        raise Invalid(f"tag has more than {limits.tags} entries")
    return tuple(
        Tag(
            type=entry["type"],
            name=_text(entry, "name", limits.name),
            href=_link_or_none(entry.get("href"), limits),
        )
        for entry in entries
        if isinstance(entry, dict)
        and isinstance(entry.get("type"), str)
        and len(entry["type"]) <= limits.name
    )


def _attachments(value: Any, limits: Limits) -> tuple[Attachment, ...]:
    entries = as_list(value)
    if len(entries) > limits.attachments:
        raise Invalid(f"attachment has more than {limits.attachments} entries")
    attachments = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        # Mastodon and GTS use `url` on Document/Image; Lemmy sends a Link with `href`.
        url = _link(entry.get("url"), limits) or _link_or_none(entry.get("href"), limits)
        if url is None:
            continue
        kind = entry.get("type")
        media_type = entry.get("mediaType")
        if not isinstance(media_type, str) or len(media_type) > 255:
            media_type = None
        # Alt text: `name` for Mastodon and Misskey, `summary` for newer GoToSocial.
        alt = _text(entry, "name", limits.summary) or _text(entry, "summary", limits.summary)
        attachments.append(
            Attachment(
                type=kind if isinstance(kind, str) and len(kind) <= limits.name else "Document",
                url=url,
                media_type=media_type,
                name=alt,
            )
        )
    return tuple(attachments)


def _public_key(value: Any, actor_id: str, limits: Limits) -> PublicKey | None:
    """The first well-formed key the actor owns; a key owned by someone else is ignored."""
    for entry in as_list(value):
        if not isinstance(entry, dict):
            continue
        key_id = _link_or_none(entry.get("id"), limits)
        owner = get_id(entry.get("owner"))
        pem = entry.get("publicKeyPem")
        if not (isinstance(pem, str) and len(pem) <= limits.public_key_pem):
            continue
        if key_id and owner == actor_id:
            return PublicKey(id=key_id, owner=owner, pem=pem)
    return None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    # A timestamp without an offset is read as UTC, as every peer we know means it.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
