"""Nationality adjectives (الروسي, السورية, بالأمريكية) are never entities on their own.

ANERcorp, which the model learns from and is scored on, tags them O, and a news monitor must
too: «وزير الخارجية الروسي» names no person and «الطيران الروسي» no place. The tagger still now
and then tags one alone, mostly after a title, so a one-word span that reads as the adjective of
a listed country is dropped after tagging. The adjective is told by its form: the country's name
(data/countries.txt) with the nisba ending -ي or -ية, proclitics and article aside (روسيا ->
روسي, العراق -> عراقي, أفغانستان -> أفغاني). Words that are also places in the lists (سورية is the
country itself, كوبي a city) keep their tags; plurals (كينيون is a surname) are left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from services.entities.evaluation import chunks
from services.entities.gazetteer import DATA_DIR, default_gazetteer, read_list
from services.entities.morph import lookup_variants, normalize, normalize_for_gazetteer, split_proclitics

_NISBA_ENDINGS = ("ي", "يه")  # matching forms: -ية is folded to -يه
_PLACE_LISTS = ("COUNTRY", "PLACE", "CITY")


def _country_stems(name: str) -> set[str]:
    """What a country's adjective is built on: روسيا -> روس, العراق -> عراق, أفغانستان -> أفغان."""
    bare = name[2:] if name.startswith("ال") else name
    stems = {bare}
    for ending in ("يا", "ا", "ه", "ستان"):
        if bare.endswith(ending) and len(bare) - len(ending) >= 2:
            stems.add(bare[: -len(ending)])
    return stems


@lru_cache(maxsize=1)
def _adjectives() -> frozenset[str]:
    """Every singular nisba form (no article) of a one-word country name, in ``normalize`` form."""
    forms: set[str] = set()
    for line in read_list(DATA_DIR / "countries.txt"):
        name = normalize(line)
        if " " in name:
            continue
        for stem in _country_stems(name):
            forms.update(stem + ending for ending in _NISBA_ENDINGS)
    return frozenset(forms)


@lru_cache(maxsize=1)
def _one_word_places() -> frozenset[str]:
    return default_gazetteer().one_word_entries(_PLACE_LISTS)


@lru_cache(maxsize=100_000)
def is_nationality_adjective(word: str) -> bool:
    """Whether ``word`` is the adjective of a listed country and not a listed place itself."""
    gazetteer_form = normalize_for_gazetteer(word)
    if any(variant in _one_word_places() for variant in lookup_variants(gazetteer_form)):
        return False
    norm = normalize(word)
    readings = {split_proclitics(norm)[1], *lookup_variants(norm)}
    return any(reading in _adjectives() for reading in readings)


def drop_nationality_adjectives(sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]]) -> list[list[str]]:
    """BIO tags with every one-word span that is a nationality adjective turned to O."""
    result: list[list[str]] = []
    for words, sentence_tags in zip(sentences, tags, strict=True):
        fixed = list(sentence_tags)
        for start, end, _ in chunks(fixed):
            if end - start == 1 and is_nationality_adjective(words[start]):
                fixed[start] = "O"
        result.append(fixed)
    return result
