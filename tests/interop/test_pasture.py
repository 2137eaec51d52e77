"""Interop with fediverse-pasture's verify_actor: our actors, WebFinger and inbox signature checks.

What runs:
  - a real fedisupport instance (the `instance` fixture: uvicorn on a free 127.0.0.1 port, plain
    http, `allow_private_addresses` on so it may fetch the pasture actors' keys on loopback) with
    a community, a person and the instance actor;
  - `tests/interop/pasture/run_verify_actor.py` in a venv of its own (tests/interop/.pasture-venv,
    from pasture/requirements.txt, made once per machine by the `pasture_python` fixture; its
    own venv because fediverse-pasture's bovine pins cryptography below ours). It serves
    pasture's verify_actor app on another 127.0.0.1 port and runs it against our actors: six
    pasture actors each fetch our actor and POST to its inbox, unsigned (alice, dean) or signed
    (bob, emily; claire and frank also demand a signed GET of themselves), and the acct: handle
    is checked to resolve back to the actor by WebFinger. run_verify_actor.py's docstring
    explains each check.

Switches that open loopback (tests only): `allow_private_addresses` and `insecure_http` on our
side (the instance fixture); on pasture's side its app is served on a socket bound to 127.0.0.1
with https off (its CLI would bind 0.0.0.0, so the runner builds the app itself).

What we expect of a correct server with authorized fetch off (our default): every pasture actor
can GET our actors; unsigned POSTs are refused; signed POSTs are accepted, including from actors
whose own documents need a signed GET; WebFinger round-trips. (pasture's unsigned POST is an
EchoRequest with no actor, so alice and dean are refused with 400 "activity has no actor" before
any signature check; our own tests cover unsigned activities that do name an actor.)

emily's and frank's actor documents have no preferredUsername, which ActivityPub makes optional;
their signed POSTs must be accepted too.
"""
from __future__ import annotations

import asyncio
import json

import pytest

from fedisupport import db
from fedisupport.domain import accounts

from .conftest import HERE, loopback_env

# The first run on a machine installs Fedify or fediverse-pasture from a registry (INSTALL_TIMEOUT).
pytestmark = pytest.mark.timeout(1200)

RUN_TIMEOUT = 120  # seconds for a whole verify_actor run (usually a few)

EXPECTED = {
    "alice": {"get_actor": True, "post_inbox": False},
    "bob": {"get_actor": True, "post_inbox": True},
    "claire": {"get_actor": True, "post_inbox": True},
    "dean": {"get_actor": True, "post_inbox": False},
    "emily": {"get_actor": True, "post_inbox": True},
    "frank": {"get_actor": True, "post_inbox": True},
    "webfinger": True,
}


async def run_verify_actor(python, uris: list[str], only: tuple[str, ...] = ()) -> dict:
    """Run the pasture runner without blocking the event loop our instance is served from."""
    argv = [str(python), str(HERE / "pasture" / "run_verify_actor.py")]
    if only:
        argv += ["--only", ",".join(only)]
    proc = await asyncio.create_subprocess_exec(
        *argv, *uris, env=loopback_env(),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT)
    except asyncio.TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        raise AssertionError(f"verify_actor did not finish in {RUN_TIMEOUT}s\n{err.decode(errors='replace')[-8000:]}")
    assert proc.returncode == 0, f"verify_actor exited {proc.returncode}\n{err.decode(errors='replace')[-8000:]}"
    return json.loads(out.decode().strip().splitlines()[-1])


def differences(outcome: dict, targets: dict[str, str], skip=frozenset()) -> dict:
    """{target: {check: (got, wanted)}} for every check that is not as EXPECTED."""
    found = {}
    for name, uri in targets.items():
        table = outcome["results"][uri]["table"]
        diff = {}
        for actor, want in EXPECTED.items():
            if actor not in table:
                continue  # not run (--only)
            got = table[actor]
            if isinstance(want, dict):
                for check, wanted in want.items():
                    if (actor, check) not in skip and got.get(check) != wanted:
                        diff[f"{actor}.{check}"] = (got.get(check), wanted)
            elif got != want:
                diff[actor] = (got, want)
        if diff:
            found[name] = diff
    return found


def explain(outcome: dict, targets: dict[str, str], found: dict) -> str:
    steps = {name: outcome["results"][uri]["messages"]["steps"] for name, uri in targets.items() if name in found}
    return ("checks that differ (got, wanted):\n" + json.dumps(found, indent=2)
            + "\n\nverify_actor's log:\n" + json.dumps(steps, indent=1, default=str)[-20000:])


async def seed(instance) -> dict[str, str]:
    async with db.transaction(instance.sessions) as s:
        await accounts.create_community(s, instance.settings, "hope", "Hope")
        await accounts.create_user(s, instance.settings, "sam", "a long enough password")
    domain = instance.settings.domain
    return {
        "community (by handle)": f"acct:hope@{domain}",
        "person (by handle)": f"acct:sam@{domain}",
        "instance actor (by URL)": instance.url("/actor"),
    }


async def test_verify_actor_passes_for_our_community_person_and_instance_actor(instance, pasture_python):
    targets = await seed(instance)

    outcome = await run_verify_actor(pasture_python, list(targets.values()))

    print(json.dumps({name: outcome["results"][uri]["table"] for name, uri in targets.items()}, indent=2))
    found = differences(outcome, targets)
    assert not found, explain(outcome, targets, found)


async def test_actors_without_preferred_username_can_post(instance, pasture_python):
    targets = await seed(instance)
    targets = {"community (by handle)": targets["community (by handle)"]}

    outcome = await run_verify_actor(pasture_python, list(targets.values()), only=("emily", "frank"))

    found = differences(outcome, targets)
    assert not found, explain(outcome, targets, found)
