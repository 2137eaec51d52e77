"""HTTP signatures as the fediverse uses them. Pure: no network, no database.

Outgoing requests are signed the way Mastodon signs them (draft-cavage,
``rsa-sha256``). Incoming requests may use draft-cavage or RFC 9421; both
are verified with RSASSA-PKCS1-v1_5 over SHA-256 only.

Verification is split in two so the caller can fetch the key asynchronously:

1. :func:`parse_incoming` does every check that needs no key (coverage,
   body digest, clock window) and returns a :class:`SignatureInput`;
2. the caller resolves ``sig_input.key_id`` to a PEM (and checks that the key
   belongs to the activity's actor: CVE-2024-23832), then calls
   :func:`verify_signature`.

Every rejection raises :class:`SignatureError` with a short, human reason.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formatdate, parsedate_to_datetime
from typing import Literal
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fedisupport.activitypub.origin import host_of, normalize_host

__all__ = [
    "SignatureError",
    "SignatureInput",
    "digest_header",
    "generate_keypair",
    "parse_incoming",
    "parse_signature_header",
    "sign_request",
    "sign_request_rfc9421",
    "verify_request",
    "verify_signature",
]

CAVAGE_ALGORITHMS = ("rsa-sha256", "hs2019")
RFC9421_ALGORITHM = "rsa-v1_5-sha256"
DEFAULT_MAX_FUTURE = timedelta(hours=1)
DEFAULT_MAX_AGE = timedelta(hours=12)
# Methods that carry a body even when it happens to be empty; their digest
# must still be signed, or the body could be swapped for anything.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class SignatureError(Exception):
    """A request's signature is missing, malformed, stale or doesn't cover enough."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SignatureInput:
    """Everything needed to verify a parsed signature once the key is known."""

    key_id: str
    algorithm: str
    scheme: Literal["draft-cavage", "rfc9421"]
    covered: tuple[str, ...]
    # More than one only for draft-cavage GETs with a query (see parse_incoming).
    signing_strings: tuple[bytes, ...]
    signature: bytes
    # When the sender says it signed (Date header or `created`).
    signed_at: datetime


# --------------------------------------------------------------------------
# Keys

def generate_keypair() -> tuple[str, str]:
    """Return a new RSA-2048 ``(private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem.decode("ascii"), public_pem.decode("ascii")


# Parsing a PEM costs far more than an RSA operation, and the same few keys
# sign or verify most requests, so loaded keys are memoised by their bytes.
@functools.lru_cache(maxsize=64)
def _load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("private key is not an RSA key")
    return key


@functools.lru_cache(maxsize=1024)
def _load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise SignatureError("public key is not a valid PEM") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("public key is not an RSA key")
    return key


def _as_bytes(pem: str | bytes) -> bytes:
    return pem.encode("ascii") if isinstance(pem, str) else pem


def _rsa_sign(private_key_pem: str | bytes, data: bytes) -> bytes:
    key = _load_private_key(_as_bytes(private_key_pem))
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


# --------------------------------------------------------------------------
# Signing (outgoing: draft-cavage, like Mastodon)

def digest_header(body: bytes) -> str:
    """Return the draft-cavage ``Digest`` value for a body: ``SHA-256=<base64>``."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    key_id: str,
    private_key_pem: str | bytes,
) -> dict[str, str]:
    """Return a new header dict for ``url`` carrying a draft-cavage ``Signature``.

    ``Host`` and ``Date`` are added when absent. With a body, ``Digest`` is
    (re)computed, ``Content-Type`` defaults to ``application/activity+json``,
    and ``(request-target) host date digest content-type`` are signed;
    without one, ``(request-target) host date``. ``url`` must already be
    percent-encoded, because the bytes sent are the bytes signed.
    """
    if '"' in key_id or "\\" in key_id:
        raise ValueError("keyId must not contain quotes or backslashes")
    parts = urlsplit(url)
    out = {k: v for k, v in headers.items() if k.lower() not in ("signature", "digest")}
    _set_default(out, "Host", host_of(url))
    _set_default(out, "Date", formatdate(usegmt=True))
    covered = ["(request-target)", "host", "date"]
    if body is not None:
        out["Digest"] = digest_header(body)
        _set_default(out, "Content-Type", "application/activity+json")
        covered += ["digest", "content-type"]

    values = _lowercase_headers(out)
    target = f"{method.lower()} {_path_and_query(parts.path, parts.query)}"
    lines = [
        f"{name}: {target if name == '(request-target)' else values[name]}"
        for name in covered
    ]
    signature = _rsa_sign(private_key_pem, "\n".join(lines).encode("utf-8"))
    out["Signature"] = (
        f'keyId="{key_id}",algorithm="rsa-sha256",headers="{" ".join(covered)}",'
        f'signature="{base64.b64encode(signature).decode("ascii")}"'
    )
    return out


def sign_request_rfc9421(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    key_id: str,
    private_key_pem: str | bytes,
    *,
    created: int | None = None,
    components: Sequence[str] | None = None,
    label: str = "sig1",
) -> dict[str, str]:
    """Return new headers with an RFC 9421 signature. For tests only.

    We sign outgoing requests with draft-cavage (what every peer accepts);
    this exists so tests can produce valid RFC 9421 requests. By default it
    covers ``@method @target-uri`` plus ``content-digest`` when there is a body.
    """
    parts = urlsplit(url)
    out = {
        k: v
        for k, v in headers.items()
        if k.lower() not in ("signature", "signature-input", "content-digest")
    }
    _set_default(out, "Host", host_of(url))
    if body is not None:
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
        out["Content-Digest"] = f"sha-256=:{digest}:"
    if components is None:
        components = ("@method", "@target-uri") + (("content-digest",) if body is not None else ())
    created = int(datetime.now(UTC).timestamp()) if created is None else created
    params: dict[str, _Item] = {"created": created, "keyid": key_id, "alg": RFC9421_ALGORITHM}

    request = _Request(
        method=method,
        scheme=parts.scheme.lower(),
        authority=host_of(url),
        path=parts.path or "/",
        query=parts.query,
        headers=_lowercase_headers(out),
    )
    base = _rfc9421_base(request, tuple(components), params)
    signature = base64.b64encode(_rsa_sign(private_key_pem, base)).decode("ascii")
    out["Signature-Input"] = f"{label}={_serialize_signature_params(tuple(components), params)}"
    out["Signature"] = f"{label}=:{signature}:"
    return out


def _set_default(headers: dict[str, str], name: str, value: str) -> None:
    if not any(k.lower() == name.lower() for k in headers):
        headers[name] = value


def _path_and_query(path: str, query: str) -> str:
    target = (path or "/") + (f"?{query}" if query else "")
    if not target.isascii():
        raise ValueError("URL must be percent-encoded (non-ASCII path or query)")
    return target


# --------------------------------------------------------------------------
# Parsing and verifying (incoming)

# The header as Mastodon and nearly every other server write it: comma-separated name="value"
# pairs, no escapes. Matching that shape with one regular expression costs a few microseconds
# where the character loop below costs tens; anything else (escapes, unquoted values, stray
# text) goes to the loop, which stays the definition of what is accepted.
_SIMPLE_PARAM = re.compile(r'[ \t]*([A-Za-z0-9_-]+)[ \t]*=[ \t]*"([^"\\]*)"[ \t]*(,|\Z)')


def parse_signature_header(value: str) -> dict[str, str]:
    """Parse a draft-cavage ``Signature`` header into ``{lowercased name: value}``.

    Tolerates whitespace around separators, quoted values containing commas
    and backslash escapes, and unquoted values (``created=1700000000``).
    Raises :class:`ValueError` on malformed input or a repeated parameter.
    """
    params: dict[str, str] = {}
    pos, end = 0, len(value)
    while match := _SIMPLE_PARAM.match(value, pos):
        name = match[1].lower()
        if name in params:
            break  # a repeated name: the loop below refuses it
        params[name] = match[2]
        pos = match.end()
        if pos == end:
            if match[3]:
                break  # a trailing comma: the loop below decides
            return params
    return _parse_signature_header_strictly(value)


def _parse_signature_header_strictly(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    pos, end = 0, len(value)
    while pos < end:
        while pos < end and value[pos] in " \t,":
            pos += 1
        if pos >= end:
            break
        eq = value.find("=", pos)
        if eq == -1:
            raise ValueError(f"parameter without a value at offset {pos}")
        name = value[pos:eq].strip().lower()
        if not name or not re.fullmatch(r"[a-z0-9_-]+", name):
            raise ValueError(f"invalid parameter name {value[pos:eq]!r}")
        pos = eq + 1
        while pos < end and value[pos] in " \t":
            pos += 1
        if pos < end and value[pos] == '"':
            chars: list[str] = []
            pos += 1
            while True:
                if pos >= end:
                    raise ValueError(f"unterminated quoted value for {name!r}")
                ch = value[pos]
                if ch == "\\" and pos + 1 < end:
                    chars.append(value[pos + 1])
                    pos += 2
                    continue
                pos += 1
                if ch == '"':
                    break
                chars.append(ch)
            text = "".join(chars)
        else:
            comma = value.find(",", pos)
            comma = end if comma == -1 else comma
            text, pos = value[pos:comma].strip(), comma
        # A repeated name makes the header ambiguous between parsers; refuse it.
        if name in params:
            raise ValueError(f"parameter {name!r} appears twice")
        params[name] = text
    return params


def parse_incoming(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes | None,
    now: datetime | None = None,
    *,
    scheme: str = "https",
    max_future: timedelta = DEFAULT_MAX_FUTURE,
    max_age: timedelta = DEFAULT_MAX_AGE,
    expected_host: str | None = None,
) -> SignatureInput:
    """Check an incoming request's signature as far as possible without its key.

    ``path`` and ``query`` must be exactly what was on the wire (in starlette:
    ``scope["raw_path"]`` and ``scope["query_string"]`` decoded as Latin-1),
    not percent-decoded. ``scheme`` is the public scheme, used for RFC 9421
    ``@target-uri``. With ``expected_host``, the Host header must name it.

    Raises :class:`SignatureError` unless the request carries a well-formed
    signature covering the request target, host, time and (with a body)
    the body digest, whose digest matches and whose time is within
    ``max_future``/``max_age`` of ``now``.
    """
    now = _utc(now or datetime.now(UTC))
    lowered = _lowercase_headers(headers)
    if expected_host is not None:
        _check_expected_host(lowered, scheme, expected_host)
    request = _Request(
        method=method.upper(),
        scheme=scheme.lower(),
        authority=None,
        path=path or "/",
        query=query,
        headers=lowered,
    )
    has_body = bool(body) or request.method in _BODY_METHODS
    window = (now, max_future, max_age)
    if "signature-input" in lowered:
        return _parse_rfc9421(request, body or b"", has_body, window)
    if "signature" in lowered:
        return _parse_cavage(request, body or b"", has_body, window)
    raise SignatureError("request is not signed")


def verify_signature(sig_input: SignatureInput, public_key_pem: str | bytes) -> bool:
    """Whether ``sig_input`` was signed by the key; True if any signing string verifies.

    Raises :class:`SignatureError` if the PEM is unusable (invalid, not RSA).
    """
    key = _load_public_key(_as_bytes(public_key_pem))
    for signing_string in sig_input.signing_strings:
        try:
            key.verify(sig_input.signature, signing_string, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            continue
        return True
    return False


def verify_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes | None,
    public_key_pem_lookup: Callable[[str], str | bytes | None],
    now: datetime | None = None,
    *,
    scheme: str = "https",
    max_future: timedelta = DEFAULT_MAX_FUTURE,
    max_age: timedelta = DEFAULT_MAX_AGE,
    expected_host: str | None = None,
) -> SignatureInput:
    """Parse and verify in one call when the key can be looked up synchronously.

    ``public_key_pem_lookup(key_id)`` returns the PEM, or None when the key
    is unknown. The other arguments are those of :func:`parse_incoming`.
    Returns the verified input; raises :class:`SignatureError` otherwise.
    """
    sig_input = parse_incoming(
        method,
        path,
        query,
        headers,
        body,
        now,
        scheme=scheme,
        max_future=max_future,
        max_age=max_age,
        expected_host=expected_host,
    )
    pem = public_key_pem_lookup(sig_input.key_id)
    if pem is None:
        raise SignatureError("unknown signing key")
    if not verify_signature(sig_input, pem):
        raise SignatureError("signature does not verify")
    return sig_input


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    scheme: str
    authority: str | None  # normalized Host; resolved lazily for RFC 9421
    path: str
    query: str
    headers: dict[str, str]


_Window = tuple[datetime, timedelta, timedelta]


def _parse_cavage(
    request: _Request, body: bytes, has_body: bool, window: _Window
) -> SignatureInput:
    try:
        params = parse_signature_header(request.headers["signature"])
    except ValueError as exc:
        raise SignatureError(f"malformed Signature header: {exc}") from exc
    key_id = params.get("keyid")
    if not key_id:
        raise SignatureError("Signature has no keyId")
    # An absent algorithm means hs2019 (the key decides), as Mastodon reads it.
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in CAVAGE_ALGORITHMS:
        raise SignatureError(f"unsupported signature algorithm {algorithm!r}")
    signature = _b64decode(params.get("signature", ""), "signature")
    # The draft's default for a missing `headers` is "date" alone, which
    # then fails the coverage checks below, as it should.
    covered = tuple(params.get("headers", "date").lower().split())

    # Without these an intercepted signature could be replayed against
    # another path, another host or another time (advisory row 2).
    for required in ("(request-target)", "host"):
        if required not in covered:
            raise SignatureError(f"signature does not cover {required}")
    if "date" not in covered and "(created)" not in covered:
        raise SignatureError("signature does not cover date or (created)")
    if has_body and "digest" not in covered:
        raise SignatureError("signature does not cover digest")

    if "digest" in covered:
        _check_digest(request.headers.get("digest"), body)
    signed_at: datetime | None = None
    if "date" in covered:
        signed_at = _parse_http_date(request.headers.get("date"))
        _check_time(signed_at, "Date", window)
    if "(created)" in covered:
        signed_at = _timestamp(params.get("created"), "created")
        _check_time(signed_at, "created", window)
    if "expires" in params and _timestamp(params["expires"], "expires") < window[0]:
        raise SignatureError("signature has expired")
    assert signed_at is not None  # guaranteed by the coverage check above

    # Mastodon signs some GETs without the query string and verifies both
    # forms, so accept either when the request has a query.
    method = request.method.lower()
    targets = [f"{method} {request.path}"]
    if request.query:
        targets.insert(0, f"{method} {request.path}?{request.query}")
    signing_strings = tuple(
        _cavage_signing_string(covered, target, request.headers, params) for target in targets
    )
    return SignatureInput(
        key_id=key_id,
        algorithm=algorithm,
        scheme="draft-cavage",
        covered=covered,
        signing_strings=signing_strings,
        signature=signature,
        signed_at=signed_at,
    )


def _cavage_signing_string(
    covered: tuple[str, ...], target: str, headers: dict[str, str], params: dict[str, str]
) -> bytes:
    lines = []
    for name in covered:
        if name == "(request-target)":
            value = target
        elif name in ("(created)", "(expires)"):
            value = params.get(name[1:-1], "")
            if not value:
                raise SignatureError(f"signature covers {name} but has no {name[1:-1]} parameter")
        elif name in headers:
            value = headers[name]
        else:
            raise SignatureError(f"signed header {name} is missing from the request")
        lines.append(f"{name}: {value}")
    return _wire_bytes("\n".join(lines))


def _parse_rfc9421(
    request: _Request, body: bytes, has_body: bool, window: _Window
) -> SignatureInput:
    try:
        inputs = _StructuredFieldParser(request.headers["signature-input"]).dictionary()
        signature_header = request.headers.get("signature", "")
        signature_members = _StructuredFieldParser(signature_header).dictionary()
    except ValueError as exc:
        raise SignatureError(f"malformed Signature-Input or Signature: {exc}") from exc
    if not inputs:
        raise SignatureError("Signature-Input is empty")
    # Like Mastodon, handle a single signature: the first label.
    label, components, params = inputs[0]
    if not isinstance(components, list):
        raise SignatureError("Signature-Input member is not an inner list")
    signature = next((value for key, value, _ in signature_members if key == label), None)
    if not isinstance(signature, bytes):
        raise SignatureError(f"no Signature for label {label!r}")

    names: list[str] = []
    for item, item_params in components:
        if not isinstance(item, str) or isinstance(item, _Token):
            raise SignatureError("covered components must be strings")
        if item_params:
            raise SignatureError(f"unsupported parameters on component {item!r}")
        if item in names:
            raise SignatureError(f"component {item!r} is listed twice")
        names.append(item)
    covered = tuple(names)

    key_id = params.get("keyid")
    if not isinstance(key_id, str) or not key_id:
        raise SignatureError("Signature-Input has no keyid")
    alg = params.get("alg", RFC9421_ALGORITHM)
    if alg != RFC9421_ALGORITHM:
        raise SignatureError(f"unsupported signature algorithm {alg!r}")
    if "@method" not in covered:
        raise SignatureError("signature does not cover @method")
    if "@target-uri" not in covered and not {"@authority", "@path"} <= set(covered):
        raise SignatureError("signature does not cover @target-uri (or @authority and @path)")
    if has_body and "content-digest" not in covered:
        raise SignatureError("signature does not cover content-digest")
    if "content-digest" in covered:
        _check_content_digest(request.headers.get("content-digest"), body)

    if "created" not in params:
        raise SignatureError("signature has no created parameter")
    signed_at = _timestamp(params["created"], "created")
    _check_time(signed_at, "created", window)
    if "expires" in params and _timestamp(params["expires"], "expires") < window[0]:
        raise SignatureError("signature has expired")

    host = request.headers.get("host")
    if not host:
        raise SignatureError("Host header is missing")
    try:
        authority = normalize_host(f"{request.scheme}://{host}")
    except ValueError as exc:
        raise SignatureError(f"Host header is invalid: {exc}") from exc
    resolved = _Request(
        request.method, request.scheme, authority, request.path, request.query, request.headers
    )
    return SignatureInput(
        key_id=key_id,
        algorithm=RFC9421_ALGORITHM,
        scheme="rfc9421",
        covered=covered,
        signing_strings=(_rfc9421_base(resolved, covered, params),),
        signature=signature,
        signed_at=signed_at,
    )


def _rfc9421_base(request: _Request, covered: tuple[str, ...], params: dict[str, _Item]) -> bytes:
    """Build the RFC 9421 §2.5 signature base."""
    target = request.path + (f"?{request.query}" if request.query else "")
    derived = {
        "@method": request.method.upper(),
        "@scheme": request.scheme,
        "@authority": request.authority or "",
        "@target-uri": f"{request.scheme}://{request.authority}{target}",
        "@request-target": target,
        "@path": request.path,
        "@query": f"?{request.query}",
    }
    lines = []
    for name in covered:
        if name.startswith("@"):
            if name not in derived:
                raise SignatureError(f"unsupported derived component {name!r}")
            value = derived[name]
        elif name.lower() in request.headers:
            value = request.headers[name.lower()]
        else:
            raise SignatureError(f"signed header {name} is missing from the request")
        lines.append(f'"{name}": {value}')
    lines.append(f'"@signature-params": {_serialize_signature_params(covered, params)}')
    return _wire_bytes("\n".join(lines))


# --------------------------------------------------------------------------
# Individual checks

def _check_expected_host(headers: dict[str, str], scheme: str, expected_host: str) -> None:
    host = headers.get("host")
    if not host:
        raise SignatureError("Host header is missing")
    try:
        matches = normalize_host(f"{scheme}://{host}") == normalize_host(
            f"{scheme}://{expected_host}"
        )
    except ValueError as exc:
        raise SignatureError(f"Host header is invalid: {exc}") from exc
    if not matches:
        raise SignatureError("Host header does not name this server")


def _check_digest(value: str | None, body: bytes) -> None:
    """Check a draft-cavage ``Digest`` (possibly a list) against the raw body."""
    if not value:
        raise SignatureError("Digest header is missing")
    expected = hashlib.sha256(body).digest()
    found = False
    for part in value.split(","):
        algorithm, _, encoded = part.strip().partition("=")
        if algorithm.strip().lower() != "sha-256":
            continue
        found = True
        if not hmac.compare_digest(_b64decode(encoded.strip(), "Digest"), expected):
            raise SignatureError("Digest does not match the body")
    if not found:
        raise SignatureError("Digest has no SHA-256 value")


def _check_content_digest(value: str | None, body: bytes) -> None:
    """Check an RFC 9530 ``Content-Digest`` (``sha-256=:b64:``) against the raw body."""
    if not value:
        raise SignatureError("Content-Digest header is missing")
    try:
        members = _StructuredFieldParser(value).dictionary()
    except ValueError as exc:
        raise SignatureError(f"malformed Content-Digest: {exc}") from exc
    digests = [digest for key, digest, _ in members if key == "sha-256"]
    if not digests:
        raise SignatureError("Content-Digest has no sha-256 value")
    expected = hashlib.sha256(body).digest()
    for digest in digests:
        if not isinstance(digest, bytes) or not hmac.compare_digest(digest, expected):
            raise SignatureError("Content-Digest does not match the body")


def _check_time(when: datetime, what: str, window: _Window) -> None:
    now, max_future, max_age = window
    if when > now + max_future:
        raise SignatureError(f"{what} is too far in the future")
    if when < now - max_age:
        raise SignatureError(f"{what} is too old")


def _parse_http_date(value: str | None) -> datetime:
    if not value:
        raise SignatureError("Date header is missing")
    try:
        return _utc(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError) as exc:
        raise SignatureError("Date header is not a valid HTTP date") from exc


def _timestamp(value: object, what: str) -> datetime:
    """Read a Unix-time parameter (an int, or its text in draft-cavage)."""
    if isinstance(value, str) and re.fullmatch(r"\d{1,12}", value):
        value = int(value)
    if type(value) is not int:  # bool is an int subclass; refuse it
        raise SignatureError(f"{what} is not a Unix timestamp")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise SignatureError(f"{what} is out of range") from exc


def _b64decode(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(f"{what} is not valid base64") from exc


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _lowercase_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lowercase names, trim values, and join repeated fields with ", "."""
    # starlette's Headers.items() yields repeated fields separately; a dict
    # or httpx.Headers has them already joined. Both end up the same here.
    merged: dict[str, str] = {}
    for name, value in headers.items():
        name, value = name.lower(), value.strip()
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return merged


def _wire_bytes(text: str) -> bytes:
    # Servers hand us header text decoded as Latin-1, so encoding it back the
    # same way recovers the exact bytes the sender signed.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise SignatureError("signed values contain characters outside Latin-1") from exc


# --------------------------------------------------------------------------
# A small subset of RFC 8941 structured fields: enough for Signature-Input,
# Signature and Content-Digest (strings, tokens, integers, booleans, byte
# sequences, inner lists and parameters; no decimals).

class _Token(str):
    """An RFC 8941 token, kept distinct from a quoted String."""


_Item = str | int | bool | bytes
_Params = dict[str, _Item]
_Member = tuple[str, "list[tuple[_Item, _Params]] | _Item", _Params]

_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_INTEGER = re.compile(r"-?[0-9]{1,15}")
_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")


class _StructuredFieldParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def dictionary(self) -> list[_Member]:
        """Parse a Dictionary; repeated keys are refused (ambiguous signatures)."""
        members: list[_Member] = []
        self._skip(" ")
        while self.pos < len(self.text):
            key = self._match(_KEY, "key")
            if any(existing == key for existing, _, _ in members):
                raise ValueError(f"key {key!r} appears twice")
            value: list[tuple[_Item, _Params]] | _Item = True
            if self._peek() == "=":
                self.pos += 1
                value = self._inner_list() if self._peek() == "(" else self._bare_item()
            members.append((key, value, self._params()))
            self._skip(" \t")
            if self.pos >= len(self.text):
                break
            if self._peek() != ",":
                raise ValueError(f"expected ',' at offset {self.pos}")
            self.pos += 1
            self._skip(" \t")
            if self.pos >= len(self.text):
                raise ValueError("trailing comma")
        return members

    def _inner_list(self) -> list[tuple[_Item, _Params]]:
        self.pos += 1  # "("
        items: list[tuple[_Item, _Params]] = []
        while True:
            self._skip(" ")
            if self._peek() == ")":
                self.pos += 1
                return items
            items.append((self._bare_item(), self._params()))
            if self._peek() not in (" ", ")"):
                raise ValueError(f"expected ' ' or ')' at offset {self.pos}")

    def _params(self) -> _Params:
        params: _Params = {}
        while self._peek() == ";":
            self.pos += 1
            self._skip(" ")
            key = self._match(_KEY, "parameter name")
            value: _Item = True
            if self._peek() == "=":
                self.pos += 1
                value = self._bare_item()
            params[key] = value
        return params

    def _bare_item(self) -> _Item:
        ch = self._peek()
        if ch == '"':
            return self._string()
        if ch == ":":
            match = _BYTES.match(self.text, self.pos)
            if not match:
                raise ValueError(f"bad byte sequence at offset {self.pos}")
            self.pos = match.end()
            return base64.b64decode(match.group(1), validate=True)
        if ch == "?":
            value = self.text[self.pos + 1 : self.pos + 2]
            if value not in ("0", "1"):
                raise ValueError(f"bad boolean at offset {self.pos}")
            self.pos += 2
            return value == "1"
        if ch == "-" or ch.isdigit():
            number = int(self._match(_INTEGER, "integer"))
            if self._peek() == ".":
                raise ValueError("decimals are not supported")
            return number
        return _Token(self._match(_TOKEN, "item"))

    def _string(self) -> str:
        self.pos += 1  # opening quote
        chars: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            if ch == "\\":
                escaped = self.text[self.pos : self.pos + 1]
                if escaped not in ('"', "\\"):
                    raise ValueError("bad escape in string")
                chars.append(escaped)
                self.pos += 1
            elif ch == '"':
                return "".join(chars)
            elif not " " <= ch <= "~":
                raise ValueError("non-printable character in string")
            else:
                chars.append(ch)
        raise ValueError("unterminated string")

    def _match(self, pattern: re.Pattern[str], what: str) -> str:
        match = pattern.match(self.text, self.pos)
        if not match:
            raise ValueError(f"expected {what} at offset {self.pos}")
        self.pos = match.end()
        return match.group(0)

    def _peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def _skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1


def _serialize_item(value: _Item) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    if isinstance(value, _Token):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _serialize_signature_params(covered: tuple[str, ...], params: _Params) -> str:
    """Serialize ``("a" "b");k=v`` canonically, as RFC 9421 §2.3 requires for the base."""
    inner = " ".join(_serialize_item(name) for name in covered)
    rendered = "".join(
        f";{key}" if value is True else f";{key}={_serialize_item(value)}"
        for key, value in params.items()
    )
    return f"({inner}){rendered}"
