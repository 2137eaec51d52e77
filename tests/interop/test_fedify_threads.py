"""Interop with Fedify in a thread: a real Fedify app replies, reads every page of `replies`, likes
and deletes its reply, and receives the community's Announce of each.

What runs:
  - a real fedisupport instance (`start_instance(page_size=5)`: uvicorn on a free 127.0.0.1 port,
    plain http, `allow_private_addresses`), with a community "hope" and a thread by a local
    person with 12 direct replies (three pages of `replies`) and 2 replies to the first reply
    (which `replies` of the thread must not list);
  - `tests/interop/fedify/thread.mjs` under Node 22 with @fedify/fedify 1.10 (the `fedify_node`
    fixture; see test_fedify.py). Its header says what the Fedify app does, step by step.

Distribution is made deterministic through NodeInfo, not through the database: the Fedify app
serves NodeInfo with a forum software name ("lemmy"), our worker's NodeInfo check classifies its
host as forum (fedisupport/remote/instances.py FORUM_SOFTWARE), and the test waits at the
script's "followed" checkpoint until `Instance.software` is set. A forum follower receives every
activity wrapped in an Announce (FEP-1b12), which is what this test is about. Setting
`Community.microblog_distribution = "all"` instead would not do: microblog followers get an
Announce of the Note URL for new posts only, and no Announce at all of a Like or a Delete
(outbox/distribute.py `announce`).

Two variants: "open", and "authorized-fetch" (our posts and collections answer signed GETs only,
actors stay public), where Fedify reads the thread with its actor's authenticated document
loader, RFC 9421 signed.

The script stops at checkpoints (an event line on its stdout, and it waits for a line on its
stdin) so the test can wait for, or look at, the server's database at that moment.

Loopback only: see the header of test_fedify.py for the switches on both sides.
"""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from sqlalchemy import select

from fedisupport import db
from fedisupport.domain import accounts, actions
from fedisupport.models import Actor, Delivery, InboxItem, Instance, Like, OutboxActivity, Post

from tests.support.waiting import wait_for

from .conftest import FEDIFY_DIR, loopback_env

# The first run on a machine installs Fedify or fediverse-pasture from a registry (INSTALL_TIMEOUT).
pytestmark = pytest.mark.timeout(1200)

SCRIPT_TIMEOUT = 50  # seconds, for the whole Fedify run; the script gives up at 45
FORUM_NAME = "lemmy"
DIRECT_REPLIES = 12
NESTED_REPLIES = 2
PAGE_SIZE = 5


async def seed_thread(instance) -> Post:
    """Community "hope", a local person, a thread with direct and nested replies."""
    settings = instance.settings
    async with db.transaction(instance.sessions) as s:
        user = await accounts.create_user(s, settings, "maple", "a long enough password")
        author = await s.get(Actor, user.actor_id)
        community = await accounts.create_community(s, settings, "hope", "Hope", owner=author)
        thread = await actions.write_thread(s, settings, author, community, title="What helps on hard days",
                                            body="Share one small thing that helped you this week.")
        replies = [await actions.write_reply(s, settings, author, thread, body=f"Reply {n}: a walk, some tea.")
                   for n in range(1, DIRECT_REPLIES + 1)]
        for n in range(1, NESTED_REPLIES + 1):
            await actions.write_reply(s, settings, author, replies[0], body=f"Nested {n}: same here.")
    return thread


async def post_row(instance, **where) -> Post | None:
    async with instance.sessions() as session:
        return await session.scalar(select(Post).filter_by(**where))


async def run_thread_script(node, handle: str, thread_url: str, checkpoints, *,
                            signed_gets: bool = False) -> tuple[int, dict | None, list, str]:
    """Run thread.mjs, answering its checkpoints with `checkpoints[name](event)`; never blocks the loop.

    Returns (exit status, result, events, Fedify's log). A checkpoint callback that raises stops
    the script (its message goes to the script's stdin) and the error is raised after the
    script is gone.
    """
    proc = await asyncio.create_subprocess_exec(
        str(node), "thread.mjs", handle, thread_url, cwd=FEDIFY_DIR,
        env={**loopback_env(), "THREAD_TIMEOUT_MS": str((SCRIPT_TIMEOUT - 5) * 1000), "NODEINFO_SOFTWARE": FORUM_NAME,
             "SIGNED_GETS": "1" if signed_gets else "0"},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    events: list[dict] = []
    result: dict | None = None
    failure: BaseException | None = None
    stderr_task = asyncio.create_task(proc.stderr.read())  # drained alongside, so the pipe never fills

    async def converse() -> None:
        nonlocal result, failure
        async for raw in proc.stdout:
            line = raw.decode(errors="replace").strip()
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            events.append({**event, "at": time.monotonic()})
            if event.get("event") == "result":
                result = event
                continue
            answer = "continue"
            try:
                await checkpoints[event["event"]](event)
            except BaseException as exc:  # noqa: BLE001 - reported after the script stopped
                failure = exc
                answer = f"stop: {type(exc).__name__}"
            proc.stdin.write(answer.encode() + b"\n")
            await proc.stdin.drain()

    try:
        await asyncio.wait_for(asyncio.gather(converse(), proc.wait()), SCRIPT_TIMEOUT)
        code = proc.returncode
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        code = -1
    log = (await stderr_task).decode(errors="replace")
    if failure is not None:
        raise AssertionError(f"checkpoint failed: {failure}\n--- Fedify log ---\n{log[-6000:]}") from failure
    if code == -1:
        log = f"thread.mjs did not finish in {SCRIPT_TIMEOUT}s\n{log}"
    return code, result, events, log


@pytest.mark.parametrize("authorized_fetch", [False, True], ids=["open", "authorized-fetch"])
async def test_fedify_replies_walks_likes_and_deletes_in_a_thread(start_instance, fedify_node, authorized_fetch):
    async with start_instance(page_size=PAGE_SIZE, authorized_fetch=authorized_fetch) as instance:
        await check_thread_interop(instance, fedify_node, authorized_fetch)


async def check_thread_interop(instance, fedify_node, authorized_fetch: bool) -> None:
    thread = await seed_thread(instance)
    group_id = instance.url("/c/hope")
    handle = f"@hope@{instance.settings.domain}"
    seen: dict[str, object] = {}
    timings: dict[str, float] = {}
    async with instance.client() as client:  # an unsigned read, refused only with authorized fetch on
        unsigned = await client.get(thread.ap_id, headers={"Accept": "application/activity+json"})
    assert unsigned.status_code == (401 if authorized_fetch else 200), unsigned.text
    started = time.monotonic()

    async def followed(event: dict) -> None:
        # Our worker asks the new host for NodeInfo (every 5 s); until it has, the Fedify host
        # counts as microblog software and would get no Announce of a reply.
        host = event["actor"].split("/")[2]

        async def software() -> str | None:
            async with instance.sessions() as session:
                return await session.scalar(select(Instance.software).where(Instance.host == host))
        seen["software"] = await wait_for(software, timeout=15)
        timings["nodeinfo_known"] = time.monotonic() - started

    async def replied(event: dict) -> None:
        # The Announce of the Create reached Fedify, so the reply is stored and counted.
        reply = await post_row(instance, ap_id=event["noteId"])
        assert reply is not None, "the Fedify reply is not stored"
        seen["reply"] = (reply.thread_id, reply.parent_id, reply.is_thread, reply.local, reply.state, reply.depth)
        fresh = await post_row(instance, id=thread.id)
        seen["counts_after_reply"] = (fresh.reply_count, fresh.thread_reply_count)
        timings["replied"] = time.monotonic() - started

    code, result, events, log = await run_thread_script(
        fedify_node, handle, thread.ap_id, {"followed": followed, "replied": replied}, signed_gets=authorized_fetch)
    timings["script"] = time.monotonic() - started
    report = json.dumps(result, indent=2) + "\n--- Fedify log ---\n" + log[-8000:]
    assert code == 0 and result and result["ok"], report
    print(report)  # shown with -s, or on failure
    print("timings (s):", {k: round(v, 2) for k, v in timings.items()}, "script steps (ms):",
          {s["step"]: s["ms"] for s in result["steps"]})

    assert [e["event"] for e in events] == ["followed", "replied", "result"], events
    assert seen["software"] == FORUM_NAME, seen

    # --- What Fedify read: every page of `replies`, before and after the reply and its deletion.
    direct = [p.ap_id for p in await _direct_replies(instance, thread.id)]
    before, after_reply, after_delete = result["walks"]
    assert before["repliesId"] == thread.ap_id + "/replies", report
    assert before["totalItems"] == DIRECT_REPLIES and before["count"] == DIRECT_REPLIES, report
    assert [p["count"] for p in before["pages"]] == [5, 5, 2], report
    assert before["pages"][-1]["next"] is None and all(p["next"] for p in before["pages"][:-1]), report
    assert all(p["partOf"] == before["repliesId"] for p in before["pages"]), report
    assert before["items"] == direct, report  # oldest first, no nested replies, no duplicates
    assert after_reply["items"] == direct + [result["noteId"]] and after_reply["totalItems"] == DIRECT_REPLIES + 1, report
    assert after_delete["items"] == direct and after_delete["totalItems"] == DIRECT_REPLIES, report

    # --- What Fedify received: our Accept, then an Announce (verified: its listener ran) of each
    # of its activities, whose wrapped activity Fedify fetched back from its own origin.
    assert result["accept"]["actor"] == group_id and result["accept"]["object"] == result["followId"], report
    announces = {a["innerType"]: a for a in result["announces"]}
    for kind, inner in (("Create", result["createId"]), ("Like", result["likeId"]), ("Delete", result["deleteId"])):
        got = announces.get(kind)
        assert got is not None and got["actor"] == group_id and got["objectId"] == inner, (kind, report)
        assert got["innerActor"] == result["actor"], (kind, report)
        assert "https://www.w3.org/ns/activitystreams#Public" in got["to"], (kind, report)
    assert announces["Create"]["innerObject"] == result["noteId"], report
    assert announces["Like"]["innerObject"] == thread.ap_id, report
    assert announces["Delete"]["innerObject"] == result["noteId"], report
    fetched_back = {(e["path"], e["status"]) for e in result["servedToTarget"] if e["userAgent"].startswith("Fedify/")}
    assert {(result[k].removeprefix(result["origin"]), 200) for k in ("createId", "likeId", "deleteId")} <= fetched_back, report
    asked_nodeinfo = [e["path"] for e in result["servedToTarget"] if e["userAgent"].startswith("fedisupport")]
    assert asked_nodeinfo[:2] == ["/.well-known/nodeinfo", "/nodeinfo/2.1"], report
    assert not result.get("inboxErrors"), report
    posts = [p for p in result["inbox"] if p["type"] == "Announce"]
    assert len(posts) == 3 and all(p["status"] == 202 and p["signature"] for p in posts), report
    assert result["noteAfterDelete"] == {"status": 410, "type": "Tombstone"}, report
    # The activities Fedify sent went in on the first knock (RFC 9421, verified: 202), and so did
    # its reads of the thread: three walks, each the Note (first page embedded) and two pages.
    sent = [r for r in result["requests"] if r["method"] == "POST"]
    assert [(r["signature"], r["status"]) for r in sent] == [("rfc9421", 202)] * 4, report
    reads = [r for r in result["requests"] if r["method"] == "GET" and r["url"].startswith(thread.ap_id)]
    assert len(reads) == 9, report
    assert {(r["signature"], r["status"]) for r in reads} == {("rfc9421" if authorized_fetch else None, 200)}, report

    # --- On our side: the reply sat in the thread, counts went up and back down.
    assert seen["reply"] == (thread.id, thread.id, False, False, "published", 1), seen
    assert seen["counts_after_reply"] == (DIRECT_REPLIES + 1, DIRECT_REPLIES + NESTED_REPLIES + 1), seen
    reply = await post_row(instance, ap_id=result["noteId"])
    assert reply.state == "deleted" and reply.content_html == "", reply
    fresh = await post_row(instance, id=thread.id)
    assert (fresh.reply_count, fresh.thread_reply_count) == (DIRECT_REPLIES, DIRECT_REPLIES + NESTED_REPLIES)
    assert fresh.like_count == 1
    async with instance.sessions() as session:
        like = (await session.execute(select(Like.ap_id, Actor.ap_id).join(Actor, Actor.id == Like.actor_id)
                                      .where(Like.post_id == thread.id))).all()
        assert like == [(result["likeId"], result["actor"])], like
        items = dict((await session.execute(select(InboxItem.type, InboxItem.state)
                                            .where(InboxItem.type.in_(("Create", "Like", "Delete"))))).all())
        assert items == {"Create": "done", "Like": "done", "Delete": "done"}, items

    # The community's Announces of the Create, the Like and the Delete, each delivered to the
    # Fedify shared inbox and marked sent.
    fedify_inbox = result["origin"] + "/inbox"

    wanted = {result[k]: (fedify_inbox, "sent") for k in ("createId", "likeId", "deleteId")}
    last: dict[str, tuple[str, str]] = {}

    async def announce_deliveries() -> bool:
        async with instance.sessions() as session:
            rows = (await session.execute(
                select(OutboxActivity.body, Delivery.inbox_url, Delivery.state)
                .join(Delivery, Delivery.activity_id == OutboxActivity.id)
                .join(Actor, Actor.id == OutboxActivity.actor_id)
                .where(OutboxActivity.type == "Announce", Actor.ap_id == group_id))).all()
        last.clear()
        for body, inbox, state in rows:
            inner = json.loads(body)["object"]
            last[inner.get("id") if isinstance(inner, dict) else inner] = (inbox, state)
        return last == wanted
    try:
        await wait_for(announce_deliveries, timeout=10)
    except AssertionError:
        raise AssertionError(f"Announce deliveries: wanted {wanted}, found {last}") from None


async def _direct_replies(instance, thread_id: int) -> list[Post]:
    async with instance.sessions() as session:
        return list(await session.scalars(
            select(Post).where(Post.parent_id == thread_id, Post.local.is_(True)).order_by(Post.published_at, Post.id)))
