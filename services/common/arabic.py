"""Arabic text normalization shared by every stage.

Two levels, because they serve different readers:

* :func:`normalize_display` keeps the writer's spelling and only removes what no reader
  sees (tatweel, zero-width and bidi controls) and folds Unicode compatibility forms.
  Clean article text is in this form and every character offset refers to it.
* :func:`normalize_for_matching` also folds alef forms, alef maksura, teh marbuta and
  (by default) diacritics, so that spelling variants compare equal. It is used for
  keys, lookups and similarity, never for text shown to people.
"""

from __future__ import annotations

import re
import unicodedata

from camel_tools.utils.dediac import dediac_ar
from camel_tools.utils.normalize import (
    normalize_alef_ar,
    normalize_alef_maksura_ar,
    normalize_teh_marbuta_ar,
    normalize_unicode,
)

TATWEEL = "\u0640"
# Tatweel between two letters only stretches a word (كـــتب); after a one-letter proclitic before a
# number or quote (بـ 30, لـ«داعش») it is how the word is written, so it stays.
_STRETCH = re.compile("(?<=[\u0621-\u064a])\u0640+(?=[\u0621-\u064a])")
# The few compatibility characters camel-tools maps differently from plain NFKC.
_CAMEL_SPECIAL = re.compile("[\ufdfc\ufdfd]")
# Zero-width and bidirectional controls that web pages scatter inside words.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad\u061c]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ARABIC_LETTER = re.compile("[\u0621-\u064a\u066e-\u06d3\u06fa-\u06ff]")
_LATIN_LETTER = re.compile("[A-Za-z]")


def normalize_display(text: str) -> str:
    """Return ``text`` as it should be stored and shown: same spelling, no invisible noise."""
    # NFKC folds presentation forms and ligatures; camel-tools' version is needed only for the
    # characters it treats specially and is much slower, so it runs only when they occur.
    text = normalize_unicode(text) if _CAMEL_SPECIAL.search(text) else unicodedata.normalize("NFKC", text)
    text = _STRETCH.sub("", _INVISIBLE.sub("", text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(lines)


def normalize_for_matching(text: str, *, dediacritize: bool = True) -> str:
    """Fold spelling variants so that سورية/سوريا and أستانة/آستانة compare equal."""
    text = normalize_display(text).replace(TATWEEL, "")
    if dediacritize:
        text = dediac_ar(text)
    text = normalize_alef_ar(text)
    text = normalize_alef_maksura_ar(text)
    text = normalize_teh_marbuta_ar(text)
    return unicodedata.normalize("NFC", text)


def arabic_ratio(text: str) -> float:
    """Share of letters that are Arabic, among Arabic and Latin letters (0.0 for no letters)."""
    arabic = len(_ARABIC_LETTER.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    letters = arabic + latin
    return arabic / letters if letters else 0.0
