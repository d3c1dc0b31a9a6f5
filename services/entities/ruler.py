"""Curated names the product must not miss, added where the statistical model found nothing.

ANERcorp, which the model learns from, tags ministries and many organisation names as O, and its
2000s news never mentions the groups that fill today's headlines. A news monitor still needs
وزارة الدفاع الروسية and جبهة النصرة, so extraction adds two kinds of matches on top of the
model's mentions, never overlapping them:

* phrases from the curated organisation and country lists (data/organizations.txt,
  data/countries.txt), clitics allowed on the first word (ولجبهة النصرة), but no one-word
  organisation that is also a place or a common word, nor one after a word such as مدينة or بلدة
  (منطقة الأهرام: the pyramids, not the newspaper); a curated phrase that covers a shorter model mention
  entirely replaces it (المرصد السوري -> the observatory's full name);
* ministries: وزارة/وزير-less ``وزارة`` + its portfolio + an optional nationality adjective.

``ner-eval`` scores the model alone, on ANERcorp's conventions; the ruler serves the pipeline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from services.common.arabic import normalize_for_matching

from .gazetteer import curated_names, read_list
from .ner import Mention
from .tokens import Token, tokenize

DATA = Path(__file__).resolve().parent / "data"
MAX_PHRASE = 6
_PROCLITICS = ("وال", "فال", "بال", "كال", "ول", "وب", "فب", "فل", "و", "ف", "ب", "ل", "ك")
_MINISTRY = {"وزاره", "وزارات"}
# Words after which a single word names a place, whatever the lists say (منطقة الأهرام is the pyramids,
# not the newspaper الأهرام): matching forms.
_PLACE_WORDS = frozenset(normalize_for_matching(w) for w in (
    "مدينة", "مدن", "بلدة", "بلدات", "قرية", "قرى", "محافظة", "منطقة", "ريف", "مخيم", "حي",
))
_NISBA = re.compile(r"^ال\S+يه$")  # matching form: الروسية -> الروسيه


@dataclass(frozen=True)
class Phrasebook:
    phrases: dict[tuple[str, ...], str]
    # first word -> the lengths of the phrases it starts, longest first: most words start none,
    # and are passed over with one lookup per reading.
    lengths: dict[str, tuple[int, ...]]

    @classmethod
    @cache
    def load(cls) -> Phrasebook:
        phrases: dict[tuple[str, ...], str] = {}
        ambiguous = _ambiguous_words()
        for name, kind in (("countries.txt", "LOC"), ("organizations.txt", "ORG")):
            for line in read_list(DATA / name):
                phrase = tuple(normalize_for_matching(line).split())
                # One word that is also a place or a common word (برشلونة the club or the city,
                # القاعدة the group or "the base") is left to the model, which sees the context.
                if kind == "ORG" and len(phrase) == 1 and phrase[0] in ambiguous:
                    continue
                phrases[phrase] = kind
        lengths: dict[str, set[int]] = {}
        for phrase in phrases:
            lengths.setdefault(phrase[0], set()).add(len(phrase))
        return cls(phrases, {word: tuple(sorted(n, reverse=True)) for word, n in lengths.items()})


def _ambiguous_words() -> frozenset[str]:
    places = {name for kind, name in curated_names() if kind == "LOC"}
    common = {normalize_for_matching(word) for word in read_list(DATA / "stopwords.txt")}
    return frozenset(places | common)


@lru_cache(maxsize=100_000)
def _matching_form(word: str) -> str:
    return normalize_for_matching(word)  # once per word form: an article repeats most of its words


@lru_cache(maxsize=100_000)
def _readings(word: str) -> tuple[tuple[str, int], ...]:
    """The word and its clitic-stripped readings, with how many leading characters each drops."""
    readings = [(word, 0)]
    for prefix in _PROCLITICS:
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            rest = word[len(prefix):]
            if prefix.endswith("ال"):
                readings.append(("ال" + rest, len(prefix) - 2))
            else:
                readings.append((rest, len(prefix)))
    for lead in ("", "و", "ف"):
        if word.startswith(lead + "لل") and len(word) - len(lead) > 4:
            # ل + ال is written لل: the span keeps it (no cut leaves the name as written), a و or ف goes.
            readings.append(("ال" + word[len(lead) + 2:], len(lead)))
    return tuple(readings)


def _phrase_at(words: list[str], index: int, book: Phrasebook) -> tuple[int, int, str] | None:
    """Longest curated phrase starting at ``index``: (length in tokens, characters to skip, type)."""
    starts = [(reading, skip, book.lengths[reading]) for reading, skip in _readings(words[index])
              if reading in book.lengths]
    if not starts:
        return None
    for length in sorted({n for _, _, lengths in starts for n in lengths}, reverse=True):
        if length > min(MAX_PHRASE, len(words) - index):
            continue
        rest = tuple(words[index + 1:index + length])
        for reading, skip, lengths in starts:
            kind = book.phrases.get((reading, *rest)) if length in lengths else None
            if kind:
                return length, skip, kind
    return None


def _ministry_at(words: list[str], index: int) -> tuple[int, int] | None:
    for reading, skip in _readings(words[index]):
        if reading in _MINISTRY and index + 1 < len(words) and words[index + 1].startswith("ال"):
            length = 2
            if index + 2 < len(words) and _NISBA.match(words[index + 2]):
                length = 3
            return length, skip
    return None


def curated_mentions(text: str, found: list[Mention]) -> tuple[list[Mention], list[Mention]]:
    """Curated matches in ``text``: (mentions to add, model mentions they replace)."""
    tokens: list[Token] = tokenize(text)
    words = [_matching_form(t.text) for t in tokens]
    taken = [(m.start, m.end) for m in found]
    book = Phrasebook.load()
    added: list[Mention] = []
    replaced: list[Mention] = []
    index = 0
    while index < len(tokens):
        match = _phrase_at(words, index, book)
        ministry = _ministry_at(words, index)
        if ministry is not None and (match is None or ministry[0] > match[0]):
            match = (ministry[0], ministry[1], "ORG")  # the ministry with its nationality is longer
        if match is None:
            index += 1
            continue
        length, skip, kind = match
        if kind == "ORG" and length == 1 and index > 0 and words[index - 1] in _PLACE_WORDS:
            index += 1
            continue
        start, end = tokens[index].start + skip, tokens[index + length - 1].end
        inside = [m for m in found if start <= m.start and m.end <= end and (m.start, m.end) != (start, end)]
        clashing = [(s, e) for s, e in taken if s < end and start < e]
        if not clashing or (inside and len(clashing) == len(inside)):
            added.append(Mention(kind, start, end, text[start:end]))
            replaced.extend(inside)
            taken = [span for span in taken if span not in {(m.start, m.end) for m in inside}] + [(start, end)]
        index += length
    return added, replaced
