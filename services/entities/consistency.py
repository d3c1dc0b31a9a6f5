"""Document-level label consistency, applied after tagging.

News repeats names: a person introduced as «باتريك فييرا» is «فييرا» afterwards, a club named
once is named again. The tagger decides each sentence alone, so later mentions are often
missed. Here every name tagged in nearby sentences (a window, since callers may pass many
documents at once) is looked up again: untagged repeats get the name's majority type, and
the last word of a multi-word person name is also taken as that person's surname.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from functools import lru_cache

from services.entities.evaluation import chunks
from services.entities.gazetteer import DATA_DIR, one_word_triggers, read_list
from services.entities.morph import lookup_variants, normalize, split_proclitics

# Words too common to ever be propagated on their own, whatever the tagger said once.
_STOP = frozenset(
    normalize(word)
    for word in (
        "في من إلى الى على عن مع أن إن أو ثم قد لا ما هذا هذه ذلك التي الذي كان قال بعد قبل "
        "حتى عند بين كل غير منذ أمس اليوم العام الرئيس وزير رئيس السيد الشيخ"
    ).split()
)
Key = tuple[str, ...]


@lru_cache(maxsize=1)
def _never_alone() -> frozenset[str]:
    """Frequent words plus one-word triggers (مدينة, وزارة, الرئيس ...): a stray tag on one of
    them must not spread through the document."""
    words = {split_proclitics(normalize(word))[1] for word in one_word_triggers()}
    words |= {split_proclitics(normalize(word))[1] for word in read_list(DATA_DIR / "stopwords.txt")}
    return _STOP | frozenset(words)


def _keys(sentence: Sequence[str]) -> tuple[list[str], list[str]]:
    norms = [normalize(word) for word in sentence]
    stems = [split_proclitics(norm)[1] for norm in norms]
    return norms, stems


@lru_cache(maxsize=200_000)
def _stems(norm: str) -> tuple[str, ...]:
    """Stems a word may have when it starts a repeat: لبرشلونه also as برشلونه."""
    stems: list[str] = []
    for variant in lookup_variants(norm):
        stem = split_proclitics(variant)[1]
        if stem not in stems:
            stems.append(stem)
    return tuple(stems)


def _key(norms: list[str], stems: list[str], start: int, end: int) -> Key:
    # The first word may carry proclitics (وبغداد ~ بغداد); later words must match exactly.
    return (stems[start], *norms[start + 1 : end])


def _usable(key: Key) -> bool:
    return not (len(key) == 1 and (len(key[0]) < 3 or key[0] in _never_alone()))


def propagate(
    sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], window: int = 20
) -> list[list[str]]:
    """Return new tag lists where untagged repeats of names tagged within ``window`` sentences
    before or after are tagged too (longest names first)."""
    keyed = [_keys(sentence) for sentence in sentences]
    found: list[list[tuple[Key, str]]] = []
    for (norms, stems), sentence_tags in zip(keyed, tags, strict=True):
        names: list[tuple[Key, str]] = []
        for start, end, kind in chunks(list(sentence_tags)):
            names.append((_key(norms, stems, start, end), kind))
            if kind == "PERS" and end - start >= 2:
                names.append(((stems[end - 1],), kind))
        found.append(names)
    result = [list(sentence_tags) for sentence_tags in tags]
    # Sliding window of votes: key -> type -> count, updated as the window moves.
    votes: dict[Key, Counter[str]] = defaultdict(Counter)
    lengths: Counter[int] = Counter()
    firsts: Counter[str] = Counter()  # first words of voted keys: most tokens are skipped at once

    def shift(index: int, sign: int) -> None:
        if 0 <= index < len(found):
            for key, kind in found[index]:
                votes[key][kind] += sign
                lengths[len(key)] += sign
                firsts[key[0]] += sign
                if votes[key][kind] == 0:
                    del votes[key][kind]
                    if not votes[key]:
                        del votes[key]

    for index in range(min(window, len(found))):
        shift(index, +1)
    for index, (norms, _) in enumerate(keyed):
        shift(index + window, +1)
        shift(index - window - 1, -1)
        current = result[index]
        candidates = [
            (i, first) for i, norm in enumerate(norms) for first in _stems(norm) if firsts.get(first)
        ]
        if not candidates:
            continue
        for length in sorted((n for n, count in lengths.items() if count > 0), reverse=True):
            for start, first in candidates:
                end = start + length
                if end > len(current):
                    break
                if current[start] != "O" or any(tag != "O" for tag in current[start + 1 : end]):
                    continue
                key = (first, *norms[start + 1 : end])
                counts = votes.get(key)
                if not counts or not _usable(key):
                    continue
                kind = counts.most_common(1)[0][0]
                current[start:end] = [f"B-{kind}"] + [f"I-{kind}"] * (length - 1)
    return result
