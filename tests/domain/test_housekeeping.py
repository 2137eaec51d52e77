"""Handled queue rows and ended sessions are forgotten after their keeping time; nothing else is."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from fedisupport import db, housekeeping
from fedisupport.domain import accounts
from fedisupport.models import Actor, Delivery, InboxItem, OutboxActivity, utcnow
from fedisupport.models.auth import PasswordReset, WebSession
from fedisupport.models.queues import DONE, ERRORED, GIVEN_UP, IGNORED, QUEUED, SENT, FetchRequest

DAY = dt.timedelta(days=1)


async def ids_of(instance, model, column) -> set[str]:
    async with instance.sessions() as session:
        return set(await session.scalars(select(column)))


@pytest.fixture
async def instance(start_instance):
    """No worker: it would handle the queued rows this test needs to stay queued."""
    async with start_instance(run_worker_in_serve=False) as inst:
        yield inst


async def test_prune_forgets_only_what_has_served_its_time(instance, monkeypatch):
    now = utcnow()
    ages = {"fresh": 1 * DAY, "week": 8 * DAY, "month": 31 * DAY}
    async with db.transaction(instance.sessions) as session:
        user = await accounts.create_user(session, instance.settings, "ada", "a long enough password")
        actor = await session.get(Actor, user.actor_id)
        activity = OutboxActivity(ap_id="https://x.test/a/1", actor_id=actor.id, type="Create", body="{}")
        session.add(activity)
        await session.flush()
        for state in (QUEUED, DONE, IGNORED, ERRORED):
            for label, age in ages.items():
                when = now - age
                session.add(InboxItem(ap_id=f"in-{state}-{label}", actor_ap_id="https://r.test/u", type="Like",
                                      body="{}", state=state, next_attempt_at=when, received_at=when))
        for state in (QUEUED, SENT, GIVEN_UP):
            for label, age in ages.items():
                session.add(Delivery(activity_id=activity.id, inbox_url=f"https://r.test/{state}-{label}",
                                     host="r.test", state=state, next_attempt_at=now - age))
        for label, age in ages.items():
            session.add(FetchRequest(purpose="backfill", url=f"https://r.test/t/{label}", state=DONE,
                                     next_attempt_at=now - age))
        gone = await accounts.create_user(session, instance.settings, "gone", "a long enough password")
        recently = await accounts.create_user(session, instance.settings, "recently", "a long enough password")
        (await session.get(Actor, gone.actor_id)).deleted_at = now - 8 * DAY
        (await session.get(Actor, recently.actor_id)).deleted_at = now - 2 * DAY  # its Delete may still be retried
        session.add(PasswordReset(token_hash="old", user_id=user.id, expires_at=now - DAY))
        session.add(PasswordReset(token_hash="good", user_id=user.id, expires_at=now + DAY))
        session.add(WebSession(id="ended", user_id=user.id, csrf_token="x", expires_at=now - DAY))
        session.add(WebSession(id="live", user_id=user.id, csrf_token="y", expires_at=now + DAY))

    # Small batches, so the loop over batches is exercised too.
    monkeypatch.setattr(housekeeping, "BATCH", 1)
    removed = await housekeeping.prune(instance.sessions, now=now)

    assert await ids_of(instance, InboxItem, InboxItem.ap_id) == {
        "in-queued-fresh", "in-queued-week", "in-queued-month",  # never: still to do
        "in-done-fresh", "in-ignored-fresh",                       # handled, kept a week
        "in-errored-fresh", "in-errored-week",                     # went wrong, kept a month
    }
    assert await ids_of(instance, Delivery, Delivery.inbox_url) == {
        "https://r.test/queued-fresh", "https://r.test/queued-week", "https://r.test/queued-month",
        "https://r.test/sent-fresh", "https://r.test/given_up-fresh", "https://r.test/given_up-week",
    }
    assert await ids_of(instance, FetchRequest, FetchRequest.url) == {"https://r.test/t/fresh"}
    assert await ids_of(instance, WebSession, WebSession.id) == {"live"}
    assert await ids_of(instance, PasswordReset, PasswordReset.token_hash) == {"good"}
    assert removed["received activities handled"] == 4
    assert removed["received activities that failed"] == 1
    assert removed["ended sessions"] == 1
    async with instance.sessions() as session:
        keys = dict((await session.execute(select(Actor.username, Actor.private_key_pem)
                                           .where(Actor.username.in_(("ada", "gone", "recently"))))).all())
    assert keys["gone"] is None and keys["recently"] and keys["ada"]
    assert removed["private keys of deleted accounts"] == 1

    # A second pass finds nothing more to do.
    assert not any((await housekeeping.prune(instance.sessions, now=now)).values())
