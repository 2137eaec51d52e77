"""Care pages: the region chooser on /help, the page after a post that matched a crisis signal, and
the admin pages for the directory of crisis services and the crisis-signal phrases.

Every page works without JavaScript and loads nothing from another site. Admin pages need an
admin (`auth.admin_required`) and every form carries the CSRF token (`auth.csrf_protect`).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import db
from ..care import directory, phrases
from ..domain import accounts
from ..models import CrisisPhrase, CrisisService, utcnow
from ..models.care import SERVICE_KINDS
from . import auth
from .forms import text_field
from .care import REGION_COOKIE, REGION_COOKIE_MAX_AGE, clean_region, crisis_resources
from ..i18n import _, lazy_gettext

KIND_LABELS = {"phone": lazy_gettext("Phone"), "text": lazy_gettext("Text message"), "chat": lazy_gettext("Chat"),
               "web": lazy_gettext("Website")}
LANGUAGE_LABELS = {"en": "English", "es": "Español", "hi": "हिन्दी", "ar": "العربية"}


def _render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("kind_labels", KIND_LABELS)
    context.setdefault("language_labels", LANGUAGE_LABELS)
    response = request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code)
    return auth.apply_cookies(request, response)


def _redirect(request: Request, url: str) -> Response:
    return auth.apply_cookies(request, RedirectResponse(url, status_code=303))


# --- the reader's region ---------------------------------------------------------------------------


async def choose_region(request: Request) -> Response:
    """POST /help/region: remember the region the reader chose (a cookie), or forget it ("")."""
    form = await auth.csrf_protect(request)
    region = clean_region(text_field(form, "region", 8))
    response = _redirect(request, "/help" + ("?region=saved" if region else "?region=auto") + "#services")
    settings = request.app.state.settings
    if region:
        response.set_cookie(REGION_COOKIE, region, max_age=REGION_COOKIE_MAX_AGE, path="/",
                            secure=not settings.insecure_http, httponly=True, samesite="lax")
    else:
        response.delete_cookie(REGION_COOKIE, path="/", secure=not settings.insecure_http, httponly=True,
                               samesite="lax")
    return response


async def help_page(request: Request) -> Response:
    """/help: the immediate-danger line, the services for the reader's region, then everything else."""
    me = await auth.current_user(request)
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
        care = await crisis_resources(request, session, everything=True)
    return _render(request, "help.html", site=site, viewer=me, care=care,
                   notice=request.query_params.get("region", ""))


# --- after a post that matched a crisis signal ------------------------------------------------------


async def after_post(request: Request) -> Response:
    """/p/{id}/support: shown to someone whose post matched a crisis signal, right after posting.

    The page says nothing about the post or any signal: it thanks them, offers the services for
    their region and links on to their post, which is published like any other.
    """
    from .thread_pages import in_thread
    from .thread_view import load_post, post_id_of

    me = await auth.current_user(request)
    async with request.app.state.sessions() as session:
        found = await load_post(session, post_id_of(request))
        if found is None:
            raise HTTPException(404, _("We couldn't find that post."))
        post = found[0]
        site = await accounts.get_site(session)
        care = await crisis_resources(request, session)
    held = post.state == "held"
    if held:  # not shown to anyone yet: lead back to the thread it answers, or home
        back = f"/p/{post.thread_id}" if not post.is_thread and post.thread_id else "/"
    else:
        back = in_thread(post)
    return _render(request, "care_after_post.html", site=site, viewer=me, care=care, post_url=back, held=held)


# --- admin: the directory -------------------------------------------------------------------------


def _service_id(request: Request) -> int:
    try:
        return int(request.path_params["service_id"])
    except ValueError:
        raise HTTPException(404, _("We couldn't find that service.")) from None


async def _service(session, request: Request) -> CrisisService:
    service = await session.get(CrisisService, _service_id(request))
    if service is None:
        raise HTTPException(404, _("We couldn't find that service."))
    return service


@auth.admin_required
async def admin_services(request: Request) -> Response:
    me = await auth.current_user(request)
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
        rows = list(await session.scalars(select(CrisisService).order_by(CrisisService.position, CrisisService.id)))
    groups: dict[str, list[CrisisService]] = {}
    for service in rows:
        groups.setdefault(service.region, []).append(service)
    ordered = sorted(groups.items(), key=lambda item: ("" if item[0] == "*" else directory.region_name(item[0])))
    return _render(request, "admin_care_services.html", site=site, me=me, groups=ordered,
                   region_name=directory.region_name, done=request.query_params.get("done", ""))


def _values(form: FormData) -> dict[str, str]:
    return {key: text_field(form, key, limit + 1) for key, limit in directory.LIMITS.items()} | {
        "kind": text_field(form, "kind", 16), "region": text_field(form, "region", 8),
        "last_checked": text_field(form, "last_checked", 20)}


def _form_values(service: CrisisService | None) -> dict[str, str]:
    if service is None:
        return {"kind": "phone"}
    return {key: getattr(service, key) or "" for key in ("name", "kind", "contact", "region", "languages", "hours",
                                                          "description", "source_url")} | {
        "last_checked": service.last_checked.isoformat() if service.last_checked else ""}


async def _service_form(request: Request, service: CrisisService | None, values: dict, errors: dict,
                        status_code: int = 200) -> Response:
    me = await auth.current_user(request)
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
    return _render(request, "admin_care_service_form.html", status_code=status_code, site=site, me=me,
                   service=service, values=values, errors=errors, kinds=SERVICE_KINDS)


@auth.admin_required
async def admin_service_new(request: Request) -> Response:
    if request.method == "GET":
        return await _service_form(request, None, _form_values(None), {})
    form = await auth.csrf_protect(request)
    values = _values(form)
    fields = directory.ServiceFields.from_values(values)
    if fields.errors:
        return await _service_form(request, None, values, fields.errors, status_code=400)
    async with db.transaction(request.app.state.sessions) as session:
        await directory.add_service(session, fields)
    return _redirect(request, "/admin/care/services?done=added")


@auth.admin_required
async def admin_service_edit(request: Request) -> Response:
    if request.method == "GET":
        async with request.app.state.sessions() as session:
            service = await _service(session, request)
        return await _service_form(request, service, _form_values(service), {})
    form = await auth.csrf_protect(request)
    values = _values(form)
    fields = directory.ServiceFields.from_values(values)
    async with db.transaction(request.app.state.sessions) as session:
        service = await _service(session, request)
        if not fields.errors:
            fields.apply(service)
    if fields.errors:
        return await _service_form(request, service, values, fields.errors, status_code=400)
    return _redirect(request, "/admin/care/services?done=saved")


async def _set_service_active(request: Request, active: bool) -> Response:
    await auth.csrf_protect(request)
    async with db.transaction(request.app.state.sessions) as session:
        service = await _service(session, request)
        service.active = active
        service.updated_at = utcnow()
    return _redirect(request, "/admin/care/services?done=" + ("activated" if active else "deactivated"))


@auth.admin_required
async def admin_service_deactivate(request: Request) -> Response:
    return await _set_service_active(request, False)


@auth.admin_required
async def admin_service_activate(request: Request) -> Response:
    return await _set_service_active(request, True)


@auth.admin_required
async def admin_service_move(request: Request) -> Response:
    form = await auth.csrf_protect(request)
    direction = text_field(form, "direction", 8)
    if direction not in ("up", "down"):
        raise HTTPException(400, _("Please choose up or down."))
    async with db.transaction(request.app.state.sessions) as session:
        service = await _service(session, request)
        await directory.move(session, service, direction)
    return _redirect(request, f"/admin/care/services?done=moved#service-{service.id}")


# --- admin: crisis-signal phrases ------------------------------------------------------------------


@auth.admin_required
async def admin_phrases(request: Request) -> Response:
    return await _phrases_page(request)


async def _phrases_page(request: Request, *, errors: dict | None = None, values: dict | None = None,
                        status_code: int = 200) -> Response:
    me = await auth.current_user(request)
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
        rows = list(await session.scalars(select(CrisisPhrase).order_by(CrisisPhrase.language, CrisisPhrase.phrase)))
    groups: dict[str, list[CrisisPhrase]] = {}
    for row in rows:
        groups.setdefault(row.language, []).append(row)
    return _render(request, "admin_care_phrases.html", status_code=status_code, site=site, me=me,
                   groups=sorted(groups.items()), languages=phrases.LANGUAGES, errors=errors or {},
                   values=values or {"language": "en"}, done=request.query_params.get("done", ""))


@auth.admin_required
async def admin_phrase_add(request: Request) -> Response:
    form = await auth.csrf_protect(request)
    phrase = text_field(form, "phrase", phrases.MAX_PHRASE * 2)
    language = text_field(form, "language", 16).strip().lower()
    errors = {}
    if not phrases.clean_phrase(phrase) or not phrases.normalize(phrase):
        errors["phrase"] = _("Please write the words to look for.")
    elif len(phrase.strip()) > phrases.MAX_PHRASE:
        errors["phrase"] = _("Please keep a phrase to %(max)s characters.", max=phrases.MAX_PHRASE)
    if not directory.LANGUAGE_TAG.match(language):
        errors["language"] = _("Please choose a language.")
    if errors:
        return await _phrases_page(request, errors=errors, values={"phrase": phrase, "language": language},
                                   status_code=400)
    async with db.transaction(request.app.state.sessions) as session:
        added = await phrases.add_phrase(session, phrase, language)
    return _redirect(request, "/admin/care/phrases?done=" + ("added" if added else "exists"))


def _phrase_id(request: Request) -> int:
    try:
        return int(request.path_params["phrase_id"])
    except ValueError:
        raise HTTPException(404, _("We couldn't find that phrase.")) from None


async def _set_phrase_active(request: Request, active: bool) -> Response:
    await auth.csrf_protect(request)
    async with db.transaction(request.app.state.sessions) as session:
        found = await phrases.set_active(session, _phrase_id(request), active)
    if not found:
        raise HTTPException(404, _("We couldn't find that phrase."))
    return _redirect(request, "/admin/care/phrases?done=" + ("on" if active else "off"))


@auth.admin_required
async def admin_phrase_off(request: Request) -> Response:
    return await _set_phrase_active(request, False)


@auth.admin_required
async def admin_phrase_on(request: Request) -> Response:
    return await _set_phrase_active(request, True)


def routes() -> list[Route]:
    return [
        Route("/help/region", choose_region, methods=["POST"], name="help_region"),
        Route("/p/{post_id}/support", after_post, name="post_support"),
        Route("/admin/care/services", admin_services, name="admin_care_services"),
        Route("/admin/care/services/new", admin_service_new, methods=["GET", "POST"], name="admin_care_service_new"),
        Route("/admin/care/services/{service_id}/edit", admin_service_edit, methods=["GET", "POST"],
              name="admin_care_service_edit"),
        Route("/admin/care/services/{service_id}/deactivate", admin_service_deactivate, methods=["POST"],
              name="admin_care_service_deactivate"),
        Route("/admin/care/services/{service_id}/activate", admin_service_activate, methods=["POST"],
              name="admin_care_service_activate"),
        Route("/admin/care/services/{service_id}/move", admin_service_move, methods=["POST"],
              name="admin_care_service_move"),
        Route("/admin/care/phrases", admin_phrases, name="admin_care_phrases"),
        Route("/admin/care/phrases/add", admin_phrase_add, methods=["POST"], name="admin_care_phrase_add"),
        Route("/admin/care/phrases/{phrase_id}/off", admin_phrase_off, methods=["POST"], name="admin_care_phrase_off"),
        Route("/admin/care/phrases/{phrase_id}/on", admin_phrase_on, methods=["POST"], name="admin_care_phrase_on"),
    ]
