"""The directory of crisis services: the shipped data, seeding, and the reader's region and language."""
from __future__ import annotations

import json
import re
from importlib import resources
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from fedisupport import care, db
from fedisupport.care import directory
from fedisupport.models import CrisisPhrase, CrisisService
from fedisupport.models.care import SERVICE_KINDS
from fedisupport.settings import build_settings
from fedisupport.web.care import negotiate, parse_accept_language, region_of_tag

SHIPPED = json.loads(resources.files("fedisupport").joinpath("data/crisis_services.json").read_text("utf-8"))


def test_every_shipped_entry_has_a_source_and_a_valid_kind_and_region():
    keys = set()
    for entry in SHIPPED["services"]:
        assert entry["key"] not in keys, entry["key"]
        keys.add(entry["key"])
        fields = directory.ServiceFields.from_values(entry)
        assert fields.errors == {}, (entry["key"], fields.errors)
        assert entry["kind"] in SERVICE_KINDS
        assert entry["region"] == "*" or re.fullmatch(r"[A-Z]{2}", entry["region"])
        source = urlsplit(entry["source_url"])
        assert source.scheme == "https" and source.netloc, entry["key"]
        # How it was checked is recorded with it.
        assert entry["checked_against"] and entry["evidence"], entry["key"]
        if entry["kind"] in ("phone", "text"):
            assert re.search(r"\d", entry["contact"])
        else:
            assert urlsplit(entry["contact"]).scheme == "https"
    assert "admins_must_recheck" in SHIPPED["_about"]


def test_the_directory_covers_english_spanish_hindi_and_arabic_speaking_regions():
    regions = {e["region"] for e in SHIPPED["services"]}
    for region in ("US", "CA", "GB", "IE", "AU", "NZ", "IN", "ZA",  # English
                   "ES", "MX", "AR", "CO", "CL", "PE",  # Spanish
                   "EG", "AE", "LB",  # Arabic
                   "*"):  # international
        assert region in regions, region
    languages = {tag for e in SHIPPED["services"] for tag in e["languages"].split()}
    assert {"en", "es", "hi", "ar"} <= languages


@pytest.mark.parametrize("header, expected", [
    ("es-MX,es;q=0.9,en;q=0.8", [("es-MX", 1.0), ("es", 0.9), ("en", 0.8)]),
    ("en;q=0.5, ar-EG", [("ar-EG", 1.0), ("en", 0.5)]),
    ("fr;q=0, de", [("de", 1.0)]),
    ("*, hi-IN;q=0.7", [("hi-IN", 0.7)]),
    ("garbage;;;, <script>", [("garbage", 1.0)]),
    ("", []),
    (None, []),
])
def test_parse_accept_language(header, expected):
    assert parse_accept_language(header) == expected


@pytest.mark.parametrize("tag, region", [("es-MX", "MX"), ("en-gb", "GB"), ("zh-Hant-TW", "TW"), ("es-419", None),
                                         ("ar", None)])
def test_region_of_tag(tag, region):
    assert region_of_tag(tag) == region


@pytest.mark.parametrize("header, cookie, region, language, chosen", [
    ("es-MX,es;q=0.9", None, "MX", "es", False),
    ("hi-IN", None, "IN", "hi", False),
    ("ar-EG,ar;q=0.9,en;q=0.5", None, "EG", "ar", False),
    ("es", None, None, "es", False),  # no region: international entries lead
    ("en;q=0.8,es-AR", None, "AR", "es", False),  # the better-liked tag first
    ("en,es-CO;q=0.5", None, "CO", "en", False),  # a region from a later tag still tells where
    ("es-MX", "gb", "GB", "es", True),  # the reader's own choice wins
    ("es-MX", "not a region", "MX", "es", False),
    (None, None, None, None, False),
])
def test_negotiate(header, cookie, region, language, chosen):
    pref = negotiate(header, cookie)
    assert (pref.region, pref.language, pref.chosen) == (region, language, chosen)


async def test_seeding_is_idempotent_and_keeps_admin_changes(databases, tmp_path):
    settings = build_settings({"domain": "a.test", "database_url": await databases.anew_url(tmp_path)}, tmp_path)
    engine = db.create_engine(settings)
    sessions = db.session_factory(engine)
    try:
        async with db.transaction(sessions) as session:
            services, phrases = await care.seed_all(session)
        assert services == len(SHIPPED["services"]) and phrases > 100
        async with db.transaction(sessions) as session:
            mx = await session.scalar(select(CrisisService).where(CrisisService.seed_key == "mx-linea-de-la-vida"))
            mx.hours = "edited by an admin"
            samaritans = await session.scalar(select(CrisisService).where(CrisisService.seed_key == "gb-samaritans"))
            samaritans.active = False
            phrase = await session.scalar(select(CrisisPhrase).where(CrisisPhrase.phrase == "suicidal"))
            phrase.active = False
        async with db.transaction(sessions) as session:
            assert await care.seed_all(session) == (0, 0)
        async with sessions() as session:
            assert await session.scalar(select(func.count(CrisisService.id))) == len(SHIPPED["services"])
            mx = await session.scalar(select(CrisisService).where(CrisisService.seed_key == "mx-linea-de-la-vida"))
            assert mx.hours == "edited by an admin" and mx.source_url.startswith("https://")
            assert not (await session.scalar(select(CrisisService).where(CrisisService.seed_key == "gb-samaritans"))).active
            assert not (await session.scalar(select(CrisisPhrase).where(CrisisPhrase.phrase == "suicidal"))).active
    finally:
        await engine.dispose()


async def test_an_instance_never_seeded_still_shows_the_shipped_services(databases, tmp_path):
    settings = build_settings({"domain": "a.test", "database_url": await databases.anew_url(tmp_path)}, tmp_path)
    engine = db.create_engine(settings)
    try:
        async with db.session_factory(engine)() as session:
            rows = await directory.for_regions(session, ["MX", "*"])
        assert {r.seed_key for r in rows} >= {"mx-linea-de-la-vida", "intl-find-a-helpline"}
    finally:
        await engine.dispose()


def test_dial_links():
    def svc(kind, contact):
        return CrisisService(kind=kind, contact=contact)
    assert directory.dial_href(svc("phone", "800 911 2000")) == "tel:8009112000"
    assert directory.dial_href(svc("phone", "1-800-668-6868")) == "tel:18006686868"
    assert directory.dial_href(svc("phone", "*4141")) == "tel:*4141"
    assert directory.dial_href(svc("phone", "(011) 5275-1135")) == "tel:01152751135"
    assert directory.dial_href(svc("text", "741741")) == "sms:741741"
    assert directory.dial_href(svc("phone", "call 988 then 2")) is None
    assert directory.dial_href(svc("web", "https://findahelpline.com/")) == "https://findahelpline.com/"
