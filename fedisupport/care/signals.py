"""Crisis signals: does a piece of writing contain one of the phrases that may mean someone is at risk?

Pure and fast: no database, no I/O. `Matcher(phrases)` compiles every phrase into one regular
expression once; `matcher.find(text)` normalises the text the same way and searches it in one
pass. `care/phrases.py` keeps one Matcher per process and builds a new one when admins edit the
list.

Normalisation (the same for phrases and posts), so that "I don’t want to LIVE", "i dont want to
live" and "I don't want to live!" all match one phrase:

- Unicode NFKC (full-width letters, ligatures and Arabic presentation forms become plain letters),
  then case folding;
- Latin (and Greek, Cyrillic) diacritics stripped: "suicidarme" matches "suicidárme", "aquí" "aqui";
- Arabic: tashkeel (harakat, shadda, sukun, superscript alef, Quranic marks) and tatweel removed,
  alef forms (أ إ آ ٱ) to ا, alef maqsura ى to ي, taa marbuta ة to ه;
- Devanagari: nukta dropped and chandrabindu written as anusvara (ज़िंदगी = जिंदगी, मैँ = मैं),
  other vowel signs and the virama kept (they change the word);
- zero-width joiners removed, apostrophes removed (don't = dont), other punctuation and symbols
  become spaces, and runs of whitespace become one space.

A phrase matches only on whole words: "die" is not found in "diet". An Arabic phrase may also
follow the attached conjunctions و and ف ("وأريد أن أموت" matches "أريد أن أموت").
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable

# Combining diacritical marks of Latin, Greek and Cyrillic text (not the vowel signs of Indic scripts).
_LATIN_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Arabic harakat, shadda, sukun, maddah and hamza marks, superscript alef, Quranic annotations; tatweel.
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed\u0640]")
_ARABIC_LETTERS = str.maketrans({
    "\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u0671": "\u0627",  # أ إ آ ٱ -> ا
    "\u0649": "\u064a",  # ى -> ي
    "\u0629": "\u0647",  # ة -> ه
    "\u06cc": "\u064a",  # Persian/Urdu yeh -> ي
    "\u06a9": "\u0643",  # keheh -> ك
})
_DEVANAGARI = str.maketrans({
    "\u093c": None,  # nukta
    "\u0901": "\u0902",  # chandrabindu -> anusvara
})
_INVISIBLE = str.maketrans({"\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None, "\ufeff": None,
                            "\u00ad": None})
_APOSTROPHES = re.compile("['\u2018\u2019\u02bc\u0060\u00b4]")
_SPACES = re.compile(r"\s+")
_ARABIC_SCRIPT = re.compile("[\u0600-\u06ff]")


def _is_separator(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] in "PSZC" and ch not in " \n"


def normalize(text: str) -> str:
    """The form both phrases and posts are compared in (see the module's docstring)."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.translate(_INVISIBLE)
    # Decompose so that Latin accents become separate marks we can drop; Arabic and Devanagari
    # letters come apart too, and are recomposed below.
    text = unicodedata.normalize("NFD", text)
    text = _LATIN_MARKS.sub("", text)
    text = _ARABIC_MARKS.sub("", text)
    text = text.translate(_DEVANAGARI)
    text = unicodedata.normalize("NFC", text)
    text = text.translate(_ARABIC_LETTERS)
    text = _APOSTROPHES.sub("", text)
    text = "".join(" " if _is_separator(ch) else ch for ch in text)
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True)
class Phrase:
    phrase: str
    language: str


@dataclass(frozen=True)
class Match:
    phrase: str  # as the admins wrote it
    language: str


class Matcher:
    """Every phrase compiled into one expression; `find` is one search over the normalised text."""

    def __init__(self, phrases: Iterable[Phrase | tuple[str, str]]) -> None:
        by_form: dict[str, Phrase] = {}
        for item in phrases:
            phrase = item if isinstance(item, Phrase) else Phrase(*item)
            form = normalize(phrase.phrase)
            if form and form not in by_form:
                by_form[form] = phrase
        self._by_form = by_form
        self.size = len(by_form)
        if not by_form:
            self._pattern = None
            return
        parts = []
        # Longest first, so the most specific phrase is the one reported.
        for form in sorted(by_form, key=len, reverse=True):
            escaped = re.escape(form).replace(r"\ ", " ")
            prefix = "(?:[\u0648\u0641])?" if _ARABIC_SCRIPT.match(form) else ""
            parts.append(f"{prefix}({escaped})" if prefix else f"({escaped})")
        # Whole words: the phrase starts at the start or after a space, and ends at a space or the end.
        self._pattern = re.compile("(?:^|(?<= ))(?:" + "|".join(parts) + ")(?= |$)")
        self._forms = sorted(by_form, key=len, reverse=True)

    def find(self, text: str) -> Match | None:
        """The first phrase found in `text`, or None."""
        if self._pattern is None or not text:
            return None
        found = self._pattern.search(normalize(text))
        if found is None:
            return None
        form = next(group for group in found.groups() if group is not None)
        phrase = self._by_form[form]
        return Match(phrase=phrase.phrase, language=phrase.language)


EMPTY = Matcher(())
