"""What the clusterer sees of an article: weighted terms, weighted entities, a time. No I/O."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from services.common.arabic import normalize_for_matching
from services.common.clock import to_epoch

MAX_TERMS = 60
MAX_PASSAGES = 12
PASSAGE_TERMS = 30
MIN_PASSAGE_WORDS = 8
TITLE_TERM_WEIGHT = 2.0
_WORD = re.compile(r"[\u0621-\u064aA-Za-z0-9]+")
_CONJUNCTION = "و"  # not ف: too many names begin with it (فرنسا, فرقاطة, فلسطين)
_ARTICLES = ("بال", "كال", "لل", "ال")
# Light10-style suffixes (matching form: ة is already ه), longest first; تين/تان: feminine duals.
_SUFFIXES = ("تين", "تان", "ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")
# Function words that say nothing about which story an article tells (matching form).
STOPWORDS = frozenset(normalize_for_matching(w) for w in """
في من على إلى الى عن مع أن إن أو ثم كما لكن بعد قبل حتى خلال بين عند منذ هذا هذه ذلك تلك التي الذي
الذين كان كانت يكون تكون قد لقد لم لن ما لا هو هي هم هن نحن أنه أنها إنه إنها وقال قال قالت وقالت
أضاف وأضاف أكد وأكد أشار وأشار أعلن وأعلن اليوم أمس غدا العام عام حيث وفي كل أي غير أيضا فيه فيها
عليه عليها إليه له لها لهم منه منها عنه عنها به بها وذلك وهو وهي ولا وما ومن وقد وكان وكانت يوم
الأحد الاثنين الثلاثاء الأربعاء الخميس الجمعة السبت صباح مساء نحو أكثر أقل جدا فقط بشكل إطار وفق
وفقا حول ضمن لدى عبر تم يتم
""".split())


@dataclass(frozen=True)
class ArticleFeatures:
    article_id: str
    source: str
    timestamp: float
    terms: dict[str, float]
    entities: dict[str, float]  # canonical_id -> salience
    duplicate_of: str | None
    # Paragraph-level terms: an article often tells two stories, and the one it shares with an
    # event may be a single paragraph that whole-document similarity dilutes.
    passages: tuple[dict[str, float], ...] = ()


def stem(word: str) -> str:
    """A light stem (after Larkey's light10): proclitics, the article and common suffixes off,
    so وبالصواريخ and الصواريخ, فرقاطتين and فرقاطة meet."""
    if word.startswith(_CONJUNCTION) and len(word) >= 5:
        word = word[1:]
    for prefix in _ARTICLES:
        # ال needs 3 letters left; the longer forms 4, or كاليبر would lose its first syllable.
        if word.startswith(prefix) and len(word) - len(prefix) >= (3 if prefix == "ال" else 4):
            word = word[len(prefix):]
            break
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
    return word


@lru_cache(maxsize=200_000)
def _term(word: str) -> str | None:
    """The term a (normalized) word counts as, or None for what says nothing. News vocabulary is
    small next to its running text, so each word form is stemmed once per process."""
    if len(word) < 3 or word in STOPWORDS or word.isdigit():
        return None
    return stem(word)


def terms_of(text: str, weight: float = 1.0) -> Counter[str]:
    return _terms_of_normalized(normalize_for_matching(text), weight)


def _terms_of_normalized(normalized: str, weight: float = 1.0) -> Counter[str]:
    counts: Counter[str] = Counter(map(_term, _WORD.findall(normalized)))  # counted in C
    counts.pop(None, None)  # type: ignore[call-overload]
    if weight != 1.0:
        for term in counts:
            counts[term] *= weight
    return counts


def article_features(article: dict[str, Any]) -> ArticleFeatures:
    # The ingest stage already folded the text for matching, with the same line breaks; folding it
    # again was a third of this function's cost.
    normalized = article.get("normalized_text") or normalize_for_matching(article["text"])
    # Paragraphs are counted once: their sum is the whole text, the long ones are the passages.
    paragraphs = [(paragraph, _terms_of_normalized(paragraph)) for paragraph in normalized.split("\n")]
    counts: Counter[str] = Counter()
    for _, paragraph_terms in paragraphs:
        counts.update(paragraph_terms)
    counts.update(terms_of(article.get("title") or "", TITLE_TERM_WEIGHT))
    terms = dict(counts.most_common(MAX_TERMS))
    entities = {e["canonical_id"]: float(e["salience"]) for e in article.get("entities", [])}
    moment = to_epoch(article.get("published_at")) or to_epoch(article["received_at"]) or 0.0
    return ArticleFeatures(article["article_id"], article["source"], moment, terms, entities,
                           article.get("duplicate_of"), _passages(paragraphs))


def _passages(paragraphs: list[tuple[str, Counter[str]]]) -> tuple[dict[str, float], ...]:
    passages = []
    for paragraph, paragraph_terms in paragraphs:
        if len(paragraph.split()) < MIN_PASSAGE_WORDS:
            continue
        passages.append(dict(paragraph_terms.most_common(PASSAGE_TERMS)))
        if len(passages) == MAX_PASSAGES:
            break
    return tuple(passages)
