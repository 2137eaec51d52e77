"""Authorized fetch: with the setting on, our posts and collections are only served to signed GETs.

Actor documents stay public (they carry the keys peers need to verify us, and GoToSocial and
Mastodon in secure mode fetch them unsigned); everything else needs a valid signature from any
actor whose key we can fetch and check, as Mastodon's secure mode does.
"""
from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..activitypub.signatures import SignatureError, parse_incoming, verify_signature
from ..remote.actors import ActorUnavailable, resolve_key
from ..services import Services

log = logging.getLogger("fedisupport.web")


def _unauthorized(reason: str) -> Response:
    return JSONResponse({"error": reason}, status_code=401, headers={"Cache-Control": "no-store"})


async def _verify(request: Request) -> tuple[str | None, str]:
    """(the ap_id of the actor whose key signed this GET, "") or (None, why not)."""
    services: Services = request.app.state.services
    settings = services.settings
    try:
        sig = parse_incoming(request.method, request.scope.get("raw_path", b"").decode("latin-1") or request.url.path,
                             request.scope.get("query_string", b"").decode("latin-1"), request.headers, None,
                             scheme=settings.scheme, expected_host=settings.domain)
        key = await resolve_key(services, sig.key_id)
        if verify_signature(sig, key.pem):
            return key.owner, ""
        key = await resolve_key(services, sig.key_id, refresh=True)  # the key may have rotated
        if verify_signature(sig, key.pem):
            return key.owner, ""
        return None, "signature does not verify"
    except SignatureError as exc:
        return None, exc.reason
    except ActorUnavailable as exc:
        return None, f"cannot verify the signature: {exc.reason}"


async def check_signed_get(request: Request) -> Response | None:
    """None when the request is signed by a key we can verify; otherwise the 401 to send."""
    signer, reason = await _verify(request)
    if signer is not None:
        return None
    log.info("refused unsigned or badly signed GET %s: %s", request.url.path, reason)
    return _unauthorized(f"this server requires signed requests: {reason}")


async def signer_of(request: Request) -> str | None:
    """The ap_id of the remote actor that signed this GET, or None (unsigned or not verifiable).

    Members-only documents are served only when this names one of the group's members.
    """
    if "signature" not in request.headers and "signature-input" not in request.headers:
        return None
    signer, _ = await _verify(request)
    return signer
