"""The interface's language: Accept-Language, the switcher, a signed-in person's choice, lang/dir."""
from __future__ import annotations

import html
import re

from sqlalchemy import select

from fedisupport import db
from fedisupport.models import Actor, Site, User
from tests.web.test_threads import log_in, seed
from tests.web.test_moderation import log_in as mod_log_in, submit, world  # noqa: F401 (world: a fixture)


def html_attrs(page: str) -> tuple[str, str]:
    match = re.search(r'<html lang="([^"]+)" dir="([^"]+)">', page)
    return match.group(1), match.group(2)


async def test_accept_language_picks_the_language_and_english_stays_the_default(instance):
    world = await seed(instance)
    async with instance.client() as client:
        plain = await client.get("/")
        assert html_attrs(plain.text) == ("en", "ltr") and "Get help now" in plain.text
        spanish = await client.get("/", headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})
        assert html_attrs(spanish.text) == ("es", "ltr") and "Pide ayuda ahora" in spanish.text
        # The first language we have wins: no French catalogue, so Hindi.
        hindi = await client.get(f"/p/{world.thread_id}", headers={"Accept-Language": "fr-FR, hi;q=0.8, en;q=0.5"})
        assert html_attrs(hindi.text) == ("hi", "ltr") and "अभी मदद पाएँ" in hindi.text
        arabic = await client.get("/help", headers={"Accept-Language": "ar-EG"})
        assert html_attrs(arabic.text) == ("ar", "rtl") and "اطلب المساعدة الآن" in arabic.text
        # Caches must keep the languages apart.
        vary = {v.strip().lower() for v in arabic.headers["vary"].split(",")}
        assert {"accept-language", "cookie"} <= vary


async def test_counts_use_each_languages_plural_forms(instance):
    await seed(instance)
    async with instance.client() as client:
        english = (await client.get("/c/hope")).text
        spanish = (await client.get("/c/hope", headers={"Accept-Language": "es"})).text
        arabic = (await client.get("/c/hope", headers={"Accept-Language": "ar"})).text
    assert "0 replies" in english and "1 thread" not in english
    assert "0 respuestas" in spanish and "replies" not in spanish
    assert "0 ردّ" in arabic  # Arabic's zero form


async def test_error_pages_carry_the_readers_language(instance):
    async with instance.client() as client:
        missing = await client.get("/c/nowhere", headers={"Accept-Language": "ar"})
        assert missing.status_code == 404
        assert html_attrs(missing.text) == ("ar", "rtl") and "لم نجد هذا المجتمع." in missing.text
        refused = await client.post("/login", data={"username": "x", "password": "y"},
                                    headers={"Accept-Language": "hi"})
        assert refused.status_code == 403
        assert html_attrs(refused.text) == ("hi", "ltr") and "आपकी सुरक्षा के लिए" in refused.text
        english = await client.get("/p/999999999")
        assert english.status_code == 404 and html_attrs(english.text) == ("en", "ltr")


async def test_the_switcher_sets_a_cookie_and_goes_back_only_to_this_site(instance):
    async with instance.client() as client:
        home = (await client.get("/")).text
        form = re.search(r'<form class="language-switcher" method="get" action="([^"]+)">(.*?)</form>', home, re.S)
        assert form, "every page has the switcher"
        assert '<label for="language-choice">Language</label>' in form.group(2)
        for code, name in (("en", "English"), ("es", "Español"), ("hi", "हिन्दी"), ("ar", "العربية")):
            assert re.search(rf'<option value="{code}" lang="{code}"[^>]*>{name}</option>', form.group(2))
        chosen = await client.get("/language", params={"lang": "ar", "next": "/help?x=1"})
        assert chosen.status_code == 303 and chosen.headers["location"] == "/help?x=1"
        assert "fs_lang=ar" in chosen.headers["set-cookie"]
        page = await client.get("/help")  # the client keeps the cookie; it beats Accept-Language
        assert html_attrs(page.text) == ("ar", "rtl")
        page = await client.get("/help", headers={"Accept-Language": "es"})
        assert html_attrs(page.text) == ("ar", "rtl")
        for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
            response = await client.get("/language", params={"lang": "es", "next": evil})
            assert response.status_code == 303 and response.headers["location"] == "/", evil
        unknown = await client.get("/language", params={"lang": "xx", "next": "/"})
        assert "fs_lang=en" in unknown.headers["set-cookie"]


async def test_a_signed_in_persons_choice_follows_them_to_a_new_browser(instance):
    await seed(instance)
    async with instance.client() as first:
        await log_in(first, "ada")
        chosen = await first.get("/language", params={"lang": "hi", "next": "/"},
                                 headers={"Sec-Fetch-Site": "same-origin"})
        assert chosen.status_code == 303
    async with instance.sessions() as session:
        assert (await session.scalar(select(User.locale).join(Actor, Actor.id == User.actor_id).where(Actor.username == "ada", Actor.local.is_(True)))) == "hi"
    async with instance.client() as second:  # no cookies: another browser
        assert html_attrs((await second.get("/")).text) == ("en", "ltr")
        await log_in(second, "ada")
        assert html_attrs((await second.get("/")).text) == ("hi", "ltr")
    # A link from another site changes the browser's cookie but not the saved choice.
    async with instance.client() as third:
        await log_in(third, "ada")
        await third.get("/language", params={"lang": "es", "next": "/"}, headers={"Sec-Fetch-Site": "cross-site"})
    async with instance.sessions() as session:
        assert (await session.scalar(select(User.locale).join(Actor, Actor.id == User.actor_id).where(Actor.username == "ada", Actor.local.is_(True)))) == "hi"


async def test_the_sites_default_language_applies_when_the_browser_says_nothing_we_have(instance):
    async with db.transaction(instance.sessions) as session:
        site = await session.scalar(select(Site))
        site.default_language = "es"
    instance.app.state.site_language_cache = None  # the 30 s cache, as after its expiry
    async with instance.client() as client:
        assert html_attrs((await client.get("/", headers={"Accept-Language": "fr"})).text) == ("es", "ltr")
        assert html_attrs((await client.get("/", headers={"Accept-Language": "en"})).text) == ("en", "ltr")


async def test_moderators_and_admins_read_their_pages_in_their_language(instance, world):
    """A Spanish-speaking moderator's queue and an Arabic-speaking admin's overview, not only the members' pages."""
    async with instance.client(headers={"Accept-Language": "es-MX,es;q=0.9"}) as client:
        await mod_log_in(client, "mo")
        queue = html.unescape((await client.get("/mod")).text)
        assert html_attrs(queue) == ("es", "ltr")
        assert "Cola de moderación" in queue and "Publicaciones que esperan revisión (1)" in queue
        assert "Mostrar la publicación" in queue and "Aprobar y publicar" in queue
        assert "A first post here" in queue  # why it waits is what a person wrote: it stays as written
        for english in ("Moderation queue", "Posts waiting for review", "Show the post", "Waiting because",
                        "Approve and publish", "Modlog", "someone who has left"):
            assert english not in queue, english
        done = await submit(client, "/mod", f"/mod/held/{world.ids['held']}", {"action": "approve"})
        assert done.status_code == 303
        notice = html.unescape((await client.get(done.headers["location"])).text)
        assert "Aprobado: ya está publicado." in notice and "No hay nada esperando ahora mismo" in notice
        modlog = html.unescape((await client.get("/modlog")).text)
        assert "Lo que hicieron los moderadores" in modlog and "Aprobado" in modlog
    async with instance.client(headers={"Accept-Language": "ar"}) as client:
        await mod_log_in(client, "ada")
        admin = html.unescape((await client.get("/admin")).text)
        assert html_attrs(admin) == ("ar", "rtl")
        assert "رعاية هذا الموقع" in admin and "نظرة عامة" in admin and "كلمات وعبارات" in admin
        for english in ("Looking after this site", "Overview", "Sign-ups", "Words and phrases", "Other servers"):
            assert english not in admin, english
    async with instance.client() as client:  # and English stays English
        await mod_log_in(client, "mo")
        assert "Moderation queue" in (await client.get("/mod")).text
