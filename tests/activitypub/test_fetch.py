"""SafeClient against real sockets: raw asyncio HTTP servers on loopback.

Raw servers (not an ASGI app) so a test can lie about Content-Length, stream
chunked bodies, trickle bytes and redirect anywhere. Names such as good.test
are mapped to loopback addresses by an injected resolver; nothing here
touches real DNS or the internet.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import json
import logging
import socket
import ssl
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fedisupport.activitypub.fetch import (
    FetchFailed,
    FetchGone,
    FetchRefused,
    SafeClient,
    is_forbidden_address,
)

AP = "application/activity+json"


@dataclass
class Req:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Req, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Server:
    """One HTTP/1.1 request per connection; routes map a path to a raw handler."""

    host: str = "127.0.0.1"
    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[Req] = field(default_factory=list)
    connections: int = 0
    active: int = 0
    max_active: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, 0, ssl=ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:  # a trickling handler may still hold a socket
            writer.close()
        await self._server.wait_closed()

    def url(self, path: str, name: str = "good.test", scheme: str = "http") -> str:
        return f"{scheme}://{name}:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *lines = head.strip().split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            req = Req(method, path, headers, body)
            self.requests.append(req)
            await self.routes.get(path, respond(404, b"not found", "text/plain"))(req, writer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.active -= 1
            self._writers.discard(writer)
            writer.close()


def http_head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines + ["Connection: close", "", ""])).encode()


def respond(
    status: int = 200, body: bytes = b"", ctype: str = AP, headers: dict[str, str] | None = None
) -> Handler:
    async def handler(req: Req, writer: asyncio.StreamWriter) -> None:
        hdrs = {"Content-Type": ctype, "Content-Length": str(len(body)), **(headers or {})}
        writer.write(http_head(status, hdrs) + body)

    return handler


def document(doc_id: str, **extra: Any) -> Handler:
    return respond(body=json.dumps({"id": doc_id, "type": "Note", **extra}).encode())


def redirect(location: str, status: int = 302) -> Handler:
    return respond(status, headers={"Location": location})


def chunked(total: int, chunk: int = 64 * 1024) -> Handler:
    """Streams ``total`` bytes without Content-Length."""

    async def handler(req: Req, writer: asyncio.StreamWriter) -> None:
        writer.write(http_head(200, {"Content-Type": AP, "Transfer-Encoding": "chunked"}))
        sent = 0
        while sent < total:
            n = min(chunk, total - sent)
            writer.write(b"%x\r\n%s\r\n" % (n, b" " * n))
            await writer.drain()
            sent += n
        writer.write(b"0\r\n\r\n")

    return handler


def trickle(interval: float, first_byte_delay: float = 0.0) -> Handler:
    """Slow-loris: headers, then (after an optional stall) one byte per ``interval``."""

    async def handler(req: Req, writer: asyncio.StreamWriter) -> None:
        writer.write(http_head(200, {"Content-Type": AP, "Content-Length": "1000"}))
        await writer.drain()
        await asyncio.sleep(first_byte_delay)
        for _ in range(1000):
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(interval)

    return handler


HOSTS = {"good.test": ["127.0.0.1"], "other.test": ["127.0.0.1"], "evil.test": ["127.0.0.2"]}


async def fake_dns(host: str, port: int) -> list[str]:
    return HOSTS[host]


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., SafeClient]]:
    clients: list[SafeClient] = []

    def make(**kwargs: Any) -> SafeClient:
        kwargs.setdefault("allow_private", True)
        kwargs.setdefault("resolver", fake_dns)
        client = SafeClient(**kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


# --- address table ---------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("0.0.0.0", True),
        ("0.1.2.3", True),
        ("10.0.0.1", True),
        ("100.64.0.1", True),
        ("100.127.255.255", True),
        ("127.0.0.1", True),
        ("127.255.255.254", True),
        ("169.254.169.254", True),
        ("172.16.0.1", True),
        ("172.31.255.255", True),
        ("192.0.0.8", True),
        ("192.0.2.1", True),
        ("192.88.99.1", True),
        ("192.168.1.1", True),
        ("198.18.0.1", True),
        ("198.19.255.255", True),
        ("198.51.100.7", True),
        ("203.0.113.9", True),
        ("224.0.0.1", True),
        ("239.255.255.250", True),
        ("240.0.0.1", True),
        ("255.255.255.255", True),
        ("::", True),
        ("::1", True),
        ("::127.0.0.1", True),  # IPv4-compatible
        ("::ffff:127.0.0.1", True),  # IPv4-mapped
        ("::ffff:10.0.0.1", True),
        ("::ffff:169.254.169.254", True),
        ("64:ff9b::7f00:1", True),  # NAT64 → 127.0.0.1
        ("64:ff9b::a00:1", True),  # NAT64 → 10.0.0.1
        ("64:ff9b:1::1", True),  # local-use NAT64
        ("2002:7f00:1::1", True),  # 6to4 → 127.0.0.1
        ("2002:c0a8:101::1", True),  # 6to4 → 192.168.1.1
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", True),  # Teredo, client 127.0.0.1
        ("100::1", True),  # discard-only
        ("2001:2::1", True),  # benchmarking
        ("2001:db8::1", True),
        ("3fff::1", True),
        ("fc00::1", True),
        ("fd12:3456::1", True),
        ("fe80::1", True),
        ("fec0::1", True),
        ("ff02::1", True),
        ("93.184.216.34", False),
        ("8.8.8.8", False),
        ("172.32.0.1", False),
        ("100.128.0.1", False),
        ("2606:4700::1", False),
        ("2a00:1450:4001:80e::200e", False),
        ("::ffff:93.184.216.34", False),
        ("64:ff9b::5db8:d822", False),  # NAT64 → 93.184.216.34
        ("2002:5db8:d822::1", False),  # 6to4 → 93.184.216.34
    ],
)
def test_forbidden_address_table(address: str, forbidden: bool) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address)) is forbidden


# --- address and URL policy --------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.1", "::ffff:127.0.0.1", "::1", "::", "169.254.169.254", "100.64.0.1"],
)
async def test_forbidden_resolution_refused_before_connecting(
    server: Server, make_client: Callable[..., SafeClient], address: str
) -> None:
    server.routes["/x"] = document(server.url("/x", scheme="https"))

    async def resolver(host: str, port: int) -> list[str]:
        return [address]

    client = make_client(allow_private=False, resolver=resolver)
    with pytest.raises(FetchRefused, match="forbidden address"):
        await client.get_json(server.url("/x", scheme="https"))
    assert server.connections == 0


async def test_every_resolved_address_is_vetted(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "127.0.0.1"]

    client = make_client(allow_private=False, resolver=resolver)
    with pytest.raises(FetchRefused, match="127.0.0.1"):
        await client.get_json(server.url("/x", scheme="https"))
    assert server.connections == 0


async def test_ip_literal_is_vetted_without_resolver(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    client = make_client(allow_private=False)
    with pytest.raises(FetchRefused, match="forbidden address"):
        await client.get_json(f"https://127.0.0.1:{server.port}/x")
    assert server.connections == 0


async def test_plain_http_refused_unless_allow_private(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    client = make_client(allow_private=False, address_allowed=lambda ip: True)
    with pytest.raises(FetchRefused, match="scheme"):
        await client.get_json(server.url("/x"))
    with pytest.raises(FetchRefused, match="scheme"):
        await client.post(server.url("/inbox"), b"{}", {})
    assert server.connections == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pw@good.test/x",
        "http://good.test@evil.test/x",
        "ftp://good.test/x",
        "file:///etc/passwd",
        "gopher://good.test/",
        "http:///nohost",
    ],
)
async def test_bad_urls_refused_up_front(make_client: Callable[..., SafeClient], url: str) -> None:
    with pytest.raises(FetchRefused):
        await make_client().get_json(url)


async def test_warning_logged_when_private_allowed(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="fedisupport.activitypub.fetch"):
        async with SafeClient(allow_private=True), SafeClient():
            pass
    assert [r.getMessage() for r in caplog.records] == [
        "private and loopback addresses allowed for outbound requests"
        " — for tests and local development only"
    ]


# --- successful fetches --------------------------------------------------------


async def test_fetch_connects_to_resolved_ip_but_sends_the_name(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    server.routes["/note"] = document(server.url("/note"), content="hi")
    doc = await make_client().get_json(server.url("/note"))
    assert doc["content"] == "hi"
    (req,) = server.requests
    assert req.headers["host"] == f"good.test:{server.port}"
    assert req.headers["accept"].startswith("application/activity+json, application/ld+json")
    assert req.headers["accept-encoding"] == "gzip"


def _self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_https_uses_name_for_sni_and_certificate(
    tmp_path: Path, make_client: Callable[..., SafeClient]
) -> None:
    cert_path, key_path = _self_signed(tmp_path, "good.test")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_path, key_path)
    sni: list[str | None] = []
    server_ctx.sni_callback = lambda sock, name, ctx: sni.append(name)  # type: ignore[assignment,func-returns-value]
    srv = Server()
    await srv.start(server_ctx)
    try:
        url = srv.url("/note", scheme="https")
        srv.routes["/note"] = document(url)
        client = make_client(
            allow_private=False,
            address_allowed=lambda ip: ip == ipaddress.ip_address("127.0.0.1"),
            ssl_context=ssl.create_default_context(cafile=str(cert_path)),
        )
        assert (await client.get_json(url))["id"] == url
        assert sni == ["good.test"]
        # The certificate names good.test, not other.test: verification uses the name.
        with pytest.raises(FetchFailed):
            await client.get_json(srv.url("/note", name="other.test", scheme="https"))
    finally:
        await srv.stop()


@pytest.mark.parametrize(
    "ctype",
    [
        "application/activity+json",
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
        "Application/Activity+JSON; charset=utf-8",
    ],
)
async def test_activitypub_content_types_accepted(
    server: Server, make_client: Callable[..., SafeClient], ctype: str
) -> None:
    body = json.dumps({"id": server.url("/a")}).encode()
    server.routes["/a"] = respond(body=body, ctype=ctype)
    assert (await make_client().get_json(server.url("/a")))["id"] == server.url("/a")


@pytest.mark.parametrize("ctype", ["application/json", "text/html", "text/plain", ""])
async def test_other_content_types_refused(
    server: Server, make_client: Callable[..., SafeClient], ctype: str
) -> None:
    server.routes["/a"] = respond(body=json.dumps({"id": server.url("/a")}).encode(), ctype=ctype)
    with pytest.raises(FetchRefused, match="content type"):
        await make_client().get_json(server.url("/a"))


async def test_plain_json_allowed_only_when_asked(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    server.routes["/.well-known/nodeinfo"] = respond(body=b'{"links": []}', ctype="application/json")
    client = make_client()
    url = server.url("/.well-known/nodeinfo")
    assert await client.get_json(url, allow_plain_json=True, check_id=False) == {"links": []}
    with pytest.raises(FetchRefused, match="id does not match"):
        await client.get_json(url, allow_plain_json=True)
    with pytest.raises(ValueError):
        await client.get_json(url, check_id=False)


async def test_gzip_body_accepted(server: Server, make_client: Callable[..., SafeClient]) -> None:
    body = gzip.compress(json.dumps({"id": server.url("/z"), "content": "squeezed"}).encode())
    server.routes["/z"] = respond(body=body, headers={"Content-Encoding": "gzip"})
    assert (await make_client().get_json(server.url("/z")))["content"] == "squeezed"


# --- id checks -------------------------------------------------------------------


async def test_id_on_other_host_refused(server: Server, make_client: Callable[..., SafeClient]) -> None:
    server.routes["/a"] = document(server.url("/a", name="other.test"))
    with pytest.raises(FetchRefused, match="id does not match"):
        await make_client().get_json(server.url("/a"))
    assert len(server.requests) == 1


async def test_id_on_same_host_refetched_once(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    server.routes["/@alice"] = document(server.url("/users/alice"))
    server.routes["/users/alice"] = document(server.url("/users/alice"), name="Alice")
    doc = await make_client().get_json(server.url("/@alice"))
    assert doc == {"id": server.url("/users/alice"), "type": "Note", "name": "Alice"}
    assert [r.path for r in server.requests] == ["/@alice", "/users/alice"]


async def test_refetch_by_id_is_not_repeated(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    server.routes["/a"] = document(server.url("/b"))
    server.routes["/b"] = document(server.url("/c"))
    server.routes["/c"] = document(server.url("/c"))
    with pytest.raises(FetchRefused, match="id does not match"):
        await make_client().get_json(server.url("/a"))
    assert [r.path for r in server.requests] == ["/a", "/b"]


# --- redirects and signing -----------------------------------------------------------


def _chain(server: Server, hops: int) -> str:
    for i in range(hops):
        server.routes[f"/r{i}"] = redirect(f"/r{i + 1}" if i + 1 < hops else "/final")
    server.routes["/final"] = document(server.url("/final"))
    return server.url("/r0")


async def test_three_redirects_followed_and_every_hop_signed(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    signed: list[tuple[str, str]] = []

    def signer(method: str, url: str, headers: dict[str, str], body: bytes | None) -> dict[str, str]:
        signed.append((method, url))
        return {**headers, "Signature": f"sig {httpx.URL(url).path}"}

    doc = await make_client().get_json(_chain(server, 3), signer=signer)
    assert doc["id"] == server.url("/final")
    paths = ["/r0", "/r1", "/r2", "/final"]
    assert signed == [("GET", server.url(p)) for p in paths]
    assert [(r.path, r.headers["signature"]) for r in server.requests] == [(p, f"sig {p}") for p in paths]


async def test_fourth_redirect_refused(server: Server, make_client: Callable[..., SafeClient]) -> None:
    with pytest.raises(FetchRefused, match="too many redirects"):
        await make_client().get_json(_chain(server, 4))
    assert len(server.requests) == 4  # /final never requested


async def test_redirect_to_forbidden_address_refused(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    evil = Server(host="127.0.0.2")
    await evil.start()
    try:
        evil.routes["/secret"] = document(evil.url("/secret", name="evil.test"))
        server.routes["/go"] = redirect(evil.url("/secret", name="evil.test"))
        client = make_client(address_allowed=lambda ip: ip != ipaddress.ip_address("127.0.0.2"))
        with pytest.raises(FetchRefused, match="forbidden address 127.0.0.2"):
            await client.get_json(server.url("/go"))
        assert evil.connections == 0
        # The refusal happened inside the connection pool; the pool still works.
        server.routes["/ok"] = document(server.url("/ok"))
        assert (await client.get_json(server.url("/ok")))["id"] == server.url("/ok")
    finally:
        await evil.stop()


@pytest.mark.parametrize("location", ["file:///etc/passwd", "gopher://good.test/", "http://u:p@good.test/"])
async def test_redirect_to_bad_url_refused(
    server: Server, make_client: Callable[..., SafeClient], location: str
) -> None:
    server.routes["/go"] = redirect(location)
    with pytest.raises(FetchRefused):
        await make_client().get_json(server.url("/go"))


# --- status codes --------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410])
async def test_gone(server: Server, make_client: Callable[..., SafeClient], status: int) -> None:
    server.routes["/x"] = respond(status, b"gone", "text/plain")
    with pytest.raises(FetchGone) as info:
        await make_client().get_json(server.url("/x"))
    assert info.value.status == status


@pytest.mark.parametrize("status", [503, 500, 401, 429])
async def test_failed_status(server: Server, make_client: Callable[..., SafeClient], status: int) -> None:
    server.routes["/x"] = respond(status, b"nope", "text/plain")
    with pytest.raises(FetchFailed) as info:
        await make_client().get_json(server.url("/x"))
    assert info.value.status == status


async def test_connection_refused_is_failed_not_refused(make_client: Callable[..., SafeClient]) -> None:
    srv = Server()
    await srv.start()
    port = srv.port
    await srv.stop()
    with pytest.raises(FetchFailed) as info:
        await make_client().get_json(f"http://good.test:{port}/x")
    assert info.value.status is None


# --- size, depth, time -----------------------------------------------------------------


async def test_chunked_body_over_1mb_refused(server: Server, make_client: Callable[..., SafeClient]) -> None:
    server.routes["/big"] = chunked(1024 * 1024 + 1)
    with pytest.raises(FetchRefused, match="response too large"):
        await make_client().get_json(server.url("/big"))


async def test_declared_length_over_1mb_refused_without_reading(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    async def liar(req: Req, writer: asyncio.StreamWriter) -> None:
        writer.write(http_head(200, {"Content-Type": AP, "Content-Length": str(50 * 1024 * 1024)}))
        writer.write(b"{}")

    server.routes["/liar"] = liar
    with pytest.raises(FetchRefused, match="response too large"):
        await make_client().get_json(server.url("/liar"))


async def test_gzip_bomb_refused_despite_small_content_length(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    bomb = gzip.compress(b"[" + b" " * (20 * 1024 * 1024) + b"]")
    assert len(bomb) < 64 * 1024  # honest Content-Length, tiny on the wire
    server.routes["/bomb"] = respond(body=bomb, headers={"Content-Encoding": "gzip"})
    client = make_client()
    tracemalloc.start()
    try:
        with pytest.raises(FetchRefused, match="response too large"):
            await client.get_json(server.url("/bomb"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # inflated in bounded steps, never all 20 MB


async def test_unsupported_content_encoding_refused(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    server.routes["/br"] = respond(body=b"\x00\x01", headers={"Content-Encoding": "br"})
    with pytest.raises(FetchRefused, match="content encoding"):
        await make_client().get_json(server.url("/br"))


@pytest.mark.parametrize("depth", [10_000, 100])
async def test_deep_json_refused(
    server: Server, make_client: Callable[..., SafeClient], depth: int
) -> None:
    body = b'{"id": "x", "a": ' + b"[" * depth + b"]" * depth + b"}"
    server.routes["/deep"] = respond(body=body)
    with pytest.raises(FetchRefused, match="nested too deeply"):
        await make_client().get_json(server.url("/deep"))


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe"])
async def test_invalid_json_refused(
    server: Server, make_client: Callable[..., SafeClient], body: bytes
) -> None:
    server.routes["/bad"] = respond(body=body)
    with pytest.raises(FetchRefused):
        await make_client().get_json(server.url("/bad"))


async def test_trickling_server_hits_overall_deadline(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    # Each byte arrives well within the read timeout; only the overall
    # deadline stops this (CVE-2023-36461).
    server.routes["/slow"] = trickle(interval=0.05)
    client = make_client(timeout=httpx.Timeout(1.0), deadline=0.5)
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="deadline"):
        await client.get_json(server.url("/slow"))
    assert time.monotonic() - started < 1.5


async def test_stalled_server_hits_read_timeout(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    server.routes["/stall"] = trickle(interval=0.05, first_byte_delay=5)
    client = make_client(timeout=httpx.Timeout(5.0, read=0.3), deadline=5)
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="ReadTimeout"):
        await client.get_json(server.url("/stall"))
    assert time.monotonic() - started < 1.5


async def test_per_host_concurrency_limit(server: Server, make_client: Callable[..., SafeClient]) -> None:
    async def slow_doc(req: Req, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.05)
        await document(server.url("/n"))(req, writer)

    server.routes["/n"] = slow_doc
    client = make_client(max_connections_per_host=2)
    await asyncio.gather(*(client.get_json(server.url("/n")) for _ in range(6)))
    assert len(server.requests) == 6
    assert server.max_active == 2


# --- POST ------------------------------------------------------------------------------


async def test_post_signs_body_and_returns_status(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    server.routes["/inbox"] = respond(202, b"accepted", "text/plain")
    seen: list[bytes | None] = []

    def signer(method: str, url: str, headers: dict[str, str], body: bytes | None) -> dict[str, str]:
        seen.append(body)
        return {**headers, "Signature": f"{method} {url}"}

    activity = b'{"type": "Follow"}'
    result = await make_client().post(
        server.url("/inbox"), activity, {"Content-Type": AP}, signer=signer
    )
    assert (result.status, result.body) == (202, b"accepted")
    assert seen == [activity]
    (req,) = server.requests
    assert (req.method, req.body) == ("POST", activity)
    assert req.headers["signature"] == f"POST {server.url('/inbox')}"
    assert req.headers["content-type"] == AP


async def test_post_does_not_follow_redirects_and_caps_body(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    server.routes["/moved"] = respond(301, headers={"Location": "/inbox"})
    server.routes["/huge"] = chunked(5 * 1024 * 1024)
    client = make_client()
    assert (await client.post(server.url("/moved"), b"{}", {})).status == 301
    huge = await client.post(server.url("/huge"), b"{}", {})
    assert huge.status == 200 and len(huge.body) == 64 * 1024
    assert [r.path for r in server.requests] == ["/moved", "/huge"]


async def test_post_to_forbidden_address_refused(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    client = make_client(allow_private=False)
    with pytest.raises(FetchRefused, match="forbidden address"):
        await client.post(server.url("/inbox", scheme="https"), b"{}", {})
    assert server.connections == 0


# Deliveries use their own (aiohttp) connections; the same limits must hold for them.


async def test_post_to_forbidden_ip_literal_refused_without_connecting(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    client = make_client(allow_private=False)
    with pytest.raises(FetchRefused, match="forbidden address"):
        await client.post(f"https://127.0.0.1:{server.port}/inbox", b"{}", {})
    with pytest.raises(FetchRefused, match="forbidden address"):
        await client.post(f"https://[::ffff:127.0.0.1]:{server.port}/inbox", b"{}", {})
    assert server.connections == 0


async def test_post_vets_every_resolved_address(server: Server, make_client: Callable[..., SafeClient]) -> None:
    async def split_dns(host: str, port: int) -> list[str]:
        return ["127.0.0.1", "127.0.0.2"]  # one allowed, one not: the name is refused

    client = make_client(resolver=split_dns, address_allowed=lambda ip: str(ip) == "127.0.0.1")
    with pytest.raises(FetchRefused, match="127.0.0.2"):
        await client.post(server.url("/inbox"), b"{}", {})
    assert server.connections == 0


async def test_post_connects_to_the_vetted_address_and_sends_the_name(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    server.routes["/inbox"] = respond(202)
    client = make_client(address_allowed=lambda ip: str(ip) == "127.0.0.1")
    assert (await client.post(server.url("/inbox"), b"{}", {})).status == 202
    (req,) = server.requests
    assert req.headers["host"] == f"good.test:{server.port}"
    with pytest.raises(FetchRefused, match="forbidden address"):
        await client.post(server.url("/inbox", name="evil.test"), b"{}", {})


async def test_post_to_trickling_server_hits_overall_deadline(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    server.routes["/inbox"] = trickle(interval=0.05)
    client = make_client(timeout=httpx.Timeout(1.0), deadline=0.5)
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="deadline"):
        await client.post(server.url("/inbox"), b"{}", {})
    assert time.monotonic() - started < 1.5


async def test_post_to_stalled_server_hits_read_timeout(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    async def silent(req: Req, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    server.routes["/inbox"] = silent
    client = make_client(timeout=httpx.Timeout(5.0, read=0.3), deadline=5)
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="timeout"):
        await client.post(server.url("/inbox"), b"{}", {})
    assert time.monotonic() - started < 1.5


async def test_post_answer_gzip_bomb_is_cut_at_the_cap(
    server: Server, make_client: Callable[..., SafeClient]
) -> None:
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    server.routes["/inbox"] = respond(500, bomb, "text/plain", {"Content-Encoding": "gzip"})
    result = await make_client().post(server.url("/inbox"), b"{}", {})
    assert result.status == 500 and len(result.body) == 64 * 1024
    assert result.headers["content-encoding"] == "gzip"  # headers read case-insensitively


async def test_post_connection_refused_is_failed(make_client: Callable[..., SafeClient]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchFailed):
        await make_client().post(f"http://good.test:{port}/inbox", b"{}", {})
