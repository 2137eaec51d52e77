"""The admins' policy pages over real HTTP: rules, other servers (with CSV import and export),
words and phrases, limits, and the public list — forms with CSRF, mistakes tied to fields."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from fedisupport import db
from fedisupport.domain import accounts
from fedisupport.models import DomainPolicy, KeywordRule, Rule, Site
from fedisupport.policy import check
from fedisupport.policy.decisions import Verdict
from tests.web.test_accounts import admin_client, csrf_of, log_in, make_user, said

CSV = ("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"
       "spam.example,suspend,false,false,Spam waves,false\n"
       "not a domain,suspend,false,false,,false\n"
       "loud.example,silence,true,false,\"Pile-ons, mostly\",true\n"
       "odd.example,sometimes,false,false,,false\n")


async def rows(instance, model):
    async with instance.sessions() as session:
        return list(await session.scalars(select(model)))


async def form_post(client, page_path: str, action: str, data: dict, **kwargs):
    page = await client.get(page_path)
    assert page.status_code == 200, page.text
    return await client.post(action, data={"csrf_token": csrf_of(page.text), **data}, **kwargs)


def error_tied(page: str, field_id: str) -> bool:
    """The field says it is wrong and points at its message, and the summary links to it."""
    field = re.search(rf'<(?:input|textarea|select)[^>]*\bid="{re.escape(field_id)}"[^>]*>', page)
    return bool(field) and 'aria-invalid="true"' in field.group(0) and f"{field_id}-error" in field.group(0) \
        and f'id="{field_id}-error"' in page and f'href="#{field_id}"' in page


async def test_only_admins_see_the_admin_pages(instance):
    await make_user(instance, "sam")
    async with instance.client() as client:
        anonymous = await client.get("/admin/domains")
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
        await log_in(client, "sam")
        for path in ("/admin", "/admin/rules", "/admin/domains", "/admin/keywords", "/admin/limits",
                     "/admin/domains/export"):
            assert (await client.get(path)).status_code == 403, path
        assert ">Admin</a>" not in (await client.get("/")).text
    async with admin_client(instance) as admin:
        home = await admin.get("/")
        assert '/admin">Admin</a>' in home.text
        overview = await admin.get("/admin")
        assert overview.status_code == 200 and 'aria-label="Admin"' in overview.text
        assert '/admin/domains"' in overview.text and 'aria-current="page"' in overview.text


async def test_every_form_needs_its_csrf_token(instance):
    async with db.transaction(instance.sessions) as session:
        session.add(Rule(text="Be kind."))
        session.add(DomainPolicy(domain="keep.example", severity="suspend"))
        session.add(KeywordRule(pattern="keep", action="hold"))
    rule = (await rows(instance, Rule))[0]
    keyword = (await rows(instance, KeywordRule))[0]
    posts = [("/admin/rules", {"text": "x"}), (f"/admin/rules/{rule.id}", {"text": "changed"}),
             (f"/admin/rules/{rule.id}/move", {"direction": "down"}), (f"/admin/rules/{rule.id}/remove", {}),
             ("/admin/domains", {"domain": "new.example", "severity": "suspend"}),
             ("/admin/domains/edit?domain=keep.example", {"severity": "noop"}),
             ("/admin/domains/remove", {"domain": "keep.example"}),
             ("/admin/keywords", {"pattern": "x", "action": "hold"}),
             (f"/admin/keywords/{keyword.id}", {"pattern": "changed", "action": "reject"}),
             (f"/admin/keywords/{keyword.id}/remove", {}),
             ("/admin/limits", {"posts_per_hour": "1", "new_account_held_posts": "0",
                                "remote_domain_posts_per_minute": "1", "spam_mention_limit": "1"})]
    async with admin_client(instance) as admin:
        for path, data in posts:
            for token in (None, "forged"):
                sent = dict(data, **({"csrf_token": token} if token else {}))
                response = await admin.post(path, data=sent)
                assert response.status_code == 403, (path, token)
                assert "Nothing was changed" in said(response)
        upload = await admin.post("/admin/domains/import", files={"file": ("list.csv", CSV, "text/csv")})
        assert upload.status_code == 403
    assert [r.text for r in await rows(instance, Rule)] == ["Be kind."]
    assert [p.domain for p in await rows(instance, DomainPolicy)] == ["keep.example"]
    assert (await rows(instance, DomainPolicy))[0].severity == "suspend"
    assert [k.pattern for k in await rows(instance, KeywordRule)] == ["keep"]
    async with instance.sessions() as session:
        assert (await session.get(Site, 1)).posts_per_hour == 30


async def test_rules_are_added_changed_reordered_removed_and_shown(instance):
    async with db.transaction(instance.sessions) as session:
        await accounts.create_community(session, instance.settings, "hope", "Hope")
    async with admin_client(instance) as admin:
        for text in ("Be gentle. Everyone here is going through something.", "No advice about medication doses.",
                     "If someone is in danger, use Get help now."):
            response = await form_post(admin, "/admin/rules", "/admin/rules", {"text": text})
            assert response.status_code == 303 and response.headers["location"] == "/admin/rules?done=added"
        first, second, third = sorted(await rows(instance, Rule), key=lambda r: r.position)

        empty = await form_post(admin, "/admin/rules", f"/admin/rules/{second.id}", {"text": "   "})
        assert empty.status_code == 400 and error_tied(empty.text, f"rule-{second.id}")
        assert "<title>Error: " in empty.text

        moved = await form_post(admin, "/admin/rules", f"/admin/rules/{third.id}/move", {"direction": "up"})
        assert moved.status_code == 303
        changed = await form_post(admin, "/admin/rules", f"/admin/rules/{first.id}",
                                  {"text": "Be gentle with each other."})
        assert changed.status_code == 303
        removed = await form_post(admin, "/admin/rules", f"/admin/rules/{second.id}/remove", {})
        assert removed.headers["location"] == "/admin/rules?done=removed"
        gone = await form_post(admin, "/admin/rules", f"/admin/rules/{second.id}/remove", {})
        assert gone.headers["location"] == "/admin/rules?done=gone"
        page = said(await admin.get("/admin/rules?done=removed"))
        assert "Removed." in page

    expected = ["Be gentle with each other.", "If someone is in danger, use Get help now."]
    async with instance.client() as visitor:
        for path in ("/signup", "/c/hope"):
            text = said(await visitor.get(path))
            found = [re.sub(r"<[^>]+>", "", item).strip() for item in
                     re.findall(r"<li>(.*?)</li>", text.split('id="rules-heading"')[1].split("</ol>")[0])]
            assert found == expected, (path, found)


async def test_other_servers_can_be_added_changed_and_removed(instance):
    async with admin_client(instance) as admin:
        bad = await form_post(admin, "/admin/domains", "/admin/domains",
                              {"domain": "https://", "severity": "suspend"})
        assert bad.status_code == 400 and error_tied(bad.text, "domain")
        starred = await form_post(admin, "/admin/domains", "/admin/domains", {"domain": "ba*.example",
                                                                              "severity": "suspend"})
        assert "partly hidden with stars" in said(starred)
        assert 'value="ba*.example"' in starred.text  # what they typed stays

        added = await form_post(admin, "/admin/domains", "/admin/domains", {
            "domain": "Troll.Example.", "severity": "suspend", "reject_reports": "on",
            "public_comment": "Harassment", "private_comment": "Reported by three members", "obfuscate": "on"})
        assert added.status_code == 303 and added.headers["location"] == "/admin/domains?done=added#domain-troll.example"
        again = await form_post(admin, "/admin/domains", "/admin/domains", {"domain": "troll.example",
                                                                            "severity": "limit"})
        assert again.status_code == 400 and "already on the list" in said(again)

        async with instance.sessions() as session:
            assert (await check.check_delivery(session, "www.troll.example")).verdict == Verdict.REJECT

        edit_page = await admin.get("/admin/domains/edit?domain=troll.example")
        assert "Reported by three members" in edit_page.text
        assert 'id="severity" name="severity" value="suspend"' in edit_page.text
        changed = await admin.post("/admin/domains/edit?domain=troll.example", data={
            "csrf_token": csrf_of(edit_page.text), "severity": "limit", "public_comment": "Pile-ons"})
        assert changed.status_code == 303
        policy = (await rows(instance, DomainPolicy))[0]
        assert (policy.severity, policy.reject_reports, policy.obfuscate, policy.public_comment) == \
            ("limit", False, False, "Pile-ons")
        async with instance.sessions() as session:  # the change is live in this process at once
            assert (await check.check_delivery(session, "troll.example")).verdict == Verdict.ACCEPT
            assert (await check.check_domain(session, "troll.example")).verdict == Verdict.HOLD

        listing = await admin.get("/admin/domains")
        assert 'id="domain-troll.example"' in listing.text and "Limited" in listing.text
        removed = await form_post(admin, "/admin/domains", "/admin/domains/remove", {"domain": "troll.example"})
        assert removed.headers["location"] == "/admin/domains?done=removed"
        assert await rows(instance, DomainPolicy) == []
        missing = await admin.get("/admin/domains/edit?domain=troll.example")
        assert missing.status_code == 303 and missing.headers["location"].endswith("done=gone")


async def test_a_blocklist_is_imported_with_its_bad_lines_named_and_exported(instance):
    async with admin_client(instance) as admin:
        page = await admin.get("/admin/domains")
        assert 'enctype="multipart/form-data"' in page.text
        nothing = await admin.post("/admin/domains/import", data={"csrf_token": csrf_of(page.text)},
                                   files={"file": ("", b"", "application/octet-stream")})
        assert nothing.status_code == 400 and error_tied(nothing.text, "file")

        result = await admin.post("/admin/domains/import", data={"csrf_token": csrf_of(page.text)},
                                  files={"file": ("blocklist.csv", CSV.encode(), "text/csv")})
        text = " ".join(said(result).split())
        assert result.status_code == 200
        assert "2 added, 0 updated, 0 already on the list" in text
        assert "Line 3: “not a domain” is not a domain name" in text
        assert "Line 5: “sometimes” is not a severity" in text
        policies = {p.domain: p for p in await rows(instance, DomainPolicy)}
        assert set(policies) == {"spam.example", "loud.example"}
        assert policies["loud.example"].severity == "limit" and policies["loud.example"].obfuscate
        assert policies["spam.example"].private_comment.startswith("Imported from blocklist.csv on ")

        exported = await admin.get("/admin/domains/export")
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        assert exported.headers["content-disposition"].startswith('attachment; filename="domain_blocks_')
        assert exported.text == ("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"
                                 "loud.example,silence,true,false,\"Pile-ons, mostly\",true\n"
                                 "spam.example,suspend,false,false,Spam waves,false\n")
        backup = await admin.get("/admin/domains/export?private=1")
        assert "#private_comment" in backup.text and "Imported from blocklist.csv" in backup.text

        too_big = await admin.post("/admin/domains/import", data={"csrf_token": csrf_of(page.text)},
                                   files={"file": ("big.csv", b"a.example\n" * 500_000, "text/csv")})
        assert too_big.status_code == 413 and "too big" in said(too_big)


async def test_keyword_rules_with_their_mistakes_tied_to_fields(instance):
    async with db.transaction(instance.sessions) as session:
        hope = await accounts.create_community(session, instance.settings, "hope", "Hope")
    async with admin_client(instance) as admin:
        page = await admin.get("/admin/keywords")
        assert f'<option value="{hope.id}">Only in Hope</option>' in page.text
        assert '<legend>What happens to a post that matches</legend>' in page.text
        bad = await form_post(admin, "/admin/keywords", "/admin/keywords", {
            "pattern": "(a+)+", "is_regex": "on", "language": "spanish!", "action": "warn", "warning": ""})
        assert bad.status_code == 400
        for field in ("pattern", "language", "warning"):
            assert error_tied(bad.text, field), field
        assert 'value="(a+)+"' in bad.text and "checked" in bad.text.split('id="is_regex"')[1].split(">")[0]

        added = await form_post(admin, "/admin/keywords", "/admin/keywords", {
            "pattern": "sobredosis", "language": "ES", "action": "hold", "community_id": str(hope.id)})
        assert added.status_code == 303
        rule = (await rows(instance, KeywordRule))[0]
        assert (rule.pattern, rule.language, rule.action, rule.community_id) == ("sobredosis", "es", "hold", hope.id)
        listing = said(await admin.get("/admin/keywords"))
        assert "sobredosis" in listing and "held for a moderator" in listing and "Hope" in listing

        edit = await admin.get(f"/admin/keywords/{rule.id}")
        assert f'<option value="{hope.id}" selected>' in edit.text
        changed = await admin.post(f"/admin/keywords/{rule.id}", data={
            "csrf_token": csrf_of(edit.text), "pattern": "self-harm", "action": "warn",
            "warning": "mentions self-harm", "community_id": ""})
        assert changed.status_code == 303
        rule = (await rows(instance, KeywordRule))[0]
        assert (rule.pattern, rule.action, rule.warning, rule.community_id, rule.language) == \
            ("self-harm", "warn", "mentions self-harm", None, None)
        removed = await form_post(admin, "/admin/keywords", f"/admin/keywords/{rule.id}/remove", {})
        assert removed.status_code == 303 and await rows(instance, KeywordRule) == []


async def test_limits_and_the_public_list(instance):
    async with db.transaction(instance.sessions) as session:
        session.add(DomainPolicy(domain="harmful.example", severity="suspend", public_comment="Promotes self-harm",
                                 obfuscate=True))
        session.add(DomainPolicy(domain="loud.example", severity="limit", public_comment="",
                                 private_comment="secret note"))
    async with instance.client() as visitor:
        assert (await visitor.get("/about/blocked-domains")).status_code == 404
    async with admin_client(instance) as admin:
        page = await admin.get("/admin/limits")
        assert 'id="posts_per_hour" name="posts_per_hour" type="number" value="30"' in page.text
        bad = await admin.post("/admin/limits", data={"csrf_token": csrf_of(page.text), "posts_per_hour": "-1",
                                                      "new_account_held_posts": "two",
                                                      "remote_domain_posts_per_minute": "120",
                                                      "spam_mention_limit": "5"})
        assert bad.status_code == 400
        assert error_tied(bad.text, "posts_per_hour") and error_tied(bad.text, "new_account_held_posts")
        assert 'value="two"' in bad.text
        saved = await admin.post("/admin/limits", data={"csrf_token": csrf_of(page.text), "posts_per_hour": "12",
                                                        "new_account_held_posts": "3",
                                                        "remote_domain_posts_per_minute": "0",
                                                        "spam_mention_limit": "4", "show_blocked_domains": "on"})
        assert saved.status_code == 303 and "Saved" in said(await admin.get(saved.headers["location"]))
    async with instance.sessions() as session:
        site = await session.get(Site, 1)
    assert (site.posts_per_hour, site.new_account_held_posts, site.remote_domain_posts_per_minute,
            site.spam_mention_limit, site.show_blocked_domains) == (12, 3, 0, 4, True)
    async with instance.client() as visitor:
        public = said(await visitor.get("/about/blocked-domains"))
        assert "harm***.****ple" in public and "harmful.example" not in public
        assert "Promotes self-harm" in public and "loud.example" in public and "Limited" in public
        assert "secret note" not in public


@pytest.mark.parametrize("path", ["/admin/rules/abc/remove", "/admin/keywords/abc"])
async def test_odd_ids_are_not_found(instance, path):
    async with admin_client(instance) as admin:
        page = await admin.get("/admin/rules")
        response = await admin.post(path, data={"csrf_token": csrf_of(page.text)})
        assert response.status_code == 404
