"""Host normalization and origin comparison for federation checks.

Every "does this object belong to that actor's server?" decision goes through
:func:`normalize_host`, so two spellings of one host always compare equal and
no spelling of another host ever does. Pure functions, no I/O.

Mastodon CVE-2023-42451 (GHSA-v3xf-c9qf-j667) is the cautionary tale: it
cleaned domains with ``delete('/')``, so ``mastodon.so/cial`` became
``mastodon.social`` and a remote server could impersonate another one. Here
anything that is not a bare host (a path, userinfo, whitespace) is rejected,
never repaired.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

__all__ = ["host_of", "normalize_host", "same_origin"]

_DEFAULT_PORTS = {"https": 443, "http": 80}
# After IDNA encoding a label may hold only these. The underscore is not
# legal in hostnames but appears in real DNS names, so it is tolerated.
_LABEL = re.compile(r"[a-z0-9_-]{1,63}")
_MAX_HOST_LENGTH = 253
# Whitespace (re's \s is exactly str.isspace, checked for every code point) and control characters.
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")


# The same few actor URLs and Host headers arrive on every inbox POST of a busy thread, and the
# checks below cost tens of microseconds each time; these are pure functions of one string, so
# their results are memoised. Only short strings are cached (a hostile body may carry a huge
# "URL", and the cache must stay small); failures are never cached (lru_cache does not keep
# exceptions), so each one is checked again.
_CACHE_SIZE = 16384  # actor URLs stay in it between unique activity ids
_CACHEABLE_LENGTH = 512


def normalize_host(value: str) -> str:
    """Return the canonical ``host[:port]`` for a host or ``scheme://authority``.

    The host is lowercased and IDNA-encoded, one trailing dot is removed, and
    a default port is dropped (443/80 for an ``https``/``http`` scheme, 443
    for a bare ``host:443``). IPv6 literals must be bracketed. Userinfo, a
    path, a query, whitespace or an empty host raise :class:`ValueError`.
    """
    if not isinstance(value, str) or not value:
        raise ValueError("host is empty")
    if len(value) <= _CACHEABLE_LENGTH:
        return _normalize_host_cached(value)
    return _normalize_host(value)


def _normalize_host(value: str) -> str:
    if _UNSAFE.search(value):
        raise ValueError("host contains whitespace or control characters")

    scheme: str | None = None
    authority = value
    if "://" in value:
        scheme, authority = value.split("://", 1)
        scheme = scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise ValueError(f"unsupported scheme {scheme!r}")
    # Rejecting instead of stripping is the fix for CVE-2023-42451.
    if "@" in authority:
        raise ValueError("host must not contain userinfo ('@')")
    if any(ch in authority for ch in "/?#\\"):
        raise ValueError("host must not contain a path, query or fragment")

    host, port = _split_port(authority)
    if port is not None:
        default = _DEFAULT_PORTS[scheme] if scheme else 443
        if port == default:
            port = None

    host = _normalize_ipv6(host) if host.startswith("[") else _normalize_name(host)
    return host if port is None else f"{host}:{port}"


def host_of(url: str) -> str:
    """Return the normalized ``host[:port]`` of an ``http(s)`` URL.

    Raises :class:`ValueError` for other schemes, userinfo or a missing host.
    """
    if not isinstance(url, str):
        raise ValueError("URL must be a string")
    if len(url) <= _CACHEABLE_LENGTH:
        return _host_of_cached(url)
    return _host_of(url)


def _host_of(url: str) -> str:
    # urlsplit silently drops tabs and newlines (bpo-43882), which would turn
    # "remote.te\nst" into "remote.test"; refuse such input up front.
    if _UNSAFE.search(url):
        raise ValueError("URL contains whitespace or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"unsupported URL scheme {parts.scheme!r}")
    if not parts.netloc:
        raise ValueError("URL has no host")
    return normalize_host(f"{scheme}://{parts.netloc}")


_normalize_host_cached = functools.lru_cache(maxsize=_CACHE_SIZE)(_normalize_host)
_host_of_cached = functools.lru_cache(maxsize=_CACHE_SIZE)(_host_of)


def same_origin(a: str, b: str) -> bool:
    """Whether two URLs or hosts name the same host (and non-default port).

    The scheme is ignored. Invalid input never matches anything, so a
    malformed id can't pass an origin check.
    """
    try:
        return _host_or_url(a) == _host_or_url(b)
    except ValueError:
        return False


def _host_or_url(value: str) -> str:
    if "://" in value and value.split("://", 1)[0].lower() in _DEFAULT_PORTS:
        return host_of(value)
    return normalize_host(value)


def _split_port(authority: str) -> tuple[str, int | None]:
    """Split ``host:port``; the port is validated but not yet defaulted."""
    if authority.startswith("["):
        end = authority.find("]")
        if end == -1:
            raise ValueError("unterminated IPv6 literal")
        host, rest = authority[: end + 1], authority[end + 1 :]
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise ValueError("unexpected text after IPv6 literal")
        port_text = rest[1:]
    elif authority.count(":") > 1:
        raise ValueError("IPv6 literals must be in brackets")
    elif ":" in authority:
        host, port_text = authority.split(":")
    else:
        return authority, None
    if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"invalid port {port_text!r}")
    return host, int(port_text)


def _normalize_ipv6(host: str) -> str:
    literal = host[1:-1]
    if "%" in literal:
        raise ValueError("IPv6 zone identifiers are not allowed")
    try:
        address = ipaddress.IPv6Address(literal)
    except ValueError as exc:
        raise ValueError(f"invalid IPv6 literal {host!r}") from exc
    return f"[{address.compressed}]"


def _normalize_name(host: str) -> str:
    if host.endswith("."):
        host = host[:-1]  # exactly one: "remote.test.." stays invalid
    if not host:
        raise ValueError("host is empty")
    if not host.isascii():
        # Invisible characters (zero-width space, joiners, bidi marks) are
        # silently deleted by nameprep; refuse them rather than let
        # "remote\u200b.test" quietly become "remote.test".
        if any(unicodedata.category(ch) in ("Cf", "Cc", "Zs") for ch in host):
            raise ValueError("host contains invisible characters")
        try:
            # The stdlib "idna" codec (encodings.idna, IDNA 2003 + nameprep).
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"host is not a valid IDNA name: {exc}") from exc
    host = host.lower()
    if len(host) > _MAX_HOST_LENGTH:
        raise ValueError("host is too long")
    labels = host.split(".")
    for label in labels:
        if not label:
            raise ValueError("host has an empty label")
        if not _LABEL.fullmatch(label):
            raise ValueError(f"host label {label!r} has invalid characters")
    # A numeric last label means an IPv4 address; allow only the canonical
    # dotted quad so "127.1" or "0177.0.0.1" can't alias another spelling.
    if labels[-1].isdigit():
        try:
            ipaddress.IPv4Address(host)
        except ValueError as exc:
            raise ValueError(f"invalid IPv4 address {host!r}") from exc
    return host

