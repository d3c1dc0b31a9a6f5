"""Group NER mentions of one article into canonical entities with offsets, counts and salience.

Pure: the recognizer's mentions and a snapshot of the alias registry go in, entity records
(as the enriched-article schema has them) come out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from camel_tools.utils.dediac import dediac_ar

from services.common.arabic import normalize_for_matching

from .canonical import (
    clitic_candidates,
    entity_id,
    group_person_names,
    mention_key,
    strip_titles,
    written_name,
)
from .gazetteer import curated_names

TITLE_WEIGHT = 3.0
LEAD_WEIGHT = 2.0
BODY_WEIGHT = 1.0


class MentionLike(Protocol):
    type: str
    start: int
    end: int
    text: str


@dataclass
class RegistrySnapshot:
    """What the alias registry knows about the keys of one article (empty when there is no Redis)."""

    known: set[tuple[str, str]] = field(default_factory=set)
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)
    names: dict[tuple[str, str], str] = field(default_factory=dict)

    def canonical_key(self, entity_type: str, key: str) -> str:
        if (entity_type, key) in self.known:
            return self.aliases.get((entity_type, key), key)
        words = key.split()
        if entity_type == "PERS" and len(words) > 1:
            # A full name never seen before whose surname stands alone as an entity of its own
            # (no full name claimed it yet) is that entity: 'لافروف' then 'سيرغي لافروف' is one
            # person, whichever article came first.
            surname = ("PERS", words[-1])
            if surname in self.known and surname not in self.aliases:
                return words[-1]
        return key


@dataclass(frozen=True)
class PlacedMention:
    type: str
    start: int
    end: int
    text: str
    in_title: bool
    weight: float


def place_mentions(title_mentions: Iterable[MentionLike], body_mentions: Iterable[MentionLike],
                   lead_length: int) -> list[PlacedMention]:
    placed = [PlacedMention(m.type, m.start, m.end, m.text, True, TITLE_WEIGHT) for m in title_mentions]
    placed += [PlacedMention(m.type, m.start, m.end, m.text, False,
                             LEAD_WEIGHT if m.start < lead_length else BODY_WEIGHT) for m in body_mentions]
    return placed


def lookup_keys(mentions: Iterable[PlacedMention]) -> set[tuple[str, str]]:
    """Every key the registry should be asked about: plain keys and their clitic-stripped readings."""
    keys: set[tuple[str, str]] = set()
    for mention in mentions:
        words = normalize_for_matching(mention.text).split()
        if mention.type == "PERS":
            words = strip_titles(words)
        if not words:
            continue
        keys.add((mention.type, " ".join(words)))
        for reading in clitic_candidates(words[0]):
            keys.add((mention.type, " ".join([reading, *words[1:]])))
        if mention.type == "PERS" and len(words) > 1:
            keys.add(("PERS", words[-1]))  # a surname seen alone earlier may be this person
    return keys


@dataclass(frozen=True)
class Extraction:
    entities: list[dict[str, Any]]
    # (type, key) -> the canonical key it resolved to: what the registry should learn from this article.
    links: dict[tuple[str, str], str]
    names: dict[tuple[str, str], str]


def build_entities(mentions: list[PlacedMention], registry: RegistrySnapshot | None = None) -> Extraction:
    """Entity records for one article, most salient first, and the name links they teach."""
    registry = registry or RegistrySnapshot()
    curated = curated_names()
    plain = {(m.type, " ".join(normalize_for_matching(m.text).split())) for m in mentions}

    def keyed(mention: PlacedMention) -> str:
        def is_listed(key: str) -> bool:
            return (mention.type, key) in curated or (mention.type, key) in registry.known

        def is_known(key: str) -> bool:
            return (mention.type, key) in plain or is_listed(key)

        return mention_key(mention.type, mention.text, is_known, is_listed)

    keys = [keyed(m) for m in mentions]
    person_groups = group_person_names(k for m, k in zip(mentions, keys, strict=True) if m.type == "PERS")
    grouped: dict[tuple[str, str], list[tuple[PlacedMention, str]]] = defaultdict(list)
    links: dict[tuple[str, str], str] = {}
    for mention, own_key in zip(mentions, keys, strict=True):
        if not own_key:
            continue
        key = person_groups.get(own_key, own_key) if mention.type == "PERS" else own_key
        key = registry.canonical_key(mention.type, key)
        links[(mention.type, own_key)] = key
        links.setdefault((mention.type, key), key)
        grouped[(mention.type, key)].append((mention, _display_form(mention.text, own_key)))

    scores = {ident: sum(m.weight for m, _ in items) for ident, items in grouped.items()}
    top = max(scores.values(), default=1.0)
    entities = []
    names: dict[tuple[str, str], str] = {}
    for (entity_type, key), items in grouped.items():
        forms = Counter(form for _, form in items)
        name = registry.names.get((entity_type, key)) or _best_name(forms, key)
        names[(entity_type, key)] = name
        entities.append({
            "type": entity_type,
            "canonical_id": entity_id(entity_type, key),
            "canonical_name": name,
            "surface_forms": sorted({m.text for m, _ in items}),
            "mentions": [{"start": m.start, "end": m.end, "text": m.text, "in_title": m.in_title}
                         for m, _ in sorted(items, key=lambda item: (not item[0].in_title, item[0].start))],
            "count": len(items),
            "salience": round(scores[(entity_type, key)] / top, 4),
        })
    entities.sort(key=lambda e: (-e["salience"], -e["count"], e["canonical_id"]))
    return Extraction(entities, links, names)


def _display_form(surface: str, key: str) -> str:
    """The surface text without what the key dropped (titles, clitics), in the writer's spelling;
    for another name of a listed entity (مجلس الأمن الدولي), the name it is keyed by."""
    written = written_name(key)
    if written is not None and " ".join(normalize_for_matching(surface).split()) != key:
        return written
    words = dediac_ar(surface).split()
    wanted = len(key.split())
    if len(words) > wanted:
        words = words[len(words) - wanted:]
    if words:
        first_key_word = key.split()[0] if key else ""
        extra = len(words[0]) - len(first_key_word)
        if 0 < extra <= 3 and normalize_for_matching(words[0][extra:]) == first_key_word:
            words[0] = words[0][extra:]
        elif first_key_word.startswith("ال") and not normalize_for_matching(words[0]).startswith("ال"):
            # لل/وال forms: the key restored the article's ال
            words[0] = "ال" + words[0][len(words[0]) - len(first_key_word) + 2:]
    return " ".join(words) or surface


def _best_name(forms: Counter[str], key: str) -> str:
    """The writer's spelling of the canonical key itself if used, else the most frequent form."""
    def rank(item: tuple[str, int]) -> tuple[bool, int, int, str]:
        form, count = item
        return (" ".join(normalize_for_matching(form).split()) == key, count, len(form), form)

    return max(forms.items(), key=rank)[0]
