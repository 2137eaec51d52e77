"""Text as keyword rules see it, in the languages people here write: matching ignores case,
accents and vowel points, and the tricks used to slip a word past a filter."""
from __future__ import annotations

import pytest

from fedisupport.policy.check import PostFacts
from fedisupport.policy.rules import (CompiledRule, PatternError, compile_pattern, language_applies, matching_rules,
                                      normalize, normalize_language)


@pytest.mark.parametrize("text, expected", [
    ("Suicidio", "suicidio"),
    ("SUICIDIÓ", "suicidio"),                      # Spanish accent on a capital
    ("  me   siento\n\tfatal  ", "me siento fatal"),
    ("añoranza", "anoranza"),                       # ñ is n + tilde: folded too
    ("Straße", "strasse"),                          # case folding, not just lowercasing
    ("ﬁnally", "finally"),                          # NFKC: ligatures
    ("ｓｕｉｃｉｄｅ", "suicide"),                      # NFKC: full-width letters
    ("sui\u200bcide", "suicide"),                   # zero-width space
    ("sui\u00adcide", "suicide"),                   # soft hyphen
    ("e\u0301", "e"),                               # a decomposed accent
    ("आत्महत्या", "आत्महत्या"),                        # Hindi: vowel signs and virama are kept
    ("ज़िंदगी", "जिंदगी"),                              # … the nukta goes
    ("\u095b\u093f\u0902\u0926\u0917\u0940", "जिंदगी"),  # a precomposed ज़ (U+095B) too
    ("انتحار", "انتحار"),                            # Arabic unchanged
    ("اِنْتِحَار", "انتحار"),                         # … its harakat stripped
    ("انتـــحار", "انتحار"),                          # … and the tatweel that stretches a word
    ("שָׁלוֹם", "שלום"),                              # Hebrew points
])
def test_normalize(text, expected):
    assert normalize(text) == expected


def rule(pattern: str, *, is_regex: bool = False, language: str | None = None, community_id: int | None = None,
         action: str = "hold") -> CompiledRule:
    return CompiledRule(1, community_id, action, language, "", pattern, compile_pattern(pattern, is_regex))


def finds(r: CompiledRule, text: str, language: str | None = None, community_id: int | None = None) -> str | None:
    found = matching_rules([r], text, language, community_id)
    return found[0][1] if found else None


@pytest.mark.parametrize("pattern, text, found", [
    # Whole words where words are separated by spaces
    ("suicide", "thinking about suicide tonight", "suicide"),
    ("suicide", "Suicide.", "suicide"),
    ("suicide", "suicides", None),
    ("ass", "my class is hard", None),
    ("kill myself", "I want to KILL   myself", "kill myself"),
    ("kill myself", "kill my self", None),
    # Spanish: accents on either side
    ("suicidio", "pensé en el suicidió", "suicidio"),
    ("suicidó", "se suicido ayer", "suicido"),
    ("no quiero vivir", "NO QUIERO VIVIR más", "no quiero vivir"),
    # Hindi: words are separated by spaces; vowel signs are part of the word
    ("आत्महत्या", "मैं आत्महत्या के बारे में सोच रहा हूँ", "आत्महत्या"),
    ("मरना", "मैं मरना चाहता हूँ", "मरना"),
    ("मर", "मैं मरना चाहता हूँ", None),             # not inside a longer word
    ("ज़िंदगी", "मेरी जिंदगी बेकार है", "जिंदगी"),
    # Arabic: "and", "the", "to" attach to the word, so it matches inside words
    ("انتحار", "أفكر في الانتحار", "انتحار"),
    ("انتحار", "وَالاِنْتِحَار", "انتحار"),
    ("انتحار", "انتـــحار", "انتحار"),
    # Scripts without spaces between words
    ("自杀", "我想自杀了", "自杀"),
    ("死にたい", "もう死にたいです", "死にたい"),
])
def test_plain_words(pattern, text, found):
    assert finds(rule(pattern), text) == found


@pytest.mark.parametrize("pattern, text, found", [
    (r"sui?cid(e|io)s?", "SUICIDIO", "suicidio"),
    (r"sui?cid(e|io)s?", "sucidios", "sucidios"),
    (r"\bself[- ]?harm", "Self harm again", "self harm"),
    (r"\bk+i+l+l+\s+m+y+s+e+l+f", "kiiiill   myyself", "kiiiill myyself"),  # spaces collapse before matching
    (r"suicidió", "SUICIDIO", "suicidio"),  # accents stripped in the pattern too
    (r"\d{3}-\d{4}", "call 555-1234", "555-1234"),
    (r"^hola", "Hola, ¿cómo estás?", "hola"),
    (r"آ?انتحار", "الانتحار", "انتحار"),
    (r"\W", "abc", None),  # escapes keep their meaning (case folding would have turned \W into \w)
])
def test_patterns(pattern, text, found):
    assert finds(rule(pattern, is_regex=True), text) == found


@pytest.mark.parametrize("pattern, message", [
    ("", "Please enter"),
    ("   ", "Please enter"),
    ("x" * 501, "500 characters"),
    ("(unclosed", "mistake"),
    ("[z-a]", "mistake"),
    ("(a+)+$", "repeats a group"),
    (r"(\w+\s?)*", "repeats a group"),
    ("(x{1,9}){2,}", "repeats a group"),
])
def test_unusable_patterns_say_why(pattern, message):
    with pytest.raises(PatternError, match=message):
        compile_pattern(pattern, is_regex=True)


@pytest.mark.parametrize("rule_language, post_language, applies", [
    (None, "en", True), (None, None, True), ("es", "es", True), ("es", "es-MX", True), ("es", "ES_419", True),
    ("es", "en", False), ("es", "est", False), ("es-mx", "es", False), ("es", None, True), ("hi", "hi-IN", True),
])
def test_language_applies(rule_language, post_language, applies):
    assert language_applies(rule_language, post_language) is applies


@pytest.mark.parametrize("tag, normal", [("ES", "es"), ("es_MX", "es-mx"), ("", None), ("  ", None), ("ar", "ar")])
def test_language_tags(tag, normal):
    assert normalize_language(tag) == normal


@pytest.mark.parametrize("tag", ["spanish!", "e", "12", "es-"])
def test_not_language_tags(tag):
    with pytest.raises(ValueError):
        normalize_language(tag)


def test_community_rules_apply_only_there():
    scoped = rule("relapse", community_id=7)
    assert finds(scoped, "a relapse", community_id=7) == "relapse"
    assert finds(scoped, "a relapse", community_id=8) is None
    assert finds(scoped, "a relapse", community_id=None) is None


def test_post_facts_from_a_mastodon_note():
    from fedisupport.activitypub.vocab import parse_object

    note = parse_object({
        "id": "https://m.test/users/a/statuses/1", "type": "Note", "attributedTo": "https://m.test/users/a",
        "to": ["https://www.w3.org/ns/activitystreams#Public"], "inReplyTo": "https://here.test/p/1",
        "summary": "CW: meds", "contentMap": {"es": "x"}, "content":
            '<p><span class="h-card"><a href="https://m.test/@b" class="u-url mention">@<span>b</span></a></span> '
            'mira <a href="https://shop.test/x" rel="nofollow">esto</a> y '
            '<a href="https://m.test/tags/ayuda" class="mention hashtag" rel="tag">#<span>ayuda</span></a> '
            'y <a href="https://m.test/users/c">@c</a> &amp; más</p>',
        "tag": [{"type": "Mention", "href": "https://m.test/users/b"}, {"type": "Mention", "href": "https://m.test/users/c"},
                {"type": "Hashtag", "href": "https://m.test/tags/ayuda", "name": "#ayuda"}],
        "attachment": [{"type": "Document", "mediaType": "image/png", "url": "https://m.test/a.png"}],
    })
    facts = PostFacts.from_object(note)
    assert facts.mentions == 2 and facts.links == 1 and facts.has_media and facts.is_reply
    assert facts.language == "es"
    assert "CW: meds" in facts.text and "mira esto" in facts.text and "& más" in facts.text
