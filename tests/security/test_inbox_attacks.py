"""Attacks on the inbox, each tried against a real instance over real HTTP, each refused.

Rows refer to /work/shared/reference/security-and-reliability.md ("Attack classes"). The attacker
is a FakeRemote (tests/support/remote.py) on 127.0.0.1; refusals must leave no InboxItem behind.
Every table carries, or sits next to, a control that is accepted, so a refusal never passes
because the harness itself is broken.
"""
from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import delete, func, select

from fedisupport import db
from fedisupport.activitypub.fetch import SafeClient
from fedisupport.domain import accounts
from fedisupport.domain.accounts import INSTANCE_ACTOR_USERNAME, local_actor_by_name
from fedisupport.models import Actor, Community, Delivery, Follow, InboxItem, Post
from fedisupport.outbox.publish import activity as new_activity, inboxes_of, publish
from fedisupport.remote.actors import get_actor
from fedisupport.remote.keys import KeyCache
from fedisupport.worker import Worker
from tests.support.instances import running_instance
from tests.support.remote import FakeRemote, keypair, signed_post
from tests.support.waiting import wait_for


# Every test and fixture here shares one event loop per module, so most tests can share one
# instance: starting and stopping a server costs about half a second, and these tables are long.
pytestmark = pytest.mark.asyncio(loop_scope="module")


# --------------------------------------------------------------------------
# Fixtures and helpers

@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def _shared(databases, tmp_path_factory):
    async with running_instance(databases, tmp_path_factory.mktemp("shared-instance")) as inst:
        yield inst


@pytest_asyncio.fixture(loop_scope="module")
async def instance(_shared):
    """One real instance shared by the module, emptied of received activities and cached keys.

    Each test talks to its own FakeRemote (a new port, so new actor ids), so nothing a previous
    test left behind can make a refusal pass or fail.
    """
    async with db.transaction(_shared.sessions) as session:
        await session.execute(delete(InboxItem))
    _shared.services.keys = KeyCache()
    yield _shared


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def private_off(databases, tmp_path_factory):
    """An instance as deployed: outbound requests only over https to public addresses."""
    async with running_instance(databases, tmp_path_factory.mktemp("private-off"),
                                allow_private_addresses=False) as inst:
        yield inst


@pytest_asyncio.fixture(loop_scope="module")
async def fresh(start_instance):
    """An instance of the test's own, for tests that look at what the worker did."""
    async with start_instance() as inst:
        yield inst


@pytest_asyncio.fixture(loop_scope="module")
async def remote():
    async with FakeRemote() as fake:
        yield fake


@pytest_asyncio.fixture(loop_scope="module")
async def other_remote():
    """A second fake server: another host (another port on 127.0.0.1 is another origin)."""
    async with FakeRemote() as fake:
        yield fake


async def items(inst) -> list[InboxItem]:
    async with inst.sessions() as session:
        return list(await session.scalars(select(InboxItem).order_by(InboxItem.id)))


async def item_count(inst) -> int:
    async with inst.sessions() as session:
        return await session.scalar(select(func.count()).select_from(InboxItem))


async def settled(inst, count: int = 1) -> list[InboxItem]:
    """Wait until `count` items exist and the worker has finished every one of them."""
    async def check():
        rows = await items(inst)
        return rows if len(rows) >= count and all(r.state != "queued" for r in rows) else None
    inst.services.work_available.set()
    return await wait_for(check)


async def make_community(inst, name: str) -> str:
    async with db.transaction(inst.sessions) as session:
        await accounts.create_community(session, inst.settings, name, name.title())
    return inst.url(f"/c/{name}")


async def store_remote_actor(inst, ap_id: str) -> None:
    async with db.transaction(inst.sessions) as session:
        await get_actor(inst.services, session, ap_id)


async def actor_row(inst, ap_id: str) -> Actor | None:
    async with inst.sessions() as session:
        return await session.scalar(select(Actor).where(Actor.ap_id == ap_id))


def follow_of(remote: FakeRemote, name: str, inst) -> dict:
    return remote.activity(name, "Follow", inst.url("/actor"))


def error_of(response: httpx.Response) -> str:
    return response.json().get("error", "")


# --------------------------------------------------------------------------
# Control: the harness produces requests the instance accepts

async def test_control_a_correctly_signed_activity_is_accepted_and_stored_once(instance, remote):
    """Control for every refusal below: a well-signed POST from the fake remote is 202 and stored."""
    remote.add_actor("alice")
    follow = follow_of(remote, "alice", instance)
    first = await signed_post(remote, "alice", instance.url("/inbox"), follow)
    assert first.status_code == 202, first.text
    stored = await items(instance)
    assert [(i.ap_id, i.actor_ap_id) for i in stored] == [(follow["id"], remote.url("/users/alice"))]


# --------------------------------------------------------------------------
# Row 1 — actor spoofing, CVE-2024-23832: the signing key must belong to the activity's actor

def _signed_by_alice_as_bob(remote, other):
    remote.add_actor("alice")
    remote.add_actor("bob")
    return "bob", "alice", {}


def _key_document_names_bob_but_bob_lists_another_key(remote, other):
    bob = remote.add_actor("bob")
    attacker = keypair("mallory")
    remote.serve("/keys/evil", {"id": remote.url("/keys/evil"), "owner": bob.id, "publicKeyPem": attacker.public_pem})
    return "bob", "bob", {"key": attacker, "key_id": remote.url("/keys/evil")}


def _actor_document_whose_key_block_names_bob(remote, other):
    remote.add_actor("bob")
    remote.add_actor("mallory", owner=remote.url("/users/bob"))  # publicKey.owner = bob
    return "bob", "mallory", {}


def _unfetchable_key_404(remote, other):
    remote.add_actor("ghost")
    remote.remove("/users/ghost")
    return "ghost", "ghost", {}


def _key_gone_410(remote, other):
    remote.add_actor("ghost")
    remote.serve("/users/ghost", {"type": "Tombstone"}, status=410)
    return "ghost", "ghost", {}


def _key_id_on_another_host_than_the_actor(remote, other):
    remote.add_actor("alice")
    twin = other.add_actor("alice")  # same name, other host, its own key
    return "alice", "alice", {"key": twin.key, "key_id": twin.key_id}


def _key_on_another_host_claims_the_actor(remote, other):
    attacker = keypair("mallory")
    key_id = other.url("/keys/alice")
    # Even with the actor pointing at it, a key on another host is not the actor's to use.
    remote.add_actor("alice", key=attacker, key_id=key_id)
    other.serve("/keys/alice", {"id": key_id, "owner": remote.url("/users/alice"), "publicKeyPem": attacker.public_pem})
    return "alice", "alice", {}


@pytest.mark.parametrize("scenario, reason", [
    (_signed_by_alice_as_bob, "does not belong to the activity's actor"),
    (_key_document_names_bob_but_bob_lists_another_key, "does not list this key"),
    (_actor_document_whose_key_block_names_bob, "does not list this key"),
    (_unfetchable_key_404, "HTTP 404"),
    (_key_gone_410, "HTTP 410"),
    (_key_id_on_another_host_than_the_actor, "does not belong to the activity's actor"),
    (_key_on_another_host_claims_the_actor, "another host"),
], ids=lambda v: v.__name__.strip("_") if callable(v) else None)
async def test_row1_key_not_owned_by_the_actor_is_refused(instance, remote, other_remote, scenario, reason):
    """Row 1 (CVE-2024-23832, GHSA-3fjr-858r-92rw): keyId → key → owner, and the owner must list the key."""
    claimed, signer, post_kwargs = scenario(remote, other_remote)
    activity = follow_of(remote, claimed, instance)
    response = await signed_post(remote, signer, instance.url("/inbox"), activity, **post_kwargs)
    assert response.status_code == 401, response.text
    assert reason in error_of(response)
    assert await item_count(instance) == 0  # never queued (Takahē queues these; we don't)


async def test_row1_an_actor_claiming_anothers_key_id_cannot_lock_them_out(start_instance, remote, other_remote):
    """Row 1 (key-id squatting): mallory's profile names bob's keyId as her own key.

    Fetched through an Update, that row used to answer every later lookup of bob's keyId with
    owner = mallory, so bob — never seen here before — got 401 for every delivery, forever.
    """
    bob = remote.add_actor("bob")
    mallory = other_remote.add_actor("mallory")
    async with start_instance(run_worker_in_serve=False) as inst:
        update = other_remote.activity("mallory", "Update", mallory.id)
        assert (await signed_post(other_remote, "mallory", inst.url("/inbox"), update)).status_code == 202
        other_remote.add_actor("mallory", key_id=bob.key_id)  # publicKey {id: bob's key, owner: mallory}
        await Worker(inst.services).run_inbox_batch()  # the Update refetches mallory from her origin
        follow = remote.activity("bob", "Follow", inst.url("/actor"))
        response = await signed_post(remote, "bob", inst.url("/inbox"), follow)
        assert response.status_code == 202, response.text
        row = await actor_row(inst, mallory.id)
        assert row.key_id != bob.key_id


async def test_row1_a_rotated_out_key_stops_verifying(instance, remote):
    """Row 1/2 (key rotation): once the actor lists a new key, the old one must stop working.

    Rotation is what an actor does after its key leaks; the old key used to stay in the key
    cache and keep verifying until evicted.
    """
    alice = remote.add_actor("alice")
    old_key, old_key_id = alice.key, alice.key_id
    first = follow_of(remote, "alice", instance)
    assert (await signed_post(remote, "alice", instance.url("/inbox"), first)).status_code == 202
    remote.add_actor("alice", key=keypair("alice-rotated"), key_id=alice.id + "#key-2")
    update = remote.activity("alice", "Update", alice.id)
    assert (await signed_post(remote, "alice", instance.url("/inbox"), update)).status_code == 202
    stolen = follow_of(remote, "alice", instance)
    response = await signed_post(remote, "alice", instance.url("/inbox"), stolen, key=old_key, key_id=old_key_id)
    assert response.status_code == 401, response.text
    assert [i.ap_id for i in await items(instance)] == [first["id"], update["id"]]


# --------------------------------------------------------------------------
# Row 2 — unsigned, tampered or replayed requests

def _now() -> datetime:
    return datetime.now(UTC)


ROW2 = {
    "unsigned": (dict(sign=False), "not signed"),
    "signature_header_dropped": (dict(headers_override={"Signature": None}), "not signed"),
    "tampered_body": (dict(tamper=lambda body: body.replace(b'"Follow"', b'"Block"')), "Digest does not match"),
    "digest_not_signed": (dict(cover_digest=False), "does not cover digest"),
    "digest_header_dropped": (dict(headers_override={"Digest": None}), "Digest header is missing"),
    "date_13h_old": (dict(date=lambda: _now() - timedelta(hours=13)), "too old"),
    "date_2h_ahead": (dict(date=lambda: _now() + timedelta(hours=2)), "future"),
    "date_unparseable": (dict(date=lambda: "yesterday, around noon"), "not a valid HTTP date"),
    "date_header_dropped": (dict(headers_override={"Date": None}), "Date header is missing"),
    "wrong_path_in_request_target": (dict(sign_url=lambda i: i.url("/u/someone/inbox")), "does not verify"),
    "signed_over_another_method": (dict(sign_method="GET"), "does not verify"),
    "signed_with_another_key": (dict(key=lambda: keypair("mallory")), "does not verify"),
    # A signature made for another server, replayed here with the Host it signed.
    "signed_for_another_host": (dict(sign_url=lambda i: "http://elsewhere.example/inbox"), "Host"),
}


@pytest.mark.parametrize("case", list(ROW2))
async def test_row2_bad_signatures_are_refused(instance, remote, case):
    """Row 2 (Mastodon signature_verification_spec: tampered body, old Date, wrong path/method/host)."""
    remote.add_actor("alice")
    kwargs, reason = ROW2[case]
    kwargs = dict(kwargs)
    if callable(kwargs.get("date")):
        kwargs["date"] = kwargs["date"]()
    if callable(kwargs.get("key")):
        kwargs["key"] = kwargs["key"]()
    if callable(kwargs.get("sign_url")):
        kwargs["sign_url"] = kwargs["sign_url"](instance)
    response = await signed_post(remote, "alice", instance.url("/inbox"), follow_of(remote, "alice", instance), **kwargs)
    assert response.status_code == 401, response.text
    assert reason in error_of(response)
    assert await item_count(instance) == 0


async def test_row2_dates_inside_the_window_are_accepted(instance, remote):
    """Row 2 control: 11 h old and 50 min ahead are inside Mastodon's 12 h / 1 h window."""
    remote.add_actor("alice")
    for date in (_now() - timedelta(hours=11), _now() + timedelta(minutes=50)):
        response = await signed_post(remote, "alice", instance.url("/inbox"), follow_of(remote, "alice", instance),
                                     date=date)
        assert response.status_code == 202, response.text
    assert await item_count(instance) == 2


async def test_row2_the_same_signed_post_twice_is_stored_once(instance, remote):
    """Row 2 (replay): the identical signed request twice → both 202, one InboxItem (unique ap_id)."""
    remote.add_actor("alice")
    follow = follow_of(remote, "alice", instance)
    date = _now()
    responses = [await signed_post(remote, "alice", instance.url("/inbox"), follow, date=date) for _ in range(2)]
    assert [r.status_code for r in responses] == [202, 202]
    assert [i.ap_id for i in await items(instance)] == [follow["id"]]


# --------------------------------------------------------------------------
# Row 3 — objects on another host than their actor

async def test_row3_activity_id_on_another_host_is_refused(instance, remote, other_remote):
    """Row 3: an activity's id must live on its actor's host (content spoofing)."""
    remote.add_actor("alice")
    follow = follow_of(remote, "alice", instance)
    follow["id"] = other_remote.url("/activities/forged")
    response = await signed_post(remote, "alice", instance.url("/inbox"), follow)
    assert response.status_code == 400, response.text
    assert "not on the actor's host" in error_of(response)
    assert await item_count(instance) == 0


@pytest.mark.parametrize("where", ["same_host", "other_host"])
async def test_row3_update_of_another_actor_is_rejected(instance, remote, other_remote, where):
    """Row 3/4: Update(actor) whose object is another actor → item `rejected`, that actor unchanged."""
    remote.add_actor("alice")
    host = remote if where == "same_host" else other_remote
    bob = host.add_actor("bob")
    await store_remote_actor(instance, bob.id)
    forged = dict(bob.doc, name="Pwned", summary="pwned", inbox=host.url("/attacker/inbox"))
    update = remote.activity("alice", "Update", forged)
    response = await signed_post(remote, "alice", instance.url("/inbox"), update)
    assert response.status_code == 202, response.text
    [item] = await settled(instance)
    assert item.state == "rejected" and "only update itself" in item.error
    row = await actor_row(instance, bob.id)
    assert (row.display_name, row.summary, row.inbox_url) == ("Bob", "", bob.doc["inbox"])


async def test_row3_delete_of_an_actor_on_another_host_is_rejected(instance, remote, other_remote):
    """Row 3: Delete of another host's actor → `rejected`, the actor is not removed."""
    remote.add_actor("alice")
    bob = other_remote.add_actor("bob")
    await store_remote_actor(instance, bob.id)
    response = await signed_post(remote, "alice", instance.url("/inbox"), remote.activity("alice", "Delete", bob.id))
    assert response.status_code == 202, response.text
    [item] = await settled(instance)
    assert item.state == "rejected" and "its own objects" in item.error
    assert (await actor_row(instance, bob.id)).deleted_at is None


async def test_row3_undo_of_another_actors_follow_is_rejected(fresh, remote):
    """Row 3: Undo of someone else's Follow → `rejected`; the follow and the member count stay."""
    remote.add_actor("alice")
    remote.add_actor("bob")
    hope = await make_community(fresh, "hope")
    bobs_follow = remote.activity("bob", "Follow", hope)
    assert (await signed_post(remote, "bob", fresh.url("/inbox"), bobs_follow)).status_code == 202
    await settled(fresh, 1)
    for undo_object in (bobs_follow, bobs_follow["id"]):  # embedded, and by reference
        undo = remote.activity("alice", "Undo", undo_object)
        assert (await signed_post(remote, "alice", fresh.url("/inbox"), undo)).status_code == 202
    rows = await settled(fresh, 3)
    assert [r.state for r in rows] == ["done", "rejected", "rejected"], [r.error for r in rows]
    async with fresh.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Follow)) == 1
        assert await session.scalar(select(Community.member_count).where(Community.name == "hope")) == 1


async def posts(inst) -> list[str]:
    async with inst.sessions() as session:
        return list(await session.scalars(select(Post.ap_id)))


def _note(host: FakeRemote, author: str, path: str, community: str) -> dict:
    return {"id": host.url(path), "type": "Note", "attributedTo": host.url(f"/users/{author}"),
            "content": "<p>hello</p>", "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [community], "audience": community}


async def test_row3_create_of_a_note_attributed_to_another_host_is_rejected(fresh, remote, other_remote):
    """Row 3/4: Create whose embedded Note lives on another host → fetched from that host; 404 → nothing stored.

    A second Create embeds a Note on the sender's host but attributed to someone elsewhere →
    rejected. A control Create of the sender's own Note is stored.
    """
    remote.add_actor("alice")
    other_remote.add_actor("bob")
    hope = await make_community(fresh, "hope")
    foreign = remote.activity("alice", "Create", _note(other_remote, "bob", "/notes/1", hope))
    misattributed = remote.activity("alice", "Create", _note(remote, "alice", "/notes/2", hope)
                                    | {"attributedTo": other_remote.url("/users/bob")})
    own = remote.activity("alice", "Create", _note(remote, "alice", "/notes/3", hope))
    for create in (foreign, misattributed, own):
        assert (await signed_post(remote, "alice", fresh.url("/inbox"), create)).status_code == 202
    rows = await settled(fresh, 3)
    assert [r.state for r in rows] == ["rejected", "rejected", "done"], [r.error for r in rows]
    assert other_remote.fetches("/notes/1") == 1  # asked the origin; never took the embedded copy
    assert await posts(fresh) == [remote.url("/notes/3")]


# --------------------------------------------------------------------------
# Row 5 — fetched-document spoofing (content type, id ≠ URL, redirects)

def _served_as_plain_json(inst, remote, other):
    remote.add_actor("alice", content_type="application/json")


def _served_as_html(inst, remote, other):
    remote.add_actor("alice", content_type="text/html")


def _id_is_on_another_host(inst, remote, other):
    alice = remote.add_actor("alice")
    remote.serve("/users/alice", dict(alice.doc, id=f"http://localhost:{other.port}/users/alice"))


def _id_is_on_another_port(inst, remote, other):
    # Same host name, so the id is fetched once from where it claims to live; that origin
    # does not confirm it (404), so the claim fails.
    alice = remote.add_actor("alice")
    remote.serve("/users/alice", dict(alice.doc, id=other.url("/users/alice")))


def _redirect_to_another_host(inst, remote, other):
    alice = remote.add_actor("alice")
    twin = dict(alice.doc, id=other.url("/users/alice"))
    twin["publicKey"] = dict(alice.doc["publicKey"], owner=twin["id"])
    other.serve("/users/alice", twin)
    remote.redirect("/users/alice", other.url("/users/alice"))


def _redirect_to_another_host_claiming_the_original_id(inst, remote, other):
    alice = remote.add_actor("alice")
    other.serve("/users/alice", alice.doc)
    remote.redirect("/users/alice", other.url("/users/alice"))


def _redirect_to_our_own_host(inst, remote, other):
    # Akkoma's contain_local_fetch case: our own instance actor must never pass as a remote key.
    remote.add_actor("alice")
    remote.redirect("/users/alice", inst.url("/actor"))


@pytest.mark.parametrize("scenario, reason", [
    (_served_as_plain_json, "content type"),
    (_served_as_html, "content type"),
    (_id_is_on_another_host, "id does not match"),
    (_id_is_on_another_port, "HTTP 404"),
    (_redirect_to_another_host, "different hosts"),
    (_redirect_to_another_host_claiming_the_original_id, "id does not match"),
    (_redirect_to_our_own_host, "does not list this key"),
], ids=lambda v: v.__name__.strip("_") if callable(v) else None)
async def test_row5_spoofed_key_documents_are_refused(instance, remote, other_remote, scenario, reason):
    """Row 5 (CVE-2024-23832 fix: AP content type only; id must equal the final URL; redirects)."""
    scenario(instance, remote, other_remote)
    response = await signed_post(remote, "alice", instance.url("/inbox"), follow_of(remote, "alice", instance))
    assert response.status_code == 401, response.text
    assert reason in error_of(response)
    assert await item_count(instance) == 0


# --------------------------------------------------------------------------
# Row 6 — host-normalisation confusion at the inbox

@pytest.mark.parametrize("spelling", [
    "http://{domain}@evil.test/users/alice",
    "http://evil.test@{domain}/users/alice",
    "http://{domain}\\@evil.test/users/alice",
    "http://{domain}/users/ali\nce",
])
async def test_row6_actor_with_userinfo_or_junk_is_refused(instance, remote, spelling):
    """Row 6 (CVE-2023-42451 class): an actor URL with userinfo or control characters → 400."""
    remote.add_actor("alice")
    follow = follow_of(remote, "alice", instance)
    follow["actor"] = spelling.format(domain=remote.domain)
    follow.pop("id")  # no id, so only the actor can be what is refused
    response = await signed_post(remote, "alice", instance.url("/inbox"), follow)
    assert response.status_code == 400, response.text
    assert "actor is not a valid URL" in error_of(response)
    assert await item_count(instance) == 0


async def test_row6_key_id_with_userinfo_is_refused_without_a_fetch(instance, remote):
    """Row 6: a keyId spelled with userinfo is never fetched (would reach the host after '@')."""
    remote.add_actor("alice")
    key_id = f"http://evil.test@{remote.domain}/users/alice#main-key"
    response = await signed_post(remote, "alice", instance.url("/inbox"), follow_of(remote, "alice", instance),
                                 key_id=key_id)
    assert response.status_code == 401, response.text
    assert "userinfo" in error_of(response)
    assert remote.requests == []
    assert await item_count(instance) == 0


# --------------------------------------------------------------------------
# Row 7 — SSRF through keyId

@pytest.mark.parametrize("key_host, reason", [
    ("https://127.0.0.1:{port}", "forbidden address"),
    ("https://localhost:{port}", "forbidden address"),
    ("https://[::1]:{port}", "forbidden address"),
    ("https://[::ffff:127.0.0.1]:{port}", "forbidden address"),
    ("https://[::]:{port}", "forbidden address"),
    ("https://10.0.0.1", "forbidden address"),
    ("https://169.254.169.254", "forbidden address"),
    ("https://100.64.0.1", "forbidden address"),
    ("http://127.0.0.1:{port}", "scheme not allowed"),
])
async def test_row7_key_id_at_a_private_address_is_never_fetched(private_off, remote, key_host, reason):
    """Row 7 (Mastodon #5482, CVE-2026-22245, CVE-2026-46348): keyId → private address → 401, no connection."""
    inst = private_off
    remote.add_actor("alice")
    actor = key_host.format(port=remote.port) + "/users/alice"
    activity = {"@context": "https://www.w3.org/ns/activitystreams", "id": actor + "/follows/1",
                "type": "Follow", "actor": actor, "object": inst.url("/actor")}
    started = time.monotonic()
    response = await signed_post(remote, "alice", inst.url("/inbox"), activity, key_id=actor + "#main-key")
    assert response.status_code == 401, response.text
    assert reason in error_of(response)
    assert time.monotonic() - started < 5  # refused, not timed out
    assert await item_count(inst) == 0
    assert remote.connections == 0 and remote.requests == []


# --------------------------------------------------------------------------
# Row 8 — huge and hostile payloads

async def _raw_post(inst, head: str, chunks, *, timeout: float = 10) -> tuple[int, int]:
    """Send a hand-made request; return (status, body bytes sent before the answer came)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", inst.settings.port)
    answer = asyncio.ensure_future(reader.readline())
    sent = 0
    try:
        writer.write(head.encode("latin-1"))
        for chunk in chunks:
            if answer.done():
                break
            writer.write(chunk)
            sent += len(chunk)
            try:
                await writer.drain()
            except ConnectionError:
                break
        status_line = await asyncio.wait_for(answer, timeout)
    finally:
        answer.cancel()
        writer.close()
    return int(status_line.split()[1]), sent


def _head(inst, extra: str) -> str:
    return (f"POST /inbox HTTP/1.1\r\nHost: {inst.settings.domain}\r\n"
            f"Content-Type: application/activity+json\r\n{extra}\r\n")


async def test_row8_declared_length_over_the_cap_is_refused_before_the_body(instance):
    """Row 8 (Mastodon body_with_limit "monolithic body"): Content-Length over the cap → 413 at once."""
    cap = instance.settings.max_inbox_bytes
    status, sent = await _raw_post(instance, _head(instance, f"Content-Length: {cap * 50}\r\n"), [b"{" * 10])
    assert status == 413
    assert sent == 10  # answered without waiting for the other 49 MB
    assert await item_count(instance) == 0


async def test_row8_chunked_body_over_the_cap_is_refused_while_streaming(instance):
    """Row 8 (Mastodon "rejects too large chunked body"): no length, cut off once over the cap."""
    cap = instance.settings.max_inbox_bytes
    piece = b"x" * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    # Three times the cap and never terminated: a server that waits for the end never answers.
    unterminated = (chunk for _ in range(3 * cap // len(piece)))
    status, _ = await _raw_post(instance, _head(instance, "Transfer-Encoding: chunked\r\n"), unterminated)
    assert status == 413
    assert await item_count(instance) == 0


def _nested(depth: int) -> bytes:
    return b'{"type":"Follow","actor":"ACTOR","object":' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("body, status, reason", [
    (b"[" * 10_000 + b"]" * 10_000, 400, "nested too deeply"),
    (_nested(10_000), 400, "nested too deeply"),
    (_nested(100), 400, "nested too deeply"),
    (b'["Follow"]', 400, "must be a JSON object"),
    (b'"Follow"', 400, "must be a JSON object"),
    (b"42", 400, "must be a JSON object"),
    (b"null", 400, "must be a JSON object"),
    (b"{not json", 400, "not UTF-8 JSON"),
    (b"\xff\xfe{}", 400, "not UTF-8 JSON"),
], ids=["deep_array", "deep_in_object", "depth_100", "array", "string", "number", "null", "garbage", "bad_utf8"])
async def test_row8_hostile_json_is_refused(instance, remote, body, status, reason):
    """Row 8: depth limit (catching RecursionError) and object-only bodies → 400, signed or not."""
    remote.add_actor("alice")
    body = body.replace(b"ACTOR", remote.url("/users/alice").encode())
    response = await signed_post(remote, "alice", instance.url("/inbox"), body)
    assert response.status_code == status, response.text
    assert reason in error_of(response)
    assert await item_count(instance) == 0


def _poison(kind: str, follow: dict) -> bytes:
    if kind == "utf16_body":
        return json.dumps(follow).encode("utf-16")  # json.loads(bytes) reads UTF-16 too
    if kind == "utf8_bom":
        return b"\xef\xbb\xbf" + json.dumps(follow).encode()
    if kind == "surrogate_bytes_in_a_string":  # CESU-style bytes; json.loads(bytes) passes them
        return json.dumps(follow | {"summary": "SURROGATE"}).encode().replace(b"SURROGATE", b"\xed\xa0\x80")
    if kind == "lone_surrogate_escape_in_id":
        return json.dumps(follow | {"id": follow["id"] + "\ud800"}).encode()
    if kind == "nul_in_type":
        return json.dumps(follow | {"type": "Fol\u0000low"}).encode()
    if kind == "lone_surrogate_in_type":
        return json.dumps(follow | {"type": "Follow\udfff"}).encode()
    raise AssertionError(kind)


POISON = ["utf16_body", "utf8_bom", "surrogate_bytes_in_a_string", "lone_surrogate_escape_in_id", "nul_in_type",
          "lone_surrogate_in_type"]


@pytest.mark.parametrize("kind", POISON)
async def test_row8_text_the_database_cannot_store_is_refused(instance, remote, kind):
    """Row 8: bodies that parse but cannot be stored as UTF-8 text → 400, not a 500 from the writer."""
    remote.add_actor("alice")
    body = _poison(kind, follow_of(remote, "alice", instance))
    response = await signed_post(remote, "alice", instance.url("/inbox"), body)
    assert response.status_code == 400, response.text
    assert await item_count(instance) == 0


async def test_row8_one_poisoned_activity_does_not_fail_its_batch(instance, remote):
    """Row 8 (group commit): an unstorable activity must not turn its neighbours' 202s into 500s."""
    remote.add_actor("alice")
    assert (await signed_post(remote, "alice", instance.url("/inbox"), follow_of(remote, "alice", instance))
            ).status_code == 202  # key cached, so the next POSTs reach the writer together
    good = [follow_of(remote, "alice", instance) for _ in range(10)]
    poisoned = [_poison(kind, follow_of(remote, "alice", instance)) for kind in POISON]
    responses = await asyncio.gather(*(signed_post(remote, "alice", instance.url("/inbox"), doc)
                                       for doc in [*poisoned, *good]))
    statuses = [r.status_code for r in responses]
    assert statuses[len(poisoned):] == [202] * len(good), statuses
    assert await item_count(instance) == 1 + len(good)


@pytest.mark.parametrize("field", ["name", "summary", "preferredUsername"])
@pytest.mark.parametrize("text, stored", [("Al\u0000ice", "Alice"), ("Al\ud800ice", "Al?ice")], ids=["nul", "surrogate"])
async def test_row8_unstorable_text_in_a_fetched_actor_is_cleaned(instance, remote, field, text, stored):
    """Row 8: a NUL or lone surrogate in the signer's name or summary used to make storing the actor
    fail, so its every POST answered 500 (and was retried by the sender) instead of 202."""
    remote.add_actor("alice", **{field: text})
    response = await signed_post(remote, "alice", instance.url("/inbox"), follow_of(remote, "alice", instance))
    assert response.status_code == 202, response.text
    row = await actor_row(instance, remote.url("/users/alice"))
    column = {"name": "display_name", "summary": "summary", "preferredUsername": "username"}[field]
    assert getattr(row, column) == stored


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "text/html", ""])
async def test_row8_wrong_content_type_is_refused(instance, remote, content_type):
    """Row 8: only ActivityPub/JSON media types reach the parser → 415."""
    remote.add_actor("alice")
    response = await signed_post(remote, "alice", instance.url("/inbox"), follow_of(remote, "alice", instance),
                                 content_type=content_type)
    assert response.status_code == 415, response.text
    assert await item_count(instance) == 0


# --------------------------------------------------------------------------
# Row 11 — slow-loris key servers

@pytest_asyncio.fixture(loop_scope="module")
async def short_deadline(instance):
    """The instance's fetch client with a 1 s overall deadline (0.7 s per read).

    Settings have no knob for SafeClient's deadline (make_client uses the 30 s default), so the
    test swaps the client; everything else about it is what make_client builds.
    """
    original = instance.services.client
    client = SafeClient(allow_private=True, deadline=1.0,
                        timeout=httpx.Timeout(connect=0.7, read=0.7, write=0.7, pool=0.7))
    instance.services.client = client
    try:
        yield instance
    finally:
        instance.services.client = original
        await client.aclose()


@pytest.mark.parametrize("mode, reason", [("trickle", "deadline exceeded"), ("stall", "timeout")])
async def test_row11_slow_key_server_is_abandoned_at_the_deadline(short_deadline, remote, mode, reason):
    """Row 11 (CVE-2023-36461): a key server trickling 1 byte / 0.2 s, or silent, → 401 at the deadline."""
    inst = short_deadline
    slow = remote.add_actor("slow")
    if mode == "trickle":
        remote.trickle("/users/slow", slow.doc, interval=0.2)
    else:
        remote.stall("/users/slow")
    started = time.monotonic()
    response = await asyncio.wait_for(
        signed_post(remote, "slow", inst.url("/inbox"), follow_of(remote, "slow", inst)), 40)
    elapsed = time.monotonic() - started
    assert response.status_code == 401, response.text
    assert reason in error_of(response)
    assert elapsed < 3, elapsed
    assert remote.fetches("/users/slow") == 1
    assert await item_count(inst) == 0


async def test_row11_stalled_key_server_with_the_default_client(instance, remote):
    """Row 11 (CVE-2023-36461) with the client make_client builds: a silent key server → 401 at the read timeout.

    No setting shortens the deadline, so this waits out the default 10 s read timeout (bounded at 40 s).
    """
    remote.add_actor("mute")
    remote.stall("/users/mute")
    started = time.monotonic()
    response = await asyncio.wait_for(
        signed_post(remote, "mute", instance.url("/inbox"), follow_of(remote, "mute", instance), timeout=45), 40)
    assert response.status_code == 401, response.text
    assert "timeout" in error_of(response)
    assert time.monotonic() - started < 31  # the 30 s overall deadline is the outer bound
    assert await item_count(instance) == 0


# --------------------------------------------------------------------------
# Row 12 — amplification

async def test_row12_one_delivery_per_shared_inbox(start_instance):
    """Row 12: 1,000 followers behind one sharedInbox → one Delivery (plus one per lone inbox)."""
    async with start_instance(run_worker_in_serve=False) as inst:
        async with db.transaction(inst.sessions) as session:
            author = await local_actor_by_name(session, inst.settings, INSTANCE_ACTOR_USERNAME)
            crowd = [Actor(ap_id=f"https://big.example/users/u{n}", kind="person", local=False, username=f"u{n}",
                           domain="big.example", inbox_url=f"https://big.example/users/u{n}/inbox",
                           shared_inbox_url="https://big.example/inbox") for n in range(1000)]
            loners = [Actor(ap_id=f"https://small{n}.example/users/solo", kind="person", local=False,
                            username="solo", domain=f"small{n}.example",
                            inbox_url=f"https://small{n}.example/users/solo/inbox") for n in range(3)]
            session.add_all(crowd + loners)
            await session.flush()
            followers = crowd[:500] + loners + crowd[500:] + [author]  # a local one is never delivered to
            doc = new_activity(inst.settings, "Announce", author, inst.url("/activities/x"))
            stored = await publish(session, inst.settings, author, doc, inboxes_of(followers))
            stored_id = stored.id
        async with inst.sessions() as session:
            rows = (await session.execute(select(Delivery.inbox_url, Delivery.host)
                                          .where(Delivery.activity_id == stored_id))).all()
    assert sorted(rows) == sorted([("https://big.example/inbox", "big.example")]
                                  + [(f"https://small{n}.example/users/solo/inbox", f"small{n}.example")
                                     for n in range(3)])


async def test_row12_concurrent_first_contact_fetches_the_key_once(instance, remote):
    """Row 12 (Mastodon #5482 fetch storms): 20 simultaneous POSTs from a new actor → one key fetch."""
    remote.add_actor("carol")
    adds = [remote.activity("carol", "Add", instance.url(f"/p/{n}")) for n in range(20)]  # stored, then ignored
    responses = await asyncio.gather(*(signed_post(remote, "carol", instance.url("/inbox"), add) for add in adds))
    assert [r.status_code for r in responses] == [202] * 20, [r.text for r in responses if r.status_code != 202]
    assert remote.fetches("/users/carol") == 1
    await settled(instance, 20)  # the worker finds the stored actor; still no second fetch
    # (A NodeInfo lookup of the new host may happen too; that is not a fetch of the actor or key.)
    assert [r.path for r in remote.requests if r.path != "/.well-known/nodeinfo"] == ["/users/carol"]


async def test_row12_failing_keys_are_not_fetched_once_per_request(instance, remote):
    """Row 12 (Mastodon #5482): bad requests must not make us fetch from a host once per request.

    A keyId that 404s is remembered for a minute; a known key that does not verify is refetched
    at most once a minute (enough to follow a rotation)."""
    remote.add_actor("dora")
    missing = remote.url("/keys/nobody")
    for n in range(5):
        response = await signed_post(remote, "dora", instance.url("/inbox"),
                                     remote.activity("dora", "Add", instance.url(f"/p/{n}")), key_id=missing + "#k")
        assert response.status_code == 401
    assert remote.fetches("/keys/nobody") == 1

    wrong = keypair("a stranger's key")
    for n in range(5):
        response = await signed_post(remote, "dora", instance.url("/inbox"),
                                     remote.activity("dora", "Add", instance.url(f"/q/{n}")), key=wrong)
        assert response.status_code == 401
    assert remote.fetches("/users/dora") == 2  # first contact, then one refetch


# --------------------------------------------------------------------------
# Row 15 — duplicates

async def test_row15_the_same_activity_twice_concurrently_is_stored_once(instance, remote):
    """Row 15 (Lemmy ReceivedActivity ON CONFLICT DO NOTHING): two concurrent copies → one InboxItem."""
    remote.add_actor("alice")
    follow = follow_of(remote, "alice", instance)
    responses = await asyncio.gather(*(signed_post(remote, "alice", instance.url("/inbox"), follow) for _ in range(2)))
    assert [r.status_code for r in responses] == [202, 202]
    assert [i.ap_id for i in await items(instance)] == [follow["id"]]


async def test_row15_a_follow_delivered_twice_counts_once(fresh, remote):
    """Row 15: a Follow delivered twice (same id, concurrently) and re-sent (new id) → one Follow, counted once."""
    remote.add_actor("alice")
    hope = await make_community(fresh, "hope")
    follow = remote.activity("alice", "Follow", hope)
    twice = await asyncio.gather(*(signed_post(remote, "alice", fresh.url("/inbox"), follow) for _ in range(2)))
    assert [r.status_code for r in twice] == [202, 202]
    await settled(fresh, 1)
    resent = remote.activity("alice", "Follow", hope)  # a re-send after a lost Accept has a new id
    assert (await signed_post(remote, "alice", fresh.url("/inbox"), resent)).status_code == 202
    rows = await settled(fresh, 2)
    assert [r.state for r in rows] == ["done", "done"], [r.error for r in rows]
    async with fresh.sessions() as session:
        follows = list(await session.scalars(select(Follow)))
        assert len(follows) == 1 and follows[0].state == "accepted"
        assert await session.scalar(select(Community.member_count).where(Community.name == "hope")) == 1
        group = await session.scalar(select(Actor).where(Actor.ap_id == hope))
        alice = await session.scalar(select(Actor).where(Actor.ap_id == remote.url("/users/alice")))
        assert (group.follower_count, alice.following_count) == (1, 1)
