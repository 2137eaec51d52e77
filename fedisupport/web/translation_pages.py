"""Posts in the reader's language: which version of an opening post a thread page shows, the
language a writer starts in, and the page where volunteers add a translation.

The reader's language: what they chose with the language switcher (web/locale.py), then their
browser's Accept-Language, then the interface language the site fell back to. `?show=original`
and `?show=<tag>` on a thread page pick a version by hand.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import db
from ..domain import accounts, languages, moderation, pseudonyms, translations
from ..domain.errors import DomainError
from ..domain.moderation import NotAllowed
from ..domain.posting import MAX_TITLE
from ..models import Actor, Community, Post, PostTranslation
from ..models.content import HELD, PUBLISHED
from . import auth
from .care import parse_accept_language

ORIGINAL = "original"
LANG_COOKIE = "fs_lang"  # the language switcher's choice (web/locale.py)


# --- the reader's and the writer's language ----------------------------------------------------


def interface_language(request: Request) -> str | None:
    """The language this page is shown in (set per request by web/locale.py), else the browser's first."""
    chosen = getattr(request.state, "language", None)
    if chosen:
        return chosen
    ranges = parse_accept_language(request.headers.get("accept-language"))
    return languages.primary(ranges[0][0]) if ranges else None


def reader_languages(request: Request) -> list[str]:
    """The languages this reader reads, best first.

    A language they chose on the switcher leads; otherwise their browser's list does (it can name
    languages the interface has no catalogue for, and translations may exist in them), and the
    interface language comes last.
    """
    ranges = [tag for tag, _ in parse_accept_language(request.headers.get("accept-language"))]
    interface = getattr(request.state, "language", None)
    if interface and request.cookies.get(LANG_COOKIE):
        return [interface, *ranges]
    return [*ranges, *([interface] if interface else [])]


def writing_languages(request: Request, community: Community | None) -> dict[str, Any]:
    """What the language <select> of a thread or reply form needs."""
    setting = community.languages if community is not None else None
    own = languages.community_languages(setting)
    return {"post_languages": languages.choices(own),
            "other_languages": languages.choices(t for t in languages.known(setting) if t not in own),
            "default_language": languages.default_for_writer(interface_language(request), setting)}


def chosen_language(value: str, community: Community | None) -> str | None:
    """The language a writer picked, checked; DomainError when it is not one we offer."""
    if not value:
        return None
    tag = languages.valid(value, community.languages if community is not None else None)
    if tag is None:
        raise DomainError("Please choose a language from the list.")
    return tag


# --- which version of an opening post a thread page shows --------------------------------------


@dataclasses.dataclass
class Shown:
    """The opening post as shown: its own words, or a translation of them (same shape as Post for
    the templates: title, content_html, content_warning, sensitive, language)."""

    title: str | None
    content_html: str
    content_warning: str | None
    sensitive: bool
    language: str | None


@dataclasses.dataclass
class Version:
    language: str
    name: str
    href: str
    current: bool


async def thread_view(request: Request, session: AsyncSession, thread: Post, viewer: Actor | None) -> dict[str, Any]:
    """For thread.html: `shown` (a translation, or None for the original), the note and links."""
    found = await translations.published_for(session, thread) if thread.state == PUBLISHED else []
    community = await moderation.community_of(session, thread)
    is_author = viewer is not None and await pseudonyms.author_acting_for(session, viewer, thread) is not None
    may = await translations.may_translate(session, viewer, thread, community, is_author=is_author)
    asked = (request.query_params.get("show") or "").strip()
    by_language = {t.language: t for t in found}
    if asked == ORIGINAL:
        pick = None
    elif asked in by_language:
        pick = by_language[asked]
    else:
        best = languages.best_match(reader_languages(request), [thread.language or "", *by_language])
        pick = by_language.get(best) if best and best != thread.language else None
    base = f"/p/{thread.id}"
    versions = []
    if found:
        versions.append(Version(thread.language or "", languages.name_of(thread.language) if thread.language
                                else "the original", f"{base}?show={ORIGINAL}", pick is None))
        versions += [Version(t.language, languages.name_of(t.language), f"{base}?show={t.language}", t is pick)
                     for t in found]
    shown = None
    if pick is not None:
        shown = Shown(title=pick.title or thread.title, content_html=pick.content_html,
                      content_warning=thread.content_warning, sensitive=thread.sensitive, language=pick.language)
    return {
        "shown": shown,
        "original_language_name": languages.name_for_reader(thread.language) if thread.language else None,
        "original_href": f"{base}?show={ORIGINAL}#p-{thread.id}",
        "versions": versions,
        "translate_href": f"{base}/translate" if may else None,
        "translation_notice": request.query_params.get("translated") if request.query_params.get("translated")
        in ("held", "removed") else None,
    }


# --- adding a translation ----------------------------------------------------------------------


async def _opening(session: AsyncSession, request: Request) -> tuple[Post, Actor, Community]:
    try:
        post_id = int(request.path_params["post_id"])
    except (KeyError, ValueError):
        raise HTTPException(404, "We couldn't find that post.") from None
    post = await session.get(Post, post_id) if 0 < post_id < 1 << 63 else None
    author = await session.get(Actor, post.author_id) if post is not None else None
    if post is None or author is None or post.state != PUBLISHED or author.suspended \
            or post.visibility not in translations.TRANSLATABLE:
        raise HTTPException(404, "We couldn't find that post. It may have been removed.")
    community = await moderation.community_of(session, post)
    if not (post.is_thread and post.local and community is not None and community.local):
        raise HTTPException(404, translations.NOT_TRANSLATABLE)
    return post, author, community


def _fields(form) -> dict[str, str]:
    def get(name: str, limit: int) -> str:
        value = form.get(name)
        return value[:limit] if isinstance(value, str) else ""

    return {"language": get("language", 16).strip(), "title": get("title", MAX_TITLE * 2).strip(),
            "body": get("body", auth.MAX_FORM_FIELD_BYTES)}


def _error_field(message: str) -> str:
    lowered = message.lower()
    if "language" in lowered:
        return "language"
    if "title" in lowered:
        return "title"
    return "body"


async def translate_page(request: Request) -> Response:
    """/p/{id}/translate: the opening post beside a form for it in another language."""
    me = await auth.current_user(request)
    if request.method == "GET":
        if me is None:
            return auth.apply_cookies(request, _redirect(auth.login_url(request)))
        return await _form(request, me)
    try:
        form = await auth.csrf_protect(request)
    except HTTPException as exc:
        if exc.status_code != 403:
            raise
        values = _fields(await request.form())
        notice = ("For your safety we didn't save that: the page had been open a long time or came from another "
                  "site. Your words are still here. Please press the button again.") if me else \
                 "You're not logged in at the moment, so this wasn't saved. Your words are still here."
        return await _form(request, me, values=values, notice=notice, status_code=403)
    if me is None:
        return await _form(request, None, values=_fields(form), status_code=403,
                           notice="You're not logged in at the moment, so this wasn't saved. Your words are still here.")
    values = _fields(form)
    settings = request.app.state.settings
    try:
        async with db.transaction(request.app.state.sessions) as session:
            post, _, _ = await _opening(session, request)
            actor, is_author = await _acting(session, me, post)
            if form.get("remove") == "yes":
                await translations.remove(session, settings, actor, post, values["language"], is_author=is_author)
                return _redirect(f"/p/{post.id}?translated=removed#p-{post.id}", request)
            saved = await translations.save(session, settings, actor, post, language=values["language"],
                                            title=values["title"] or None, body=values["body"], is_author=is_author)
    except NotAllowed as exc:
        return await _form(request, me, values=values, notice=str(exc), status_code=403)
    except DomainError as exc:
        return await _form(request, me, values=values, errors={_error_field(str(exc)): str(exc)}, status_code=400)
    if saved.state == HELD:
        return _redirect(f"/p/{post.id}?translated=held#p-{post.id}", request)
    return _redirect(f"/p/{post.id}?show={saved.language}#p-{post.id}", request)


async def _acting(session: AsyncSession, me: auth.CurrentUser, post: Post) -> tuple[Actor, bool]:
    """Who translates: the post's author acts as whoever wrote it (their pseudonym, if so)."""
    real = await session.get(Actor, me.actor.id)
    as_author = await pseudonyms.author_acting_for(session, real, post)
    return (as_author, True) if as_author is not None else (real, False)


def _redirect(url: str, request: Request | None = None) -> Response:
    from starlette.responses import RedirectResponse

    response = RedirectResponse(url, status_code=303)
    return auth.apply_cookies(request, response) if request is not None else response


async def _form(request: Request, me: auth.CurrentUser | None, *, values: dict | None = None,
                errors: dict | None = None, notice: str | None = None, status_code: int = 200) -> Response:
    async with request.app.state.sessions() as session:
        post, author, community = await _opening(session, request)
        site = await accounts.get_site(session)
        may, existing, may_change = False, None, False
        if me is not None:
            actor, is_author = await _acting(session, me, post)
            may = await translations.may_translate(session, actor, post, community, is_author=is_author)
        offered = [(tag, name) for tag, name in languages.choices(languages.known(community.languages))
                   if tag != languages.primary(post.language)]
        values = dict(values or {})
        if not values.get("language"):
            wanted = request.query_params.get("lang") or interface_language(request)
            tags = [tag for tag, _ in offered]
            values["language"] = wanted if wanted in tags else (tags[0] if tags else "")
        if me is not None and may:
            existing = await translations.find(session, post, values["language"])
            if existing is not None and existing.state != translations.REJECTED:
                may_change = await translations.may_change(session, actor, existing, post, community,
                                                           is_author=is_author)
                if may_change and "body" not in values:
                    values.update(title=existing.title or "", body=existing.source or "")
            else:
                existing = None
        elif me is not None and notice is None:
            notice = "Only members of this community can add a translation here."
            status_code = 403 if request.method == "POST" else status_code
    from .thread_pages import page

    return page(request, "translate_post.html", status_code=status_code, site=site, viewer=me, post=post,
                author=author, community=community, translation_languages=offered, values=values, errors=errors or {},
                notice=notice, may=may, existing=existing, may_change=may_change,
                original_language_name=languages.name_of(post.language) if post.language else None)


def routes() -> list[Route]:
    return [Route("/p/{post_id}/translate", translate_page, methods=["GET", "POST"], name="post_translate")]
