"""Care on the web: "Get help now" for the reader's region, the crisis box, the page after a post that
matched a crisis signal (and its urgent welfare report), and the admin pages."""
from __future__ import annotations

import datetime as dt
import html
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from sqlalchemy import select

from fedisupport import care, db
from fedisupport.domain import accounts, reports
from fedisupport.models import CrisisPhrase, CrisisService, Post, Report
from tests.web.test_threads import PASSWORD, csrf_from, log_in, seed, token_for


async def seed_care(instance) -> None:
    async with db.transaction(instance.sessions) as session:
        await care.seed_all(session)


async def make_admin(instance, name: str = "root") -> None:
    async with db.transaction(instance.sessions) as session:
        await accounts.create_user(session, instance.settings, name, PASSWORD, is_admin=True)


# --- Get help now ----------------------------------------------------------------------------


async def test_help_page_shows_the_mexican_services_for_es_mx(instance):
    await seed_care(instance)
    async with instance.client() as client:
        page = (await client.get("/help", headers={"Accept-Language": "es-MX,es;q=0.9"})).text
    danger = page.index('class="urgent"')
    local = page.index("Línea de la Vida")
    assert danger < local, "the immediate-danger line comes first"
    assert 'href="tel:8009112000"' in page
    assert "en México" in page  # an es-MX reader gets the page in Spanish (web/locale.py), regions too
    assert "en Mexico" not in page
    # Other regions are there, folded away.
    details = page.index("<details")
    assert page.index("Samaritans") > details and local < details
    assert "Find A Helpline" in page


async def test_help_page_without_a_region_leads_with_the_international_directories(instance):
    await seed_care(instance)
    async with instance.client() as client:
        page = (await client.get("/help", headers={"Accept-Language": "es"})).text
    assert "No pudimos saber dónde estás" in page  # in the reader's language
    assert page.index("Find A Helpline") < page.index("<details")


async def test_spanish_speakers_in_the_us_see_the_spanish_line_first(instance):
    await seed_care(instance)
    async with instance.client() as client:
        page = (await client.get("/help", headers={"Accept-Language": "es-US"})).text
    assert page.index("988 Lifeline en español") < page.index("988 Suicide &amp; Crisis Lifeline</strong>")


async def test_the_region_chooser_sets_a_cookie_with_a_plain_form(instance):
    await seed_care(instance)
    async with instance.client() as client:
        page = (await client.get("/help", headers={"Accept-Language": "es-MX"})).text
        assert re.search(r'<form method="post" action="[^"]*/help/region"', page)
        # Without the form's token nothing changes.
        refused = await client.post("/help/region", data={"region": "GB"})
        assert refused.status_code == 403 and "fs_region" not in refused.headers.get("set-cookie", "")
        chosen = await client.post("/help/region", data={"region": "gb", "csrf_token": csrf_from(page)})
        assert chosen.status_code == 303 and chosen.headers["location"].startswith("/help?region=saved")
        assert "fs_region=GB" in chosen.headers["set-cookie"] and "HttpOnly" in chosen.headers["set-cookie"]
        page = (await client.get("/help?region=saved", headers={"Accept-Language": "es-MX"})).text
        assert "en Reino Unido" in page and page.index("Samaritans") < page.index("<details")
        assert '<option value="GB" selected>' in page
        # Back to automatic.
        cleared = await client.post("/help/region", data={"region": "", "csrf_token": csrf_from(page)})
        assert 'fs_region=""' in cleared.headers["set-cookie"] or "fs_region=;" in cleared.headers["set-cookie"]


async def test_community_and_thread_pages_carry_a_one_line_crisis_box(instance):
    await seed_care(instance)
    world = await seed(instance)
    async with instance.client() as client:
        for path in ("/c/hope", f"/p/{world.thread_id}"):
            page = (await client.get(path, headers={"Accept-Language": "en-AU"})).text
            box = re.search(r'<aside class="crisis-box".*?</aside>', page, re.S).group(0)
            assert "Lifeline Australia" in box and 'href="tel:131114"' in box and '/help"' in box


async def test_the_help_page_works_before_the_directory_is_seeded(instance):
    async with instance.client() as client:
        page = (await client.get("/help", headers={"Accept-Language": "en-NZ"})).text
    assert "1737" in page


# --- a post with a crisis signal --------------------------------------------------------------


async def test_a_local_post_with_a_crisis_phrase_shows_the_services_and_files_an_urgent_report(instance):
    await seed_care(instance)
    world = await seed(instance)
    async with instance.client() as client:
        await log_in(client, "bea")
        token = await token_for(client, f"/p/{world.thread_id}/reply")
        response = await client.post(f"/p/{world.thread_id}/reply", data={
            "csrf_token": token, "body": "Honestly, I don't want to live any more."},
            headers={"Accept-Language": "es-MX"})
        assert response.status_code == 303
        support = response.headers["location"]
        reply_id = int(re.fullmatch(r"/p/(\d+)/support", support).group(1))
        page = (await client.get(support, headers={"Accept-Language": "es-MX"})).text
        assert "Gracias por compartir esto" in page  # Accept-Language: es-MX
        assert page.index("peligro ahora mismo") < page.index("Línea de la Vida")
        to_post = html.unescape(re.search(r'<a class="button" href="([^"]+)">Ir a tu publicación', page).group(1))
        thread_page = (await client.get(to_post)).text
        assert "any more." in thread_page  # published, shown like any other reply
    async with instance.sessions() as session:
        post = await session.get(Post, reply_id)
        assert post.state == "published"
        report = await session.scalar(select(Report).where(Report.post_id == reply_id))
    assert report.category == "welfare" and report.urgent and report.state == "open"
    assert report.reporter_id is None and report.ap_id is None and report.forwarded_at is None
    assert report.reason == "crisis signal: i don't want to live"
    assert report.community_id == world.community_id and report.target_actor_id == world.people["bea"]
    # Filed by the instance, not by a visitor: it uses none of the quota for reports without an account.
    assert report.automatic
    async with instance.sessions() as session:
        assert await reports.reports_since(session, None, report.created_at - dt.timedelta(minutes=1)) == 0


async def test_a_new_thread_with_a_crisis_phrase_goes_through_the_support_page(instance):
    await seed_care(instance)
    await seed(instance)
    async with instance.client() as client:
        await log_in(client, "bea")
        token = await token_for(client, "/c/hope/new")
        response = await client.post("/c/hope/new", data={
            "csrf_token": token, "title": "Tonight", "body": "أُرِيدُ أَنْ أَمُوتَ", "language": "ar"})
        assert response.status_code == 303 and response.headers["location"].endswith("/support")
    async with instance.sessions() as session:
        report = await session.scalar(select(Report).where(Report.category == "welfare"))
    assert report.urgent and report.reason == "crisis signal: أريد أن أموت"


async def test_an_ordinary_post_goes_straight_to_the_thread(instance):
    await seed_care(instance)
    world = await seed(instance)
    async with instance.client() as client:
        await log_in(client, "bea")
        token = await token_for(client, f"/p/{world.thread_id}/reply")
        response = await client.post(f"/p/{world.thread_id}/reply", data={"csrf_token": token, "body": "Same here."})
        assert "/support" not in response.headers["location"]
    async with instance.sessions() as session:
        assert await session.scalar(select(Report.id)) is None


# --- admin pages -------------------------------------------------------------------------------


async def test_admin_pages_need_an_admin(instance):
    await seed(instance)
    async with instance.client() as client:
        assert (await client.get("/admin/care/services")).status_code == 303  # to log in
        await log_in(client, "bea")
        assert (await client.get("/admin/care/services")).status_code == 403
        assert (await client.get("/admin/care/phrases")).status_code == 403


async def test_admins_add_edit_reorder_and_turn_off_services(instance):
    await seed_care(instance)
    await make_admin(instance)
    async with instance.client() as client:
        await log_in(client, "root")
        listing = (await client.get("/admin/care/services")).text
        assert "Línea de la Vida" in listing
        token = csrf_from(listing)
        form = {"name": "Test Line", "kind": "phone", "contact": "0800 000 000", "region": "mx", "languages": "es",
                "hours": "24/7", "description": "A line.", "source_url": "https://example.org/line",
                "last_checked": "2026-03-01"}
        # No token: refused, nothing added.
        assert (await client.post("/admin/care/services/new", data=form)).status_code == 403
        # Mistakes come back with messages.
        bad = await client.post("/admin/care/services/new", data=form | {"csrf_token": token, "source_url": "",
                                                                          "region": "Mexico"})
        assert bad.status_code == 400 and "two-letter country code" in bad.text and "web address where" in bad.text
        added = await client.post("/admin/care/services/new", data=form | {"csrf_token": token})
        assert added.status_code == 303
        async with instance.sessions() as session:
            line = await session.scalar(select(CrisisService).where(CrisisService.name == "Test Line"))
            first_mx = await session.scalar(select(CrisisService).where(CrisisService.region == "MX")
                                            .order_by(CrisisService.position, CrisisService.id))
        assert line.region == "MX" and str(line.last_checked) == "2026-03-01" and first_mx.id != line.id
        # Move it to the top of Mexico's list.
        moved = await client.post(f"/admin/care/services/{line.id}/move", data={"csrf_token": token, "direction": "up"})
        assert moved.status_code == 303
        page = (await client.get("/help", headers={"Accept-Language": "es-MX"})).text
        assert page.index("Test Line") < page.index("Línea de la Vida")
        # Edit it.
        edit = (await client.get(f"/admin/care/services/{line.id}/edit")).text
        assert 'value="0800 000 000"' in edit
        saved = await client.post(f"/admin/care/services/{line.id}/edit",
                                  data=form | {"csrf_token": token, "contact": "0800 111 111", "region": "MX"})
        assert saved.status_code == 303
        # Turn it off: it disappears from pages.
        assert (await client.post(f"/admin/care/services/{line.id}/deactivate", data={})).status_code == 403
        off = await client.post(f"/admin/care/services/{line.id}/deactivate", data={"csrf_token": token})
        assert off.status_code == 303
        page = (await client.get("/help", headers={"Accept-Language": "es-MX"})).text
        assert "Test Line" not in page and "Línea de la Vida" in page
        assert "turned off" in (await client.get("/admin/care/services")).text


async def test_admins_edit_the_phrase_list_and_matching_follows(instance):
    await seed_care(instance)
    await make_admin(instance)
    world = await seed(instance, people=("ada", "bea"))
    async with instance.client() as client:
        await log_in(client, "root")
        page = (await client.get("/admin/care/phrases")).text
        token = csrf_from(page)
        assert (await client.post("/admin/care/phrases/add", data={"phrase": "x", "language": "en"})).status_code == 403
        added = await client.post("/admin/care/phrases/add", data={
            "csrf_token": token, "phrase": "Nadie me echaría de menos", "language": "es"})
        assert added.status_code == 303
        async with instance.sessions() as session:
            suicidal = await session.scalar(select(CrisisPhrase).where(CrisisPhrase.phrase == "suicidal"))
        off = await client.post(f"/admin/care/phrases/{suicidal.id}/off", data={"csrf_token": token})
        assert off.status_code == 303
    async with instance.client() as client:
        await log_in(client, "bea")
        for body, flagged in (("nadie me echaria de menos", True), ("feeling suicidal", False)):
            token = await token_for(client, f"/p/{world.thread_id}/reply")
            response = await client.post(f"/p/{world.thread_id}/reply", data={"csrf_token": token, "body": body})
            assert response.headers["location"].endswith("/support") is flagged, body


# --- nothing from another origin -------------------------------------------------------------


class _Resources(HTMLParser):
    """Every URL a page would load by itself (not plain links people click)."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "audio", "video", "source", "embed", "track", "input"):
            self.urls += [attrs[k] for k in ("src", "srcset") if attrs.get(k)]
        if tag == "object" and attrs.get("data"):
            self.urls.append(attrs["data"])
        if tag == "link" and attrs.get("rel", "") != "alternate":
            self.urls.append(attrs.get("href", ""))
        if attrs.get("style") and "url(" in attrs["style"]:
            self.urls.append(attrs["style"])
        if tag == "form" and attrs.get("action"):
            self.urls.append(attrs["action"])


def assert_same_origin_only(page: str, origin: str) -> None:
    parser = _Resources()
    parser.feed(page)
    assert parser.urls  # the stylesheets at least
    for url in parser.urls:
        parts = urlsplit(url)
        assert not parts.netloc or f"{parts.scheme}://{parts.netloc}" == origin, url
    assert "@import" not in page and "url(http" not in page


async def test_no_page_touched_here_loads_anything_from_another_origin(instance):
    await seed_care(instance)
    await make_admin(instance)
    world = await seed(instance)
    async with instance.client() as client:
        await log_in(client, "root")
        async with instance.sessions() as session:
            service_id = await session.scalar(select(CrisisService.id).limit(1))
        for path in ("/help", "/c/hope", f"/p/{world.thread_id}", f"/p/{world.thread_id}/support",
                     "/admin/care/services", "/admin/care/services/new", f"/admin/care/services/{service_id}/edit",
                     "/admin/care/phrases"):
            response = await client.get(path, headers={"Accept-Language": "es-MX"})
            assert response.status_code == 200, path
            assert_same_origin_only(response.text, instance.base_url)
        css = (await client.get("/static/style.css")).text
        assert "url(" not in css and "@import" not in css
