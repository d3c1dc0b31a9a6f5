"""Token-level Arabic normalization and proclitic splitting for NER features.

Kept separate from ``services.common.arabic`` because it runs once per token at inference
time and must be fast: a single ``str.translate`` instead of several regex passes.
"""

from __future__ import annotations

import re
from functools import lru_cache

_DROP = dict.fromkeys(
    [*range(0x064B, 0x0653), 0x0670, 0x0640, *range(0x200B, 0x2010), 0x061C, 0xFEFF, 0x00AD, 0x2060], None
)
_FOLD = {
    **{ord(c): "ا" for c in "أإآٱ"},
    ord("ى"): "ي",
    ord("ة"): "ه",
    ord("ؤ"): "ء",
    ord("ئ"): "ء",
    **{0x0660 + d: "0" for d in range(10)},
    **{0x06F0 + d: "0" for d in range(10)},
    **{ord(str(d)): "0" for d in range(10)},
}
# A letter of the basic Arabic block (hamza to yeh).
ARABIC_LETTER = re.compile("[\u0621-\u064a]")
_TABLE = str.maketrans({**_DROP, **_FOLD})
# Gazetteers keep ى apart from ي: otherwise the preposition على would match the name علي.
_GAZ_TABLE = str.maketrans({**_DROP, **{k: v for k, v in _FOLD.items() if k != ord("ى")}})

# Proclitic chains that contain the article: reliable to split (e.g. وبالقاهرة -> و+ب+ال + قاهره).
_ARTICLE_PREFIXES = ("وبال", "وكال", "فبال", "وال", "فال", "بال", "كال", "ولل", "فلل", "لل", "ال")
# Proclitics tried when matching gazetteer phrases (بفرنسا -> فرنسا, للقاهرة -> القاهرة).
_GAZ_PREFIXES = ("وب", "ول", "وك", "فب", "فل", "و", "ف", "ب", "ل", "ك")
_GAZ_INITIALS = tuple({prefix[0] for prefix in _GAZ_PREFIXES})


@lru_cache(maxsize=200_000)
def normalize(word: str) -> str:
    """Fold spelling variants and digits so that counts and lookups are shared (أحمد == احمد)."""
    return word.translate(_TABLE).lower()


@lru_cache(maxsize=200_000)
def normalize_for_gazetteer(word: str) -> str:
    """Like :func:`normalize` but ى stays ى (see ``_GAZ_TABLE``)."""
    return word.translate(_GAZ_TABLE).lower()


@lru_cache(maxsize=200_000)
def split_proclitics(norm: str) -> tuple[str, str]:
    """Return (prefix, stem) of a normalized word. The article is counted as part of the prefix;
    a bare conjunction و is split only when a reasonably long stem remains."""
    for prefix in _ARTICLE_PREFIXES:
        if norm.startswith(prefix) and len(norm) - len(prefix) >= 2:
            return prefix, norm[len(prefix) :]
    if norm.startswith("و") and len(norm) >= 5:
        return "و", norm[1:]
    return "", norm


@lru_cache(maxsize=200_000)
def lookup_variants(norm: str) -> tuple[str, ...]:
    """Forms of a normalized word to try against a gazetteer: itself and with proclitics removed."""
    if not norm.startswith(_GAZ_INITIALS):  # most words: no proclitic to try
        return (norm,)
    variants = [norm]
    for prefix in _GAZ_PREFIXES:
        rest = norm[len(prefix) :]
        if norm.startswith(prefix) and len(rest) >= 3:
            variants.append(rest)
            if rest.startswith("ل") and prefix.endswith("ل"):
                variants.append("ا" + rest)  # ل + ال is written لل: للقاهره -> القاهره
    unique: list[str] = []
    for variant in variants:
        if variant not in unique:
            unique.append(variant)
    return tuple(unique)
