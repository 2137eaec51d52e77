"""Host normalization and origin checks (advisory row 6, CVE-2023-42451)."""

import pytest

from fedisupport.activitypub.origin import host_of, normalize_host, same_origin


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("remote.test", "remote.test"),
        ("Remote.Test.", "remote.test"),  # CVE-2023-42451 case: case + trailing dot
        ("remote.test:443", "remote.test"),  # CVE-2023-42451 case: default port
        ("REMOTE.TEST:443", "remote.test"),
        ("remote.test:80", "remote.test:80"),  # bare host: only 443 is default
        ("https://remote.test:443", "remote.test"),
        ("http://remote.test:80", "remote.test"),
        ("http://remote.test:443", "remote.test:443"),
        ("HTTPS://Remote.Test", "remote.test"),
        ("127.0.0.1:8001", "127.0.0.1:8001"),
        ("127.0.0.1", "127.0.0.1"),
        ("localhost:08001", "localhost:8001"),
        ("[::1]", "[::1]"),
        ("[::1]:8443", "[::1]:8443"),
        ("[0:0:0:0:0:0:0:1]:443", "[::1]"),
        ("[2001:DB8::1]", "[2001:db8::1]"),
        ("Bücher.Example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("bücher.example.", "xn--bcher-kva.example"),
        ("_dmarc.remote.test", "_dmarc.remote.test"),
    ],
)
def test_normalize_host_accepts(value: str, expected: str) -> None:
    assert normalize_host(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "mastodon.so/cial",  # CVE-2023-42451: must not become mastodon.social
        "remote.t/est",
        "remote.test@evil.test",  # CVE-2023-42451: userinfo
        "user:pass@remote.test",
        "https://remote.test/",
        "remote.test?x",
        "remote.test#x",
        "remote.test\\evil.test",
        "",
        ".",
        "remote.test..",  # only ONE trailing dot is stripped
        "remote..test",
        "remote test",
        " remote.test",
        "remote.test\n",
        "remote\u200b.test",  # nameprep would silently delete the zero-width space
        "remote.test:",
        "remote.test:0",
        "remote.test:65536",
        "remote.test:https",
        "ftp://remote.test",
        "::1",  # IPv6 must be bracketed
        "[::1",
        "[fe80::1%25eth0]",
        "[not-an-ip]",
        "127.1",  # non-canonical IPv4 spellings
        "0177.0.0.1",
        "remote.te$t",
        "a" * 64 + ".test",
    ],
)
def test_normalize_host_rejects(value: str) -> None:
    with pytest.raises(ValueError):
        normalize_host(value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://remote.test/users/alice", "remote.test"),
        ("https://Remote.Test./users/alice", "remote.test"),
        ("https://remote.test:443/x", "remote.test"),
        ("http://remote.test:80/x", "remote.test"),
        ("https://remote.test:80/x", "remote.test:80"),
        ("http://127.0.0.1:8001/inbox", "127.0.0.1:8001"),
        ("https://[::1]:8443/x", "[::1]:8443"),
        ("https://mastodon.so/cial", "mastodon.so"),  # a path is a path, not a host
        ("https://remote.test?x=1", "remote.test"),
    ],
)
def test_host_of(url: str, expected: str) -> None:
    assert host_of(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "ftp://remote.test/x",
        "remote.test/users/alice",
        "https:///no-host",
        "https://remote.test@evil.test/users/alice",  # CVE-2023-42451: userinfo
        "https://evil.test\\@remote.test/",
        "https://remote.te\nst/x",  # urlsplit would silently drop the newline
        "https://remote.test:99999/",
        "",
    ],
)
def test_host_of_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        host_of(url)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("https://remote.test/users/a", "https://remote.test/notes/1", True),
        ("https://remote.test/users/a", "http://remote.test/notes/1", True),  # scheme-agnostic
        ("https://Remote.Test./a", "remote.test", True),
        ("https://remote.test:443/a", "remote.test", True),
        ("https://remote.test/a", "https://remote.test:8443/a", False),
        ("https://remote.test/a", "https://sub.remote.test/a", False),
        ("https://mastodon.social/a", "mastodon.so/cial", False),  # CVE-2023-42451
        ("https://remote.test/a", "https://remote.test@evil.test/a", False),
        ("https://evil.test/a", "https://remote.test@evil.test/a", False),
        ("https://bücher.example/a", "https://xn--bcher-kva.example/b", True),
        ("not a url", "not a url", False),  # invalid input never matches
        ("", "", False),
    ],
)
def test_same_origin(a: str, b: str, expected: bool) -> None:
    assert same_origin(a, b) is expected
    assert same_origin(b, a) is expected


def test_remembered_hosts_still_refuse_what_they_refused() -> None:
    # host_of/normalize_host remember results; a refusal must not be remembered as anything
    # else, and the same string must give the same answer every time.
    for _ in range(3):
        assert host_of("https://Remote.Test:443/users/a") == "remote.test"
        with pytest.raises(ValueError):
            host_of("https://remote.test@evil.test/users/a")
        with pytest.raises(ValueError):
            normalize_host("mastodon.so/cial")
    long_url = "https://remote.test/" + "a" * 5000  # longer than what is remembered: still checked
    assert host_of(long_url) == "remote.test"
    with pytest.raises(ValueError):
        host_of("https://remote.test@evil.test/" + "a" * 5000)
    with pytest.raises(ValueError):
        host_of(["https://remote.test/"])  # not a string: refused, not a TypeError from the cache
