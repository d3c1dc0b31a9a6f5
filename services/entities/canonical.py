"""Canonical names of entity mentions: normalized, clitics and titles stripped, variants merged.

Pure functions. The alias registry that links a short name to a longer one across articles lives
in Redis (see ``registry.py``); here we only decide what a mention's key is and which keys in one
article name the same thing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from services.common.arabic import normalize_for_matching
from services.entities.gazetteer import one_word_triggers

# Titles and roles that precede a name but are not part of it (matching form: no hamza, ه for ة).
TITLE_WORDS = frozenset(normalize_for_matching(w) for w in (
    "الرئيس", "رئيس", "الملك", "الأمير", "الشيخ", "السيد", "السيدة", "الدكتور", "د.", "المهندس", "الوزير",
    "وزير", "وزيرة", "نائب", "الناطق", "المتحدث", "السفير", "المبعوث", "الجنرال", "اللواء", "العقيد",
    "العميد", "الفريق", "المشير", "القائد", "زعيم", "الزعيم", "مدير", "المدير", "الأمين", "العام", "سكرتير",
    "مستشار", "المستشار", "رئيسة", "الرئيسة", "ولي", "العهد", "سمو", "فخامة", "معالي",
))
# Nationality adjectives that follow a title ("الرئيس الروسي"): the definite -ي / -ية form.
_NISBA = re.compile(r"^ال\S+(ي|يه)$")

# Other names of one place or organisation that normalization alone does not fold, each mapped to
# the name the entity is keyed (and, where no mention spells it so, shown) by.
_VARIANTS = {
    "LOC": (
        ("قرغيزيا", "قرغيزستان"), ("قيرغيزستان", "قرغيزستان"), ("قيرغيزيا", "قرغيزستان"),
        ("كازخستان", "كازاخستان"), ("روسيا الاتحادية", "روسيا"), ("الولايات المتحدة الأمريكية", "الولايات المتحدة"),
        ("الولايات المتحدة الأميركية", "الولايات المتحدة"), ("أمريكا", "الولايات المتحدة"),
        ("أميركا", "الولايات المتحدة"), ("الامارات", "الإمارات"), ("الإمارات العربية المتحدة", "الإمارات"),
    ),
    "ORG": (
        ("مجلس الأمن الدولي", "مجلس الأمن"), ("منظمة الأمم المتحدة", "الأمم المتحدة"),
        ("هيئة الأمم المتحدة", "الأمم المتحدة"), ("الجامعة العربية", "جامعة الدول العربية"),
        ("حلف الناتو", "حلف شمال الأطلسي"), ("حلف الأطلسي", "حلف شمال الأطلسي"), ("الناتو", "حلف شمال الأطلسي"),
        ("تنظيم الدولة الإسلامية", "داعش"), ("تنظيم الدولة", "داعش"),
    ),
}
_VARIANT_KEYS = {
    (kind, normalize_for_matching(other)): normalize_for_matching(name)
    for kind, pairs in _VARIANTS.items() for other, name in pairs
}
# Key -> the written name, for the names variants map to.
_WRITTEN = {normalize_for_matching(name): name for pairs in _VARIANTS.values() for _, name in pairs}
# Words that introduce an organisation's name without being part of it (تنظيم داعش, حركة حماس):
# dropped when what follows is a name the lists or the article know on its own.
_ORG_DESCRIPTORS = frozenset(normalize_for_matching(w) for w in (
    "تنظيم", "حركة", "جماعة", "صحيفة", "جريدة", "قناة", "وكالة", "شركة", "مجموعة",
))

_CONJUNCTION = ("و", "ف")
_PREPOSITION = ("ب", "ل", "ك")
MIN_STEM = 3


def entity_id(entity_type: str, key: str) -> str:
    """Stable id of a canonical entity: the same type and key give the same id on any machine."""
    return f"{entity_type}:{hashlib.blake2b(key.encode('utf-8'), digest_size=8).hexdigest()}"


def _loc_form(key: str) -> str:
    # سورية/سوريا, ليبية/ليبيا: the teh marbuta spelling of a country name (folded to يه) is the -يا one.
    if key.endswith("يه") and len(key) > 4 and " " not in key:
        key = key[:-2] + "يا"
    return _VARIANT_KEYS.get(("LOC", key), key)


def written_name(key: str) -> str | None:
    """How the name a variant maps to is written (مجلس الأمن for the key مجلس الامن), if it is one."""
    return _WRITTEN.get(key)


def strip_descriptor(words: list[str], is_known: Callable[[str], bool]) -> list[str]:
    """'تنظيم داعش' -> 'داعش' (also with a proclitic: لتنظيم داعش), when 'داعش' is known."""
    if (
        len(words) > 1
        and any(reading in _ORG_DESCRIPTORS for reading in (words[0], *clitic_candidates(words[0])))
        and is_known(" ".join(words[1:]))
    ):
        return words[1:]
    return words


@lru_cache(maxsize=1)
def _name_heads() -> frozenset[str]:
    """One-word triggers (مجلس, وزارة, جيش ...), in matching form."""
    return frozenset(normalize_for_matching(head) for head in one_word_triggers())


def clitic_candidates(word: str) -> list[str]:
    """Ways to read ``word`` (matching form) with its proclitics removed, longest strip first."""
    readings: list[str] = []
    rest = word
    if rest.startswith(_CONJUNCTION) and len(rest) - 1 >= MIN_STEM:
        rest = rest[1:]
        readings.append(rest)
    if rest.startswith("لل") and len(rest) - 1 >= MIN_STEM:
        readings.append("ال" + rest[2:])  # لل = لـ + الـ
    elif rest.startswith(_PREPOSITION) and len(rest) - 1 >= MIN_STEM:
        readings.append(rest[1:])
    return readings[::-1]


def strip_clitics(
    words: list[str], is_known: Callable[[str], bool], is_listed: Callable[[str], bool] = lambda _: False
) -> list[str]:
    """Drop proclitics from the first word when the result is a name we know, or an unambiguous
    ال- form. A name listed as written (``is_listed``: كاليفورنيا, بالتيمور) keeps its first letters."""
    if not words:
        return words
    first = words[0]
    for reading in clitic_candidates(first):
        candidate = [reading, *words[1:]]
        # A common noun that heads names (مجلس, وزارة, جيش: the trigger list) is no name's start
        # with a ل or و glued on: لمجلس الأمن القومي is مجلس الأمن القومي, known or not.
        if is_known(" ".join(candidate)) or (len(words) > 1 and reading in _name_heads()):
            return candidate
    if is_listed(" ".join(words)):
        return words
    # Not كال: ك+ال rarely starts a name, while foreign names often start with those letters (كاليبر).
    for prefix in ("وال", "فال", "بال"):
        if first.startswith(prefix) and len(first) - len(prefix) >= MIN_STEM - 1:
            return ["ال" + first[len(prefix):], *words[1:]]
    if first.startswith(("ولل", "فلل")) and len(first) > 5:
        return ["ال" + first[3:], *words[1:]]
    if first.startswith("لل") and len(first) > 4:
        return ["ال" + first[2:], *words[1:]]
    return words


def strip_titles(words: list[str]) -> list[str]:
    """'الرئيس الروسي فلاديمير بوتين' -> 'فلاديمير بوتين' (keep at least one word)."""
    index = 0
    while index < len(words) - 1 and (words[index] in TITLE_WORDS or (index > 0 and _NISBA.match(words[index]))):
        index += 1
    return words[index:]


def mention_key(
    entity_type: str,
    text: str,
    is_known: Callable[[str], bool] = lambda _: False,
    is_listed: Callable[[str], bool] = lambda _: False,
) -> str:
    """The canonical lookup key of one mention (matching form, one space between words).
    ``is_known``: names a clitic-stripped reading may be; ``is_listed``: names kept as written."""
    words = normalize_for_matching(text).split()
    if entity_type == "PERS":
        words = strip_titles(words)
    elif entity_type == "ORG":
        words = strip_descriptor(words, is_known)
    words = strip_clitics(words, is_known, is_listed)
    key = " ".join(words)
    if entity_type == "LOC":
        return _loc_form(key)
    return _VARIANT_KEYS.get((entity_type, key), key)


def group_person_names(keys: Iterable[str]) -> dict[str, str]:
    """Map each person key to the longest key in the same article that ends with it.

    'بوتين' and 'فلاديمير بوتين' in one article are one person; a lone surname with no longer
    match stays as it is.
    """
    ordered = sorted(set(keys), key=lambda k: (-len(k.split()), k))
    mapping: dict[str, str] = {}
    for key in ordered:
        words = key.split()
        mapping[key] = key
        for longer in ordered:
            longer_words = longer.split()
            if len(longer_words) > len(words) and longer_words[-len(words):] == words:
                mapping[key] = mapping.get(longer, longer)
                break
    return mapping
