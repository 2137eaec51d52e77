"""Inbox endpoints (personal and shared) and our published activities by id."""
from __future__ import annotations

import json
import time

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..domain.accounts import INSTANCE_ACTOR_USERNAME, local_actor_by_name
from ..inbox.receive import receive
from ..activitypub.jsonld import AS_PUBLIC
from ..models import OutboxActivity
from .ap_routes import ap_response


async def shared_inbox(request: Request) -> Response:
    return await receive(request, recipient_id=None)


# Which local actor a personal or community inbox belongs to, remembered for a few seconds: Lemmy
# sends every activity of a community to /c/{name}/inbox, and reading the actor row each time cost
# more than the rest of the accept path. Only inboxes that exist are remembered, so a new community
# answers at once. An actor deleted within RECIPIENT_TTL may still get activities queued; that is
# what the shared inbox would have taken anyway (recipient_id only records the door used).
RECIPIENT_TTL = 5.0
_MAX_REMEMBERED = 10_000


async def _recipient(request: Request, username: str, kind: str) -> int | None:
    state = request.app.state
    remembered = getattr(state, "inbox_recipients", None)
    if remembered is None:
        remembered = state.inbox_recipients = {}
    key = (username.lower(), kind)
    now = time.monotonic()
    hit = remembered.get(key)
    if hit is not None and hit[1] > now:
        return hit[0]
    async with state.sessions() as session:
        actor = await local_actor_by_name(session, state.settings, username)
    if actor is None or actor.kind != kind or actor.deleted_at is not None:
        remembered.pop(key, None)
        return None
    if len(remembered) >= _MAX_REMEMBERED:
        remembered.clear()
    remembered[key] = (actor.id, now + RECIPIENT_TTL)
    return actor.id


async def _personal(request: Request, username: str, kind: str) -> Response:
    recipient_id = await _recipient(request, username, kind)
    if recipient_id is None:
        return JSONResponse({"error": "no such inbox"}, status_code=404)
    return await receive(request, recipient_id=recipient_id)


async def person_inbox(request: Request) -> Response:
    return await _personal(request, request.path_params["name"], "person")


async def community_inbox(request: Request) -> Response:
    return await _personal(request, request.path_params["name"], "group")


async def instance_inbox(request: Request) -> Response:
    return await _personal(request, INSTANCE_ACTOR_USERNAME, "application")


PRIVATE_TYPES = frozenset({"Flag"})


async def published_activity(request: Request) -> Response:
    """Our activities stay dereferenceable, so peers can fetch what an Announce wraps."""
    settings = request.app.state.settings
    ap_id = settings.url(f"/activities/{request.path_params['token']}")
    async with request.app.state.sessions() as session:
        row = (await session.execute(select(OutboxActivity.type, OutboxActivity.body)
                                     .where(OutboxActivity.ap_id == ap_id))).first()
    # A forwarded report is for the server it was sent to, never for whoever learns its id.
    if row is None or row.type in PRIVATE_TYPES:
        return JSONResponse({"error": "no such activity"}, status_code=404)
    doc = json.loads(row.body)
    if row.type in CARRIERS and not _public(doc):
        # A members-only post (or an invitation) travels only to its recipients' inboxes; its
        # activity is not served to whoever learns the id (docs/small-groups.md).
        return JSONResponse({"error": "no such activity"}, status_code=404)
    return await ap_response(request, doc, cache_control="public, max-age=3600")


# Activities that carry a post's text (or name one): served only when addressed to Public.
CARRIERS = frozenset({"Create", "Update", "Announce", "Delete"})


def _public(doc: dict) -> bool:
    addressed = [*(doc.get("to") or []), *(doc.get("cc") or [])]
    return AS_PUBLIC in addressed


def routes() -> list[Route]:
    return [
        Route("/inbox", shared_inbox, methods=["POST"]),
        Route("/u/{name}/inbox", person_inbox, methods=["POST"]),
        Route("/c/{name}/inbox", community_inbox, methods=["POST"]),
        Route("/actor/inbox", instance_inbox, methods=["POST"]),
        Route("/activities/{token}", published_activity, methods=["GET"]),
    ]
