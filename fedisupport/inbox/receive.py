"""POST to an inbox: cap, parse, verify, store, answer 202. Everything else happens later.

This is the hot path of a viral thread, so it does only what must happen before we accept
responsibility for an activity, and reads no database row in the common case (keys are cached).
"""
from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from ..activitypub.jsonld import get_id
from ..activitypub.origin import host_of, same_origin
from ..activitypub.signatures import SignatureError, parse_incoming, verify_signature
from ..models import utcnow
from ..policy.check import refused_at_inbox
from ..remote.actors import ActorUnavailable, resolve_key
from ..services import Services

log = logging.getLogger("fedisupport.inbox")
MAX_JSON_DEPTH = 64
_JSON_TYPES = ("application/activity+json", "application/ld+json", "application/json")


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def refusal(status: int, reason: str) -> Response:
    return JSONResponse({"error": reason}, status_code=status)


async def read_capped_body(request: Request, limit: int) -> bytes:
    """The body, or Refused(413) as soon as it is larger than the limit (checked while streaming)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Refused(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise Refused(413, f"body larger than {limit} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refused(413, f"body larger than {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise Refused(400, "client went away") from None
    return b"".join(chunks)


def _depth(value: Any) -> int:
    """Nesting depth of objects and arrays (the outermost is 1; a scalar 0), or the first depth
    past MAX_JSON_DEPTH. Iterative, one level at a time, so a hostile document cannot exhaust the
    stack; only containers are visited twice, which keeps it cheap on every inbox POST."""
    depth, level = 0, [value] if isinstance(value, (dict, list)) else []
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            return depth
        below = []
        for item in level:
            for child in (item.values() if isinstance(item, dict) else item):
                if isinstance(child, (dict, list)):
                    below.append(child)
        level = below
    return depth


def _storable(value: str) -> bool:
    """Text a UTF-8 database column can hold: no NUL or other control characters, no lone surrogates."""
    return value.isprintable()


def parse_body(body: bytes) -> dict[str, Any]:
    return parse_text(body)[0]


def parse_text(body: bytes) -> tuple[dict[str, Any], str]:
    """The activity and the body as text (decoded once: the text is what the inbox row stores)."""
    try:
        # Decode strictly first: json.loads(bytes) also reads UTF-16/32 and passes surrogate bytes
        # ("surrogatepass"), which then failed body.decode("utf-8") in receive() with a 500.
        text = body.decode("utf-8")
        doc = json.loads(text)
    except RecursionError:
        raise Refused(400, "JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "body is not UTF-8 JSON") from None
    if not isinstance(doc, dict):
        raise Refused(400, "an activity must be a JSON object")
    if _depth(doc) > MAX_JSON_DEPTH:
        raise Refused(400, "JSON nested too deeply")
    if not isinstance(doc.get("type"), str):
        raise Refused(400, "activity has no type")
    actor = get_id(doc.get("actor"))
    if not actor:
        raise Refused(400, "activity has no actor")
    activity_id = doc.get("id")
    try:
        host_of(actor)
    except ValueError as exc:
        raise Refused(400, f"actor is not a valid URL: {exc}") from None
    if activity_id is not None and (not isinstance(activity_id, str) or not same_origin(activity_id, actor)):
        # An activity's id lives on its actor's server; anything else is a forgery or a bug.
        raise Refused(400, "activity id is not on the actor's host")
    # These three become columns of the group-committed InboxItem. A NUL or a lone surrogate
    # ("\u0000", "\ud800" escapes) cannot be stored as UTF-8 text, and one such row used to fail
    # the writer's whole batch: every activity committed with it got a 500 (security row 8).
    if not all(_storable(v) for v in (doc["type"], actor, activity_id) if isinstance(v, str)):
        raise Refused(400, "type, actor or id contains characters that cannot be stored")
    return doc, text


async def verify(services: Services, request: Request, body: bytes, actor: str) -> str:
    """Check the HTTP signature; return the key id. The signer must be the activity's actor."""
    settings = services.settings
    try:
        # expected_host: a signature made for another server (and replayed here with the Host it
        # covered) must not verify; covering `host` means nothing unless it is checked (row 2).
        sig = parse_incoming(request.method, request.scope.get("raw_path", b"").decode("latin-1") or request.url.path,
                             request.scope.get("query_string", b"").decode("latin-1"), request.headers, body,
                             scheme=settings.scheme, expected_host=settings.domain)
    except SignatureError as exc:
        raise Refused(401, exc.reason) from None
    try:
        key = await resolve_key(services, sig.key_id)
        if key.owner != actor:
            # CVE-2024-23832: a valid signature from one actor says nothing about another.
            raise Refused(401, "the signing key does not belong to the activity's actor")
        if verify_signature(sig, key.pem):
            return sig.key_id
        # The actor may have rotated its key: fetch it again, once.
        key = await resolve_key(services, sig.key_id, refresh=True)
    except ActorUnavailable as exc:
        raise Refused(401, f"cannot verify the signature: {exc.reason}") from None
    except SignatureError as exc:
        raise Refused(401, exc.reason) from None
    if key.owner != actor:
        raise Refused(401, "the signing key does not belong to the activity's actor")
    if not verify_signature(sig, key.pem):
        raise Refused(401, "signature does not verify")
    return sig.key_id


async def receive(request: Request, recipient_id: int | None) -> Response:
    services: Services = request.app.state.services
    try:
        body = await read_capped_body(request, services.settings.max_inbox_bytes)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in _JSON_TYPES:
            raise Refused(415, "send application/activity+json")
        doc, text = parse_text(body)
        actor = get_id(doc["actor"])
        if await refused_at_inbox(services, host_of(actor)):  # a suspended domain: no signature work at all
            raise Refused(403, "this server does not accept activities from your domain")
        await verify(services, request, body, actor)
    except Refused as exc:
        log.info("refused inbox POST from %s: %s %s", request.client.host if request.client else "?", exc.status, exc.reason)
        return refusal(exc.status, exc.reason)
    activity_id = doc.get("id") or "urn:sha256:" + hashlib.sha256(body).hexdigest()
    now = utcnow()
    await request.app.state.inbox_writer.store({
        "ap_id": activity_id[:2048], "actor_ap_id": actor[:2048], "type": doc["type"][:64],
        "body": text, "recipient_id": recipient_id, "state": "queued", "attempts": 0,
        "next_attempt_at": now, "received_at": now,
    })
    return Response(status_code=202)
