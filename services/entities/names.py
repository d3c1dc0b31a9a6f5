"""Person-name boundaries, fixed after tagging and document consistency.

The tagger's commonest error is a person name it finds only in part: one word of a
multi-word name tagged alone, or one name cut in two spans. Three rules repair that; they
only ever touch PERS spans and the untagged words next to them:

* a repeat of a multi-word name tagged within the consistency window, with only part of it
  tagged PERS now, is tagged whole (the tagger found «باتريك فييرا» in one sentence and only
  [فييرا] of «باتريك فييرا» in the next);
* two PERS spans that touch are one name (B-PERS B-PERS), unless the second starts with the
  conjunction و (بوش وبلير are two people);
* a span widens over the parts Arabic names are built from: an untagged given name next to
  it from the curated list (data/first_names.txt; on the left also with a proclitic:
  ومحمود), a link with the part it links on the right (بن لادن, بن عبد العزيز, أبو مازن) or
  a link alone on the left (بن [لادن], عبد [الله]); and a given name tagged alone takes the
  next word as surname when that word looks like one (not a frequent or trigger word, not a
  name from the place/organisation/misc lists, no conjunction, preposition+article or
  pronoun suffix attached).

ANERcorp, which the model learns from and is scored on, keeps titles, nationality adjectives
and the family word آل before a name out of the span, and so do these rules. Words that are
also common words are not taken as name parts: the stopwords, علي (many texts write the
preposition على so), ابن (also the noun "son") and ولد (also "was born").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from services.entities.evaluation import chunks
from services.entities.gazetteer import CATEGORIES, DATA_DIR, default_gazetteer, one_word_triggers, read_list
from services.entities.morph import lookup_variants, normalize, normalize_for_gazetteer, split_proclitics

_LINKS = frozenset(normalize_for_gazetteer(w) for w in ("بن", "بنت", "آل", "عبد", "أبو", "ابو", "أبي", "ابي"))
_LINKS_BEFORE = _LINKS - {normalize_for_gazetteer("آل")}
_ABD = normalize_for_gazetteer("عبد")
_NOT_GIVEN = frozenset(normalize_for_gazetteer(w) for w in ("علي",))
# Words a given name is often followed by that are no surname: function words, times.
_FUNCTION = frozenset(
    normalize_for_gazetteer(w)
    for w in (
        "حيث عندما بينما إذا اذا إلا الا لكن لأن لان كما أيضا ايضا أنه انه أنها انها إنه بأن وأن "
        "نفسه نفسها ذاته عليه عليها له لها فيه فيها منه منها إليه اليه به بها "
        "صباح مساء ظهر ليلة السبت الأحد الاحد الاثنين الإثنين الثلاثاء الأربعاء الاربعاء الخميس الجمعة"
    ).split()
)
_NOT_SURNAME_PREFIXES = ("و", "بال", "لل", "كال", "فال")
_PRONOUN_SUFFIXES = ("ه", "ها", "هم", "هما", "هن", "كم")
_ARABIC_WORD = re.compile("^[\u0621-\u064a\u064b-\u0652\u0670]{2,}$")


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    """Stopwords and one-word triggers (الرئيس, قال, مدينة ...)."""
    words = set(read_list(DATA_DIR / "stopwords.txt"))
    words |= set(one_word_triggers())
    return frozenset(normalize_for_gazetteer(w) for w in words if " " not in w)


@lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    names = {normalize_for_gazetteer(w) for w in read_list(DATA_DIR / "first_names.txt") if " " not in w}
    return frozenset(names - _common_words() - _NOT_GIVEN)


@lru_cache(maxsize=1)
def _other_names() -> frozenset[str]:
    """One-word entries of the place, organisation, misc and trigger lists: never a surname."""
    return default_gazetteer().one_word_entries(c for c in CATEGORIES if c not in ("FIRST", "PERSON"))


def _given_with_clitic(norm: str) -> bool:
    return any(variant in given_names() for variant in lookup_variants(norm)[1:])


def _name_like(word: str, norm: str) -> bool:
    return bool(_ARABIC_WORD.match(word)) and norm not in _common_words()


def _linked(link: str, word: str, norm: str) -> bool:
    """Whether ``word`` can be the part after ``link``; عبد takes any ال- word (عبد الله)."""
    if link == _ABD and norm.startswith("ال") and _ARABIC_WORD.match(word):
        return True
    return _name_like(word, norm)


def _has_prefix(norm: str, prefixes: tuple[str, ...]) -> bool:
    """Whether ``norm`` starts with one of ``prefixes`` and a word of two letters or more is left
    (as in ``morph.split_proclitics``): كالن is a name, not ك+ال+ن."""
    return any(norm.startswith(prefix) and len(norm) - len(prefix) >= 2 for prefix in prefixes)


def _surname_like(word: str, norm: str) -> bool:
    return (
        _name_like(word, norm)
        and norm not in _FUNCTION
        and not _has_prefix(norm, _NOT_SURNAME_PREFIXES)
        and not word.endswith(_PRONOUN_SUFFIXES)
        and not any(variant in _other_names() for variant in lookup_variants(norm))
    )


def _span_end(tags: list[str], start: int) -> int:
    end = start + 1
    while end < len(tags) and tags[end] == "I-PERS":
        end += 1
    return end


def _span_start(tags: list[str], last: int) -> int:
    start = last
    while start > 0 and tags[start] == "I-PERS":
        start -= 1
    return start


def _widen(words: Sequence[str], tags: Sequence[str]) -> list[str]:
    """Tags of one sentence with each PERS span widened over the name parts next to it."""
    result = list(tags)
    for i, tag in enumerate(result):
        if tag == "I-PERS" and (i == 0 or not result[i - 1].endswith("-PERS")):
            result[i] = "B-PERS"  # an I- that opens a span (conlleval reads it so)
    norms = [normalize_for_gazetteer(word) for word in words]
    n = len(result)
    index = 0
    while index < n:
        if result[index] != "B-PERS":
            index += 1
            continue
        start, end = index, _span_end(result, index)
        while start > 0 and result[start - 1] == "O":
            before = norms[start - 1]
            if before in _LINKS_BEFORE:
                start -= 1
                if start > 0 and result[start - 1].endswith("-PERS"):
                    start = _span_start(result, start - 1)  # X] بن [Y: one name
                continue
            if before in given_names():
                start -= 1
                continue
            if _given_with_clitic(before) and _name_like(words[start - 1], before):
                start -= 1  # ومحمود: the proclitic starts the name
            break
        while end < n and result[end] == "O":
            after = norms[end]
            if after in _LINKS and end + 1 < n and _linked(after, words[end + 1], norms[end + 1]):
                if result[end + 1] == "O" and norms[end + 1] in _LINKS:
                    end += 1  # بن عبد العزيز: the next link takes the next part
                elif result[end + 1] == "B-PERS":
                    end = _span_end(result, end + 1)
                elif result[end + 1] == "O":
                    end += 2
                else:
                    break
                continue
            if after in given_names():
                end += 1
                continue
            break
        if (
            end - start == 1
            and end < n
            and result[end] == "O"
            and (norms[start] in given_names() or _given_with_clitic(norms[start]))
            and _surname_like(words[end], norms[end])
        ):
            end += 1
        result[start:end] = ["B-PERS"] + ["I-PERS"] * (end - start - 1)
        index = end
    return result


def _join_touching(words: Sequence[str], tags: Sequence[str]) -> list[str]:
    result = list(tags)
    for i in range(1, len(result)):
        if result[i] == "B-PERS" and result[i - 1].endswith("-PERS") and not words[i].startswith("و"):
            result[i] = "I-PERS"
    return result


@lru_cache(maxsize=200_000)
def _first_stems(norm: str) -> frozenset[str]:
    """What a word may be as the first word of a name: ولمحمود also محمود."""
    return frozenset(split_proclitics(variant)[1] for variant in lookup_variants(norm))


def _complete_repeats(
    sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], window: int
) -> list[list[str]]:
    """Multi-word person names tagged within ``window`` sentences, tagged whole where a repeat
    has only part of its words tagged PERS and the rest O."""
    norms = [[normalize(word) for word in sentence] for sentence in sentences]
    # As in consistency.propagate: the first word may carry proclitics (ولمحمود ~ محمود).
    names_in: list[set[tuple[str, ...]]] = []
    for sentence_norms, sentence_tags in zip(norms, tags, strict=True):
        names_in.append({
            (split_proclitics(sentence_norms[start])[1], *sentence_norms[start + 1 : end])
            for start, end, kind in (chunks(list(sentence_tags)) if "I-PERS" in sentence_tags else ())
            if kind == "PERS" and end - start >= 2
        })
    result = [list(sentence_tags) for sentence_tags in tags]
    for index, current in enumerate(result):
        if not any(tag.endswith("-PERS") for tag in current):
            continue
        known = set().union(*names_in[max(0, index - window) : index + window + 1])
        sentence_norms = norms[index]
        known_firsts = {name[0] for name in known}
        # Positions whose word can start a known name: most words start none.
        candidates = [
            (start, firsts)
            for start, norm in enumerate(sentence_norms)
            if (firsts := _first_stems(norm) & known_firsts)
        ]
        for length in sorted({len(name) for name in known}, reverse=True):
            for start, firsts in candidates:
                end = start + length
                if end > len(current):
                    break
                span = current[start:end]
                if (
                    "O" not in span
                    or not any(tag.endswith("-PERS") for tag in span)
                    or any(tag != "O" and not tag.endswith("-PERS") for tag in span)
                    or span[0] == "I-PERS"  # a PERS span crosses the left edge
                    or (end < len(current) and current[end] == "I-PERS")  # or the right one
                ):
                    continue
                if any((first, *sentence_norms[start + 1 : end]) in known for first in firsts):
                    current[start:end] = ["B-PERS"] + ["I-PERS"] * (length - 1)
    return result


def fix_person_names(
    sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], window: int = 20
) -> list[list[str]]:
    """BIO tags with person-name boundaries repaired (see the module docstring); ``window`` is
    how many sentences before and after a name is looked for (0: no repeats rule)."""
    fixed = _complete_repeats(sentences, tags, window) if window > 0 else [list(t) for t in tags]
    return [
        _widen(words, _join_touching(words, sentence_tags))
        if any(tag.endswith("-PERS") for tag in sentence_tags)
        else sentence_tags
        for words, sentence_tags in zip(sentences, fixed, strict=True)
    ]
