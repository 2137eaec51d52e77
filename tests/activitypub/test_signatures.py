"""HTTP signatures: Mastodon-style draft-cavage and RFC 9421 (advisory row 2)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from starlette.datastructures import Headers

from fedisupport.activitypub.signatures import (
    SignatureError,
    SignatureInput,
    digest_header,
    generate_keypair,
    parse_incoming,
    parse_signature_header,
    sign_request,
    sign_request_rfc9421,
    verify_request,
    verify_signature,
)

INBOX = "https://local.test/inbox"
KEY_ID = "https://remote.test/users/alice#main-key"
BODY = b'{"type":"Follow","actor":"https://remote.test/users/alice"}'


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return generate_keypair()


@pytest.fixture(scope="module")
def other_keys() -> tuple[str, str]:
    return generate_keypair()


def parse(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    **options: object,
) -> SignatureInput:
    """Receive a request for ``url`` the way the inbox will."""
    parts = urlsplit(url)
    return parse_incoming(method, parts.path, parts.query, headers, body, **options)  # type: ignore[arg-type]


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def hand_signed(
    private_pem: str,
    signed: list[str],
    headers: dict[str, str],
    target: str,
    *,
    algorithm: str = "rsa-sha256",
    extra_params: str = "",
) -> dict[str, str]:
    """Sign like another server would, independently of sign_request."""
    lowered = {k.lower(): v for k, v in headers.items()}
    lines = []
    for name in signed:
        if name == "(request-target)":
            lines.append(f"{name}: {target}")
        elif name == "(created)":
            created = re.search(r"created=(\d+)", extra_params)
            assert created
            lines.append(f"{name}: {created.group(1)}")
        else:
            lines.append(f"{name}: {lowered[name]}")
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    signature = key.sign("\n".join(lines).encode(), padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr, call-arg]
    encoded = base64.b64encode(signature).decode()
    return {
        **headers,
        "Signature": f'keyId="{KEY_ID}",algorithm="{algorithm}",headers="{" ".join(signed)}",'
        f'{extra_params}signature="{encoded}"',
    }


def post_headers(body: bytes = BODY, **overrides: str) -> dict[str, str]:
    return {
        "Host": "local.test",
        "Date": http_date(datetime.now(UTC)),
        "Digest": digest_header(body),
        "Content-Type": "application/activity+json",
        **overrides,
    }


# ---------------------------------------------------------------- signing


def test_generate_keypair_formats(keys: tuple[str, str]) -> None:
    private_pem, public_pem = keys
    assert private_pem.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert public_pem.startswith("-----BEGIN PUBLIC KEY-----")  # SubjectPublicKeyInfo


def test_digest_header_known_value() -> None:
    assert digest_header(b"") == "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def test_sign_post_adds_headers_and_covers_body(keys: tuple[str, str]) -> None:
    original = {"Accept": "application/activity+json"}
    headers = sign_request("POST", INBOX, original, BODY, KEY_ID, keys[0])

    assert original == {"Accept": "application/activity+json"}  # a new dict is returned
    assert headers["Host"] == "local.test"
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", headers["Date"])
    assert headers["Digest"] == digest_header(BODY)
    assert headers["Content-Type"] == "application/activity+json"
    params = parse_signature_header(headers["Signature"])
    assert params["keyid"] == KEY_ID
    assert params["algorithm"] == "rsa-sha256"
    assert params["headers"] == "(request-target) host date digest content-type"


def test_sign_get_covers_request_target_host_date_only(keys: tuple[str, str]) -> None:
    headers = sign_request("GET", "https://remote.test/users/alice", {"Accept": "x"}, None, KEY_ID, keys[0])
    assert "Digest" not in headers
    assert parse_signature_header(headers["Signature"])["headers"] == "(request-target) host date"


def test_sign_keeps_caller_host_and_date(keys: tuple[str, str]) -> None:
    date = "Sun, 05 Jan 2014 21:31:40 GMT"
    headers = sign_request("GET", "https://remote.test/x", {"host": "remote.test", "date": date}, None, KEY_ID, keys[0])
    assert headers["date"] == date
    assert "Date" not in headers and "Host" not in headers


def test_sign_host_drops_default_port(keys: tuple[str, str]) -> None:
    assert sign_request("GET", "https://Remote.Test:443/x", {}, None, KEY_ID, keys[0])["Host"] == "remote.test"
    assert sign_request("GET", "http://127.0.0.1:8001/x", {}, None, KEY_ID, keys[0])["Host"] == "127.0.0.1:8001"


# ------------------------------------------------------- cavage round trips


def test_post_round_trip(keys: tuple[str, str]) -> None:
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, keys[0])
    sig_input = parse("POST", INBOX, headers, BODY)

    assert sig_input.key_id == KEY_ID
    assert sig_input.scheme == "draft-cavage"
    assert sig_input.covered == ("(request-target)", "host", "date", "digest", "content-type")
    assert verify_signature(sig_input, keys[1]) is True


def test_signing_string_is_mastodon_shaped(keys: tuple[str, str]) -> None:
    headers = sign_request("POST", INBOX, {"Date": "Sun, 05 Jan 2014 21:31:40 GMT"}, BODY, KEY_ID, keys[0])
    now = datetime(2014, 1, 5, 21, 31, 40, tzinfo=UTC)
    sig_input = parse("POST", INBOX, headers, BODY, now=now)
    assert sig_input.signing_strings == (
        (
            "(request-target): post /inbox\n"
            "host: local.test\n"
            "date: Sun, 05 Jan 2014 21:31:40 GMT\n"
            f"digest: {digest_header(BODY)}\n"
            "content-type: application/activity+json"
        ).encode(),
    )


def test_get_round_trip(keys: tuple[str, str]) -> None:
    url = "https://local.test/users/group"
    headers = sign_request("GET", url, {"Accept": "application/activity+json"}, None, KEY_ID, keys[0])
    assert verify_signature(parse("GET", url, headers, None), keys[1]) is True


def test_get_with_query_round_trip(keys: tuple[str, str]) -> None:
    url = "https://local.test/users/group/outbox?page=2&min_id=5"
    headers = sign_request("GET", url, {}, None, KEY_ID, keys[0])
    sig_input = parse("GET", url, headers, None)
    assert len(sig_input.signing_strings) == 2  # with and without the query
    assert verify_signature(sig_input, keys[1]) is True


def test_get_signed_without_query_verifies_when_query_present(keys: tuple[str, str]) -> None:
    # Mastodon signs some GETs without the query string (fetch_replies_service.rb).
    headers = sign_request("GET", "https://local.test/replies", {}, None, KEY_ID, keys[0])
    sig_input = parse_incoming("GET", "/replies", "page=true", headers, None)
    assert verify_signature(sig_input, keys[1]) is True


def test_hs2019_is_accepted(keys: tuple[str, str]) -> None:
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, keys[0])
    headers["Signature"] = headers["Signature"].replace('algorithm="rsa-sha256"', 'algorithm="hs2019"')
    sig_input = parse("POST", INBOX, headers, BODY)
    assert sig_input.algorithm == "hs2019"
    assert verify_signature(sig_input, keys[1]) is True


def test_hs2019_with_created_instead_of_date(keys: tuple[str, str]) -> None:
    created = int(datetime.now(UTC).timestamp())
    headers = hand_signed(
        keys[0],
        ["(request-target)", "(created)", "host", "digest"],
        {"Host": "local.test", "Digest": digest_header(BODY)},
        "post /inbox",
        algorithm="hs2019",
        extra_params=f"created={created},",
    )
    assert verify_signature(parse("POST", INBOX, headers, BODY), keys[1]) is True


def test_uppercase_algorithm_and_lowercase_digest_name(keys: tuple[str, str]) -> None:
    plain = post_headers(Digest=digest_header(BODY).replace("SHA-256=", "sha-256="))
    headers = hand_signed(
        keys[0], ["(request-target)", "host", "date", "digest"], plain, "post /inbox", algorithm="RSA-SHA256"
    )
    assert verify_signature(parse("POST", INBOX, headers, BODY), keys[1]) is True


def test_digest_list_picks_sha256(keys: tuple[str, str]) -> None:
    sha512 = base64.b64encode(hashlib.sha512(BODY).digest()).decode()
    plain = post_headers(Digest=f"SHA-512={sha512}, {digest_header(BODY)}")
    headers = hand_signed(keys[0], ["(request-target)", "host", "date", "digest"], plain, "post /inbox")
    assert verify_signature(parse("POST", INBOX, headers, BODY), keys[1]) is True


def test_starlette_headers_are_accepted(keys: tuple[str, str]) -> None:
    signed = sign_request("POST", INBOX, {}, BODY, KEY_ID, keys[0])
    raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in signed.items()]
    sig_input = parse("POST", INBOX, Headers(raw=raw), BODY)
    assert verify_signature(sig_input, keys[1]) is True


def test_verify_request_with_lookup(keys: tuple[str, str], other_keys: tuple[str, str]) -> None:
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, keys[0])
    lookup: Callable[[str], str | None] = {KEY_ID: keys[1]}.get

    assert verify_request("POST", "/inbox", "", headers, BODY, lookup).key_id == KEY_ID
    with pytest.raises(SignatureError, match="unknown signing key"):
        verify_request("POST", "/inbox", "", headers, BODY, {}.get)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_request("POST", "/inbox", "", headers, BODY, lambda _: other_keys[1])


# --------------------------------------------------------- cavage failures


def test_wrong_key_does_not_verify(keys: tuple[str, str], other_keys: tuple[str, str]) -> None:
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, keys[0])
    assert verify_signature(parse("POST", INBOX, headers, BODY), other_keys[1]) is False


def test_tampered_body_is_rejected(keys: tuple[str, str]) -> None:
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, keys[0])
    with pytest.raises(SignatureError, match="Digest does not match the body"):
        parse("POST", INBOX, headers, BODY.replace(b"Follow", b"Delete"))


def test_replaced_digest_does_not_verify(keys: tuple[str, str]) -> None:
    forged = b'{"type":"Delete"}'
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, keys[0]) | {"Digest": digest_header(forged)}
    assert verify_signature(parse("POST", INBOX, headers, forged), keys[1]) is False


@pytest.mark.parametrize(
    ("signed", "reason"),
    [
        (["host", "date", "digest"], "does not cover \\(request-target\\)"),
        (["(request-target)", "date", "digest"], "does not cover host"),
        (["(request-target)", "host", "digest"], "does not cover date"),
        (["(request-target)", "host", "date"], "does not cover digest"),
    ],
)
def test_missing_coverage_is_rejected(keys: tuple[str, str], signed: list[str], reason: str) -> None:
    headers = hand_signed(keys[0], signed, post_headers(), "post /inbox")
    with pytest.raises(SignatureError, match=reason):
        parse("POST", INBOX, headers, BODY)


def test_get_without_host_coverage_is_rejected(keys: tuple[str, str]) -> None:
    plain = {"Host": "local.test", "Date": http_date(datetime.now(UTC))}
    headers = hand_signed(keys[0], ["(request-target)", "date"], plain, "get /users/group")
    with pytest.raises(SignatureError, match="does not cover host"):
        parse("GET", "https://local.test/users/group", headers, None)


def test_digest_without_sha256_is_rejected(keys: tuple[str, str]) -> None:
    sha512 = base64.b64encode(hashlib.sha512(BODY).digest()).decode()
    plain = post_headers(Digest=f"SHA-512={sha512}")
    headers = hand_signed(keys[0], ["(request-target)", "host", "date", "digest"], plain, "post /inbox")
    with pytest.raises(SignatureError, match="no SHA-256"):
        parse("POST", INBOX, headers, BODY)


def test_signed_header_absent_from_request_is_rejected(keys: tuple[str, str]) -> None:
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, keys[0])
    del headers["Content-Type"]
    with pytest.raises(SignatureError, match="content-type is missing"):
        parse("POST", INBOX, headers, BODY)


@pytest.mark.parametrize(
    ("age", "accepted"),
    [
        (timedelta(hours=-2), False),  # 2 h in the future
        (timedelta(minutes=-50), True),  # within the 1 h clock skew
        (timedelta(hours=11), True),
        (timedelta(hours=13), False),
    ],
)
def test_date_window(keys: tuple[str, str], age: timedelta, accepted: bool) -> None:
    date = http_date(datetime.now(UTC) - age)
    headers = sign_request("POST", INBOX, {"Date": date}, BODY, KEY_ID, keys[0])
    if accepted:
        assert verify_signature(parse("POST", INBOX, headers, BODY), keys[1]) is True
    else:
        with pytest.raises(SignatureError, match="too old|too far in the future"):
            parse("POST", INBOX, headers, BODY)


def test_date_window_is_configurable(keys: tuple[str, str]) -> None:
    headers = sign_request("POST", INBOX, {"Date": http_date(datetime.now(UTC) - timedelta(hours=2))}, BODY, KEY_ID, keys[0])
    with pytest.raises(SignatureError, match="Date is too old"):
        parse("POST", INBOX, headers, BODY, max_age=timedelta(hours=1))


def test_unparseable_date_is_rejected(keys: tuple[str, str]) -> None:
    headers = sign_request("POST", INBOX, {"Date": "yesterday, around noon"}, BODY, KEY_ID, keys[0])
    with pytest.raises(SignatureError, match="not a valid HTTP date"):
        parse("POST", INBOX, headers, BODY)


def test_method_mismatch_does_not_verify(keys: tuple[str, str]) -> None:
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, keys[0])
    assert verify_signature(parse("PUT", INBOX, headers, BODY), keys[1]) is False


def test_path_mismatch_does_not_verify(keys: tuple[str, str]) -> None:
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, keys[0])
    assert verify_signature(parse("POST", "https://local.test/users/group/inbox", headers, BODY), keys[1]) is False


@pytest.mark.parametrize("algorithm", ["hmac-sha256", "ed25519", "rsa-sha512"])
def test_unsupported_algorithm_is_rejected(keys: tuple[str, str], algorithm: str) -> None:
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, keys[0])
    headers["Signature"] = headers["Signature"].replace("rsa-sha256", algorithm)
    with pytest.raises(SignatureError, match="unsupported signature algorithm"):
        parse("POST", INBOX, headers, BODY)


def test_unsigned_request_is_rejected() -> None:
    with pytest.raises(SignatureError, match="not signed"):
        parse("POST", INBOX, post_headers(), BODY)


def test_expected_host_mismatch_is_rejected(keys: tuple[str, str]) -> None:
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, keys[0])
    assert parse("POST", INBOX, headers, BODY, expected_host="LOCAL.test:443").key_id == KEY_ID
    with pytest.raises(SignatureError, match="does not name this server"):
        parse("POST", INBOX, headers, BODY, expected_host="other.test")


def test_unusable_public_key_is_an_error(keys: tuple[str, str]) -> None:
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, keys[0])
    with pytest.raises(SignatureError, match="not a valid PEM"):
        verify_signature(parse("POST", INBOX, headers, BODY), "not a key")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            'keyId="https://r.test/a#k",algorithm="rsa-sha256",headers="(request-target) host",signature="YQ=="',
            {"keyid": "https://r.test/a#k", "algorithm": "rsa-sha256", "headers": "(request-target) host", "signature": "YQ=="},
        ),
        ('keyId="a,b=c", signature = "x" ,created=123', {"keyid": "a,b=c", "signature": "x", "created": "123"}),
        ('keyId="say \\"hi\\""', {"keyid": 'say "hi"'}),
    ],
)
def test_parse_signature_header(value: str, expected: dict[str, str]) -> None:
    assert parse_signature_header(value) == expected


@pytest.mark.parametrize("value", ['keyId="unterminated', "keyId", 'keyId="a",keyId="b"', 'keyId="a", KEYID="b"',
                                   'keyId="a"\n', 'key id="a"'])
def test_parse_signature_header_rejects(value: str) -> None:
    with pytest.raises(ValueError):
        parse_signature_header(value)


# Shapes at the edge of the quick path for plain name="value" headers: each must read exactly as
# the character-by-character parser reads it (same parameters, or the same refusal).
EDGE_SHAPES = [
    'keyId="a",signature="b"', ' keyId = "a" ,\tsignature="b" ', 'keyId="a",', ',keyId="a"', 'keyId="a",,b="c"',
    'keyId="a"signature="b"', 'keyId="a", keyid="b"', 'keyId="a\\"b"', 'keyId="",b=""', 'created=1,keyId="a"',
    'keyId="a"\n', 'keyId="a" x', '\u212aeyId="a"', 'keyId="a,b=\\"c\\"",d="e"', 'keyId="a', "",
]


@pytest.mark.parametrize("value", EDGE_SHAPES)
def test_quick_signature_header_parse_agrees_with_the_full_parser(value: str) -> None:
    from fedisupport.activitypub.signatures import _parse_signature_header_strictly

    def outcome(parse):
        try:
            return parse(value)
        except ValueError as exc:
            return ("refused", str(exc))

    assert outcome(parse_signature_header) == outcome(_parse_signature_header_strictly)


# ----------------------------------------------------------------- RFC 9421


def test_rfc9421_post_round_trip(keys: tuple[str, str]) -> None:
    headers = sign_request_rfc9421("POST", INBOX, {}, BODY, KEY_ID, keys[0])
    sig_input = parse("POST", INBOX, headers, BODY)
    assert sig_input.scheme == "rfc9421"
    assert sig_input.key_id == KEY_ID
    assert sig_input.covered == ("@method", "@target-uri", "content-digest")
    assert verify_signature(sig_input, keys[1]) is True


def test_rfc9421_signature_base_shape(keys: tuple[str, str]) -> None:
    headers = sign_request_rfc9421("POST", INBOX + "?a=1", {}, BODY, KEY_ID, keys[0], created=1700000000)
    sig_input = parse(
        "POST", INBOX + "?a=1", headers, BODY, now=datetime.fromtimestamp(1700000000, UTC)
    )
    digest = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    assert sig_input.signing_strings == (
        (
            '"@method": POST\n'
            '"@target-uri": https://local.test/inbox?a=1\n'
            f'"content-digest": sha-256=:{digest}:\n'
            '"@signature-params": ("@method" "@target-uri" "content-digest")'
            f';created=1700000000;keyid="{KEY_ID}";alg="rsa-v1_5-sha256"'
        ).encode(),
    )


def test_rfc9421_get_with_authority_and_path(keys: tuple[str, str]) -> None:
    url = "https://local.test/users/group?page=1"
    headers = sign_request_rfc9421(
        "GET", url, {}, None, KEY_ID, keys[0], components=["@method", "@authority", "@path", "@query"]
    )
    assert verify_signature(parse("GET", url, headers, None), keys[1]) is True
    assert verify_signature(parse("GET", "https://local.test/users/group?page=2", headers, None), keys[1]) is False


def test_rfc9421_tampered_content_digest_is_rejected(keys: tuple[str, str]) -> None:
    headers = sign_request_rfc9421("POST", INBOX, {}, BODY, KEY_ID, keys[0])
    with pytest.raises(SignatureError, match="Content-Digest does not match the body"):
        parse("POST", INBOX, headers, BODY + b" ")
    forged = base64.b64encode(hashlib.sha256(b"{}").digest()).decode()
    headers["Content-Digest"] = f"sha-256=:{forged}:"
    assert verify_signature(parse("POST", INBOX, headers, b"{}"), keys[1]) is False


def test_rfc9421_wrong_key_and_method(keys: tuple[str, str], other_keys: tuple[str, str]) -> None:
    headers = sign_request_rfc9421("POST", INBOX, {}, BODY, KEY_ID, keys[0])
    assert verify_signature(parse("POST", INBOX, headers, BODY), other_keys[1]) is False
    assert verify_signature(parse("PUT", INBOX, headers, BODY), keys[1]) is False


@pytest.mark.parametrize(
    ("components", "reason"),
    [
        (["@target-uri", "content-digest"], "does not cover @method"),
        (["@method", "content-digest"], "does not cover @target-uri"),
        (["@method", "@path", "content-digest"], "does not cover @target-uri"),
        (["@method", "@target-uri"], "does not cover content-digest"),
    ],
)
def test_rfc9421_missing_coverage_is_rejected(keys: tuple[str, str], components: list[str], reason: str) -> None:
    headers = sign_request_rfc9421("POST", INBOX, {}, BODY, KEY_ID, keys[0], components=components)
    with pytest.raises(SignatureError, match=reason):
        parse("POST", INBOX, headers, BODY)


def test_rfc9421_old_created_is_rejected(keys: tuple[str, str]) -> None:
    created = int((datetime.now(UTC) - timedelta(hours=13)).timestamp())
    headers = sign_request_rfc9421("POST", INBOX, {}, BODY, KEY_ID, keys[0], created=created)
    with pytest.raises(SignatureError, match="created is too old"):
        parse("POST", INBOX, headers, BODY)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda v: v.replace(";created=", ";x="), "no created parameter"),
        (lambda v: v.replace('alg="rsa-v1_5-sha256"', 'alg="ed25519"'), "unsupported signature algorithm"),
        (lambda v: v.replace("sig1=", "other="), "no Signature for label"),
        (lambda v: v.replace('"@method"', '"@method";req'), "unsupported parameters"),
        (lambda v: v.replace('"content-digest")', '"content-digest" "@status")'), "unsupported derived component"),
        (lambda v: v.replace('"content-digest")', '"content-digest" "@method")'), "listed twice"),
        (lambda v: v + ", =", "malformed"),
    ],
)
def test_rfc9421_bad_signature_input(keys: tuple[str, str], edit: Callable[[str], str], reason: str) -> None:
    headers = sign_request_rfc9421("POST", INBOX, {}, BODY, KEY_ID, keys[0])
    headers["Signature-Input"] = edit(headers["Signature-Input"])
    with pytest.raises(SignatureError, match=reason):
        parse("POST", INBOX, headers, BODY)
