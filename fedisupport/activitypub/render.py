"""The JSON documents we serve about ourselves: actors, collections, WebFinger, NodeInfo.

Pure functions from model objects and settings to plain dicts (or, for host-meta, XML text).
Nothing here reads the database or speaks HTTP: the web layer loads the rows and counts and
hands them in, so every document can be built and checked in isolation.

Shapes follow what peers actually read: Mastodon's actor and WebFinger rules
(docs.joinmastodon.org/spec/activitypub, /spec/webfinger), Lemmy's Group and its collections
(FEP-1b12), FEP-d556 for finding the instance actor, and the NodeInfo 2.0/2.1 schemas.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Final, Sequence
from xml.sax.saxutils import quoteattr

from .. import urls
from ..models import APPLICATION, GROUP, PERSON, Actor, Community, Site
from ..settings import Settings
from .jsonld import ACTIVITY_JSON, AS_CONTEXT, CONTEXT

SOFTWARE_NAME: Final = "fedisupport"
NODEINFO_VERSIONS: Final = ("2.1", "2.0")
NODEINFO_SCHEMA: Final = "http://nodeinfo.diaspora.software/ns/schema/{version}"

PROFILE_PAGE_REL: Final = "http://webfinger.net/rel/profile-page"
# FEP-d556: the link relation that names a server-level actor.
SERVICE_REL: Final = "https://www.w3.org/ns/activitystreams#Service"
# Lemmy puts the actor type on WebFinger links so a Person and a Group with one name can be told
# apart without fetching both; our names are unique, but the hint saves peers a fetch.
TYPE_PROPERTY: Final = "https://www.w3.org/ns/activitystreams#type"

_ACTIVITY_TYPES: Final = {PERSON: "Person", GROUP: "Group", APPLICATION: "Application"}
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# Mastodon's `suspended` flag (toot:suspended); jsonld.CONTEXT has no term for it because only
# the documents of suspended actors carry it.
_SUSPENDED_CONTEXT: Final = [*CONTEXT[:-1], {**CONTEXT[-1], "suspended": "toot:suspended"}]


# --- small shared pieces -------------------------------------------------------------------


def iso(moment: dt.datetime) -> str:
    """An xsd:dateTime in UTC with a `Z`, the form every peer parses."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def plain_paragraphs(text: str) -> str:
    """Plain text as HTML paragraphs: escaped, blank lines split paragraphs, newlines become <br>."""
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text.replace("\r\n", "\n").strip())]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>" for p in paragraphs if p
    )


def activity_type(actor: Actor) -> str:
    """The ActivityStreams type of a local actor: Person, Group or Application."""
    return _ACTIVITY_TYPES[actor.kind]


def preferred_username(settings: Settings, actor: Actor) -> str:
    """The name peers show and WebFinger resolves.

    The instance actor takes the domain as its name, as Mastodon's does, so that
    `acct:domain@domain` finds it; everyone else goes by their username.
    """
    return settings.domain if actor.kind == APPLICATION else actor.username


def acct(settings: Settings, actor: Actor) -> str:
    """The canonical `acct:` URI of a local actor (WebFinger's `subject`)."""
    return f"acct:{preferred_username(settings, actor)}@{settings.domain}"


def profile_url(settings: Settings, actor: Actor) -> str:
    """The HTML page a person reads about this actor.

    People and communities answer HTML and JSON at one URL; `/actor` is JSON only, so the
    instance actor's page is the home page.
    """
    if actor.kind == APPLICATION:
        return settings.url("/")
    return actor.url or actor.ap_id


def collection_id(actor: Actor, name: str) -> str:
    """The id of one of a local actor's collections, e.g. `…/c/hope/featured`."""
    return f"{actor.ap_id}/{name}"


# --- actors ---------------------------------------------------------------------------------


def actor_document(settings: Settings, actor: Actor, community: Community | None = None) -> dict[str, Any]:
    """The ActivityStreams document of a local actor: a Person, a Group or the Application.

    A Group needs its `community` row (title, description, languages, approval). A suspended
    actor gets the bare document Mastodon serves for suspended accounts (keys and inboxes, no
    profile, `suspended: true`): suspension can be lifted, so peers must not treat it as gone.
    Deleted actors are answered with `tombstone_document` instead.
    """
    if actor.kind == GROUP and community is None:
        raise ValueError("a Group's document needs its community")
    shared_inbox = actor.shared_inbox_url or urls.shared_inbox(settings)
    doc: dict[str, Any] = {
        "@context": _SUSPENDED_CONTEXT if actor.suspended else CONTEXT,
        "id": actor.ap_id,
        "type": activity_type(actor),
        "preferredUsername": preferred_username(settings, actor),
        "url": profile_url(settings, actor),
        "inbox": actor.inbox_url,
        "outbox": actor.outbox_url or collection_id(actor, "outbox"),
        "endpoints": {"sharedInbox": shared_inbox},
        "publicKey": {
            "id": actor.key_id or urls.key_id(actor.ap_id),
            "owner": actor.ap_id,
            "publicKeyPem": actor.public_key_pem,
        },
        "published": iso(actor.created_at),
    }
    if actor.kind != APPLICATION:
        doc["followers"] = actor.followers_url or collection_id(actor, "followers")
    if actor.kind == PERSON:
        doc["following"] = collection_id(actor, "following")

    if actor.suspended:
        doc.update(name=doc["preferredUsername"], suspended=True, discoverable=False,
                   manuallyApprovesFollowers=True)
        return doc

    if actor.kind == GROUP:
        assert community is not None
        doc.update(_group_fields(actor, community))
    elif actor.kind == PERSON:
        doc.update(
            name=actor.display_name or actor.username,
            manuallyApprovesFollowers=actor.manually_approves_followers,
            # People reaching out for support are not advertised in directories or to search
            # engines; communities are there to be found.
            discoverable=False,
        )
        if actor.summary:
            doc["summary"] = plain_paragraphs(actor.summary)
    else:
        doc.update(
            name=actor.display_name or settings.domain,
            # Nobody follows the instance actor by accident; an admin would accept by hand.
            manuallyApprovesFollowers=True,
            discoverable=False,
        )
    if actor.icon_url:
        doc["icon"] = {"type": "Image", "url": actor.icon_url}
    return doc


def _group_fields(actor: Actor, community: Community) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": community.title,
        "featured": collection_id(actor, "featured"),
        # Lemmy's convention (FEP-1b12): moderators are the members of this collection.
        "attributedTo": collection_id(actor, "moderators"),
        # A locked account in Mastodon; a private community in Lemmy. Both fit approval-only groups.
        "manuallyApprovesFollowers": bool(community.requires_approval or community.members_only),
        # A small group is found through an invitation, never in a directory.
        "discoverable": not community.members_only,
        "postingRestrictedToMods": False,
    }
    if community.description:
        fields["summary"] = plain_paragraphs(community.description)
    languages = community.languages.split()
    if languages:
        # Lemmy reads only `identifier`, but its parser rejects an entry without `name`. We keep
        # no table of language names, so the name repeats the tag rather than inventing one.
        fields["language"] = [{"identifier": tag, "name": tag} for tag in languages]
    return fields


def tombstone_document(actor: Actor) -> dict[str, Any]:
    """What a deleted actor's URL answers (with 410 Gone): a Tombstone remembering its type."""
    doc: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": actor.ap_id,
        "type": "Tombstone",
        "formerType": activity_type(actor),
    }
    if actor.deleted_at is not None:
        doc["deleted"] = iso(actor.deleted_at)
    return doc


# --- collections ----------------------------------------------------------------------------


def ordered_collection(
    id: str, total: int, first: str | None = None, items: Sequence[Any] | None = None
) -> dict[str, Any]:
    """An OrderedCollection: a total, and either its items inline or a link to its first page."""
    doc: dict[str, Any] = {"@context": AS_CONTEXT, "id": id, "type": "OrderedCollection", "totalItems": total}
    if first is not None:
        doc["first"] = first
    if items is not None:
        doc["orderedItems"] = list(items)
    return doc


def ordered_collection_page(
    id: str, part_of: str, items: Sequence[Any], next: str | None = None
) -> dict[str, Any]:
    """One page of an OrderedCollection; `next` only when another page follows."""
    doc: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": id,
        "type": "OrderedCollectionPage",
        "partOf": part_of,
        "orderedItems": list(items),
    }
    if next is not None:
        doc["next"] = next
    return doc


def count_only_collection(id: str, total: int) -> dict[str, Any]:
    """A collection that tells how many, never who: followers and following.

    Shaped as Lemmy serves community followers (`Collection`, `totalItems`, empty `items`),
    because Lemmy's parser accepts exactly that and takes a remote community's subscriber
    count from it; Mastodon reads `totalItems` from any collection type.
    """
    return {"@context": AS_CONTEXT, "id": id, "type": "Collection", "totalItems": total, "items": []}


# --- WebFinger and host-meta -----------------------------------------------------------------


def webfinger_document(settings: Settings, actor: Actor, rels: Sequence[str] = ()) -> dict[str, Any]:
    """The JRD for a local actor: subject `acct:name@domain`, its aliases and links.

    The instance actor also gets FEP-d556's Service link, so `resource=https://domain/` finds
    it. `rels`, when given, keeps only links of those relations (RFC 7033 section 4.3).
    """
    page = profile_url(settings, actor)
    self_link = {"rel": "self", "type": ACTIVITY_JSON, "href": actor.ap_id,
                 "properties": {TYPE_PROPERTY: activity_type(actor)}}
    links: list[dict[str, Any]] = [
        {"rel": PROFILE_PAGE_REL, "type": "text/html", "href": page},
        self_link,
    ]
    if actor.kind == APPLICATION:
        links.append({**self_link, "rel": SERVICE_REL})
    if rels:
        links = [link for link in links if link["rel"] in rels]
    return {
        "subject": acct(settings, actor),
        "aliases": list(dict.fromkeys([actor.ap_id, page])),
        "links": links,
    }


def host_meta(settings: Settings) -> str:
    """The XRD at /.well-known/host-meta pointing at our WebFinger (older clients start here)."""
    template = settings.url("/.well-known/webfinger") + "?resource={uri}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template={quoteattr(template)}/>\n'
        "</XRD>\n"
    )


# --- NodeInfo -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """The counts NodeInfo publishes; the web layer counts them, this module only shapes them."""

    users: int
    active_month: int
    active_halfyear: int
    local_posts: int


def software_version() -> str:
    """Our version as installed (package metadata), so NodeInfo never drifts from a release."""
    try:
        return metadata.version(SOFTWARE_NAME)
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def nodeinfo_links(settings: Settings) -> dict[str, Any]:
    """/.well-known/nodeinfo: where each schema version of our NodeInfo lives, newest first."""
    return {
        "links": [
            {"rel": NODEINFO_SCHEMA.format(version=v), "href": settings.url(f"/nodeinfo/{v}")}
            for v in NODEINFO_VERSIONS
        ]
    }


def nodeinfo_document(settings: Settings, site: Site | None, usage: Usage, version: str = "2.1") -> dict[str, Any]:
    """A NodeInfo 2.1 (or 2.0) document.

    Both versions carry the same facts: 2.1 only allows `software.repository` and
    `software.homepage`, which we leave out rather than point at an address we can't vouch for.
    Before `fedisupport init` has written the site row, registrations count as closed.
    """
    if version not in NODEINFO_VERSIONS:
        raise ValueError(f"unsupported NodeInfo version {version!r}")
    metadata_: dict[str, Any] = {"nodeName": site.name if site else settings.domain}
    if site and site.description:
        metadata_["nodeDescription"] = site.description
    return {
        "version": version,
        "software": {"name": SOFTWARE_NAME, "version": software_version()},
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": bool(site and site.registration_mode == "open"),
        "usage": {
            "users": {
                "total": usage.users,
                "activeMonth": usage.active_month,
                "activeHalfyear": usage.active_halfyear,
            },
            "localPosts": usage.local_posts,
        },
        "metadata": metadata_,
    }
