"""Crisis signals: normalisation and matching in English, Spanish, Hindi and Arabic (pure, no database)."""
from __future__ import annotations

import json
from importlib import resources

import pytest

from fedisupport.care.signals import Matcher, normalize


def shipped_matcher() -> Matcher:
    raw = json.loads(resources.files("fedisupport").joinpath("data/crisis_phrases.json").read_text("utf-8"))
    return Matcher((p["phrase"], p["language"]) for p in raw["phrases"])


MATCHER = shipped_matcher()


@pytest.mark.parametrize("text, expected", [
    ("I don’t want to LIVE!!", "i dont want to live"),
    ("  many   spaces\n\tand lines ", "many spaces and lines"),
    ("Ｆｕｌｌ－ｗｉｄｔｈ", "full width"),  # NFKC
    ("ﬁnally", "finally"),  # ligature
    ("Quiero SUICIDÁRME", "quiero suicidarme"),
    ("ESTARÍAN mejor sin mí", "estarian mejor sin mi"),
    ("hacerme daño", "hacerme dano"),
    ("Straße", "strasse"),  # case folding, not just lower()
    ("أُرِيدُ أَنْ أَمُوتَ", "اريد ان اموت"),  # tashkeel
    ("أريـــد أن أمـــوت", "اريد ان اموت"),  # tatweel
    ("إيذاء نفسي", "ايذاء نفسي"),  # alef with hamza below
    ("رسالة", "رساله"),  # taa marbuta
    ("\ufe8d\ufee0\ufee4\ufeee\ufe95", "الموت"),  # Arabic presentation forms (NFKC)
    ("ज़िंदगी", "जिंदगी"),  # nukta dropped
    ("मैँ", "मैं"),  # chandrabindu as anusvara
    ("मरना", "मरना"),  # vowel signs stay
    ("a\u200db\u200cc", "abc"),  # zero-width joiners
])
def test_normalize(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize("text, phrase", [
    # English
    ("Honestly I want to die, I'm so tired.", "i want to die"),
    ("i DON'T want to live anymore", "i don't want to live"),
    ("I dont want to live", "i don't want to live"),
    ("Everyone would be better off without me.", "better off without me"),
    ("I've been feeling suicidal again", "suicidal"),
    ("I keep thinking about killing myself", "thinking about killing myself"),
    # Spanish, with and without accents
    ("Ya no quiero vivir.", "ya no quiero vivir"),
    ("me quiero morir", "me quiero morir"),
    ("Estarian mejor sin mi", "estarían mejor sin mí"),
    ("ESTARÍAN MEJOR SIN MÍ", "estarían mejor sin mí"),
    ("pienso en suicidarme cada noche", "pienso en suicidarme"),
    ("Quiero quitarme la vida", "quiero quitarme la vida"),
    # Hindi: Devanagari (with and without nukta) and Latin letters
    ("मैं मरना चाहता हूं", "मैं मरना चाहता हूं"),
    ("अब मैं जीना नहीं चाहती", "जीना नहीं चाहती"),
    ("ज़िंदगी खत्म कर दूंगा", "ज़िंदगी खत्म कर दूंगा"),
    ("जिंदगी खत्म कर दूंगा", "ज़िंदगी खत्म कर दूंगा"),
    ("sach mein marna chahta hoon yaar", "marna chahta hoon"),
    # Arabic: with tashkeel, tatweel, alef forms, attached و, dialects
    ("أُرِيدُ أَنْ أَمُوتَ", "أريد أن أموت"),
    ("اريد ان اموت", "أريد أن أموت"),
    ("وأريـــد أن أموت", "أريد أن أموت"),
    ("انا بجد عايز اموت", "عايز أموت"),
    ("ما بدي عيش", "ما بدي عيش"),
    ("أفكر في الانتحار كل يوم", "أفكر في الانتحار"),
])
def test_matches_in_four_languages(text, phrase):
    found = MATCHER.find(text)
    assert found is not None, text
    assert found.phrase == phrase


@pytest.mark.parametrize("text", [
    "I'm on a diet and want to diet harder",  # "die" inside a word
    "My phone died today",
    "We talked about suicide prevention training at work.",  # talking about, not at risk
    "Quiero vivir mi vida al máximo",
    "मैं जीना चाहता हूं",  # "I want to live"
    "أريد أن أعيش",  # "I want to live"
    "",
])
def test_no_match(text):
    assert MATCHER.find(text) is None


def test_whole_words_only():
    matcher = Matcher([("end it all", "en")])
    assert matcher.find("I want to end it all.") is not None
    assert matcher.find("weekend it allows") is None
    assert matcher.find("end it all") is not None  # the whole text


def test_longest_phrase_is_reported_and_duplicates_collapse():
    matcher = Matcher([("kill myself", "en"), ("i want to kill myself", "en"), ("I want to KILL myself", "en")])
    assert matcher.size == 2
    assert matcher.find("honestly i want to kill myself").phrase == "i want to kill myself"


def test_empty_list_matches_nothing():
    assert Matcher([]).find("i want to die") is None


def test_every_shipped_phrase_matches_itself_and_is_in_a_supported_language():
    raw = json.loads(resources.files("fedisupport").joinpath("data/crisis_phrases.json").read_text("utf-8"))
    languages = {p["language"] for p in raw["phrases"]}
    assert languages == {"en", "es", "hi", "ar"}
    for entry in raw["phrases"]:
        assert normalize(entry["phrase"]), entry
        assert MATCHER.find(f"… {entry['phrase']} …") is not None, entry
    assert raw["_about"]["sources"]
