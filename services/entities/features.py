"""Turn token sequences into the integer and multi-hot inputs of the tagger.

Per token: normalized word, proclitic-free stem, proclitic chain (و+ال, ب, لل ...), a coarse
shape (script and length), the characters of the word and gazetteer/trigger matches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from services.entities.gazetteer import N_FEATURES, Gazetteer
from services.entities.morph import ARABIC_LETTER, normalize, split_proclitics

PAD, UNK = 0, 1
MAX_CHARS = 20
_BOW, _EOW = "\x02", "\x03"


class Vocab:
    """String <-> id table with PAD=0 and UNK=1."""

    def __init__(self, items: Iterable[str]) -> None:
        self.itos = ["<pad>", "<unk>", *items]
        self.stoi = {item: index for index, item in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def get(self, item: str) -> int:
        return self.stoi.get(item, UNK)

    @classmethod
    def build(cls, items: Iterable[str], min_count: int = 1) -> Vocab:
        counts = Counter(items)
        return cls(sorted(k for k, v in counts.items() if v >= min_count))


def shape(word: str) -> int:
    """Script class x length bucket, 6 x 4 = 24 values (+1 offset for PAD)."""
    if not word:
        script = 0
    elif ARABIC_LETTER.search(word):
        script = 1
    elif word[0].isupper():
        script = 2
    elif word[0].isalpha():
        script = 3
    elif word[0].isdigit():
        script = 4
    else:
        script = 5
    length = len(word)
    bucket = 0 if length <= 2 else 1 if length <= 4 else 2 if length <= 7 else 3
    return 1 + 4 * script + bucket


N_SHAPES = 25


def chars_of(norm: str) -> list[str]:
    inner = list(norm[:MAX_CHARS])
    return [_BOW, *inner, _EOW]


@dataclass
class Vocabs:
    words: Vocab
    stems: Vocab
    prefixes: Vocab
    chars: Vocab
    # token -> (word id, stem id, prefix id, shape, char ids): news repeats words a lot.
    _cache: dict[str, tuple[int, int, int, int, tuple[int, ...]]] = field(default_factory=dict, repr=False)

    def token_ids(self, word: str) -> tuple[int, int, int, int, tuple[int, ...]]:
        ids = self._cache.get(word)
        if ids is None:
            norm = normalize(word)
            prefix, stem = split_proclitics(norm)
            ids = (
                self.words.get(norm),
                self.stems.get(stem),
                self.prefixes.get(prefix),
                shape(word),
                tuple([self.chars.get(ch) for ch in chars_of(norm)]),
            )
            if len(self._cache) < 500_000:
                self._cache[word] = ids
        return ids

    def to_dict(self) -> dict[str, list[str]]:
        return {name: getattr(self, name).itos[2:] for name in ("words", "stems", "prefixes", "chars")}

    @classmethod
    def from_dict(cls, data: dict[str, list[str]]) -> Vocabs:
        return cls(**{name: Vocab(items) for name, items in data.items()})

    @classmethod
    def build(cls, sentences: Sequence[Sequence[str]], min_count: int = 1) -> Vocabs:
        norms = [normalize(word) for sentence in sentences for word in sentence]
        splits = [split_proclitics(norm) for norm in norms]
        return cls(
            words=Vocab.build(norms, min_count),
            stems=Vocab.build((stem for _, stem in splits), min_count),
            prefixes=Vocab.build(prefix for prefix, _ in splits),
            chars=Vocab.build((ch for norm in norms for ch in chars_of(norm)), 2),
        )


@dataclass
class Encoded:
    """One sentence as parallel integer arrays (length n) plus chars and gazetteer slots."""

    words: np.ndarray
    stems: np.ndarray
    prefixes: np.ndarray
    shapes: np.ndarray
    chars: list[tuple[int, ...]]
    gaz: list[list[int]]

    def __len__(self) -> int:
        return len(self.words)


def encode(words: Sequence[str], vocabs: Vocabs, gazetteer: Gazetteer) -> Encoded:
    ids = [vocabs.token_ids(word) for word in words]
    table = np.array([row[:4] for row in ids], dtype=np.int64).reshape(len(ids), 4)
    return Encoded(
        words=table[:, 0],
        stems=table[:, 1],
        prefixes=table[:, 2],
        shapes=table[:, 3],
        chars=[row[4] for row in ids],
        gaz=gazetteer.match(words),
    )


@dataclass
class Batch:
    words: torch.Tensor  # (B, T)
    stems: torch.Tensor
    prefixes: torch.Tensor
    shapes: torch.Tensor
    chars: torch.Tensor  # (U, C): char ids of the distinct words in the batch
    char_index: torch.Tensor  # (B, T): row of ``chars`` for each token
    char_keys: list[tuple[int, ...]]  # the char-id tuple of each row of ``chars`` (cache keys)
    gaz: torch.Tensor  # (B, T, N_FEATURES) float
    lengths: torch.Tensor  # (B,)
    mask: torch.Tensor  # (B, T) bool


def make_batch(
    items: Sequence[Encoded],
    dropout: tuple[np.ndarray, np.ndarray] | None = None,
    rng: np.random.Generator | None = None,
    gaz_dropout: float = 0.0,
) -> Batch:
    """Pad a list of encoded sentences. ``dropout`` gives, per word id and per stem id, the
    probability of replacing it by UNK during training (higher for rare words), so the model
    learns to tag words it has never seen from their characters and context. ``gaz_dropout`` is
    the probability of hiding a token's gazetteer matches during training, so the model learns
    to read the context too rather than trust the lists alone (ميلان is a city in the list and
    a club in sports news)."""
    size = len(items)
    longest = max(max(len(item) for item in items), 1)
    unique: dict[tuple[int, ...], int] = {(): 0}  # row 0 = padding
    char_index = np.zeros((size, longest), dtype=np.int64)
    for row, item in enumerate(items):
        char_index[row, : len(item)] = [unique.setdefault(chars, len(unique)) for chars in item.chars]
    longest_word = max(len(chars) for chars in unique) or 1
    chars = np.zeros((len(unique), longest_word), dtype=np.int64)
    for token_chars, index in unique.items():
        chars[index, : len(token_chars)] = token_chars
    words = np.zeros((size, longest), dtype=np.int64)
    stems = np.zeros_like(words)
    prefixes = np.zeros_like(words)
    shapes = np.zeros_like(words)
    gaz = np.zeros((size, longest, N_FEATURES), dtype=np.float32)
    # (row, column, slot) of every active gazetteer slot, set in one go: most tokens have none.
    hits = [
        (row, col, slot)
        for row, item in enumerate(items)
        for col, slots in enumerate(item.gaz)
        for slot in slots
    ]
    if hits:
        gaz[tuple(np.array(hits).T)] = 1.0
    lengths = np.array([len(item) for item in items], dtype=np.int64)
    for row, item in enumerate(items):
        n = len(item)
        words[row, :n] = item.words
        stems[row, :n] = item.stems
        prefixes[row, :n] = item.prefixes
        shapes[row, :n] = item.shapes
    if dropout is not None and rng is not None:
        word_p, stem_p = dropout
        words[rng.random(words.shape) < word_p[words]] = UNK
        stems[rng.random(stems.shape) < stem_p[stems]] = UNK
    if gaz_dropout > 0 and rng is not None:
        gaz[rng.random((size, longest)) < gaz_dropout] = 0.0
    mask = np.arange(longest)[None, :] < lengths[:, None]
    return Batch(
        words=torch.from_numpy(words),
        stems=torch.from_numpy(stems),
        prefixes=torch.from_numpy(prefixes),
        shapes=torch.from_numpy(shapes),
        chars=torch.from_numpy(chars),
        char_index=torch.from_numpy(char_index),
        char_keys=list(unique),
        gaz=torch.from_numpy(gaz),
        lengths=torch.from_numpy(lengths),
        mask=torch.from_numpy(mask),
    )
