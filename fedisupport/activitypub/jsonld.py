"""JSON-LD constants and small helpers for the ActivityPub JSON we read and write.

We never run a JSON-LD processor: like Mastodon, Lemmy and GoToSocial we treat
documents as plain JSON in the compacted shape peers actually send, and this
module holds the few facts needed for that (the context we emit, the Public
collection's spellings, the content types that count as ActivityPub).
"""

from __future__ import annotations

from typing import Any, Final

AS_CONTEXT: Final = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT: Final = "https://w3id.org/security/v1"
AS_PUBLIC: Final = "https://www.w3.org/ns/activitystreams#Public"

# The same collection, compacted against the activitystreams context; both
# spellings turn up in the wild (Pleroma used "as:Public", older software "Public").
PUBLIC_ADDRESSES: Final = frozenset({AS_PUBLIC, "as:Public", "Public"})

ACTIVITY_JSON: Final = "application/activity+json"
LD_JSON: Final = "application/ld+json"
LD_JSON_AS_PROFILE: Final = f'{LD_JSON}; profile="{AS_CONTEXT}"'

# What we send as Accept/Content-Type, most preferred first.
ACCEPTED_CONTENT_TYPES: Final = (ACTIVITY_JSON, LD_JSON_AS_PROFILE)

# The @context of every document we emit. Terms in the inline map are the
# extensions Mastodon (toot:), Lemmy (lemmy:) and schema.org (sc:) define and
# that our actors and posts use. Treat as read-only; json.dumps it as is.
CONTEXT: Final[list[Any]] = [
    AS_CONTEXT,
    SECURITY_CONTEXT,
    {
        "toot": "http://joinmastodon.org/ns#",
        "lemmy": "https://join-lemmy.org/ns#",
        "sc": "http://schema.org/",
        "sensitive": "as:sensitive",
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "featured": {"@id": "toot:featured", "@type": "@id"},
        "discoverable": "toot:discoverable",
        "moderators": {"@id": "lemmy:moderators", "@type": "@id"},
        "postingRestrictedToMods": "lemmy:postingRestrictedToMods",
        "language": "sc:inLanguage",
        "identifier": "sc:identifier",
    },
]


def as_list(value: Any) -> list[Any]:
    """Return a JSON-LD value as a list: None is empty, a scalar or object becomes one item."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def get_id(value: Any) -> str | None:
    """Return the id of a reference: the string itself, or the `id` of an embedded object."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        ident = value.get("id")
        return ident if isinstance(ident, str) else None
    return None


def is_public(addressing: Any) -> bool:
    """Whether addressing (a string, an object or a list of them) includes Public."""
    return any(get_id(entry) in PUBLIC_ADDRESSES for entry in as_list(addressing))


def is_activitypub_content_type(header: str | None) -> bool:
    """Whether a Content-Type header names ActivityPub JSON.

    `application/activity+json` always counts; `application/ld+json` only with
    the activitystreams profile, which may be one of several space-separated
    profile URIs (the rule Mastodon applies since CVE-2024-23832).
    """
    if not header:
        return False
    media_type, *params = (part.strip() for part in header.split(";"))
    media_type = media_type.lower()
    if media_type == ACTIVITY_JSON:
        return True
    if media_type != LD_JSON:
        return False
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "profile" and AS_CONTEXT in value.strip().strip('"').split():
            return True
    return False
