"""Every decision the policy makes, one row each: given a situation, the verdict and its reason.

Real databases (SQLite, or PostgreSQL with FEDISUPPORT_TEST_DATABASE_URL), real rows, no mocks.
"""
from __future__ import annotations

import datetime as dt
from typing import Awaitable, Callable

import pytest
from sqlalchemy import event, select

from fedisupport.domain import domain_blocks, site_policy
from fedisupport.domain.domain_blocks import PolicyValues
from fedisupport.domain.site_policy import KeywordValues
from fedisupport.models import Community, utcnow
from fedisupport.policy import check, rules
from fedisupport.policy.check import PostFacts
from fedisupport.policy.decisions import Verdict
from tests.policy.conftest import (ban, community, follow, local_person, make_moderator, post_in, remote_person,
                                   set_limits)
from tests.support.databases import using_postgres

ACCEPT, LABEL, HOLD, REJECT = Verdict.ACCEPT, Verdict.LABEL, Verdict.HOLD, Verdict.REJECT
PLAIN = PostFacts("Thank you for listening, today was hard.", language="en")


async def block(session, domain: str, severity: str = "suspend", **flags) -> None:
    await domain_blocks.save_policy(session, PolicyValues(domain, severity, **flags), new=True)


async def keyword(session, pattern: str, action: str = "hold", *, is_regex: bool = False, language: str | None = None,
                  warning: str = "", group: Community | None = None) -> None:
    await site_policy.save_keyword_rule(session, KeywordValues(pattern, is_regex, language, action, warning,
                                                               group.id if group else None))


# --- inbound -------------------------------------------------------------------------------------

INBOUND: dict[str, tuple[Callable[..., Awaitable], Verdict, str]] = {}


def inbound(case_id: str, verdict: Verdict, reason: str = ""):
    def register(fn):
        INBOUND[case_id] = (fn, verdict, reason)
        return fn
    return register


async def _known_remote(s, w, host="friendly.test", **fields):
    """A group, and someone from `host` who follows it (so spam heuristics don't apply)."""
    group = await community(s, w.settings)
    person = await remote_person(s, host, **fields)
    await follow(s, person, group.actor_id)
    return group, person


@inbound("a known person's ordinary post is accepted", ACCEPT)
async def _(s, w):
    group, person = await _known_remote(s, w)
    return dict(actor=person, host=person.domain, post=PLAIN, community=group)


@inbound("a suspended domain is rejected", REJECT, "suspended")
async def _(s, w):
    group, person = await _known_remote(s, w, host="bad.test")
    await block(s, "bad.test")
    return dict(actor=person, host="bad.test", post=PLAIN, community=group)


@inbound("a subdomain of a suspended domain is rejected", REJECT, "bad.test")
async def _(s, w):
    group, person = await _known_remote(s, w, host="social.bad.test")
    await block(s, "bad.test")
    return dict(actor=person, host="social.bad.test", post=PLAIN, community=group)


@inbound("a look-alike domain is not covered", ACCEPT)
async def _(s, w):
    group, person = await _known_remote(s, w, host="notbad.test")
    await block(s, "bad.test")
    return dict(actor=person, host="notbad.test", post=PLAIN, community=group)


@inbound("an author on a suspended domain, announced by an allowed server, is rejected", REJECT, "suspended")
async def _(s, w):
    group, person = await _known_remote(s, w, host="bad.test")
    await block(s, "bad.test")
    return dict(actor=person, host="forum.test", post=PLAIN, community=group)


@inbound("a limited domain is held", HOLD, "limited")
async def _(s, w):
    group, person = await _known_remote(s, w, host="loud.test")
    await block(s, "loud.test", "limit")
    return dict(actor=person, host="loud.test", post=PLAIN, community=group)


@inbound("a noop policy (only reject_media) accepts posts", ACCEPT)
async def _(s, w):
    group, person = await _known_remote(s, w, host="pics.test")
    await block(s, "pics.test", "noop", reject_media=True)
    return dict(actor=person, host="pics.test", post=PLAIN, community=group)


@inbound("a like from a limited domain is not rejected", HOLD)
async def _(s, w):
    group, person = await _known_remote(s, w, host="loud.test")
    await block(s, "loud.test", "limit")
    return dict(actor=person, host="loud.test", post=None, community=group)


@inbound("a suspended account is rejected", REJECT, "suspended here")
async def _(s, w):
    group, person = await _known_remote(s, w, suspended=True)
    return dict(actor=person, host=person.domain, post=PLAIN, community=group)


@inbound("someone banned from the community is rejected", REJECT, "banned")
async def _(s, w):
    group, person = await _known_remote(s, w)
    await ban(s, group, person)
    return dict(actor=person, host=person.domain, post=PLAIN, community=group)


@inbound("a follow from someone banned is rejected", REJECT, "banned")
async def _(s, w):
    group, person = await _known_remote(s, w)
    await ban(s, group, person, expires_at=utcnow() + dt.timedelta(days=1))
    return dict(actor=person, host=person.domain, post=None, community=group)


@inbound("an expired ban no longer counts", ACCEPT)
async def _(s, w):
    group, person = await _known_remote(s, w)
    await ban(s, group, person, expires_at=utcnow() - dt.timedelta(minutes=1))
    return dict(actor=person, host=person.domain, post=PLAIN, community=group)


@inbound("a ban elsewhere doesn't count here", ACCEPT)
async def _(s, w):
    group, person = await _known_remote(s, w)
    other = await community(s, w.settings, "other")
    await ban(s, other, person)
    return dict(actor=person, host=person.domain, post=PLAIN, community=group)


@inbound("a reply to a locked thread is rejected", REJECT, "locked")
async def _(s, w):
    group, person = await _known_remote(s, w)
    starter = await local_person(s, w.settings)
    thread = await post_in(s, starter, group, locked=True)
    return dict(actor=person, host=person.domain, post=PostFacts("me too", is_reply=True), community=group,
                thread=thread)


@inbound("a reply to an open thread is accepted", ACCEPT)
async def _(s, w):
    group, person = await _known_remote(s, w)
    thread = await post_in(s, await local_person(s, w.settings), group)
    return dict(actor=person, host=person.domain, post=PostFacts("me too", is_reply=True), community=group,
                thread=thread)


@inbound("an instance keyword rule that rejects", REJECT, "keyword rule")
async def _(s, w):
    group, person = await _known_remote(s, w)
    await keyword(s, "buy followers", "reject")
    return dict(actor=person, host=person.domain, post=PostFacts("Cheap! BUY   Followers now"), community=group)


@inbound("an instance keyword rule that holds", HOLD, "keyword rule")
async def _(s, w):
    group, person = await _known_remote(s, w)
    await keyword(s, "overdose")
    return dict(actor=person, host=person.domain, post=PostFacts("thinking about an overdose"), community=group)


@inbound("a keyword rule that adds a content warning", LABEL, "content warning")
async def _(s, w):
    group, person = await _known_remote(s, w)
    await keyword(s, "self-harm", "warn", warning="mentions self-harm")
    return dict(actor=person, host=person.domain, post=PostFacts("about self-harm and healing"), community=group)


@inbound("a community's own keyword rule applies in it", HOLD, "keyword rule")
async def _(s, w):
    group, person = await _known_remote(s, w)
    await keyword(s, "relapse", group=group)
    return dict(actor=person, host=person.domain, post=PostFacts("a relapse last night"), community=group)


@inbound("another community's keyword rule does not apply", ACCEPT)
async def _(s, w):
    group, person = await _known_remote(s, w)
    await keyword(s, "relapse", group=await community(s, w.settings, "recovery"))
    return dict(actor=person, host=person.domain, post=PostFacts("a relapse last night"), community=group)


@inbound("a Spanish rule meets a Spanish post", HOLD)
async def _(s, w):
    group, person = await _known_remote(s, w)
    await keyword(s, "suicidio", language="es")
    return dict(actor=person, host=person.domain, post=PostFacts("pienso en el SUICIDIÓ", language="es-MX"),
                community=group)


@inbound("a Spanish rule leaves an English post alone", ACCEPT)
async def _(s, w):
    group, person = await _known_remote(s, w)
    await keyword(s, "suicidio", language="es")
    return dict(actor=person, host=person.domain, post=PostFacts("the word suicidio in a quote", language="en"),
                community=group)


@inbound("a post of unknown language meets language rules", HOLD)
async def _(s, w):
    group, person = await _known_remote(s, w)
    await keyword(s, "suicidio", language="es")
    return dict(actor=person, host=person.domain, post=PostFacts("suicidio", language=None), community=group)


@inbound("the strictest of several rules wins", REJECT, "keyword rule")
async def _(s, w):
    group, person = await _known_remote(s, w)
    await keyword(s, "pills", "warn", warning="mentions medication")
    await keyword(s, "pharmacy", "reject")
    return dict(actor=person, host=person.domain, post=PostFacts("pills from an online pharmacy"), community=group)


@inbound("someone new with many mentions is held", HOLD, "mentions 5 people")
async def _(s, w):
    group = await community(s, w.settings)
    person = await remote_person(s, "new.test")
    return dict(actor=person, host="new.test", post=PostFacts("hi all", mentions=5), community=group)


@inbound("someone new with fewer mentions than the limit is accepted", ACCEPT)
async def _(s, w):
    group = await community(s, w.settings)
    person = await remote_person(s, "new.test")
    return dict(actor=person, host="new.test", post=PostFacts("hi all", mentions=4), community=group)


@inbound("the mention limit follows the site's setting", HOLD, "mentions 2")
async def _(s, w):
    await set_limits(s, spam_mention_limit=2)
    group = await community(s, w.settings)
    person = await remote_person(s, "new.test")
    return dict(actor=person, host="new.test", post=PostFacts("hi all", mentions=2), community=group)


@inbound("someone new posting a link is held", HOLD, "1 link")
async def _(s, w):
    group = await community(s, w.settings)
    person = await remote_person(s, "new.test")
    return dict(actor=person, host="new.test", post=PostFacts("see this", links=1), community=group)


@inbound("someone new posting media is held", HOLD, "media")
async def _(s, w):
    group = await community(s, w.settings)
    person = await remote_person(s, "new.test")
    return dict(actor=person, host="new.test", post=PostFacts("look", has_media=True), community=group)


@inbound("a member (accepted follow) may post links", ACCEPT)
async def _(s, w):
    group, person = await _known_remote(s, w)
    return dict(actor=person, host=person.domain, post=PostFacts("see this", links=3, mentions=9), community=group)


@inbound("someone who posted here before may post links", ACCEPT)
async def _(s, w):
    group = await community(s, w.settings)
    person = await remote_person(s, "new.test")
    await post_in(s, person, group)
    return dict(actor=person, host="new.test", post=PostFacts("see this", links=1), community=group)


@inbound("a post held earlier doesn't make someone known", HOLD, "1 link")
async def _(s, w):
    group = await community(s, w.settings)
    person = await remote_person(s, "new.test")
    await post_in(s, person, group, state="held")
    return dict(actor=person, host="new.test", post=PostFacts("see this", links=1), community=group)


@inbound("a first post from a stranger in a community that approves members is held", HOLD, "hasn't seen")
async def _(s, w):
    group = await community(s, w.settings, requires_approval=True)
    person = await remote_person(s, "new.test")
    return dict(actor=person, host="new.test", post=PLAIN, community=group)


@inbound("an approved member of such a community is accepted", ACCEPT)
async def _(s, w):
    group = await community(s, w.settings, requires_approval=True)
    person = await remote_person(s, "new.test")
    await follow(s, person, group.actor_id)
    return dict(actor=person, host="new.test", post=PLAIN, community=group)


@inbound("spam heuristics leave remote communities to their own moderators", ACCEPT)
async def _(s, w):
    group = await community(s, w.settings)
    group.local = False
    person = await remote_person(s, "new.test")
    return dict(actor=person, host="new.test", post=PostFacts("see this", links=4, mentions=12), community=group)


@inbound("spam heuristics never reject", HOLD)
async def _(s, w):
    group = await community(s, w.settings, requires_approval=True)
    person = await remote_person(s, "new.test")
    return dict(actor=person, host="new.test", post=PostFacts("x", links=9, mentions=50, has_media=True),
                community=group)


@pytest.mark.parametrize("case_id", list(INBOUND))
async def test_inbound(world, case_id):
    setup, verdict, reason = INBOUND[case_id]

    async def run(session):
        return await check.check_inbound(session, world.settings, **await setup(session, world))
    decision = await world(run)
    assert decision.verdict == verdict, decision
    assert reason in decision.reason


async def test_a_burst_from_one_domain_is_held_after_the_limit(world):
    async def run(session):
        await set_limits(session, remote_domain_posts_per_minute=3)
        group, person = await _known_remote(session, world)
        other = await remote_person(session, "quiet.test")
        await follow(session, other, group.actor_id)
        verdicts = [(await check.check_inbound(session, world.settings, actor=person, host=person.domain, post=PLAIN,
                                               community=group)).verdict for _ in range(5)]
        quiet = await check.check_inbound(session, world.settings, actor=other, host="quiet.test", post=PLAIN,
                                          community=group)
        return verdicts, quiet
    verdicts, quiet = await world(run)
    assert verdicts == [ACCEPT, ACCEPT, ACCEPT, HOLD, HOLD]
    assert quiet.verdict == ACCEPT  # counted per domain


async def test_the_burst_window_slides(world):
    cache = rules.cache_for(world.engine)
    now = [1000.0]
    cache.clock = lambda: now[0]
    assert [cache.count_burst("a.test") for _ in range(3)] == [1, 2, 3]
    now[0] += 61
    assert cache.count_burst("a.test") == 1


# --- local ---------------------------------------------------------------------------------------

LOCAL: dict[str, tuple[Callable[..., Awaitable], Verdict, str]] = {}


def local(case_id: str, verdict: Verdict, reason: str = ""):
    def register(fn):
        LOCAL[case_id] = (fn, verdict, reason)
        return fn
    return register


@local("an ordinary thread is accepted", ACCEPT)
async def _(s, w):
    group = await community(s, w.settings)
    return dict(author=await local_person(s, w.settings), community=group, thread=None, text="Today was hard.")


@local("a suspended account can't post", REJECT, "suspended")
async def _(s, w):
    group = await community(s, w.settings)
    person = await local_person(s, w.settings)
    person.suspended = True
    return dict(author=person, community=group, thread=None, text="hello")


@local("someone banned is told kindly", REJECT, "have paused your posting here until")
async def _(s, w):
    group = await community(s, w.settings)
    person = await local_person(s, w.settings)
    await ban(s, group, person, expires_at=utcnow() + dt.timedelta(days=3))
    return dict(author=person, community=group, thread=None, text="hello")


@local("a reply to a locked thread", REJECT, "locked")
async def _(s, w):
    group = await community(s, w.settings)
    person = await local_person(s, w.settings)
    thread = await post_in(s, person, group, locked=True)
    return dict(author=person, community=group, thread=thread, text="hello")


@local("the hourly limit, with when to come back", REJECT, "You can post again in 40 minutes")
async def _(s, w):
    await set_limits(s, posts_per_hour=3)
    group = await community(s, w.settings)
    person = await local_person(s, w.settings)
    now = utcnow()
    for minutes_ago in (20, 10, 5):
        await post_in(s, person, group, when=now - dt.timedelta(minutes=minutes_ago))
    return dict(author=person, community=group, thread=None, text="again", now=now)


@local("posts older than an hour don't count", ACCEPT)
async def _(s, w):
    await set_limits(s, posts_per_hour=3)
    group = await community(s, w.settings)
    person = await local_person(s, w.settings)
    for minutes_ago in (61, 70, 80, 5, 10):
        await post_in(s, person, group, when=utcnow() - dt.timedelta(minutes=minutes_ago))
    return dict(author=person, community=group, thread=None, text="again")


@local("the hourly limit can be turned off", ACCEPT)
async def _(s, w):
    await set_limits(s, posts_per_hour=0)
    group = await community(s, w.settings)
    person = await local_person(s, w.settings)
    for _ in range(40):
        await post_in(s, person, group)
    return dict(author=person, community=group, thread=None, text="again")


@local("slow mode, with when to reply again", REJECT, "You can reply again in 8 minutes")
async def _(s, w):
    group = await community(s, w.settings)
    person = await local_person(s, w.settings)
    thread = await post_in(s, await local_person(s, w.settings), group, slow_mode_seconds=600)
    now = utcnow()
    await post_in(s, person, group, thread=thread, when=now - dt.timedelta(seconds=150))
    return dict(author=person, community=group, thread=thread, text="one more thing", now=now)


@local("slow mode lets a first reply through", ACCEPT)
async def _(s, w):
    group = await community(s, w.settings)
    thread = await post_in(s, await local_person(s, w.settings), group, slow_mode_seconds=600)
    return dict(author=await local_person(s, w.settings), community=group, thread=thread, text="hi")


@local("slow mode counts only replies in that thread", ACCEPT)
async def _(s, w):
    group = await community(s, w.settings)
    person = await local_person(s, w.settings)
    thread = await post_in(s, await local_person(s, w.settings), group, slow_mode_seconds=600)
    elsewhere = await post_in(s, person, group)
    await post_in(s, person, group, thread=elsewhere)
    return dict(author=person, community=group, thread=thread, text="hi")


@local("moderators are not slowed down", ACCEPT)
async def _(s, w):
    group = await community(s, w.settings)
    person = await local_person(s, w.settings)
    await make_moderator(s, group, person)
    thread = await post_in(s, person, group, slow_mode_seconds=600)
    await post_in(s, person, group, thread=thread)
    return dict(author=person, community=group, thread=thread, text="a note from the moderators")


@local("a keyword rule that rejects names the words", REJECT, "“buy followers” isn't accepted on this site")
async def _(s, w):
    group = await community(s, w.settings)
    await keyword(s, "buy followers", "reject")
    return dict(author=await local_person(s, w.settings), community=group, thread=None, text="BUY followers")


@local("a keyword rule that holds", HOLD, "keyword rule")
async def _(s, w):
    group = await community(s, w.settings)
    await keyword(s, "overdose")
    return dict(author=await local_person(s, w.settings), community=group, thread=None, text="an overdose")


@local("a keyword rule that adds a warning", LABEL)
async def _(s, w):
    group = await community(s, w.settings)
    await keyword(s, "self-harm", "warn", warning="mentions self-harm")
    return dict(author=await local_person(s, w.settings), community=group, thread=None, text="self-harm")


@local("a new account's first posts are held", HOLD, "new account")
async def _(s, w):
    await set_limits(s, new_account_held_posts=2)
    group = await community(s, w.settings)
    person = await local_person(s, w.settings)
    await post_in(s, person, group)
    await post_in(s, person, group, state="held")
    return dict(author=person, community=group, thread=None, text="hello")


@local("after that many published posts they are not", ACCEPT)
async def _(s, w):
    await set_limits(s, new_account_held_posts=2)
    group = await community(s, w.settings)
    person = await local_person(s, w.settings)
    await post_in(s, person, group)
    await post_in(s, person, group)
    return dict(author=person, community=group, thread=None, text="hello")


@local("admins' first posts are not held", ACCEPT)
async def _(s, w):
    await set_limits(s, new_account_held_posts=2)
    group = await community(s, w.settings)
    return dict(author=await local_person(s, w.settings, admin=True), community=group, thread=None, text="welcome")


@local("moderators' first posts are not held", ACCEPT)
async def _(s, w):
    await set_limits(s, new_account_held_posts=2)
    group = await community(s, w.settings)
    person = await local_person(s, w.settings)
    await make_moderator(s, group, person)
    return dict(author=person, community=group, thread=None, text="welcome")


@local("a ban outranks everything else", REJECT, "paused your posting")
async def _(s, w):
    await set_limits(s, new_account_held_posts=5)
    group = await community(s, w.settings)
    person = await local_person(s, w.settings)
    await ban(s, group, person)
    await keyword(s, "hello", "warn", warning="greeting")
    return dict(author=person, community=group, thread=None, text="hello")


@pytest.mark.parametrize("case_id", list(LOCAL))
async def test_local(world, case_id):
    setup, verdict, reason = LOCAL[case_id]

    async def run(session):
        return await check.check_local(session, world.settings, **await setup(session, world))
    decision = await world(run)
    assert decision.verdict == verdict, decision
    assert reason in decision.reason


async def test_a_label_keeps_the_writers_own_warning(world):
    async def run(session):
        await keyword(session, "grief", "warn", warning="mentions loss")
        group = await community(session, world.settings)
        return await check.check_local(session, world.settings, author=await local_person(session, world.settings),
                                       community=group, thread=None, text=PostFacts.from_text(
                                           "grief", content_warning="a hard week"))
    decision = await world(run)
    assert check.with_label("a hard week", decision) == "a hard week; mentions loss"
    assert check.with_label(None, decision) == "mentions loss"
    assert check.with_label("Mentions loss", decision) == "Mentions loss"


async def test_the_hourly_count_reads_the_author_index(world):
    """posts_per_hour is counted through ix_posts_author (author_id, published_at), never by a scan."""
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    async def run(session):
        group = await community(session, world.settings)
        person = await local_person(session, world.settings)
        for _ in range(3):
            await post_in(session, person, group)
        event.listen(world.engine.sync_engine, "before_cursor_execute", seen)
        try:
            await check.check_local(session, world.settings, author=person, community=group, thread=None, text="hi")
        finally:
            event.remove(world.engine.sync_engine, "before_cursor_execute", seen)
        hourly = [(sql, params) for sql, params in statements if "published_at >" in sql and "ORDER BY" in sql]
        assert len(hourly) == 1, statements
        sql, params = hourly[0]
        connection = await session.connection()
        if using_postgres():
            await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            return [row[0] for row in await connection.exec_driver_sql("EXPLAIN " + sql, params)]
        return [row[-1] for row in await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
    plan = "\n".join(await world(run))
    assert "ix_posts_author" in plan, plan
    assert "SCAN posts" not in plan.replace("SCAN posts USING", ""), plan


# --- delivery, announce, reports -------------------------------------------------------------------

@pytest.mark.parametrize("policy, host, verdict", [
    (None, "fine.test", ACCEPT),
    (("bad.test", "suspend"), "bad.test", REJECT),
    (("bad.test", "suspend"), "mail.bad.test", REJECT),
    (("bad.test", "suspend"), "bad.test:8443", REJECT),
    (("bad.test:8443", "suspend"), "bad.test", ACCEPT),
    (("loud.test", "limit"), "loud.test", ACCEPT),  # limited servers still hear from us
    (("pics.test", "noop"), "pics.test", ACCEPT),
])
async def test_delivery(world, policy, host, verdict):
    async def run(session):
        if policy:
            await block(session, *policy)
        return await check.check_delivery(session, host)
    assert (await world(run)).verdict == verdict


@pytest.mark.parametrize("severity, verdict", [(None, ACCEPT), ("limit", REJECT), ("suspend", REJECT), ("noop", ACCEPT)])
async def test_announce_never_amplifies_a_limited_domain(world, severity, verdict):
    async def run(session):
        if severity:
            await block(session, "loud.test", severity)
        return await check.check_announce(session, "https://loud.test/users/x")
    assert (await world(run)).verdict == verdict


@pytest.mark.parametrize("flags, verdict", [
    ({}, ACCEPT), ({"severity": "noop", "reject_reports": True}, REJECT), ({"severity": "suspend"}, REJECT),
    ({"severity": "limit"}, ACCEPT)])
async def test_reports(world, flags, verdict):
    async def run(session):
        if flags:
            await block(session, "reporter.test", flags.pop("severity"), **flags)
        return await check.check_report(session, "reporter.test")
    assert (await world(run)).verdict == verdict


async def test_a_policy_change_applies_at_commit_without_waiting(world):
    assert (await world(lambda s: check.check_delivery(s, "bad.test"))).verdict == ACCEPT  # cached now
    await world(lambda s: block(s, "bad.test"))
    assert (await world(lambda s: check.check_delivery(s, "bad.test"))).verdict == REJECT
    await world(lambda s: domain_blocks.remove_policy(s, "bad.test"))
    assert (await world(lambda s: check.check_delivery(s, "bad.test"))).verdict == ACCEPT


async def test_a_rolled_back_change_never_reaches_the_cache(world):
    async def fail(session):
        await block(session, "bad.test")
        # Checks inside the transaction see its own change…
        assert (await check.check_delivery(session, "bad.test")).verdict == REJECT
        raise RuntimeError("changed my mind")
    with pytest.raises(RuntimeError):
        await world(fail)
    # … and nobody keeps it once it is rolled back.
    assert (await world(lambda s: check.check_delivery(s, "bad.test"))).verdict == ACCEPT


async def test_the_inbox_refusal_reads_no_database_when_warm(world):
    class Services:
        engine = world.engine
        sessions = world.sessions
    await world(lambda s: block(s, "bad.test"))
    queries = []
    listener = lambda *args: queries.append(args[2])  # noqa: E731
    event.listen(world.engine.sync_engine, "before_cursor_execute", listener)
    try:
        assert await check.refused_at_inbox(Services, "bad.test")  # cold: one load
        loaded = len(queries)
        assert loaded
        for host in ("bad.test", "www.bad.test", "good.test") * 50:
            await check.refused_at_inbox(Services, host)
        assert len(queries) == loaded
        assert not await check.refused_at_inbox(Services, "good.test")
        assert not await check.refused_at_inbox(Services, "loud.test")
    finally:
        event.remove(world.engine.sync_engine, "before_cursor_execute", listener)


async def test_the_cache_reloads_after_its_ttl(world):
    cache = rules.cache_for(world.engine)
    now = [0.0]
    cache.clock = lambda: now[0]
    await world(lambda s: check.check_delivery(s, "bad.test"))
    async with world.sessions() as session:  # another process's change: no commit hook fires here
        async with session.begin():
            from fedisupport.models import DomainPolicy
            await session.execute(__import__("sqlalchemy").insert(DomainPolicy).values(
                domain="bad.test", severity="suspend", reject_media=False, reject_reports=False, public_comment="",
                private_comment="", obfuscate=False, created_at=utcnow()))
    assert (await world(lambda s: check.check_delivery(s, "bad.test"))).verdict == ACCEPT
    now[0] += rules.TTL + 1
    assert (await world(lambda s: check.check_delivery(s, "bad.test"))).verdict == REJECT

