"""Translations between two real instances: real HTTP, real signatures, the normal distribution.

A hosts the community; B follows it. A volunteer's translation added on A travels to B inside
an Update of the post (another contentMap entry, wrapped in the community's Announce), and B
shows it to a Spanish reader. Only the post's author's server can change a post's translations.
"""
from __future__ import annotations

import html

from sqlalchemy import select

from fedisupport import db
from fedisupport.activitypub.jsonld import CONTEXT
from fedisupport.domain import actions, following, translations
from fedisupport.models import Actor, Community, Post, PostTranslation
from tests.federation.test_follow import follow_remote, follow_state, make_community, make_person
from tests.federation.test_threads import _is, _post_as, act, find_post, post_with, software_known
from tests.support.waiting import wait_for


async def translations_on(inst, ap_id: str) -> dict[str, PostTranslation]:
    async with inst.sessions() as session:
        post = await session.scalar(select(Post).where(Post.ap_id == ap_id))
        if post is None:
            return {}
        return {t.language: t for t in await session.scalars(
            select(PostTranslation).where(PostTranslation.post_id == post.id))}


async def test_a_translation_added_on_a_reaches_b_and_b_shows_it_to_a_spanish_reader(start_instance):
    async with start_instance() as a, start_instance() as b:
        await make_community(a, "hope", languages="en es")
        alice = await make_person(a, "alice")
        carol = await make_person(a, "carol")
        bob = await make_person(b, "bob")
        hope_url = a.url("/c/hope")
        await follow_remote(b, bob, hope_url)
        await wait_for(lambda: _is(follow_state(a, bob.ap_id, hope_url), "accepted"))
        await wait_for(lambda: _is(software_known(a, b.settings.domain), "fedisupport"))

        async def start(session):
            community = await session.scalar(select(Community).where(Community.name == "hope"))
            carol_here = await session.get(Actor, carol.id)
            await following.follow(session, a.settings, carol_here, await session.get(Actor, community.actor_id))
            return await actions.write_thread(session, a.settings, await session.get(Actor, alice.id), community,
                                              title="Struggling today", body="It has been a long week.",
                                              language="en")
        thread = await act(a, start)
        on_b = await wait_for(post_with(b, thread.ap_id))
        assert on_b.language == "en" and await translations_on(b, thread.ap_id) == {}

        # Carol, a member on A, translates the opening post into Spanish.
        async def carol_translates(session):
            post = await session.get(Post, thread.id)
            return await translations.save(session, a.settings, await session.get(Actor, carol.id), post,
                                           language="es", title="Un día difícil", body="Ha sido una semana *larga*.")
        await act(a, carol_translates)
        arrived = await wait_for(lambda: translations_on(b, thread.ap_id))
        spanish = arrived["es"]
        assert spanish.title == "Un día difícil" and not spanish.local
        assert spanish.content_html.strip() == "<p>Ha sido una semana <em>larga</em>.</p>"  # no title line, sanitised
        on_b = await find_post(b, thread.ap_id)
        assert on_b.title == "Struggling today" and "long week" in on_b.content_html  # the original stays the post
        assert on_b.updated_at is None  # a new translation is not an edit of the post

        async with b.client(headers={"Accept-Language": "es-ES,es;q=0.9"}) as client:
            page = (await client.get(f"/p/{on_b.id}")).text
        assert '<h1 dir="auto">Un día difícil</h1>' in page and "Ha sido una semana <em>larga</em>." in page
        assert "Traducido por una persona voluntaria; el original está en" in html.unescape(page)
        async with b.client(headers={"Accept-Language": "en"}) as client:
            page = (await client.get(f"/p/{on_b.id}")).text
        assert '<h1 dir="auto">Struggling today</h1>' in page

        # Carol corrects it; then removes it: B follows both.
        async def carol_corrects(session):
            post = await session.get(Post, thread.id)
            return await translations.save(session, a.settings, await session.get(Actor, carol.id), post,
                                           language="es", title="Un día difícil", body="Ha sido una semana muy larga.")
        await act(a, carol_corrects)
        await wait_for(lambda: _has(b, thread.ap_id, "es", "muy larga"))

        async def carol_removes(session):
            post = await session.get(Post, thread.id)
            await translations.remove(session, a.settings, await session.get(Actor, carol.id), post, "es")
        await act(a, carol_removes)
        await wait_for(lambda: _gone(b, thread.ap_id))

        # Someone else's server can't add a translation to Alice's post: B's Update is refused at A.
        forged = {"id": thread.ap_id, "type": "Note", "attributedTo": alice.ap_id,
                  "content": "<p>It has been a long week.</p>",
                  "contentMap": {"en": "<p>It has been a long week.</p>", "es": "<p>falso</p>"},
                  "to": ["https://www.w3.org/ns/activitystreams#Public"]}
        await _post_as(b, bob, a.url("/inbox"), {"@context": CONTEXT, "id": b.url("/forged-update"), "type": "Update",
                                                "actor": bob.ap_id, "object": forged})
        await wait_for(lambda: _inbox_done(a, b.url("/forged-update")))
        assert "es" not in await translations_on(a, thread.ap_id)


async def _has(inst, ap_id: str, language: str, text: str) -> bool:
    found = (await translations_on(inst, ap_id)).get(language)
    return found is not None and text in found.content_html


async def _gone(inst, ap_id: str) -> bool:
    return await translations_on(inst, ap_id) == {}


async def _inbox_done(inst, activity_id: str):
    from fedisupport.models import InboxItem

    async with inst.sessions() as session:
        item = await session.scalar(select(InboxItem).where(InboxItem.ap_id == activity_id))
        return item is not None and item.processed_at is not None
