"""Languages and translations without HTTP: the known list, the reader's match, the Note's maps,
what an incoming contentMap becomes, and who may translate (real database)."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from fedisupport import db
from fedisupport.activitypub.notes import note_document
from fedisupport.activitypub.vocab import parse_object
from fedisupport.domain import accounts, following, languages, posting, translations
from fedisupport.domain.errors import DomainError
from fedisupport.domain.moderation import NotAllowed
from fedisupport.inbox.post_handlers import _original_language, _translations
from fedisupport.models import Actor, Post, PostTranslation


def test_known_languages_are_primary_tags_and_the_communitys_own():
    assert languages.valid("ES", "en es") == "es"
    assert languages.valid("es-MX", "en es") is None  # written here: primary tags only
    assert languages.valid("sw", "") == "sw" and languages.valid("qq", "") is None
    assert languages.valid("qq", "en qq") == "qq"  # a community may name a language we have no name for
    assert languages.community_languages("") == ["en", "es", "hi", "ar"]
    assert languages.default_for_writer("es", "en es") == "es"
    assert languages.default_for_writer("ar", "en es") == "en"


def test_the_readers_languages_match_by_primary_tag_in_their_order():
    assert languages.best_match(["es-MX", "en"], ["en", "es"]) == "es"
    assert languages.best_match(["fr", "en"], ["es", "en-GB"]) == "en-GB"
    assert languages.best_match(["fr"], ["es", "en"]) is None


def _note(translations_=()):
    post = Post(id=1, ap_id="https://a.test/p/1", is_thread=True, title="Hard day", content_html="<p>Long week.</p>",
                language="en", published_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), sensitive=False)
    author = Actor(ap_id="https://a.test/u/ada", followers_url=None)
    return note_document(post, author, community=None, parent_author=None, translations=translations_)


def test_the_note_keeps_the_original_and_adds_each_translation():
    plain = _note()
    assert plain["contentMap"] == {"en": plain["content"]} and "nameMap" not in plain and "updated" not in plain
    when = dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)
    es = SimpleNamespace(language="es", title="Día <duro>", content_html="<p>Semana larga.</p>", updated_at=when)
    note = _note([es])
    assert note["content"] == plain["content"] and note["name"] == "Hard day"
    assert list(note["contentMap"]) == ["en", "es"]
    assert note["contentMap"]["es"] == "<p><strong>Día &lt;duro&gt;</strong></p><p>Semana larga.</p>"
    assert note["nameMap"] == {"en": "Hard day", "es": "Día <duro>"}
    assert note["updated"] == "2026-02-01T00:00:00Z"


def test_an_incoming_contentmap_becomes_the_original_and_sanitised_translations():
    obj = parse_object({
        "id": "https://b.test/p/9", "type": "Page", "attributedTo": "https://b.test/u/bo", "name": "Hard day",
        "content": "<p>Long week.</p>",
        "contentMap": {"es": "<p><strong>Día duro</strong></p><p>Semana <script>x()</script>larga.</p>",
                       "en": "<p>Long week.</p>", "und": "<p>?</p>", "bad tag": "<p>no</p>"},
        "nameMap": {"es": "Día duro", "en": "Hard day"},
    })
    assert obj.language == "es"  # Mastodon's rule takes the first key ...
    assert _original_language(obj) == "en"  # ... but `content` says which one is the original
    found = _translations(obj, "en")
    assert [(t.language, t.title) for t in found] == [("es", "Día duro")]
    assert found[0].content_html == "<p>Semana larga.</p>"  # the title line gone, the script too


@pytest.fixture
async def world(instance):
    async with db.transaction(instance.sessions) as session:
        ids = {}
        for name in ("ada", "bea", "cy", "mo"):
            ids[name] = (await accounts.create_user(session, instance.settings, name, "a long enough password")).actor_id
        community = await accounts.create_community(session, instance.settings, "hope", "Hope", languages="en es")
        await following.follow(session, instance.settings, await session.get(Actor, ids["bea"]),
                               await session.get(Actor, community.actor_id))
        thread = await posting.start_thread(session, instance.settings, await session.get(Actor, ids["ada"]), community,
                                            title="Hard day", body="Long week.", language="en")
        ids["thread"] = thread.id
    return ids


async def test_members_translate_others_may_not_and_a_language_is_taken_once(instance, world):
    settings = instance.settings
    async with db.transaction(instance.sessions) as session:
        post = await session.get(Post, world["thread"])
        with pytest.raises(NotAllowed):  # cy is no member
            await translations.save(session, settings, await session.get(Actor, world["cy"]), post,
                                    language="es", title="Día", body="Semana")
        saved = await translations.save(session, settings, await session.get(Actor, world["bea"]), post,
                                        language="es", title="Día duro", body="Semana larga.")
        assert saved.state == "published" and saved.translator_id == world["bea"]
        with pytest.raises(DomainError, match="Please translate the title too"):
            await translations.save(session, settings, await session.get(Actor, world["bea"]), post,
                                    language="hi", title=None, body="लंबा हफ़्ता")
        # The author may change the volunteer's translation; it stays one row per language.
        await translations.save(session, settings, await session.get(Actor, world["ada"]), post, language="es",
                                title="Día duro", body="Semana muy larga.", is_author=True)
        rows = list(await session.scalars(select(PostTranslation).where(PostTranslation.post_id == post.id)))
        assert len(rows) == 1 and "muy larga" in rows[0].content_html
        assert [t.language for t in await translations.published_for(session, post)] == ["es"]
