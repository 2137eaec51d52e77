"""POSTs to an inbox go straight to their handler, past the machinery pages need.

A viral thread means thousands of inbox POSTs a second, and each one used to pass through the
language middleware (cookies, Accept-Language, the site's default language: nothing an inbox
answers in), the exception middleware and the router's route matching before reaching
`inbox/receive.py`. This middleware sits inside `SecurityHeaders` (inbox answers keep the same
headers as every other response) and in front of everything else; it recognises exactly the
inbox routes of `web/inbox_routes.py` and calls the same handlers, so every check of the accept
path (size cap, media type, strict JSON, suspended domains, signature, key owner) runs as before.
Anything else, including a GET or a malformed inbox path, goes on to the normal stack.
"""
from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from . import inbox_routes

Handler = Callable[[Request], Awaitable[Response]]

# The same paths as the inbox Routes: "{name}" matches one path segment, as starlette's does.
_FIXED: dict[str, Handler] = {"/inbox": inbox_routes.shared_inbox, "/actor/inbox": inbox_routes.instance_inbox}
_PERSONAL = re.compile(r"/(u|c)/([^/]+)/inbox")
_BY_KIND: dict[str, Handler] = {"u": inbox_routes.person_inbox, "c": inbox_routes.community_inbox}


def inbox_handler(scope: Scope) -> Handler | None:
    """The handler for an inbox POST (with its path parameters set in the scope), or None."""
    path = get_route_path(scope)
    handler = _FIXED.get(path)
    if handler is not None:
        scope["path_params"] = {}
        return handler
    match = _PERSONAL.fullmatch(path)
    if match is None:
        return None
    scope["path_params"] = {"name": match[2]}
    return _BY_KIND[match[1]]


class InboxDoor:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = inbox_handler(scope)
            if handler is not None:
                response = await handler(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
