"""Outbound HTTP for every remote fetch and every delivery POST.

Everything that leaves this server goes through :class:`SafeClient`, which
enforces the limits that keep a federating server from being turned against
its own network or tied up by hostile peers:

* SSRF (Mastodon #5482, CVE-2026-22245, CVE-2026-46348): the transport
  resolves the host itself, vets *every* resolved address against
  :func:`is_forbidden_address`, then connects to a vetted IP. The name is never
  resolved a second time, so DNS rebinding between "check" and "connect" is
  impossible; TLS SNI, certificate checks and ``Host`` still use the name.
* Slow-loris peers (CVE-2023-36461): per-phase timeouts plus one overall
  deadline per call, so a peer trickling one byte per second cannot hold a
  worker for longer than the deadline.
* Huge or hostile bodies (CVE-2026-23962/23963 class): bodies are capped at
  1 MB while streaming, *after* gzip decoding, and JSON nesting is limited.
* Spoofed documents (CVE-2024-23832): ActivityPub content type only, and the
  document ``id`` must equal the final URL fetched (one same-host refetch by
  ``id``, as Mastodon does).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import socket
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpcore
import httpx
import yarl

__all__ = [
    "AP_ACCEPT",
    "AddressAllowed",
    "FetchError",
    "FetchFailed",
    "FetchGone",
    "FetchRefused",
    "PostResult",
    "Resolver",
    "SafeClient",
    "Signer",
    "VettingTransport",
    "is_forbidden_address",
    "system_resolver",
]

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
AddressAllowed = Callable[[IPAddress], bool]
# signer(method, url, headers, body) -> the headers to send (input + signature).
Signer = Callable[[str, str, dict[str, str], bytes | None], dict[str, str]]

AP_ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
AP_CONTENT_TYPES = frozenset({"application/activity+json", "application/ld+json"})
MAX_BODY = 1024 * 1024  # Mastodon's body_with_limit
MAX_POST_RESPONSE_BODY = 64 * 1024  # a delivery only needs the status; keep a bit for logs
MAX_REDIRECTS = 3  # Mastodon's Request follows at most 3
MAX_JSON_DEPTH = 64
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=10.0, write=10.0, pool=5.0)
DEFAULT_DEADLINE = 30.0
POST_KEEPALIVE = 30.0  # seconds an idle delivery connection waits for the next POST to its host  # Mastodon's read_deadline, the CVE-2023-36461 fix
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class FetchError(Exception):
    """An outbound request did not produce a usable result."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FetchRefused(FetchError):
    """Refused by policy (SSRF, size, content type, id mismatch). Never retry."""


class FetchFailed(FetchError):
    """Network error, timeout or unexpected status. May be retried."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class FetchGone(FetchError):
    """404 or 410: the object does not exist (any more). Do not retry."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.status = status


# --- address vetting -------------------------------------------------------

_net = ipaddress.ip_network

# IANA IPv4 special-purpose registry entries that are not globally reachable.
_FORBIDDEN_V4 = tuple(
    _net(n)
    for n in (
        "0.0.0.0/8",  # "this network", includes unspecified 0.0.0.0
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT shared space
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, includes broadcast 255.255.255.255
    )
)

# Only 2000::/3 is global unicast. Everything outside it is refused, which
# covers ::, ::1, IPv4-compatible ::/96, discard 100::/64, ULA fc00::/7,
# link-local fe80::/10, site-local fec0::/10, multicast ff00::/8 and the
# local-use NAT64 prefix 64:ff9b:1::/48 without having to list them.
_GLOBAL_UNICAST_V6 = _net("2000::/3")
_FORBIDDEN_V6 = tuple(
    _net(n)
    for n in (
        "2001:2::/48",  # benchmarking
        "2001:10::/28",  # deprecated ORCHID
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # SRv6 SIDs
    )
)
_NAT64_WELL_KNOWN = _net("64:ff9b::/96")


def _embedded_v4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address will actually reach (mapped, NAT64, 6to4, Teredo)."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _NAT64_WELL_KNOWN:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)  # (server, client); either could be aimed inward
    return []


def is_forbidden_address(ip: IPAddress) -> bool:
    """True if outbound requests must not connect to ``ip`` (SSRF guard)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return any(ip in net for net in _FORBIDDEN_V4)
    embedded = _embedded_v4(ip)
    if embedded:
        # ::ffff:127.0.0.1 is 127.0.0.1 to the kernel (CVE-2026-46348 class).
        return any(is_forbidden_address(v4) for v4 in embedded)
    if ip not in _GLOBAL_UNICAST_V6:
        return True
    return any(ip in net for net in _FORBIDDEN_V6)


def _allow_public(ip: IPAddress) -> bool:
    return not is_forbidden_address(ip)


def _allow_any(ip: IPAddress) -> bool:
    return True


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the event loop's getaddrinfo; unique addresses, in order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# --- transport -------------------------------------------------------------


class _VettingBackend(httpcore.AsyncNetworkBackend):
    """Resolves, vets every address, then connects to a vetted IP.

    httpcore hands ``connect_tcp`` the URL host and, for https, later calls
    ``start_tls(server_hostname=<that host>)``, so SNI and certificate checks
    keep using the name while the socket goes to the IP we approved.
    """

    def __init__(self, resolver: Resolver, address_allowed: AddressAllowed) -> None:
        self._resolver = resolver
        self._address_allowed = address_allowed
        self._inner = httpcore.AnyIOBackend()

    async def _resolve(self, host: str, port: int, timeout: float | None) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host)]  # an IP literal is vetted as is
        except ValueError:
            pass
        try:
            async with asyncio.timeout(timeout):
                found = await self._resolver(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        try:
            return [ipaddress.ip_address(a) for a in found]
        except ValueError as exc:
            raise FetchRefused(f"resolver returned a non-address for {host}") from exc

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port, timeout)
        if not addresses:
            raise httpcore.ConnectError(f"no addresses for {host}")
        # Refuse if ANY address is forbidden: a name that also points inward is
        # hostile, and skipping the bad one would only hide that (Mastodon does
        # the same in Request::Socket.open).
        for ip in addresses:
            if not self._address_allowed(ip):
                raise FetchRefused(f"{host} resolves to forbidden address {ip}")
        last_error: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class VettingTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` whose connections go through :class:`_VettingBackend`.

    Subclassing keeps httpx's request/response conversion and its mapping of
    httpcore errors to httpx errors; only the connection pool is replaced,
    because httpx offers no public hook for a network backend.
    """

    def __init__(
        self,
        *,
        resolver: Resolver,
        address_allowed: AddressAllowed,
        limits: httpx.Limits,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        # trust_env=False: an HTTP(S)_PROXY from the environment would make
        # us vet the proxy's address instead of the destination's.
        super().__init__(limits=limits, trust_env=False)
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("unsupported httpx version: AsyncHTTPTransport._pool changed")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_VettingBackend(resolver, address_allowed),
        )


class _VettingResolver(aiohttp.abc.AbstractResolver):
    """The delivery client's resolver: the same vetting as :class:`_VettingBackend`.

    aiohttp connects to exactly the addresses returned here (and keeps ``hostname`` for SNI and
    certificate checks), so the checked address is the connected one. IP literals never reach a
    resolver in aiohttp; :meth:`SafeClient.post` vets those itself.
    """

    def __init__(self, resolver: Resolver, address_allowed: AddressAllowed) -> None:
        self._resolver = resolver
        self._address_allowed = address_allowed

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[aiohttp.abc.ResolveResult]:
        found = await self._resolver(host, port)  # OSError: aiohttp reports a DNS error
        try:
            addresses = [ipaddress.ip_address(a) for a in found]
        except ValueError as exc:
            raise FetchRefused(f"resolver returned a non-address for {host}") from exc
        if not addresses:
            raise OSError(f"no addresses for {host}")
        for ip in addresses:  # any forbidden address refuses the name, as in _VettingBackend
            if not self._address_allowed(ip):
                raise FetchRefused(f"{host} resolves to forbidden address {ip}")
        return [{"hostname": host, "host": str(ip), "port": port,
                 "family": socket.AF_INET6 if ip.version == 6 else socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST} for ip in addresses]

    async def close(self) -> None:
        pass


# --- client ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostResult:
    """Outcome of a delivery POST; the caller decides what the status means."""

    status: int
    headers: Mapping[str, str]  # case-insensitive
    body: bytes  # at most MAX_POST_RESPONSE_BODY bytes


class _HostLimiter:
    """At most ``limit`` concurrent requests per host; idle entries are dropped."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._slots: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        sem, users = self._slots.get(host, (asyncio.Semaphore(self._limit), 0))
        self._slots[host] = (sem, users + 1)
        try:
            async with sem:
                yield
        finally:
            sem, users = self._slots[host]
            if users == 1:
                del self._slots[host]
            else:
                self._slots[host] = (sem, users - 1)


class SafeClient:
    """One shared, SSRF-safe ``httpx.AsyncClient`` for fetches and deliveries.

    ``allow_private=True`` is the explicit switch for loopback tests and local
    development: it allows every address and plain ``http``. Otherwise only
    ``https`` to public addresses is allowed. ``address_allowed`` overrides the
    address policy (tests use it to allow one loopback IP and refuse another).
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        resolver: Resolver = system_resolver,
        address_allowed: AddressAllowed | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        max_connections: int = 100,
        max_connections_per_host: int = 8,
        max_body: int = MAX_BODY,
        user_agent: str = "fedisupport",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if allow_private:
            logger.warning(
                "private and loopback addresses allowed for outbound requests"
                " — for tests and local development only"
            )
        if address_allowed is None:
            address_allowed = _allow_any if allow_private else _allow_public
        self._schemes = frozenset({"https", "http"} if allow_private else {"https"})
        self._address_allowed = address_allowed
        self._resolver = resolver
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._max_connections_per_host = max_connections_per_host
        self._user_agent = user_agent
        self._poster: aiohttp.ClientSession | None = None
        self._deadline = deadline
        self._max_body = max_body
        self._per_host = _HostLimiter(max_connections_per_host)
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=20)
        transport = VettingTransport(
            resolver=resolver, address_allowed=address_allowed, limits=limits, ssl_context=ssl_context
        )
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=timeout,
            follow_redirects=False,  # redirects are followed by hand, see _get_document
            trust_env=False,
            # Only gzip: it is the one encoding we inflate ourselves, bounded.
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._poster is not None:
            await self._poster.close()

    async def __aenter__(self) -> SafeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- public API --

    async def get_json(
        self,
        url: str,
        *,
        signer: Signer | None = None,
        allow_plain_json: bool = False,
        check_id: bool = True,
    ) -> dict[str, Any]:
        """GET an ActivityStreams document; its ``id`` must be the final URL.

        ``allow_plain_json`` also accepts ``application/json`` and, together
        with ``check_id=False``, skips the id check (WebFinger, NodeInfo).
        """
        if not check_id and not allow_plain_json:
            raise ValueError("check_id=False is only for plain-JSON endpoints")
        with self._errors():
            async with asyncio.timeout(self._deadline):
                final_url, doc = await self._get_document(url, signer, allow_plain_json)
                if not check_id or doc.get("id") == final_url:
                    return doc
                # Mastodon's fetch_resource: trust a mismatching id only by
                # refetching it, and only when it is on the host we reached.
                doc_id = doc.get("id")
                if isinstance(doc_id, str) and _same_host(doc_id, final_url):
                    final_url, doc = await self._get_document(doc_id, signer, allow_plain_json)
                    if doc.get("id") == final_url:
                        return doc
                raise FetchRefused("id does not match")

    async def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        signer: Signer | None = None,
    ) -> PostResult:
        """POST ``body``; no redirects. Any HTTP status is returned, not raised.

        Deliveries go through aiohttp, not httpx: a fan-out POSTs to hundreds of hosts, and
        httpx/httpcore cost ~10x the CPU per request and scan their whole pool on every request,
        so they cannot keep one idle connection per host. The limits are the same: vetted
        addresses (:class:`_VettingResolver`), no redirects, the body cap, per-phase timeouts
        and the overall deadline (which also bounds writing, for which aiohttp has no timeout).
        """
        with self._errors():
            async with asyncio.timeout(self._deadline):
                host = self._check_url(url).host
                self._vet_literal(host)
                async with self._per_host.hold(host):
                    if signer is not None:  # sign after queueing, so Date is fresh
                        headers = signer("POST", url, dict(headers), body)
                    try:
                        async with self._delivery_session().post(
                            yarl.URL(url, encoded=True),  # the bytes signed are the bytes sent
                            data=body, headers=headers, allow_redirects=False,
                        ) as resp:
                            data = await _read_capped(resp.headers, resp.content.iter_any(),
                                                      MAX_POST_RESPONSE_BODY, truncate=True)
                            return PostResult(resp.status, resp.headers, data)
                    except aiohttp.ServerTimeoutError as exc:  # a phase timeout, not the deadline
                        raise FetchFailed(f"timeout: {type(exc).__name__}") from exc
                    except aiohttp.ClientError as exc:
                        raise FetchFailed(f"{type(exc).__name__}: {exc}") from exc

    # -- internals --

    def _vet_literal(self, host: str) -> None:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return  # a name: vetted by the resolver at connect time
        if not self._address_allowed(ip):
            raise FetchRefused(f"{host} resolves to forbidden address {ip}")

    def _delivery_session(self) -> aiohttp.ClientSession:
        """Made on first use: aiohttp wants a running event loop."""
        if self._poster is None:
            timeout = self._timeout
            connector = aiohttp.TCPConnector(
                resolver=_VettingResolver(self._resolver, self._address_allowed),
                use_dns_cache=False,  # resolve and vet for every new connection, as httpx does here
                limit=self._max_connections, limit_per_host=self._max_connections_per_host,
                keepalive_timeout=POST_KEEPALIVE,
                ssl=self._ssl_context or httpx.create_ssl_context(trust_env=False),
            )
            self._poster = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, connect=(timeout.pool or 0) + (timeout.connect or 0) or None,
                                              sock_connect=timeout.connect, sock_read=timeout.read),
                headers={"User-Agent": self._user_agent, "Accept-Encoding": "gzip"},
                auto_decompress=False,  # inflated by _read_capped, bounded
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )
        return self._poster

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except TimeoutError as exc:  # the overall deadline
            raise FetchFailed("deadline exceeded") from exc
        except httpx.TimeoutException as exc:
            raise FetchFailed(f"timeout: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise FetchFailed(f"{type(exc).__name__}: {exc}") from exc

    def _check_url(self, url: str) -> httpx.URL:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise FetchRefused(f"invalid URL: {exc}") from exc
        if parsed.scheme not in self._schemes:
            raise FetchRefused(f"scheme not allowed: {parsed.scheme!r}")
        if parsed.userinfo:
            raise FetchRefused("URL with userinfo")
        if not parsed.host:
            raise FetchRefused("URL without host")
        return parsed

    @contextlib.asynccontextmanager
    async def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        signer: Signer | None,
    ) -> AsyncIterator[httpx.Response]:
        async with self._per_host.hold(httpx.URL(url).host):
            if signer is not None:  # sign after queueing, so Date is fresh
                headers = signer(method, url, headers, body)
            request = self._client.build_request(method, url, headers=headers, content=body)
            response = await self._client.send(request, stream=True)
            try:
                yield response
            finally:
                await response.aclose()

    async def _get_document(
        self, url: str, signer: Signer | None, allow_plain_json: bool
    ) -> tuple[str, dict[str, Any]]:
        """Follow up to MAX_REDIRECTS redirects by hand; return (final URL, document).

        Manual, so every hop is URL-checked, signed afresh for its own URL, and
        connects through the vetting transport.
        """
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            parsed = self._check_url(current)
            async with self._send("GET", current, {"Accept": AP_ACCEPT}, None, signer) as resp:
                if resp.status_code in _REDIRECT_STATUSES:
                    location = resp.headers.get("Location")
                    if not location:
                        raise FetchFailed("redirect without Location", resp.status_code)
                    try:
                        current = str(parsed.join(location))
                    except httpx.InvalidURL as exc:
                        raise FetchRefused(f"invalid redirect: {exc}") from exc
                    continue
                _check_status(resp)
                _check_content_type(resp, allow_plain_json)
                body = await _read_capped(resp.headers, resp.aiter_raw(), self._max_body)
            return current, _parse_json(body)
        raise FetchRefused("too many redirects")


def _same_host(a: str, b: str) -> bool:
    try:
        return httpx.URL(a).host == httpx.URL(b).host
    except httpx.InvalidURL:
        return False


def _check_status(resp: httpx.Response) -> None:
    status = resp.status_code
    if status in (404, 410):
        raise FetchGone(f"HTTP {status}", status)
    if not 200 <= status < 300:
        raise FetchFailed(f"HTTP {status}", status)


def _check_content_type(resp: httpx.Response, allow_plain_json: bool) -> None:
    # CVE-2024-23832 fix: only AP media types prove the server meant it as AP
    # (an uploaded .json file on the same origin must not pass as an actor).
    media_type = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if media_type in AP_CONTENT_TYPES:
        return
    # WebFinger answers application/jrd+json; NodeInfo plain JSON (or its profile'd form).
    if allow_plain_json and media_type in ("application/json", "application/jrd+json"):
        return
    raise FetchRefused(f"unexpected content type {media_type or 'none'!r}")


async def _read_capped(headers: Mapping[str, str], chunks: AsyncIterator[bytes], limit: int, *,
                       truncate: bool = False) -> bytes:
    """Read at most ``limit`` decoded bytes; over it, refuse (or, for ``truncate``, cut).

    Content-Length is only used to refuse early, never trusted as a bound. We
    inflate gzip ourselves with ``max_length`` because httpx's decoder would
    inflate a whole network chunk at once: 64 KB of gzip can be ~64 MB.
    ``truncate`` mode (delivery responses) never fails on the body: only the
    status matters there.
    """
    encoding = headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    elif encoding == "identity":
        inflater = None
    elif truncate:
        return b""
    else:
        raise FetchRefused(f"unsupported content encoding {encoding!r}")
    declared = headers.get("Content-Length", "")
    if not truncate and declared.isdigit() and int(declared) > limit:
        raise FetchRefused("response too large")

    data = bytearray()
    received = False
    try:
        async for chunk in chunks:
            received = received or bool(chunk)
            if inflater is not None:
                # Room for one byte over the limit, so "over" is detectable.
                chunk = inflater.decompress(chunk, limit + 1 - len(data))
            data += chunk
            if len(data) > limit:
                break
        else:
            if inflater is not None and received:
                data += inflater.flush()
                if not inflater.eof and not truncate:
                    raise FetchRefused("truncated gzip body")
    except zlib.error as exc:
        if not truncate:
            raise FetchRefused(f"invalid gzip body: {exc}") from exc
    if len(data) > limit:
        if not truncate:
            raise FetchRefused("response too large")
        del data[limit:]
    return bytes(data)


def _too_deep(doc: object, limit: int) -> bool:
    """Iterative depth check: recursion is exactly what a hostile document exploits."""
    stack: list[tuple[object, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[object] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except RecursionError as exc:  # e.g. 10,000 nested arrays
        raise FetchRefused("JSON nested too deeply") from exc
    except ValueError as exc:
        raise FetchRefused(f"invalid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise FetchRefused("JSON document is not an object")
    if _too_deep(doc, MAX_JSON_DEPTH):
        raise FetchRefused("JSON nested too deeply")
    return doc
