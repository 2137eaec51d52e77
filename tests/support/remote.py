"""A fake remote ActivityPub server for attack tests: serves what it is told, records what it sees.

`FakeRemote` is a small starlette app served by uvicorn on 127.0.0.1 (a random port), so its
domain is ``127.0.0.1:<port>`` and its ids look like ``http://127.0.0.1:<port>/users/alice``.
A test tells it what to serve (actors with real RSA keys, arbitrary documents, redirects,
trickling or stalled responses) and then inspects ``requests``, ``inbox_posts`` and
``connections`` — the last counts TCP connections, so "no request was even attempted" can be
asserted for traffic that would never parse as HTTP (a TLS handshake sent to this plain-HTTP
server, say).

`signed_post` signs the way Mastodon does (draft-cavage through
``fedisupport.activitypub.signatures.sign_request``) and lets a test break the signature in
every way the security reference lists: another key, another keyId, another method or path,
an old Date, a digest that is not covered, a body altered after signing, headers dropped.

    async with FakeRemote() as remote:
        alice = remote.add_actor("alice")
        response = await signed_post(remote, "alice", instance.url("/inbox"),
                                     remote.activity("alice", "Follow", target))
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from fedisupport.activitypub.jsonld import CONTEXT
from fedisupport.activitypub.signatures import digest_header, generate_keypair, sign_request

from .instances import bind_loopback

AP = "application/activity+json"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
# Building an SSL context per httpx client costs ~20 ms; every POST here shares this one.
_SSL_CONTEXT = ssl.create_default_context()


# --------------------------------------------------------------------------
# Keys: RSA generation is slow, so each named key is made once per test session.

@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str


_KEYS: dict[str, KeyPair] = {}


def keypair(name: str = "default") -> KeyPair:
    """The session-wide key pair called `name` (made on first use, then reused)."""
    if name not in _KEYS:
        _KEYS[name] = KeyPair(*generate_keypair())
    return _KEYS[name]


# --------------------------------------------------------------------------
# What the fake server serves and what it saw

@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class FakeActor:
    name: str
    id: str
    key_id: str
    key: KeyPair
    doc: dict[str, Any]


@dataclass
class _Route:
    kind: str  # "doc" | "redirect" | "trickle" | "stall"
    body: bytes = b""
    content_type: str = AP
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    location: str = ""
    interval: float = 0.5  # trickle: seconds between bytes


class FakeRemote:
    """A fake ActivityPub server on 127.0.0.1; use as ``async with FakeRemote() as remote``."""

    def __init__(self) -> None:
        self.routes: dict[str, _Route] = {}
        self.actors: dict[str, FakeActor] = {}
        self.requests: list[Recorded] = []
        self.inbox_posts: list[Recorded] = []
        self.connections = 0
        self.port = 0
        self._closing = asyncio.Event()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None
        self._sock = None

    # -- addresses --
    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.domain}"

    def url(self, path: str) -> str:
        return self.base_url + path

    # -- what to serve --
    def add_actor(self, name: str, /, *, key: KeyPair | None = None, type: str = "Person",
                  key_id: str | None = None, owner: str | None = None, content_type: str = AP,
                  **extra_fields: Any) -> FakeActor:
        """Serve an actor at /users/<name> with publicKey {id: …#main-key, owner, publicKeyPem}.

        `key` defaults to the session key named after the actor. `key_id` and `owner` change what
        the publicKey block claims; `extra_fields` are merged into the document last, and a
        value of None removes that field (``publicKey=None`` serves an actor without a key;
        ``name="…"`` sets the display name, as `name` itself is positional-only).
        """
        key = key or keypair(name)
        actor_id = self.url(f"/users/{name}")
        key_id = key_id or actor_id + "#main-key"
        doc: dict[str, Any] = {
            "@context": [CONTEXT, SECURITY_CONTEXT],
            "id": actor_id,
            "type": type,
            "preferredUsername": name,
            "name": name.title(),
            "inbox": actor_id + "/inbox",
            "outbox": actor_id + "/outbox",
            "followers": actor_id + "/followers",
            "endpoints": {"sharedInbox": self.url("/inbox")},
            "publicKey": {"id": key_id, "owner": owner or actor_id, "publicKeyPem": key.public_pem},
        }
        for name_, value in extra_fields.items():
            if value is None:
                doc.pop(name_, None)
            else:
                doc[name_] = value
        actor = FakeActor(name=name, id=actor_id, key_id=key_id, key=key, doc=doc)
        self.actors[name] = actor
        self.serve(f"/users/{name}", doc, content_type=content_type)
        return actor

    def serve(self, path: str, doc: Mapping[str, Any] | bytes | str, *, content_type: str = AP,
              status: int = 200, headers: Mapping[str, str] | None = None) -> None:
        """Answer GET `path` with `doc` (JSON-encoded unless bytes or str)."""
        self.routes[path] = _Route("doc", _encode(doc), content_type, status, dict(headers or {}))

    def remove(self, path: str) -> None:
        """Stop serving `path` (it then answers 404)."""
        self.routes.pop(path, None)

    def redirect(self, path: str, location: str, *, status: int = 302) -> None:
        self.routes[path] = _Route("redirect", status=status, location=location)

    def trickle(self, path: str, doc: Mapping[str, Any] | bytes | str, *, interval: float = 0.5,
                content_type: str = AP) -> None:
        """Answer `path` at once with headers, then one byte of the body every `interval` seconds."""
        self.routes[path] = _Route("trickle", _encode(doc), content_type, interval=interval)

    def stall(self, path: str) -> None:
        """Accept the request for `path` and never answer it (until the server stops)."""
        self.routes[path] = _Route("stall")

    # -- building activities --
    def activity(self, actor_name: str, type_: str, object_: Any, **fields: Any) -> dict[str, Any]:
        """An activity by one of our actors, with a fresh id on this server."""
        doc = {"@context": CONTEXT, "id": self.url(f"/activities/{uuid.uuid4().hex}"), "type": type_,
               "actor": self.url(f"/users/{actor_name}"), "object": object_}
        doc.update(fields)
        return doc

    # -- what it saw --
    def fetches(self, path: str) -> int:
        """How many GETs reached `path`."""
        return sum(1 for r in self.requests if r.method == "GET" and r.path == path)

    # -- serving --
    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        body = await request.body()
        recorded = Recorded(request.method, path, {k.lower(): v for k, v in request.headers.items()}, body)
        self.requests.append(recorded)
        if request.method == "POST":
            if path == "/inbox" or path.endswith("/inbox"):
                self.inbox_posts.append(recorded)
                return Response(status_code=202)
            return Response(status_code=405)
        route = self.routes.get(path)
        if route is None:
            return Response(b'{"error":"not found"}', status_code=404, media_type="application/json")
        if route.kind == "redirect":
            return Response(status_code=route.status, headers={"Location": route.location})
        if route.kind == "stall":
            await self._closing.wait()
            return Response(status_code=503)
        if route.kind == "trickle":
            return StreamingResponse(self._trickle(route), media_type=route.content_type,
                                     headers={"Content-Length": str(len(route.body))})
        return Response(route.body, status_code=route.status, media_type=route.content_type, headers=route.headers)

    async def _trickle(self, route: _Route):
        for i in range(len(route.body)):
            if self._closing.is_set():
                return
            yield route.body[i:i + 1]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), route.interval)

    def _protocol_class(self) -> type:
        remote = self

        class CountingH11(H11Protocol):
            def connection_made(self, transport) -> None:  # type: ignore[override]
                remote.connections += 1
                super().connection_made(transport)

        return CountingH11

    async def __aenter__(self) -> FakeRemote:
        self._sock = bind_loopback()
        self.port = self._sock.getsockname()[1]
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "HEAD"])])
        config = uvicorn.Config(app, lifespan="off", log_level="critical", access_log=False,
                                http=self._protocol_class(), timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        for _ in range(500):
            if self._server.started or self._task.done():
                break
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing.set()  # stalled and trickling handlers return now
        assert self._server is not None and self._task is not None
        # uvicorn's own shutdown polls every 0.1 s and then sleeps 0.1 s more; with dozens of fake
        # servers per run that adds up, so close the listener and the connections directly.
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
        for listener in getattr(self._server, "servers", []):
            listener.close()
        for connection in list(getattr(self._server, "server_state", None) and
                               self._server.server_state.connections or ()):
            connection.shutdown()
        self._sock.close()
        await asyncio.sleep(0)


def _encode(doc: Mapping[str, Any] | bytes | str) -> bytes:
    if isinstance(doc, bytes):
        return doc
    if isinstance(doc, str):
        return doc.encode("utf-8")
    return json.dumps(doc).encode("utf-8")


# --------------------------------------------------------------------------
# Signed POSTs, correct or broken on purpose

async def signed_post(
    remote: FakeRemote | None,
    actor_name: str | None,
    url: str,
    activity: Mapping[str, Any] | bytes,
    *,
    key: KeyPair | None = None,
    key_id: str | None = None,
    tamper: Callable[[bytes], bytes] | None = None,
    headers_override: Mapping[str, str | None] | None = None,
    date: datetime | str | None = None,
    sign_method: str | None = None,
    sign_url: str | None = None,
    cover_digest: bool = True,
    content_type: str = AP,
    sign: bool = True,
    timeout: float = 20.0,
) -> httpx.Response:
    """POST `activity` to `url`, signed as `actor_name` on `remote` — or broken as asked.

    * `key` / `key_id`: sign with another key, or name another keyId (defaults: the actor's).
    * `date`: the Date header to sign (a datetime or the raw header text).
    * `sign_method` / `sign_url`: sign over another method or request target than the one sent.
    * `cover_digest=False`: the signature covers only ``(request-target) host date``; the
      correct Digest is still sent, just not signed.
    * `tamper(body) -> body`: change the body after signing (the signed Digest then lies).
    * `headers_override`: set headers after signing; a value of None drops the header.
    * `sign=False`: send it unsigned.
    `activity` may be raw bytes, for bodies that are not an object at all.
    """
    body = activity if isinstance(activity, bytes) else json.dumps(activity).encode("utf-8")
    headers: dict[str, str] = {"Content-Type": content_type}
    if date is not None:
        headers["Date"] = date if isinstance(date, str) else format_datetime(date, usegmt=True)
    if sign:
        actor = remote.actors[actor_name] if remote is not None and actor_name is not None else None
        private_pem = (key or (actor.key if actor else None)).private_pem
        chosen_key_id = key_id or actor.key_id
        signed_url = sign_url or url
        signed_method = sign_method or "POST"
        if cover_digest:
            headers = sign_request(signed_method, signed_url, headers, body, chosen_key_id, private_pem)
        else:
            headers = sign_request(signed_method, signed_url, headers, None, chosen_key_id, private_pem)
            headers["Digest"] = digest_header(body)
    if tamper is not None:
        body = tamper(body)
    for name, value in (headers_override or {}).items():
        for existing in [k for k in headers if k.lower() == name.lower()]:
            del headers[existing]
        if value is not None:
            headers[name] = value
    async with httpx.AsyncClient(timeout=timeout, verify=_SSL_CONTEXT) as client:
        return await client.post(url, content=body, headers=headers)
