"""One URL answers a browser with HTML and a server with ActivityStreams JSON."""
from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

AP_CONTENT_TYPE = "application/activity+json"
_AP_TYPES = ("application/activity+json", "application/ld+json")


def _accept_entries(header: str) -> list[tuple[str, float]]:
    entries = []
    for part in header.split(","):
        fields = part.strip().split(";")
        media = fields[0].strip().lower()
        if not media:
            continue
        q = 1.0
        for param in fields[1:]:
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        entries.append((media, q))
    return entries


def wants_activitypub(request: Request) -> bool:
    """True when the client prefers ActivityStreams JSON over HTML."""
    entries = _accept_entries(request.headers.get("accept", ""))
    ap = max((q for media, q in entries if media in _AP_TYPES), default=0.0)
    if ap <= 0:
        return False
    html = max((q for media, q in entries if media in ("text/html", "application/xhtml+xml")), default=0.0)
    return ap >= html


class ActivityJSONResponse(Response):
    media_type = AP_CONTENT_TYPE

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def vary_accept(response: Response) -> Response:
    # Caches must keep the HTML and JSON answers of one URL apart.
    response.headers.append("Vary", "Accept")
    return response
