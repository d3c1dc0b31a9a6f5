"""Gazetteers and trigger words, matched over token sequences as NER features.

Lists live in ``services/entities/data``: hand-written facts (countries, places, organizations,
given names, people, currencies/events, trigger words) and ``world_cities.tsv``, derived from
world-cities.csv (CC BY 4.0, Wikidata) by :func:`build_world_cities`. Matching works on
normalized forms (ى kept apart from ي), skips one-word entries that are frequent words
(``stopwords.txt``) and lets the first word of a phrase carry proclitics (بفرنسا, وللقاهرة).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from services.common.arabic import normalize_for_matching
from services.entities.morph import ARABIC_LETTER, lookup_variants, normalize_for_gazetteer

DATA_DIR = Path(__file__).resolve().parent / "data"

# category -> list file; each line one phrase ("#" starts a comment).
LIST_FILES = {
    "COUNTRY": "countries.txt",
    "PLACE": "places.txt",
    "CITY": "world_cities.tsv",
    "ORG": "organizations.txt",
    "FIRST": "first_names.txt",
    "PERSON": "people.txt",
    "MISC": "misc.txt",
}
TRIGGER_KINDS = ("PERS", "ORG", "LOC", "MISC")
CATEGORIES = (*LIST_FILES, *(f"TRIG_{kind}" for kind in TRIGGER_KINDS))
# One B and one I slot per category in the feature vector.
N_FEATURES = 2 * len(CATEGORIES)

_ADMIN_PREFIXES = ("محافظة", "مقاطعة", "ولاية", "بلدية", "إقليم", "منطقة", "مدينة", "إدارة", "مديرية")
_MAX_PHRASE = 6


def read_list(path: Path) -> Iterable[str]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#"):
                yield line


def read_triggers(directory: Path = DATA_DIR) -> list[tuple[str, str]]:
    """(phrase, entity kind) of each line of ``triggers.tsv``."""
    triggers = []
    for line in read_list(directory / "triggers.tsv"):
        phrase, kind = line.split("\t")
        triggers.append((phrase, kind))
    return triggers


def one_word_triggers() -> list[str]:
    """Triggers of one word (الرئيس, مدينة, وزارة ...): common nouns, never names themselves."""
    return [phrase for phrase, _ in read_triggers() if " " not in phrase]


@dataclass
class Gazetteer:
    """Phrases per category, stored as tuples of normalized words."""

    phrases: dict[tuple[str, ...], set[int]] = field(default_factory=dict)
    # First word -> the lengths of the phrases it starts: most tokens start none and are skipped.
    lengths: dict[str, set[int]] = field(default_factory=dict)

    stopwords: frozenset[str] = frozenset()

    def add(self, category: str, phrase: str) -> None:
        words = tuple(normalize_for_gazetteer(word) for word in phrase.split())
        if not words or len(words) > _MAX_PHRASE:
            return
        if len(words) == 1 and words[0] in self.stopwords and not category.startswith("TRIG_"):
            return
        forms = [words]
        if words[-1].endswith("ى"):  # texts often write final ى as ي (مصطفى / مصطفي)
            forms.append((*words[:-1], words[-1][:-1] + "ي"))
        for form in forms:
            self.phrases.setdefault(form, set()).add(CATEGORIES.index(category))
            self.lengths.setdefault(form[0], set()).add(len(form))

    @classmethod
    def from_dir(cls, directory: Path = DATA_DIR) -> Gazetteer:
        gazetteer = cls(
            stopwords=frozenset(
                normalize_for_gazetteer(word) for word in read_list(directory / "stopwords.txt")
            )
        )
        for category, name in LIST_FILES.items():
            path = directory / name
            if not path.exists():
                raise FileNotFoundError(f"gazetteer list {path} is missing")
            for line in read_list(path):
                gazetteer.add(category, line.split("\t")[0])
        for phrase, kind in read_triggers(directory):
            gazetteer.add(f"TRIG_{kind}", phrase)
        return gazetteer

    def one_word_entries(self, categories: Iterable[str]) -> frozenset[str]:
        """The one-word phrases listed under any of ``categories`` (matching form)."""
        wanted = {CATEGORIES.index(category) for category in categories}
        return frozenset(words[0] for words, found in self.phrases.items() if len(words) == 1 and found & wanted)

    def match(self, words: Sequence[str]) -> list[list[int]]:
        """For each token, the active feature slots (2*category for B, 2*category+1 for I)."""
        norms = [normalize_for_gazetteer(word) for word in words]
        active: list[list[int]] = [[] for _ in words]
        for start, norm in enumerate(norms):
            for first in lookup_variants(norm):
                for length in self.lengths.get(first, ()):
                    if start + length > len(norms):
                        continue
                    key = (first, *norms[start + 1 : start + length])
                    for category in self.phrases.get(key, ()):
                        active[start].append(2 * category)
                        for inside in range(start + 1, start + length):
                            active[inside].append(2 * category + 1)
        return active


@lru_cache(maxsize=1)
def default_gazetteer() -> Gazetteer:
    return Gazetteer.from_dir(DATA_DIR)


# The entity type of each list that names whole entities (given names and triggers do not).
_TYPE_OF_LIST = {"COUNTRY": "LOC", "PLACE": "LOC", "CITY": "LOC", "ORG": "ORG", "PERSON": "PERS", "MISC": "MISC"}


@lru_cache(maxsize=1)
def curated_names() -> frozenset[tuple[str, str]]:
    """(entity type, name in matching form) of every name in the curated lists: a mention that
    reads as one of them once its proclitics are off (وقرغيزستان) is that name."""
    names: set[tuple[str, str]] = set()
    for category, entity_type in _TYPE_OF_LIST.items():
        for line in read_list(DATA_DIR / LIST_FILES[category]):
            names.add((entity_type, " ".join(normalize_for_matching(line.split("\t")[0]).split())))
    return frozenset(names)


def build_world_cities(csv_path: str | Path, out_path: str | Path = DATA_DIR / "world_cities.tsv") -> int:
    """Derive the shipped city list (Arabic names only) from world-cities.csv; returns its size.

    Administrative prefixes are also dropped (ولاية قندهار -> قندهار) because news text
    usually names the place alone; sports clubs that slipped into
    the source and untranslated names are skipped.
    """
    names: dict[str, str] = {}
    with open(csv_path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            city = " ".join(row["CityNameAr"].split())
            if len(city) < 3 or city.startswith("نادي") or not ARABIC_LETTER.search(city):
                continue
            names.setdefault(city, row["CountryNameAr"].strip())
            head, _, rest = city.partition(" ")
            if head in _ADMIN_PREFIXES and len(rest) >= 3:
                names.setdefault(rest, row["CountryNameAr"].strip())
    with open(out_path, "w", encoding="utf-8") as out:
        out.write("# Derived from world-cities.csv (Wikidata, CC BY 4.0): Arabic city name<TAB>country\n")
        for city in sorted(names):
            out.write(f"{city}\t{names[city]}\n")
    return len(names)


if __name__ == "__main__":
    import sys

    print(build_world_cities(sys.argv[1]), "city names written")
