"""CoNLL reading and conlleval-compatible entity scoring.

Chunks follow conlleval's rules for IOB tags: a chunk starts at ``B-X``, or at ``I-X`` when the
previous tag is ``O`` or of another type (an ``I-`` without ``B-`` still opens a chunk), and
a predicted chunk is correct only if its boundaries *and* type equal a gold chunk.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

ENTITY_TYPES = ("LOC", "ORG", "PERS", "MISC")


class Tagger(Protocol):
    def tag(self, sentences: list[list[str]]) -> list[list[str]]: ...


def read_conll(path: str | Path) -> list[tuple[list[str], list[str]]]:
    """Read ``token TAG`` lines, blank line between sentences, into (tokens, tags) pairs."""
    sentences: list[tuple[list[str], list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    with open(path, encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                if tokens:
                    sentences.append((tokens, tags))
                    tokens, tags = [], []
                continue
            parts = line.split()
            if len(parts) != 2:
                raise ValueError(f"{path}:{number}: expected 'token TAG', got {line!r}")
            token, tag = parts
            if tag != "O" and not (tag[:2] in ("B-", "I-") and len(tag) > 2):
                raise ValueError(f"{path}:{number}: bad tag {tag!r} (want O, B-TYPE or I-TYPE)")
            tokens.append(token)
            tags.append(tag)
    if tokens:
        sentences.append((tokens, tags))
    return sentences


def write_conll(path: str | Path, data: Sequence[tuple[Sequence[str], Sequence[str]]]) -> None:
    """Write (tokens, tags) pairs as ``read_conll`` reads them."""
    with open(path, "w", encoding="utf-8") as handle:
        for tokens, tags in data:
            handle.writelines(f"{token} {tag}\n" for token, tag in zip(tokens, tags, strict=True))
            handle.write("\n")


def sentence_key(tokens: Sequence[str]) -> str:
    """Short fingerprint of a tokenized sentence: model files keep those of their training
    sentences so an evaluation can tell how much of its data the weights have already seen."""
    return hashlib.blake2b("\x1f".join(tokens).encode("utf-8"), digest_size=6).hexdigest()


def _split(tag: str) -> tuple[str, str]:
    if tag == "O" or len(tag) < 3 or tag[1] != "-":
        return "O", ""
    return tag[0], tag[2:]


def chunks(tags: list[str]) -> list[tuple[int, int, str]]:
    """Entity chunks as (start, end_exclusive, type) using conlleval's start/end rules."""
    found: list[tuple[int, int, str]] = []
    start: int | None = None
    current = ""
    for index, tag in enumerate([*tags, "O"]):
        prefix, kind = _split(tag)
        # conlleval: an open chunk ends before O, before B-, and before I- of another type.
        if start is not None and (prefix in ("O", "B") or kind != current):
            found.append((start, index, current))
            start = None
        if prefix == "B" or (prefix == "I" and start is None):
            start, current = index, kind
    return found


def _prf(correct: int, guessed: int, gold: int) -> dict[str, float]:
    precision = correct / guessed if guessed else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def conll_scores(gold: list[list[str]], pred: list[list[str]]) -> dict[str, Any]:
    """Entity-level exact-match precision/recall/F1 (micro) plus per-type scores, as fractions."""
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} sentences, prediction {len(pred)}")
    correct: Counter[str] = Counter()
    guessed: Counter[str] = Counter()
    expected: Counter[str] = Counter()
    for number, (gold_tags, pred_tags) in enumerate(zip(gold, pred, strict=True)):
        if len(gold_tags) != len(pred_tags):
            raise ValueError(f"sentence {number}: {len(gold_tags)} gold tags, {len(pred_tags)} predicted")
        gold_chunks = set(chunks(gold_tags))
        pred_chunks = set(chunks(pred_tags))
        expected.update(kind for _, _, kind in gold_chunks)
        guessed.update(kind for _, _, kind in pred_chunks)
        correct.update(kind for _, _, kind in gold_chunks & pred_chunks)
    scores: dict[str, Any] = _prf(sum(correct.values()), sum(guessed.values()), sum(expected.values()))
    kinds = sorted(set(ENTITY_TYPES) | set(expected) | set(guessed))
    scores["per_type"] = {
        kind: {**_prf(correct[kind], guessed[kind], expected[kind]), "support": expected[kind]}
        for kind in kinds
    }
    return scores


def evaluate(model: Tagger, path: str | Path) -> dict[str, Any]:
    """Tag the sentences of a CoNLL file and score them; adds size and speed figures (measured
    now) and, when the model can describe itself (``provenance``), what data its weights saw and
    the held-out dev scores recorded at training time."""
    data = read_conll(path)
    sentences = [tokens for tokens, _ in data]
    started = time.perf_counter()
    predicted = model.tag(sentences)
    seconds = time.perf_counter() - started
    scores = conll_scores([tags for _, tags in data], predicted)
    n_tokens = sum(len(tokens) for tokens in sentences)
    scores.update(
        tokens=n_tokens,
        sentences=len(sentences),
        seconds=seconds,
        tokens_per_second=n_tokens / seconds if seconds > 0 else 0.0,
    )
    provenance = getattr(model, "provenance", None)
    if callable(provenance):
        scores["model"] = provenance(sentences)
    return scores
