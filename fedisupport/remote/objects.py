"""Remote posts fetched from their origin: never trust a copy that came from someone else."""
from __future__ import annotations

from ..activitypub.fetch import FetchError, FetchGone
from ..activitypub.vocab import APObject, Invalid, parse_object
from ..services import Services

POST_TYPES = frozenset({"Note", "Page", "Article", "Question", "ChatMessage"})


class ObjectUnavailable(Exception):
    def __init__(self, reason: str, *, gone: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gone = gone


async def fetch_post(services: Services, url: str) -> APObject:
    """A post-like object as its origin serves it (signed GET; id must equal the URL)."""
    try:
        doc = await services.client.get_json(url, signer=await services.instance_signer())
    except FetchGone as exc:
        raise ObjectUnavailable(f"{url} is gone", gone=True) from exc
    except FetchError as exc:
        raise ObjectUnavailable(f"could not fetch {url}: {exc.reason}") from None
    try:
        obj = parse_object(doc)
    except Invalid as exc:
        raise ObjectUnavailable(f"{url} is not usable: {exc}") from None
    if not isinstance(obj, APObject) or obj.type not in POST_TYPES:
        raise ObjectUnavailable(f"{url} is a {doc.get('type')}, not a post")
    return obj
