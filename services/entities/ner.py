"""Named-entity recognition for Arabic news: the public API of the entities stage.

``NerModel.load()`` reads the shipped BiLSTM-CRF (``models/ner.pt``, trained by
``services.entities.train`` on ANERcorp); ``tag`` labels pre-tokenized sentences with BIO tags
(the tagger, run as its int8 copy, ``model.for_inference``, then document-level consistency over
neighbouring sentences, then one-word nationality adjectives dropped, ``nationality``, then
person-name boundary repairs, ``names.fix_person_names``) and
``extract`` goes from raw text to typed mentions with character offsets.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from services.entities.consistency import propagate
from services.entities.evaluation import chunks, sentence_key
from services.entities.features import Vocabs, encode
from services.entities.gazetteer import N_FEATURES, Gazetteer, default_gazetteer
from services.entities.model import (
    MODEL_FILE,
    MODEL_FORMAT,
    MODEL_VERSION,
    ModelConfig,
    Tagger,
    for_inference,
    predict,
)
from services.entities.morph import normalize
from services.entities.names import fix_person_names
from services.entities.nationality import drop_nationality_adjectives
from services.entities.tokens import split_sentences, tokenize

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "models" / MODEL_FILE
ENTITY_TYPES = ("LOC", "ORG", "PERS", "MISC")


@dataclass(frozen=True)
class Mention:
    type: str
    start: int
    end: int
    text: str


class NerModel:
    def __init__(
        self, tagger: Tagger, vocabs: Vocabs, gazetteer: Gazetteer, consistency_window: int = 20
    ) -> None:
        self.tagger = for_inference(tagger)
        self.tagger.char_cache = {}
        self.vocabs = vocabs
        self.gazetteer = gazetteer
        self.tags = list(tagger.config.tags)
        # Sentences before/after whose names are re-applied to untagged repeats (0 = off).
        self.consistency_window = consistency_window
        # Training record of the model file: "dev" (held-out scores, chosen epoch, trained_on),
        # "train_config" and "seen" (fingerprints of the training sentences), when present.
        self.metadata: dict = {}

    @classmethod
    def load(cls, path: str | Path | None = None) -> NerModel:
        """Load a model file (or a directory holding ``ner.pt``); default: the shipped model."""
        path = Path(path) if path is not None else DEFAULT_MODEL_PATH
        if path.is_dir():
            path = path / MODEL_FILE
        if not path.exists():
            raise FileNotFoundError(
                f"NER model {path} not found; train one with "
                "`python -m services.entities.train --data TRAIN.txt --out services/entities/models/`"
            )
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise ValueError(f"{path} is not a readable NER model file: {error}") from error
        if not isinstance(checkpoint, dict) or checkpoint.get("format") != MODEL_FORMAT:
            raise ValueError(f"{path} is not a {MODEL_FORMAT} model file")
        if checkpoint.get("version") != MODEL_VERSION:
            raise ValueError(
                f"{path} has model version {checkpoint.get('version')}, expected {MODEL_VERSION}"
            )
        try:
            config = ModelConfig(**checkpoint["config"])
            if config.n_gaz != N_FEATURES:
                raise ValueError(f"it expects {config.n_gaz} gazetteer features, this code has {N_FEATURES}")
            tagger = Tagger(config)
            tagger.load_state_dict(checkpoint["state_dict"])
        except (KeyError, TypeError, RuntimeError, ValueError) as error:
            raise ValueError(f"{path} does not fit this version of the NER code: {error}") from error
        inference = checkpoint.get("inference", {})
        model = cls(
            tagger,
            Vocabs.from_dict(checkpoint["vocabs"]),
            default_gazetteer(),
            consistency_window=int(inference.get("consistency_window", 20)),
        )
        model.metadata = {key: checkpoint[key] for key in ("dev", "train_config", "seen") if key in checkpoint}
        model.tag([["تجربة", "."]])  # warm up torch's kernels so the first real call is not slow
        return model

    def provenance(self, sentences: list[list[str]]) -> dict:
        """What the weights were trained on, the held-out dev scores recorded when the epoch count
        was chosen, and how many of ``sentences`` were among the training sentences. Scores on
        sentences the model trained on (e.g. the dev block, once retrained on train+dev) are not
        an estimate of accuracy on new text; the recorded dev scores are."""
        dev = self.metadata.get("dev", {})
        config = self.metadata.get("train_config", {})
        trained_on = dev.get("trained_on", "unknown")
        info: dict = {"trained_on": trained_on, "epochs": dev.get("epoch")}
        if "f1" in dev:
            fraction, block = config.get("dev_fraction"), config.get("dev_block")
            if not fraction:
                held_out = "dev block"
            elif block is None:
                held_out = f"last {fraction:.0%} of the training file"
            else:
                held_out = f"block {block} of the training file ({fraction:.0%} of its sentences)"
            info["dev_at_selection"] = {
                "held_out": held_out,
                **{key: round(dev[key], 4) for key in ("precision", "recall", "f1")},
                "per_type_f1": {kind: round(s["f1"], 4) for kind, s in dev.get("per_type", {}).items()},
            }
        seen = self.metadata.get("seen")
        if seen is not None:
            keys = set(seen.split())
            overlap = sum(sentence_key(sentence) in keys for sentence in sentences)
            info["sentences_seen_in_training"] = overlap
            if overlap:
                info["warning"] = (
                    f"{overlap} of {len(sentences)} sentences were in the training data, so these scores "
                    "overstate accuracy on new text; dev_at_selection is the held-out estimate"
                )
        elif trained_on == "train+dev":
            info["warning"] = (
                "the weights were retrained on the whole training file, dev block included: scores on "
                "that file overstate accuracy on new text; dev_at_selection is the held-out estimate"
            )
        return info

    def tag(self, sentences: list[list[str]]) -> list[list[str]]:
        """BIO tags, exactly one per input token. Tokens with no visible content (empty strings,
        RLM marks) are tagged O and hidden from the network so they cannot split a name."""
        # Tagging allocates many small, acyclic objects; the cyclic GC would rescan the large
        # vocabularies again and again (about a fifth of the time), so it pauses meanwhile.
        gc_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._tag(sentences)
        finally:
            if gc_enabled:
                gc.enable()

    def _tag(self, sentences: list[list[str]]) -> list[list[str]]:
        torch.set_num_threads(1)
        visible = visible_positions(sentences)
        shown = [[sentence[i] for i in keep] for sentence, keep in zip(sentences, visible, strict=True)]
        encoded = [encode(words, self.vocabs, self.gazetteer) for words in shown]
        predicted = finish_tags(shown, predict(self.tagger, encoded, self.tags), self.consistency_window)
        return with_hidden(sentences, visible, predicted)

    def extract(self, text: str) -> list[Mention]:
        """Mentions in ``text`` with exact character offsets (``text[start:end] == mention.text``)."""
        return tagged_mentions(text, self.tag)


def visible_positions(sentences: list[list[str]]) -> list[list[int]]:
    """Per sentence, the positions of tokens with visible content: empty strings and marks
    such as U+200F are hidden from the network so they cannot split a name."""
    return [[i for i, word in enumerate(sentence) if normalize(word).strip()] for sentence in sentences]


def finish_tags(shown: list[list[str]], predicted: list[list[str]], window: int) -> list[list[str]]:
    """The tagger's BIO tags as ``NerModel.tag`` gives them: document-level consistency over
    ``window`` sentences either side (0 = off), nationality adjectives tagged alone dropped (before
    the name repairs, which could widen one into a name), then person-name boundary repairs."""
    if window > 0:
        predicted = propagate(shown, predicted, window)
    predicted = drop_nationality_adjectives(shown, predicted)
    return fix_person_names(shown, predicted, window)


def with_hidden(
    sentences: list[list[str]], visible: list[list[int]], tags: list[list[str]]
) -> list[list[str]]:
    """Tags of the visible tokens spread back over whole sentences, hidden tokens tagged O."""
    result: list[list[str]] = []
    for sentence, keep, sentence_tags in zip(sentences, visible, tags, strict=True):
        full = ["O"] * len(sentence)
        for index, tag in zip(keep, sentence_tags, strict=True):
            full[index] = tag
        result.append(full)
    return result


def tagged_mentions(text: str, tag: Callable[[list[list[str]]], list[list[str]]]) -> list[Mention]:
    """Mentions in ``text`` found by a tagger of tokenized sentences (one BIO tag per token), with
    exact character offsets (``text[start:end] == mention.text``)."""
    if not text.strip():
        return []
    sentences = split_sentences(tokenize(text), text)
    tagged = tag([[token.text for token in sentence] for sentence in sentences])
    mentions: list[Mention] = []
    for sentence, tags in zip(sentences, tagged, strict=True):
        for first, last, kind in chunks(tags):
            start, end = sentence[first].start, sentence[last - 1].end
            mentions.append(Mention(kind, start, end, text[start:end]))
    return mentions


@lru_cache(maxsize=1)
def default_model() -> NerModel:
    """The shipped model, loaded once per process."""
    return NerModel.load()


__all__ = ["ENTITY_TYPES", "Mention", "NerModel", "default_model"]
