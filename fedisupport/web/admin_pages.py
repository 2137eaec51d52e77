"""The admins' policy pages: instance rules, other servers, keyword rules and limits.

Also the optional public page /about/blocked-domains. Every page works without JavaScript:
forms post back, mistakes come back tied to their fields (400), and success redirects (303) to
a page that says what happened. The policy picks up a change when its transaction commits.
"""
from __future__ import annotations

import datetime as dt
import functools
from typing import Any, Final

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import db
from ..domain import accounts, domain_blocks, site_policy
from ..i18n import _, lazy_gettext
from ..domain.domain_blocks import FieldErrors, PolicyValues
from ..domain.errors import NotFound
from ..domain.site_policy import KeywordValues
from ..models import KeywordRule
from . import auth
from .forms import text_field
from .account_pages import redirect, render

MAX_UPLOAD_BYTES: Final = 4 * 1024 * 1024
IMPORT_SHOWN_PROBLEMS: Final = 200

DONE: Final = {
    "added": lazy_gettext("Added."),
    "saved": lazy_gettext("Saved. It applies from now on."),
    "removed": lazy_gettext("Removed."),
    "moved": lazy_gettext("Moved."),
    "gone": lazy_gettext("That isn't there any more. Someone may have changed it already."),
}


def _checked(form: FormData, name: str) -> bool:
    return form.get(name) in ("on", "true", "1", "yes")


def _int_param(request: Request, name: str) -> int:
    try:
        return int(request.path_params[name])
    except (KeyError, ValueError):
        raise HTTPException(404, _("We couldn't find that.")) from None


async def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    me = await auth.current_user(request)
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
    return render(request, template, status_code=status_code, site=site, me=me,
                  done=DONE.get(request.query_params.get("done", "")), **context)


# --- overview ----------------------------------------------------------------------------------


@auth.admin_required
async def admin_home(request: Request) -> Response:
    async with request.app.state.sessions() as session:
        counts = {
            "rules": len(await site_policy.instance_rules(session)),
            "domains": len(await domain_blocks.list_policies(session)),
            "keywords": len(await site_policy.keyword_rules(session)),
        }
    return await _page(request, "admin_home.html", current="admin_home", counts=counts)


# --- instance rules ----------------------------------------------------------------------------


async def _rules_page(request: Request, *, errors: dict[str, str] | None = None, values: dict | None = None,
                      status_code: int = 200) -> Response:
    async with request.app.state.sessions() as session:
        rules = await site_policy.instance_rules(session)
    return await _page(request, "admin_rules.html", status_code=status_code, current="admin_rules", rules=rules,
                       errors=errors or {}, values=values or {})


@auth.admin_required
async def admin_rules(request: Request) -> Response:
    if request.method == "GET":
        return await _rules_page(request)
    form = await auth.csrf_protect(request)
    text = text_field(form, "text", 5000)
    try:
        async with db.transaction(request.app.state.sessions) as session:
            await site_policy.add_rule(session, text)
    except FieldErrors as exc:
        return await _rules_page(request, errors=exc.errors, values={"text": text}, status_code=400)
    return redirect(request, "/admin/rules?done=added")


@auth.admin_required
async def admin_rule_save(request: Request) -> Response:
    form = await auth.csrf_protect(request)
    rule_id = _int_param(request, "rule_id")
    text = text_field(form, "text", 5000)
    try:
        async with db.transaction(request.app.state.sessions) as session:
            await site_policy.update_rule(session, rule_id, text)
    except FieldErrors as exc:
        return await _rules_page(request, errors={f"rule-{rule_id}": exc.errors["text"]},
                                 values={f"rule-{rule_id}": text}, status_code=400)
    except NotFound:
        return redirect(request, "/admin/rules?done=gone")
    return redirect(request, f"/admin/rules?done=saved#rule-{rule_id}")


@auth.admin_required
async def admin_rule_move(request: Request) -> Response:
    form = await auth.csrf_protect(request)
    rule_id = _int_param(request, "rule_id")
    direction = text_field(form, "direction", 8)
    if direction not in ("up", "down"):
        raise HTTPException(400, _("Please use the Move up or Move down buttons."))
    try:
        async with db.transaction(request.app.state.sessions) as session:
            await site_policy.move_rule(session, rule_id, direction)
    except NotFound:
        return redirect(request, "/admin/rules?done=gone")
    return redirect(request, f"/admin/rules?done=moved#rule-{rule_id}")


@auth.admin_required
async def admin_rule_remove(request: Request) -> Response:
    await auth.csrf_protect(request)
    try:
        async with db.transaction(request.app.state.sessions) as session:
            await site_policy.remove_rule(session, _int_param(request, "rule_id"))
    except NotFound:
        return redirect(request, "/admin/rules?done=gone")
    return redirect(request, "/admin/rules?done=removed")


# --- other servers (domain policies) --------------------------------------------------------------


def _policy_values(form: FormData) -> PolicyValues:
    return PolicyValues(domain=text_field(form, "domain", 300), severity=text_field(form, "severity", 16),
                        reject_media=_checked(form, "reject_media"), reject_reports=_checked(form, "reject_reports"),
                        public_comment=text_field(form, "public_comment", 5000),
                        private_comment=text_field(form, "private_comment", 5000), obfuscate=_checked(form, "obfuscate"))


async def _domains_page(request: Request, *, errors: dict[str, str] | None = None, values: PolicyValues | None = None,
                        imported: domain_blocks.ImportResult | None = None, import_error: str | None = None,
                        status_code: int = 200) -> Response:
    async with request.app.state.sessions() as session:
        policies = await domain_blocks.list_policies(session)
    return await _page(request, "admin_domains.html", status_code=status_code, current="admin_domains",
                       policies=policies, errors=errors or {}, values=values or PolicyValues(domain=""),
                       imported=imported, import_error=import_error, shown_problems=IMPORT_SHOWN_PROBLEMS,
                       severity_labels=domain_blocks.SEVERITY_LABELS)


@auth.admin_required
async def admin_domains(request: Request) -> Response:
    if request.method == "GET":
        return await _domains_page(request)
    form = await auth.csrf_protect(request)
    values = _policy_values(form)
    try:
        async with db.transaction(request.app.state.sessions) as session:
            saved = await domain_blocks.save_policy(session, values, new=True)
    except FieldErrors as exc:
        return await _domains_page(request, errors=exc.errors, values=values, status_code=400)
    return redirect(request, f"/admin/domains?done=added#domain-{saved.domain}")


@auth.admin_required
async def admin_domain_edit(request: Request) -> Response:
    domain = request.query_params.get("domain", "")[:300]
    async with request.app.state.sessions() as session:
        policy = await domain_blocks.get_policy(session, domain)
    if policy is None:
        return redirect(request, "/admin/domains?done=gone")
    if request.method == "GET":
        values = PolicyValues(policy.domain, policy.severity, policy.reject_media, policy.reject_reports,
                              policy.public_comment, policy.private_comment, policy.obfuscate)
        return await _page(request, "admin_domain_edit.html", current="admin_domains", values=values, errors={},
                           severity_labels=domain_blocks.SEVERITY_LABELS)
    form = await auth.csrf_protect(request)
    values = _policy_values(form)
    values.domain = policy.domain  # the domain itself is not edited here: remove it and add another
    try:
        async with db.transaction(request.app.state.sessions) as session:
            await domain_blocks.save_policy(session, values)
    except FieldErrors as exc:
        return await _page(request, "admin_domain_edit.html", status_code=400, current="admin_domains",
                           values=values, errors=exc.errors, severity_labels=domain_blocks.SEVERITY_LABELS)
    return redirect(request, f"/admin/domains?done=saved#domain-{policy.domain}")


@auth.admin_required
async def admin_domain_remove(request: Request) -> Response:
    form = await auth.csrf_protect(request)
    try:
        async with db.transaction(request.app.state.sessions) as session:
            await domain_blocks.remove_policy(session, text_field(form, "domain", 300))
    except NotFound:
        return redirect(request, "/admin/domains?done=gone")
    return redirect(request, "/admin/domains?done=removed")


@auth.admin_required
async def admin_domains_import(request: Request) -> Response:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES + 64 * 1024:
        return await _domains_page(request, import_error="That file is too big. A list of up to "
                                   f"{domain_blocks.MAX_ROWS:,} domains is well under 4 MB.", status_code=413)
    # Parsed here with room for one file; csrf_protect then checks the same (cached) form.
    await request.form(max_files=1, max_fields=10, max_part_size=64 * 1024)
    form = await auth.csrf_protect(request)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _domains_page(request, errors={"file": _("Please choose a CSV file to import.")}, status_code=400)
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return await _domains_page(request, errors={"file": _("That file is too big (over 4 MB).")}, status_code=413)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return await _domains_page(request, errors={"file": "That file isn't UTF-8 text. Please save it as CSV "
                                                            "(UTF-8) and try again."}, status_code=400)
    async with db.transaction(request.app.state.sessions) as session:
        result = await domain_blocks.import_csv(session, text, replace=_checked(form, "replace"),
                                                source=(upload.filename or "")[:100])
    return await _domains_page(request, imported=result)


@auth.admin_required
async def admin_domains_export(request: Request) -> Response:
    include_private = request.query_params.get("private") == "1"
    async with request.app.state.sessions() as session:
        text = await domain_blocks.export_csv(session, include_private=include_private)
    name = f"domain_blocks{'_with_private_notes' if include_private else ''}_{dt.date.today():%Y-%m-%d}.csv"
    response = Response(text, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
    return auth.apply_cookies(request, response)


# --- keyword rules -------------------------------------------------------------------------------


def _keyword_values(form: FormData) -> KeywordValues:
    where = text_field(form, "community_id", 20)
    return KeywordValues(pattern=text_field(form, "pattern", 1000), is_regex=_checked(form, "is_regex"),
                         language=text_field(form, "language", 40), action=text_field(form, "action", 16),
                         warning=text_field(form, "warning", 1000),
                         community_id=int(where) if where.isdigit() else None)


async def _community_options(request: Request) -> list[tuple[int, str]]:
    async with request.app.state.sessions() as session:
        return [(c.id, f"Only in {c.title}") for c in await accounts.list_communities(session)]


async def _keywords_page(request: Request, *, errors: dict[str, str] | None = None, values: KeywordValues | None = None,
                         status_code: int = 200) -> Response:
    async with request.app.state.sessions() as session:
        rules = await site_policy.keyword_rules(session)
    return await _page(request, "admin_keywords.html", status_code=status_code, current="admin_keywords",
                       rules=rules, communities_options=await _community_options(request), errors=errors or {},
                       values=values or KeywordValues(pattern=""))


@auth.admin_required
async def admin_keywords(request: Request) -> Response:
    if request.method == "GET":
        return await _keywords_page(request)
    form = await auth.csrf_protect(request)
    me = await auth.current_user(request)
    values = _keyword_values(form)
    try:
        async with db.transaction(request.app.state.sessions) as session:
            rule = await site_policy.save_keyword_rule(session, values, created_by_id=me.actor.id)
    except FieldErrors as exc:
        return await _keywords_page(request, errors=exc.errors, values=values, status_code=400)
    return redirect(request, f"/admin/keywords?done=added#keyword-{rule.id}")


@auth.admin_required
async def admin_keyword_edit(request: Request) -> Response:
    rule_id = _int_param(request, "rule_id")
    async with request.app.state.sessions() as session:
        rule = await session.get(KeywordRule, rule_id)
    if rule is None:
        return redirect(request, "/admin/keywords?done=gone")
    page = functools.partial(_page, request, "admin_keyword_edit.html", current="admin_keywords", rule_id=rule_id)
    if request.method == "GET":
        values = KeywordValues(rule.pattern, rule.is_regex, rule.language, rule.action, rule.warning, rule.community_id)
        return await page(values=values, errors={}, communities_options=await _community_options(request))
    form = await auth.csrf_protect(request)
    values = _keyword_values(form)
    try:
        async with db.transaction(request.app.state.sessions) as session:
            await site_policy.save_keyword_rule(session, values, rule_id=rule_id)
    except FieldErrors as exc:
        return await page(values=values, errors=exc.errors, communities_options=await _community_options(request), status_code=400)
    except NotFound:
        return redirect(request, "/admin/keywords?done=gone")
    return redirect(request, f"/admin/keywords?done=saved#keyword-{rule_id}")


@auth.admin_required
async def admin_keyword_remove(request: Request) -> Response:
    await auth.csrf_protect(request)
    try:
        async with db.transaction(request.app.state.sessions) as session:
            await site_policy.remove_keyword_rule(session, _int_param(request, "rule_id"))
    except NotFound:
        return redirect(request, "/admin/keywords?done=gone")
    return redirect(request, "/admin/keywords?done=removed")


# --- limits --------------------------------------------------------------------------------------


@auth.admin_required
async def admin_limits(request: Request) -> Response:
    if request.method == "GET":
        async with request.app.state.sessions() as session:
            site = await accounts.get_site(session)
        values = {name: str(getattr(site, name, "")) for name in site_policy.LIMIT_FIELDS} if site else {}
        values["show_blocked_domains"] = bool(site and site.show_blocked_domains)
        return await _page(request, "admin_limits.html", current="admin_limits", values=values, errors={})
    form = await auth.csrf_protect(request)
    raw = {name: text_field(form, name, 20) for name in site_policy.LIMIT_FIELDS}
    show = _checked(form, "show_blocked_domains")
    try:
        async with db.transaction(request.app.state.sessions) as session:
            await site_policy.save_limits(session, raw, show)
    except FieldErrors as exc:
        return await _page(request, "admin_limits.html", status_code=400, current="admin_limits",
                           values={**raw, "show_blocked_domains": show}, errors=exc.errors)
    except NotFound as exc:
        raise HTTPException(409, str(exc)) from None
    return redirect(request, "/admin/limits?done=saved")


# --- the public list of blocked domains ------------------------------------------------------------


async def blocked_domains_page(request: Request) -> Response:
    me = await auth.current_user(request)
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
        if site is None or not site.show_blocked_domains:
            raise HTTPException(404, _("This site doesn't publish its list of blocked servers."))
        entries = await domain_blocks.public_list(session)
    return render(request, "about_blocked_domains.html", site=site, me=me, entries=entries)


def routes() -> list[Route]:
    return [
        Route("/admin", admin_home, name="admin_home"),
        Route("/admin/rules", admin_rules, methods=["GET", "POST"], name="admin_rules"),
        Route("/admin/rules/{rule_id}", admin_rule_save, methods=["POST"], name="admin_rule_save"),
        Route("/admin/rules/{rule_id}/move", admin_rule_move, methods=["POST"], name="admin_rule_move"),
        Route("/admin/rules/{rule_id}/remove", admin_rule_remove, methods=["POST"], name="admin_rule_remove"),
        Route("/admin/domains", admin_domains, methods=["GET", "POST"], name="admin_domains"),
        Route("/admin/domains/edit", admin_domain_edit, methods=["GET", "POST"], name="admin_domain_edit"),
        Route("/admin/domains/remove", admin_domain_remove, methods=["POST"], name="admin_domain_remove"),
        Route("/admin/domains/import", admin_domains_import, methods=["POST"], name="admin_domains_import"),
        Route("/admin/domains/export", admin_domains_export, name="admin_domains_export"),
        Route("/admin/keywords", admin_keywords, methods=["GET", "POST"], name="admin_keywords"),
        Route("/admin/keywords/{rule_id}", admin_keyword_edit, methods=["GET", "POST"], name="admin_keyword_edit"),
        Route("/admin/keywords/{rule_id}/remove", admin_keyword_remove, methods=["POST"], name="admin_keyword_remove"),
        Route("/admin/limits", admin_limits, methods=["GET", "POST"], name="admin_limits"),
        Route("/about/blocked-domains", blocked_domains_page, name="blocked_domains"),
    ]
