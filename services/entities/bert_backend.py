"""CAMeL Tools' BERT NER (``ner-arabert``) as a Marsad recognizer: the stock loader and a fast twin.

``StockCamelRecognizer`` runs ``camel_tools.ner.NERecognizer`` itself and is the reference.
``FastCamelRecognizer`` loads the same files and reproduces its featurization and label assignment:

* every word is tokenized alone with the model's ``BertTokenizer``; its label is the prediction for
  its first subword (the other subwords are ignored);
* a sentence is cut at word boundaries into segments of at most ``256 - 2`` subwords (greedy, as
  the stock code does), each segment is run alone as ``[CLS] ... [SEP]`` and the labels are joined;

but pads each batch only to its longest segment (not always to 256), batches segments of similar
length together, and runs under ``torch.inference_mode()``: 3.2x the stock throughput on one core
for ten ANERcorp sentences a call, 3.7x for 200 a call (``tests/bench/bert_speed.py``; a synthetic
vocabulary of 2.3 subwords a word: AraBERT's fewer subwords make the gain larger).

Where the two can differ (all cases where the stock code gives no usable answer):

* a word the tokenizer turns into no subword at all (``""``, U+200F, a lone diacritic) gets no
  label from the stock code, which shifts every later label of the sentence; both recognizers here
  label such words ``O`` (the stock wrapper re-aligns the stock output);
* a single word of more than 254 subwords makes the stock code fail (its segment exceeds the
  256-position window); the fast one keeps only the word's first 254 subwords;
* a model whose ``max_position_embeddings`` is below 256 fails in the stock code; the fast one
  uses the model's window then.

Otherwise labels are equal up to floating-point ties: padding to a different length changes the
summation order inside the matrix products, so logits can differ in the last bits.

Importing ``camel_tools.ner`` imports ``camel_tools.data``, which downloads a catalogue unless
``$CAMELTOOLS_DATA/catalogue.json`` exists; ``ensure_offline_camel_tools`` writes a minimal one
(in a Marsad-owned folder) so the import works without a network.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the runtime import is in extract(): ner.py pulls in torch and the default model's code
    from services.entities.ner import Mention

LABELS = ("B-LOC", "B-ORG", "B-PERS", "B-MISC", "I-LOC", "I-ORG", "I-PERS", "I-MISC", "O")
MODEL_ENV = "MARSAD_CAMEL_NER_MODEL"
# The stock featurizer always pads/cuts to 256 positions, whatever the model's own limit.
STOCK_WINDOW = 256
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
INSTALL_HELP = (
    "Install CAMeL Tools' BERT NER model: on a connected machine run `camel_data -i ner-arabert`, copy "
    "the folder $CAMELTOOLS_DATA/data/ner/arabert (default ~/.camel_tools/data/ner/arabert) to this "
    f"machine and set {MODEL_ENV}=<that folder>."
)
# Enough for camel_tools.data to load, and for NERecognizer.pretrained() to name its folder.
_MINIMAL_CATALOGUE: dict[str, Any] = {
    "version": "1.6",
    "packages": {},
    "components": {
        "NamedEntityRecognition": {"default": "arabert", "datasets": {"arabert": {"path": "ner/arabert"}}}
    },
}


class CamelModelError(RuntimeError):
    """The CAMeL NER model folder is missing or not a usable BERT token-classification model."""


# --- offline import -------------------------------------------------------------------------------


# (what CAMELTOOLS_DATA was, the catalogue-only folder it now names) once we re-point it.
_redirection: tuple[str | None, str] | None = None


def _camel_data_dir() -> Path:
    """The user's camel data folder: $CAMELTOOLS_DATA, else camel_tools' default ~/.camel_tools
    (the value from before ``ensure_offline_camel_tools`` re-pointed it at a catalogue-only folder)."""
    configured = os.environ.get("CAMELTOOLS_DATA")
    if _redirection is not None and configured == _redirection[1]:
        configured = _redirection[0]
    return Path(configured).expanduser().absolute() if configured else Path.home() / ".camel_tools"


def _writable_folder() -> Path:
    """$MARSAD_HOME/camel_data when it can be created, else a per-user temporary folder."""
    candidates = [
        Path(os.environ.get("MARSAD_HOME", ".marsad")).expanduser().absolute() / "camel_data",
        Path(tempfile.gettempdir()) / f"marsad-camel-data-{os.getuid() if hasattr(os, 'getuid') else 'user'}",
    ]
    for folder in candidates:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder
        except OSError:
            continue
    raise CamelModelError(f"no writable folder for a local CAMeL Tools catalogue (tried {candidates})")


def ensure_offline_camel_tools() -> Path:
    """Make ``import camel_tools.ner`` work without a network; returns the catalogue in use.

    Sets ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` (the model is read from a local folder only)
    and, when the camel data folder has no ``catalogue.json``, writes a minimal one under
    ``$MARSAD_HOME/camel_data`` and points ``CAMELTOOLS_DATA`` there. Call it before importing
    anything from ``camel_tools.data``; once imported, camel_tools keeps the folder it saw.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if "camel_tools.data" in sys.modules:  # already imported (so its catalogue already loaded)
        from camel_tools.data.catalogue import Catalogue

        return Catalogue.get_default_catalogue_path()
    existing = _camel_data_dir() / "catalogue.json"
    if existing.is_file():
        return existing
    folder = _writable_folder()
    catalogue = folder / "catalogue.json"
    if not catalogue.is_file():
        # Write then rename, so parallel workers never read a half-written file.
        partial = folder / f"catalogue.json.{os.getpid()}.tmp"
        partial.write_text(json.dumps(_MINIMAL_CATALOGUE, indent=2), encoding="utf-8")
        os.replace(partial, catalogue)
    global _redirection
    _redirection = (os.environ.get("CAMELTOOLS_DATA"), str(folder))
    os.environ["CAMELTOOLS_DATA"] = str(folder)
    return catalogue


# --- model folder ---------------------------------------------------------------------------------


def default_model_dir() -> Path:
    """$MARSAD_CAMEL_NER_MODEL, else where `camel_data -i ner-arabert` installs the model."""
    configured = os.environ.get(MODEL_ENV)
    if configured:
        return Path(configured).expanduser()
    return _camel_data_dir() / "data" / "ner" / "arabert"


def check_model_dir(model_dir: str | Path) -> Path:
    """The folder if it holds a BERT NER model with the nine CAMeL labels, else a CamelModelError."""
    folder = Path(model_dir).expanduser()
    if not folder.is_dir():
        raise CamelModelError(f"CAMeL NER model folder {folder} does not exist. {INSTALL_HELP}")
    missing = [name for name in ("config.json", "vocab.txt") if not (folder / name).is_file()]
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        missing.append(" or ".join(WEIGHT_FILES))
    if missing:
        raise CamelModelError(f"CAMeL NER model folder {folder} lacks {', '.join(missing)}. {INSTALL_HELP}")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        labels = set(dict(config["id2label"]).values())
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CamelModelError(
            f"{folder / 'config.json'} is not a token-classification config with id2label ({error}). {INSTALL_HELP}"
        ) from error
    if "O" not in labels or not labels <= set(LABELS):
        raise CamelModelError(
            f"{folder / 'config.json'} has labels {sorted(labels)}, expected CAMeL's {list(LABELS)}. {INSTALL_HELP}"
        )
    return folder


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """No weight-loading progress bars or warnings in worker logs (as camel_tools.ner does)."""
    from transformers.utils import logging as transformers_logging

    was_enabled = transformers_logging.is_progress_bar_enabled()
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    try:
        yield
    finally:
        transformers_logging.set_verbosity(verbosity)
        if was_enabled:
            transformers_logging.enable_progress_bar()


# --- shared behaviour -----------------------------------------------------------------------------


class _CamelRecognizer:
    """``extract`` on top of a ``tag`` that gives exactly one label per input token."""

    name = "camel-bert"

    def tag(self, sentences: list[list[str]]) -> list[list[str]]:
        raise NotImplementedError

    def extract(self, text: str) -> list[Mention]:
        """Mentions with exact character offsets (``text[start:end] == mention.text``)."""
        from services.entities.ner import tagged_mentions

        return tagged_mentions(text, self.tag)


class StockCamelRecognizer(_CamelRecognizer):
    """``camel_tools.ner.NERecognizer`` unchanged (the reference), re-aligned to one label per token."""

    name = "camel-bert-stock"

    def __init__(self, model_dir: str | Path, batch_size: int = 32) -> None:
        folder = check_model_dir(model_dir)
        ensure_offline_camel_tools()
        from camel_tools.ner import NERecognizer

        with _quiet_loading():
            self.recognizer = NERecognizer(str(folder), use_gpu=False)
        self.batch_size = batch_size

    def tag(self, sentences: list[list[str]]) -> list[list[str]]:
        if not sentences:
            return []
        predicted = self.recognizer.predict([list(sentence) for sentence in sentences], batch_size=self.batch_size)
        tokenizer = self.recognizer.tokenizer
        result: list[list[str]] = []
        for sentence, labels in zip(sentences, predicted, strict=True):
            # The stock code silently skips words with no subword; put them back as O.
            kept = [index for index, word in enumerate(sentence) if tokenizer.tokenize(word)]
            full = ["O"] * len(sentence)
            for index, label in zip(kept, labels, strict=True):
                full[index] = label
            result.append(full)
        return result


class FastCamelRecognizer(_CamelRecognizer):
    """The same model and labels as the stock recognizer, with dynamic padding and length buckets.

    ``num_threads`` (if given) is applied with ``torch.set_num_threads`` on every ``tag`` call, for
    workers that share a machine; ``max_batch_tokens`` bounds a batch's padded size (memory).
    """

    name = "camel-bert"

    def __init__(
        self,
        model_dir: str | Path,
        *,
        num_threads: int | None = None,
        max_batch_size: int = 64,
        max_batch_tokens: int = 8192,
        min_batch_tokens: int = 128,
        cache_size: int = 200_000,
    ) -> None:
        folder = check_model_dir(model_dir)
        ensure_offline_camel_tools()
        import torch
        from transformers import BertForTokenClassification, BertTokenizer

        self.torch = torch
        self.num_threads = num_threads
        # Loaded exactly as camel_tools.ner does, so subwords and weights are the same.
        with _quiet_loading():
            self.model = BertForTokenClassification.from_pretrained(str(folder)).eval()
            self.tokenizer = BertTokenizer.from_pretrained(str(folder))
        self.id2label = {int(key): value for key, value in self.model.config.id2label.items()}
        window = min(STOCK_WINDOW, int(self.model.config.max_position_embeddings))
        self.segment_length = window - 2  # room for [CLS] and [SEP]
        self.cls_id = int(self.tokenizer.cls_token_id)
        self.sep_id = int(self.tokenizer.sep_token_id)
        self.pad_id = int(self.tokenizer.pad_token_id)
        self.pad_type_id = int(self.tokenizer.pad_token_type_id)
        self.max_batch_size = max_batch_size
        self.max_batch_tokens = max_batch_tokens
        self.min_batch_tokens = min_batch_tokens
        self.cache_size = cache_size
        self._pieces: dict[str, tuple[int, ...]] = {}

    def _word_ids(self, word: str) -> tuple[int, ...]:
        """Subword ids of one word, tokenized alone as the stock featurizer does (memoized: news
        repeats its words, and per-word tokenizer calls are the Python-side cost)."""
        ids = self._pieces.get(word)
        if ids is None:
            ids = tuple(self.tokenizer.convert_tokens_to_ids(self.tokenizer.tokenize(word)))
            if len(self._pieces) >= self.cache_size:
                self._pieces.clear()
            self._pieces[word] = ids
        return ids

    def _segments(self, sentence: Sequence[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        """Per segment: subword ids and (word index, position of its first subword after [CLS]),
        cut as the stock featurizer cuts: greedily at word boundaries, at most ``segment_length``."""
        segments: list[tuple[list[int], list[tuple[int, int]]]] = []
        ids: list[int] = []
        firsts: list[tuple[int, int]] = []
        for index, word in enumerate(sentence):
            pieces = self._word_ids(word)
            if not pieces:
                continue  # no subword: the stock code skips it, we label it O
            pieces = pieces[: self.segment_length]  # the stock code fails on longer words
            if len(ids) + len(pieces) > self.segment_length and ids:
                segments.append((ids, firsts))
                ids, firsts = [], []
            firsts.append((index, len(ids) + 1))
            ids.extend(pieces)
        if ids:
            segments.append((ids, firsts))
        return segments

    def _batches(self, lengths: list[int]) -> Iterable[list[int]]:
        """Segment indices grouped by similar length, so little of a batch is padding. Per token,
        a forward pass costs the same from about 128 rows up (one row alone costs ~1.5x), so a batch
        closes once it has that many rows and the next segment would make >12% of it padding."""
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        batch: list[int] = []
        real = 0
        for index in order:
            width = lengths[index] + 2  # sorted: the newest is the longest
            padded = (len(batch) + 1) * width
            if batch and (
                len(batch) >= self.max_batch_size
                or padded > self.max_batch_tokens
                or (real >= self.min_batch_tokens and padded > 1.12 * (real + width))
            ):
                yield batch
                batch, real = [], 0
            batch.append(index)
            real += width
        if batch:
            yield batch

    def tag(self, sentences: list[list[str]]) -> list[list[str]]:
        torch = self.torch
        if self.num_threads is not None:
            torch.set_num_threads(self.num_threads)
        result = [["O"] * len(sentence) for sentence in sentences]
        owners: list[int] = []
        segments: list[tuple[list[int], list[tuple[int, int]]]] = []
        for number, sentence in enumerate(sentences):
            for segment in self._segments(sentence):
                owners.append(number)
                segments.append(segment)
        lengths = [len(ids) for ids, _ in segments]
        with torch.inference_mode():
            for batch in self._batches(lengths):
                width = max(lengths[i] for i in batch) + 2
                input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
                attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, index in enumerate(batch):
                    ids = segments[index][0]
                    input_ids[row, : len(ids) + 2] = torch.tensor([self.cls_id, *ids, self.sep_id])
                    attention_mask[row, : len(ids) + 2] = 1
                token_type_ids = torch.zeros_like(input_ids)
                token_type_ids[attention_mask == 0] = self.pad_type_id
                logits = self.model(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                ).logits
                predicted = logits.argmax(dim=-1).tolist()
                for row, index in enumerate(batch):
                    labels = result[owners[index]]
                    for word, position in segments[index][1]:
                        labels[word] = self.id2label[predicted[row][position]]
        return result


def load_camel_recognizer(model_dir: str | Path | None = None, **options: Any) -> FastCamelRecognizer:
    """The fast recognizer on ``model_dir``, else ``$MARSAD_CAMEL_NER_MODEL``, else
    ``$CAMELTOOLS_DATA/data/ner/arabert`` (CAMeL's own install location)."""
    return FastCamelRecognizer(Path(model_dir) if model_dir else default_model_dir(), **options)


__all__ = [
    "INSTALL_HELP",
    "LABELS",
    "MODEL_ENV",
    "CamelModelError",
    "FastCamelRecognizer",
    "StockCamelRecognizer",
    "check_model_dir",
    "default_model_dir",
    "ensure_offline_camel_tools",
    "load_camel_recognizer",
]
