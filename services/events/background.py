"""Background term rarity, so the first articles of a fresh deployment are weighed sensibly.

With a handful of articles in Redis, rolling document frequencies cannot tell that قصف is common
and عقيربات rare. A shipped table of term frequencies over a general news corpus (ANERcorp's
training text, CC BY-SA 4.0, counted per sentence) provides that prior; the rolling counts take
over as the stream grows. ``python -m services.events.background`` rebuilds the table.
"""

from __future__ import annotations

import argparse
import gzip
from collections import Counter
from functools import cache
from pathlib import Path

from .features import terms_of

TABLE = Path(__file__).resolve().parent / "data" / "background_df.tsv.gz"
# Sentences per news article, to turn per-sentence counts into per-document rarity.
SENTENCES_PER_DOCUMENT = 12
MIN_COUNT = 2  # terms seen once tell nothing reliable and would bloat the table
MAX_CACHED_RATES = 500_000


class _Rates(dict[str, float]):
    """term -> rate, each computed on first use: the clusterer asks for hundreds per article."""

    def __init__(self, background: BackgroundFrequencies) -> None:
        super().__init__()
        self._background = background

    def __missing__(self, term: str) -> float:
        if len(self) >= MAX_CACHED_RATES:  # a long-lived worker meets ever more rare words
            self.clear()
        rate = self[term] = self._background.rate(term)
        return rate


class BackgroundFrequencies:
    def __init__(self, documents: int, frequencies: dict[str, int]) -> None:
        self.documents = documents
        self.frequencies = frequencies
        self.rates: dict[str, float] = _Rates(self)

    def rate(self, term: str) -> float:
        """Share of news documents expected to contain ``term`` (never zero: unseen is just rare)."""
        if not self.documents:
            return 0.01
        per_sentence = (self.frequencies.get(term, 0) + 0.5) / (self.documents * SENTENCES_PER_DOCUMENT + 1)
        return 1.0 - (1.0 - min(per_sentence, 1.0)) ** SENTENCES_PER_DOCUMENT


@cache
def background() -> BackgroundFrequencies:
    if not TABLE.exists():
        return BackgroundFrequencies(0, {})
    with gzip.open(TABLE, "rt", encoding="utf-8") as rows:
        header = next(rows).rstrip("\n").split("\t")
        sentences = int(header[1])
        frequencies = {term: int(count) for term, count in (line.rstrip("\n").split("\t") for line in rows)}
    return BackgroundFrequencies(max(sentences // SENTENCES_PER_DOCUMENT, 1), frequencies)


def build(conll_path: Path, out: Path) -> tuple[int, int]:
    """Count, per sentence of a CoNLL file, which terms it contains; write the table."""
    counts: Counter[str] = Counter()
    sentences = 0
    words: list[str] = []
    for line in [*conll_path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.strip():
            words.append(line.split()[0])
            continue
        if words:
            sentences += 1
            counts.update(set(terms_of(" ".join(words))))
            words = []
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(out, "wb", mtime=0) as raw, raw as handle:
        lines = [f"#sentences\t{sentences}"] + [f"{t}\t{c}" for t, c in sorted(counts.items()) if c >= MIN_COUNT]
        handle.write(("\n".join(lines) + "\n").encode("utf-8"))
    return sentences, sum(1 for c in counts.values() if c >= MIN_COUNT)


def main() -> None:
    parser = argparse.ArgumentParser(description="Rebuild the background term-frequency table.")
    parser.add_argument("--conll", type=Path, required=True, help="ANERcorp train.txt (token TAG lines)")
    parser.add_argument("--out", type=Path, default=TABLE)
    args = parser.parse_args()
    sentences, terms = build(args.conll, args.out)
    print(f"{terms} terms over {sentences} sentences -> {args.out}")


if __name__ == "__main__":
    main()
