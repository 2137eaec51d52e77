"""Posts carry their language over real HTTP: the language filter, the writer's language, and
volunteer translations (who may add one, CSRF, the reader's language, the moderators' queue)."""
from __future__ import annotations

import html
import re

from sqlalchemy import select, update

from fedisupport import db
from fedisupport.domain import posting
from fedisupport.models import Community, HeldItem, Post, PostTranslation, Site, User
from tests.web.test_threads import csrf_from, get_post, log_in, seed, set_post

SPANISH = {"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}
ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}
AP_JSON = {"Accept": "application/activity+json"}


def thread_titles(page_html: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'<li class="thread">\s*<h3[^>]*><a href="[^"]+">([^<]+)</a>', page_html)]


async def join(client, name: str = "hope") -> None:
    page = (await client.get(f"/c/{name}")).text
    assert (await client.post(f"/c/{name}/join", data={"csrf_token": csrf_from(page)})).status_code == 303


async def translate(client, thread_id: int, **fields):
    form = await client.get(f"/p/{thread_id}/translate")
    data = {"csrf_token": csrf_from(form.text), **fields}
    return await client.post(f"/p/{thread_id}/translate", data=data)


async def translations_of(instance, post_id: int) -> dict[str, PostTranslation]:
    async with instance.sessions() as session:
        rows = await session.scalars(select(PostTranslation).where(PostTranslation.post_id == post_id))
        return {t.language: t for t in rows}


# --- the language filter ----------------------------------------------------------------------


async def test_a_community_filters_its_threads_by_language_and_pages_keep_the_filter(start_instance):
    async with start_instance(page_size=2) as instance:
        world = await seed(instance, languages="en es")
        await set_post(instance, world.thread_id, language="en")
        async with db.transaction(instance.sessions) as session:
            ada = await world.person(session, "ada")
            community = await session.get(Community, world.community_id)
            for n, language in enumerate(["es", "en", "es", "hi", "es"]):
                await posting.start_thread(session, instance.settings, ada, community, title=f"{language} {n}",
                                           body="words", language=language)
        # A remote server's regional tag counts as its language.
        async with instance.sessions() as session:
            es_mx = await session.scalar(select(Post.id).where(Post.title == "es 4"))
        await set_post(instance, es_mx, language="es-MX")

        async with instance.client() as client:
            everything = (await client.get("/c/hope")).text
            assert len(thread_titles(everything)) == 2 and 'name="lang"' in everything
            first = await client.get("/c/hope?lang=es")
            assert first.status_code == 200
            titles = thread_titles(first.text)
            assert titles == ["es 4", "es 2"]
            assert "Threads in Español" in first.text
            older = re.search(r'<a rel="next" href="([^"]+)"', first.text).group(1)
            assert "lang=es" in html.unescape(older)
            second = (await client.get("/c/hope" + html.unescape(older))).text
            assert thread_titles(second) == ["es 0"] and 'rel="next"' not in second
            assert 'lang="es-MX"' in first.text  # every thread title carries its language
            # The filter's own form: plain GET, works without JavaScript, the current choice selected.
            assert re.search(r'<form method="get" action="/c/hope" class="language-filter">', first.text)
            assert '<option value="es" lang="es" selected>' in first.text
            # Nothing in a language: a kind line and the way back, never an error.
            none = await client.get("/c/hope?lang=ar")
            assert none.status_code == 200 and thread_titles(none.text) == [] and 'href="/c/hope"' in none.text
            # A mangled filter is ignored, not echoed.
            odd = await client.get("/c/hope?lang=%3Cscript%3E")
            assert odd.status_code == 200 and "<script>" not in odd.text and len(thread_titles(odd.text)) == 2


async def test_writers_pick_a_language_for_threads_and_replies(instance):
    world = await seed(instance, languages="es en")
    async with instance.client(headers=ENGLISH) as client:
        await log_in(client, "bea")
        form = (await client.get("/c/hope/new")).text
        # The interface language (English) is one the community accepts, so it is chosen.
        assert '<option value="en" lang="en" selected>' in form
        thread = await get_post(instance, world.thread_id)
        reply_form = (await client.get(f"/p/{thread.id}")).text
        assert 'name="language"' in reply_form
        bad = await client.post(f"/p/{thread.id}/reply", data={"csrf_token": csrf_from(reply_form),
                                                               "body": "Hola, te leo.", "language": "zz"})
        assert bad.status_code == 400 and "choose a language" in bad.text and "Hola, te leo." in bad.text
        good = await client.post(f"/p/{thread.id}/reply", data={"csrf_token": csrf_from(reply_form),
                                                                "body": "Hola, te leo.", "language": "es"})
        assert good.status_code == 303
    async with instance.sessions() as session:
        reply = await session.scalar(select(Post).where(Post.thread_id == world.thread_id, Post.id != world.thread_id))
    assert reply.language == "es"
    async with instance.client(headers={"Accept-Language": "hi"}) as client:
        await log_in(client, "bea")
        # Hindi is no language of this community: its first language leads.
        assert '<option value="es" lang="es" selected>' in (await client.get("/c/hope/new")).text
        page = (await client.get(f"/p/{world.thread_id}")).text
        assert re.search(rf'<article class="reply" id="p-{reply.id}"[^>]* lang="es"', page)


# --- volunteer translations ---------------------------------------------------------------------


async def test_who_may_translate_and_csrf(instance):
    world = await seed(instance, people=("ada", "bea", "cai", "mod"), languages="en es")
    await set_post(instance, world.thread_id, language="en")
    tid = world.thread_id
    async with instance.client() as client:
        # Not signed in: asked to log in; a POST changes nothing.
        assert (await client.get(f"/p/{tid}/translate")).status_code == 303
        assert (await client.post(f"/p/{tid}/translate", data={"language": "es", "body": "x"})).status_code == 403
    async with instance.client() as client:
        await log_in(client, "bea")
        page = await client.get(f"/p/{tid}/translate")
        assert "Only members of this community" in page.text and 'name="body"' not in page.text
        refused = await translate(client, tid, language="es", title="Un día difícil", body="Ha sido una semana larga.")
        assert refused.status_code == 403
        await join(client)
        # A form from another site (no token) is refused, and the words come back.
        forged = await client.post(f"/p/{tid}/translate", data={"language": "es", "title": "Un día difícil",
                                                                "body": "Ha sido una semana larga."})
        assert forged.status_code == 403 and "Ha sido una semana larga." in forged.text
        assert await translations_of(instance, tid) == {}
        # The language must be another one than the post's, and one we know.
        same = await translate(client, tid, language="en", title="x", body="y")
        assert same.status_code == 400 and "already written in that language" in same.text
        unknown = await translate(client, tid, language="xx", title="x", body="y")
        assert unknown.status_code == 400 and "choose a language" in unknown.text
        no_title = await translate(client, tid, language="es", body="Ha sido una semana larga.")
        assert no_title.status_code == 400 and "title" in no_title.text
        saved = await translate(client, tid, language="es", title="Un día difícil", body="Ha sido una *semana* larga.")
        assert saved.status_code == 303 and saved.headers["location"].startswith(f"/p/{tid}?show=es")
    found = await translations_of(instance, tid)
    assert set(found) == {"es"} and found["es"].content_html.strip() == "<p>Ha sido una <em>semana</em> larga.</p>"
    async with instance.client() as client:
        await log_in(client, "cai")
        await join(client)
        taken = await translate(client, tid, language="es", title="Otro", body="Otra cosa")
        assert taken.status_code == 400 and "already translated" in taken.text
    # The community turns volunteers off: members can't, the author can.
    async with db.transaction(instance.sessions) as session:
        await session.execute(update(Community).where(Community.id == world.community_id)
                              .values(volunteer_translations=False))
    async with instance.client() as client:
        await log_in(client, "cai")
        assert (await translate(client, tid, language="hi", title="कठिन दिन", body="लंबा हफ़्ता")).status_code == 403
    async with instance.client() as client:
        await log_in(client, "ada")
        done = await translate(client, tid, language="hi", title="कठिन दिन", body="लंबा हफ़्ता रहा।")
        assert done.status_code == 303
        # The author may also correct the volunteer's Spanish.
        fixed = await translate(client, tid, language="es", title="Un día difícil", body="Ha sido una semana muy larga.")
        assert fixed.status_code == 303
    found = await translations_of(instance, tid)
    assert set(found) == {"es", "hi"} and "muy larga" in found["es"].content_html


async def test_the_reader_sees_the_translation_in_their_language(instance):
    world = await seed(instance, languages="en es")
    await set_post(instance, world.thread_id, language="en")
    tid = world.thread_id
    async with instance.client() as client:
        await log_in(client, "bea")
        await join(client)
        assert (await translate(client, tid, language="es", title="Un día difícil",
                                body="Ha sido una semana larga.")).status_code == 303
    async with instance.client(headers=SPANISH) as client:
        page = (await client.get(f"/p/{tid}")).text
        assert '<h1 dir="auto">Un día difícil</h1>' in page and "Ha sido una semana larga." in page
        assert "It has been a long week." not in page
        assert re.search(rf'<article class="post opening" id="p-{tid}" lang="es"', page)
        # The interface follows the reader's Accept-Language too (docs/i18n.md).
        # and so does the original's language, named in Spanish (the version links keep each name in itself).
        assert "Traducido por una persona voluntaria; el original está en inglés." in page
        original = re.search(r'<a href="([^"]+)">Ver el original</a>', page).group(1)
        back = (await client.get(html.unescape(original))).text
        assert '<h1 dir="auto">Struggling today</h1>' in back and "It has been a long week." in back
        assert "Traducido por una persona voluntaria" not in back
    async with instance.client(headers=ENGLISH) as client:
        page = (await client.get(f"/p/{tid}")).text
        assert '<h1 dir="auto">Struggling today</h1>' in page and "Translated by a volunteer" not in page
        # The other languages are offered, each named in itself.
        assert re.search(rf'href="/p/{tid}\?show=es#p-{tid}" lang="es" hreflang="es">Español</a>', page)
        assert "Un día difícil" in (await client.get(f"/p/{tid}?show=es")).text


async def test_a_held_translation_waits_for_a_moderator(instance):
    world = await seed(instance, people=("ada", "bea", "mod"), languages="en es")
    await set_post(instance, world.thread_id, language="en")
    tid = world.thread_id
    async with db.transaction(instance.sessions) as session:
        await session.execute(update(Site).values(new_account_held_posts=3))
        await session.execute(update(User).where(User.actor_id == world.people["mod"]).values(is_admin=True))
    async with instance.client() as client:
        await log_in(client, "bea")
        await join(client)
        held = await translate(client, tid, language="es", title="Un día difícil", body="Ha sido una semana larga.")
        assert held.status_code == 303 and "translated=held" in held.headers["location"]
        assert "A moderator will look at it soon" in (await client.get(held.headers["location"])).text
    assert (await translations_of(instance, tid))["es"].state == "held"
    async with instance.client(headers=SPANISH) as client:
        assert "Un día difícil" not in (await client.get(f"/p/{tid}")).text
    async with instance.sessions() as session:
        item = await session.scalar(select(HeldItem).where(HeldItem.kind == "translation"))
    assert item is not None and item.post_id == tid
    async with instance.client() as client:
        await log_in(client, "mod")
        queue = (await client.get("/mod")).text
        assert "Translations waiting for review" in queue and "Un día difícil" in queue
        decided = await client.post(f"/mod/held/{item.id}", data={"csrf_token": csrf_from(queue), "action": "approve"})
        assert decided.status_code == 303
    assert (await translations_of(instance, tid))["es"].state == "published"
    async with instance.client(headers=SPANISH) as client:
        assert "Un día difícil" in (await client.get(f"/p/{tid}")).text


async def test_the_note_carries_every_published_translation(instance):
    world = await seed(instance, languages="en es")
    await set_post(instance, world.thread_id, language="en")
    tid = world.thread_id
    async with instance.client() as client:
        before = (await client.get(f"/p/{tid}", headers=AP_JSON)).json()
        assert before["contentMap"] == {"en": before["content"]} and "nameMap" not in before
        await log_in(client, "bea")
        await join(client)
        for language, title, body in (("es", "Un día difícil", "Ha sido una semana larga."),
                                      ("ar", "يوم صعب", "كان أسبوعًا طويلًا.")):
            assert (await translate(client, tid, language=language, title=title, body=body)).status_code == 303
    async with instance.client() as client:
        note = (await client.get(f"/p/{tid}", headers=AP_JSON)).json()
    assert note["content"] == before["content"] and note["name"] == "Struggling today"
    assert list(note["contentMap"]) == ["en", "es", "ar"]  # the original first: Mastodon reads its language there
    assert note["contentMap"]["en"] == note["content"]
    assert note["contentMap"]["es"].rstrip() == "<p><strong>Un día difícil</strong></p><p>Ha sido una semana larga.</p>"
    assert "كان أسبوعًا طويلًا." in note["contentMap"]["ar"]
    assert note["nameMap"] == {"en": "Struggling today", "es": "Un día difícil", "ar": "يوم صعب"}
    assert note["updated"] >= note["published"]
