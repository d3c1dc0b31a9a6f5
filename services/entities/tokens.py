"""ANERcorp-style tokenization with exact character offsets.

Words keep their clitics (``والصادرات`` stays one token, as in ANERcorp), punctuation is split
off, and numbers keep their decimal separators and a trailing percent sign. Invisible format
characters (RLM, ZWNJ, ...) inside a word stay part of that token so offsets remain exact; on
their own they are not tokens at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

# Letters plus the combining marks (harakat, shadda, superscript alef) and tatweel that Arabic
# words carry; format characters are allowed only *inside* a word.
_LETTER = r"[\p{L}\p{M}\u0640]"
_FORMAT = r"[\p{Cf}]"
_WORD = rf"{_LETTER}+(?:{_FORMAT}+{_LETTER}+)*"
_NUMBER = r"\p{Nd}+(?:[.,\u066b\u066c]\p{Nd}+)*%?"
_TOKEN_RE = regex.compile(rf"{_WORD}|{_NUMBER}|[^\s\p{{Cf}}]", regex.V1)

SENTENCE_END = frozenset({".", "!", "?", "\u061f"})
MAX_SENTENCE_TOKENS = 150


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens whose ``text == source[start:end]``."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def split_sentences(tokens: list[Token], text: str) -> list[list[Token]]:
    """Group tokens into sentences: after . ! ? ؟, at line breaks, and every
    ``MAX_SENTENCE_TOKENS`` tokens so a run-on page cannot make one huge sequence."""
    sentences: list[list[Token]] = []
    current: list[Token] = []
    previous_end: int | None = None
    for token in tokens:
        if current and previous_end is not None and "\n" in text[previous_end : token.start]:
            sentences.append(current)
            current = []
        current.append(token)
        previous_end = token.end
        if token.text in SENTENCE_END or len(current) >= MAX_SENTENCE_TOKENS:
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return sentences
