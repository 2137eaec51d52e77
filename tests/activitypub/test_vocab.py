"""Tests for fedisupport.activitypub.vocab (and the jsonld helpers it builds on).

Captured payloads from real software live in tests/fixtures/captured/; see
SOURCES.md there for where each one comes from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fedisupport.activitypub.jsonld import (
    AS_CONTEXT,
    AS_PUBLIC,
    CONTEXT,
    as_list,
    get_id,
    is_activitypub_content_type,
    is_public,
)
from fedisupport.activitypub.vocab import (
    ACTOR_TYPES,
    OBJECT_TYPES,
    Activity,
    APActor,
    APObject,
    Invalid,
    Limits,
    embedded_origin_ok,
    parse_activity,
    parse_actor,
    parse_object,
)

CAPTURED = Path(__file__).resolve().parent.parent / "fixtures" / "captured"
FIXTURES = sorted(CAPTURED.rglob("*.json"))


def load(name: str) -> dict[str, Any]:
    """A fresh copy of a captured fixture, e.g. load("lemmy/page")."""
    return json.loads((CAPTURED / f"{name}.json").read_text())


def parse_any(doc: dict[str, Any]) -> Activity | APObject | APActor:
    if doc["type"] in ACTOR_TYPES | OBJECT_TYPES:
        return parse_object(doc)
    return parse_activity(doc)


def note(**overrides: Any) -> dict[str, Any]:
    doc = {
        "id": "https://mastodon.test/users/ana/statuses/1",
        "type": "Note",
        "attributedTo": "https://mastodon.test/users/ana",
        "content": "<p>hello</p>",
        "to": [AS_PUBLIC],
    }
    doc.update(overrides)
    return doc


def create(obj: Any, **overrides: Any) -> dict[str, Any]:
    doc = {
        "id": "https://mastodon.test/users/ana/statuses/1/activity",
        "type": "Create",
        "actor": "https://mastodon.test/users/ana",
        "to": [AS_PUBLIC],
        "object": obj,
    }
    doc.update(overrides)
    return doc


# --- every captured payload parses -------------------------------------------------


def test_fixture_folder_covers_every_implementation() -> None:
    implementations = {path.parent.name for path in FIXTURES}
    assert {"mastodon", "lemmy", "piefed", "misskey", "gotosocial"} <= implementations


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_captured_fixture_parses(path: Path) -> None:
    doc = json.loads(path.read_text())
    parsed = parse_any(doc)
    assert parsed.id == doc["id"]
    assert parsed.type == doc["type"]
    assert parsed.raw is doc
    if isinstance(parsed, Activity):
        assert parsed.known


# --- Mastodon -----------------------------------------------------------------------


def test_mastodon_reply_with_mention_and_public_in_cc() -> None:
    activity = parse_activity(load("mastodon/create_note_reply"))
    post = activity.object
    assert isinstance(post, APObject)
    assert post.in_reply_to == "https://mamot.fr/users/retiolus/statuses/107224244380204526"
    assert post.mentions == ("https://mamot.fr/users/retiolus",)
    assert AS_PUBLIC in post.cc and post.is_public
    assert post.language == "en"  # first contentMap key, Mastodon's rule
    assert post.content_map["en"].startswith("<p>")
    # No `context` here, so Mastodon's ostatus conversation stands in.
    assert post.context == "tag:mamot.fr,2021-11-05:objectId=64635960:objectType=Conversation"
    assert post.replies == "https://mastodon.madrid/users/felix/statuses/107224289116410645/replies"


def test_mastodon_person() -> None:
    actor = parse_actor(load("mastodon/person"))
    assert actor.preferred_username == "mastodon"
    assert actor.shared_inbox == "https://masto.qa.urbanwildlife.biz/inbox"
    assert actor.featured == actor.id + "/collections/featured"
    assert actor.public_key is not None
    assert actor.public_key.id == "https://masto.qa.urbanwildlife.biz/users/mastodon#main-key"
    assert actor.public_key.pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert actor.manually_approves_followers is False
    assert actor.discoverable is False


def test_mastodon_update_person_embeds_the_actor() -> None:
    activity = parse_activity(load("mastodon/update_person"))
    assert isinstance(activity.object, APActor)
    assert activity.object.summary == "<p>Updated bio.</p>"
    assert embedded_origin_ok(activity)


def test_mastodon_account_delete_names_the_actor_itself() -> None:
    activity = parse_activity(load("mastodon/delete_actor"))
    assert activity.object == activity.actor


def test_mastodon_flag_lists_account_and_statuses() -> None:
    activity = parse_activity(load("mastodon/flag"))
    assert activity.actor == "https://mastodon.example/actor"
    assert activity.object_ids == (
        "https://example.com/users/1",
        "https://example.com/posts/380590",
        "https://example.com/posts/380591",
    )
    assert activity.content == "Please take a look at this user and their posts"
    assert activity.to == ("https://example.com/users/1",)


def test_undo_follow_embeds_the_follow() -> None:
    activity = parse_activity(load("mastodon/undo_follow"))
    follow = activity.object
    assert isinstance(follow, Activity) and follow.type == "Follow"
    assert follow.object == "https://ds9.lemmy.ml/c/testcom"


# --- Lemmy and PieFed ---------------------------------------------------------------


def test_lemmy_page_language_and_audience() -> None:
    page = parse_object(load("lemmy/page"))
    assert isinstance(page, APObject)
    assert page.language == "fr"  # from language.identifier
    assert page.name == "Post title"
    assert page.audience == ("https://enterprise.lemmy.ml/c/tenforward",)
    assert page.context == "https://enterprise.lemmy.ml/post/55143/context"
    # Lemmy's link attachment is a Link with `href`, not `url`.
    image = "https://enterprise.lemmy.ml/pictrs/image/eOtYb9iEiB.png"
    assert [a.url for a in page.attachments] == [image]


def test_lemmy_group_moderators_and_shared_inbox() -> None:
    group = parse_actor(load("lemmy/group"))
    assert group.type == "Group"
    assert group.attributed_to == "https://enterprise.lemmy.ml/c/tenforward/moderators"
    assert group.shared_inbox == "https://enterprise.lemmy.ml/inbox"
    assert group.posting_restricted_to_mods is False


def test_lemmy_block_has_target_and_reason() -> None:
    activity = parse_activity(load("lemmy/block_user"))
    assert activity.target == "http://enterprise.lemmy.ml/c/main"
    assert activity.summary == "spam post"


def test_piefed_announce_of_create_page() -> None:
    announce = parse_activity(load("piefed/announce_create_page"))
    create_ = announce.object
    assert isinstance(create_, Activity) and create_.type == "Create"
    page = create_.object
    assert isinstance(page, APObject) and page.type == "Page"
    assert page.language == "en"
    assert page.hashtags == ("fediverse", "piefed")
    # PieFed embeds reply objects instead of a collection id: no id to keep.
    assert page.replies is None
    assert embedded_origin_ok(announce)


def test_piefed_group_uses_moderators_collection() -> None:
    group = parse_actor(load("piefed/group"))
    assert group.attributed_to == "https://piefed.social/c/piefed_meta/moderators"


# --- Misskey and GoToSocial ---------------------------------------------------------


def test_misskey_note_quote_mentions_and_tags() -> None:
    post = parse_object(load("misskey/note"))
    assert isinstance(post, APObject)
    assert post.quote == "https://mastodon.example/users/alice/statuses/112233445566778899"
    assert post.mentions == ("https://mastodon.example/users/alice",)
    assert post.hashtags == ("peersupport",)
    assert post.in_reply_to is None
    assert post.language is None  # Misskey sends no contentMap
    assert post.content is not None and "RE:" in post.content


def test_misskey_person_and_reaction() -> None:
    actor = parse_actor(load("misskey/person"))
    assert actor.shared_inbox == "https://misskey.example/inbox"
    assert actor.raw["isCat"] is True
    like = parse_activity(load("misskey/like_reaction"))
    assert like.type == "Like" and like.content == "\U0001fac2"


def test_gotosocial_single_tag_object_and_string_to() -> None:
    post = parse_object(load("gotosocial/note_reply"))
    assert isinstance(post, APObject)
    assert post.to == (AS_PUBLIC,)
    assert post.mentions == ("http://localhost:8080/users/the_mighty_zork",)
    assert post.summary == ""
    assert post.language == "en"


def test_gotosocial_person_has_no_shared_inbox() -> None:
    actor = parse_actor(load("gotosocial/person"))
    assert actor.shared_inbox is None
    assert actor.public_key is not None
    assert actor.public_key.id == "http://localhost:8080/users/the_mighty_zork/main-key"


# --- field shapes -------------------------------------------------------------------


def test_attributed_to_list_prefers_first_person() -> None:
    post = parse_object(
        note(
            attributedTo=[
                {"type": "Group", "id": "https://video.test/video-channels/cooking"},
                {"type": "Person", "id": "https://video.test/accounts/chef"},
            ]
        )
    )
    assert isinstance(post, APObject)
    assert post.attributed_to == "https://video.test/accounts/chef"


def test_attributed_to_list_of_strings_takes_the_first() -> None:
    post = parse_object(note(attributedTo=["https://a.test/u/1", "https://a.test/u/2"]))
    assert isinstance(post, APObject)
    assert post.attributed_to == "https://a.test/u/1"


def test_in_reply_to_as_embedded_object() -> None:
    post = parse_object(note(inReplyTo={"id": "https://lemmy.test/post/7", "type": "Page"}))
    assert isinstance(post, APObject)
    assert post.in_reply_to == "https://lemmy.test/post/7"


def test_public_spellings_are_normalised() -> None:
    post = parse_object(note(to=["as:Public"], cc="Public"))
    assert isinstance(post, APObject)
    assert post.to == (AS_PUBLIC,) and post.cc == (AS_PUBLIC,)


def test_key_owned_by_another_actor_is_ignored() -> None:
    doc = load("mastodon/person")
    doc["publicKey"]["owner"] = "https://evil.test/users/mallory"
    assert parse_actor(doc).public_key is None


def test_key_list_picks_the_actors_own_key() -> None:
    doc = load("mastodon/person")
    own = doc["publicKey"]
    doc["publicKey"] = [{**own, "owner": "https://evil.test/u/x", "id": "https://evil.test/k"}, own]
    key = parse_actor(doc).public_key
    assert key is not None and key.id == own["id"]


def test_display_links_that_are_not_http_are_dropped() -> None:
    post = parse_object(
        note(
            url="javascript:alert(1)",
            attachment=[{"type": "Image", "url": "data:image/png;base64,AAAA"}],
        )
    )
    assert isinstance(post, APObject)
    assert post.url is None and post.attachments == ()


def test_emoji_react_is_its_own_known_type() -> None:
    activity = parse_activity(
        {
            "id": "https://akkoma.test/activities/1",
            "type": "EmojiReact",
            "actor": "https://akkoma.test/users/akko",
            "object": "https://mastodon.test/users/ana/statuses/1",
            "content": "\U0001f9e1",
        }
    )
    assert activity.known and activity.type == "EmojiReact"
    assert activity.content == "\U0001f9e1"


def test_unknown_type_is_kept_but_not_known() -> None:
    activity = parse_activity(
        {
            "id": "https://pt.test/activities/view/1",
            "type": "View",
            "actor": {"id": "https://pt.test/accounts/peertube", "type": "Application"},
            "object": "https://pt.test/videos/watch/1",
        }
    )
    assert activity.known is False
    assert activity.type == "View"
    assert activity.actor == "https://pt.test/accounts/peertube"
    assert activity.object == "https://pt.test/videos/watch/1"


def test_embedded_object_of_a_type_we_do_not_speak_becomes_a_reference() -> None:
    activity = parse_activity(
        create({"id": "https://mastodon.test/videos/1", "type": "Video", "name": "x"})
    )
    assert activity.object == "https://mastodon.test/videos/1"


# --- refusals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"actor": None}, "no actor"),
        ({"id": None}, "id must be a URL"),
        ({"id": "/users/ana/statuses/1/activity"}, "absolute"),
        ({"id": "https://ana@mastodon.test/activity/1"}, "userinfo"),
        ({"id": "ftp://mastodon.test/activity/1"}, "absolute http"),
        ({"id": "https://evil.test\\@mastodon.test/1"}, "userinfo"),
        ({"id": "https://mastodon.test/" + "a" * 2_100}, "longer than 2048"),
        ({"actor": "mastodon.test/users/ana"}, "actor is not"),
        ({"object": None}, "no object"),
        ({"type": ["Create"]}, "type must be"),
    ],
)
def test_invalid_activity(change: dict[str, Any], reason: str) -> None:
    doc = create(note())
    doc.update(change)
    with pytest.raises(Invalid, match=reason):
        parse_activity(doc)


def test_not_a_json_object() -> None:
    with pytest.raises(Invalid):
        parse_activity(["Create"])


def test_too_long_content() -> None:
    with pytest.raises(Invalid, match="content is longer than 100000"):
        parse_activity(create(note(content="x" * 100_001)))


def test_too_long_title() -> None:
    with pytest.raises(Invalid, match="name is longer than 500"):
        parse_object(note(name="t" * 501))


def test_too_many_tags() -> None:
    tags = [{"type": "Hashtag", "name": f"#t{i}"} for i in range(65)]
    with pytest.raises(Invalid, match="tag has more than 64"):
        parse_object(note(tag=tags))


def test_too_many_attachments() -> None:
    media = [{"type": "Image", "url": f"https://a.test/m/{i}.png"} for i in range(17)]
    with pytest.raises(Invalid, match="attachment has more than 16"):
        parse_object(note(attachment=media))


def test_two_thousand_recipients() -> None:
    to = [f"https://spam.test/users/{i}" for i in range(2_000)]
    with pytest.raises(Invalid, match="to has more than 1000"):
        parse_activity(create(note(), to=to))


def test_bad_address_is_refused() -> None:
    with pytest.raises(Invalid, match="cc is not"):
        parse_activity(create(note(), cc=["javascript:alert(1)"]))


def test_post_without_author_is_refused() -> None:
    doc = note()
    del doc["attributedTo"]
    with pytest.raises(Invalid, match="no attributedTo"):
        parse_object(doc)


def test_actor_without_inbox_is_refused() -> None:
    doc = load("mastodon/person")
    del doc["inbox"]
    with pytest.raises(Invalid, match="inbox"):
        parse_actor(doc)


def test_actor_without_username_is_named_after_its_id() -> None:
    # ActivityPub makes preferredUsername optional (fediverse-pasture's emily and frank).
    doc = load("mastodon/person")
    del doc["preferredUsername"]
    assert parse_actor(doc).preferred_username == doc["id"].rstrip("/").rsplit("/", 1)[-1]


def test_announce_of_undo_of_like_parses() -> None:
    undo = {
        "id": "https://lemmy.test/activities/undo/1",
        "type": "Undo",
        "actor": "https://lemmy.test/u/ana",
        "object": load("lemmy/like_note"),
    }
    announce = {
        "id": "https://lemmy.test/activities/announce/1",
        "type": "Announce",
        "actor": "https://lemmy.test/c/hope",
        "object": undo,
    }
    parsed = parse_activity(announce)
    assert isinstance(parsed.object, Activity) and isinstance(parsed.object.object, Activity)
    assert parsed.object.object.object == "http://ds9.lemmy.ml/comment/1"


def test_nesting_is_bounded() -> None:
    doc: dict[str, Any] = create(note())
    for i in range(5):
        doc = {
            "id": f"https://group.test/activities/announce/{i}",
            "type": "Announce",
            "actor": "https://group.test/c/hope",
            "object": doc,
        }
    with pytest.raises(Invalid, match="nested"):
        parse_activity(doc)


def test_limits_are_passable() -> None:
    with pytest.raises(Invalid, match="content is longer than 10"):
        parse_object(note(content="x" * 11), Limits(content=10))


# --- embedded objects and origin ----------------------------------------------------


def test_same_origin_embedded_object_is_trusted() -> None:
    assert embedded_origin_ok(parse_activity(create(note())))


def test_cross_origin_embedded_object_is_detected() -> None:
    # evil.test signs a Create that embeds a Note claiming to live on mastodon.test.
    forged = create(note(), actor="https://evil.test/users/mallory", id="https://evil.test/a/1")
    assert not embedded_origin_ok(parse_activity(forged))


def test_cross_origin_deep_inside_an_announce_is_detected() -> None:
    # The group's host announces a Create from evil.test whose Note claims mastodon.test.
    inner = create(note(), actor="https://evil.test/users/mallory", id="https://evil.test/a/1")
    announce = {
        "id": "https://evil.test/activities/announce/1",
        "type": "Announce",
        "actor": "https://evil.test/c/hope",
        "object": inner,
    }
    assert not embedded_origin_ok(parse_activity(announce))


def test_group_announcing_a_remote_members_create_needs_a_fetch() -> None:
    # FEP-1b12: the Create comes from the member's server, not the group's, so the
    # embedded copy must be refetched from its origin.
    announce = {
        "id": "https://group.test/activities/announce/1",
        "type": "Announce",
        "actor": "https://group.test/c/hope",
        "object": create(note()),
    }
    assert not embedded_origin_ok(parse_activity(announce))


def test_bare_id_needs_no_origin_check() -> None:
    assert embedded_origin_ok(parse_activity(load("mastodon/like")))


# --- jsonld helpers -----------------------------------------------------------------


def test_as_list_and_get_id() -> None:
    assert as_list(None) == []
    assert as_list("a") == ["a"]
    assert as_list(["a", "b"]) == ["a", "b"]
    assert get_id("https://a.test/1") == "https://a.test/1"
    assert get_id({"id": "https://a.test/1", "type": "Note"}) == "https://a.test/1"
    assert get_id({"type": "Note"}) is None
    assert get_id(3) is None


@pytest.mark.parametrize(
    "value", [AS_PUBLIC, "as:Public", "Public", ["https://a.test/f", "Public"], {"id": AS_PUBLIC}]
)
def test_is_public(value: Any) -> None:
    assert is_public(value)


def test_is_not_public() -> None:
    assert not is_public(["https://a.test/users/ana/followers"])
    assert not is_public(None)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/activity+json", True),
        ("application/activity+json; charset=utf-8", True),
        ('application/ld+json; profile="https://www.w3.org/ns/activitystreams"', True),
        (f'application/ld+json; profile="https://example.test/x {AS_CONTEXT}"', True),
        ("application/ld+json", False),
        ("application/json", False),
        ("text/html", False),
        (None, False),
    ],
)
def test_activitypub_content_types(header: str | None, expected: bool) -> None:
    assert is_activitypub_content_type(header) is expected


def test_emitted_context() -> None:
    assert CONTEXT[:2] == ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"]
    terms = CONTEXT[2]
    for term in ("toot", "sensitive", "manuallyApprovesFollowers", "featured", "moderators",
                 "postingRestrictedToMods", "language"):
        assert term in terms
    assert json.loads(json.dumps(CONTEXT)) == CONTEXT
