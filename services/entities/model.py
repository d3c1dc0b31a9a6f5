"""Character-aware BiLSTM-CRF tagger.

Token representation = word embedding + stem embedding + proclitic and shape embeddings +
char-CNN (max-pooled) + gazetteer multi-hot; a one-layer BiLSTM reads the sentence and a
linear-chain CRF scores tag sequences. Decoding forbids invalid transitions (O -> I-X,
B-X -> I-Y) so every output is a well-formed span sequence. The tag set is BIO or BIOES (S-X
single-token spans, E-X span ends, chosen at training); :func:`predict` always returns BIO.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from services.entities.features import N_SHAPES, Batch, Encoded, make_batch

MODEL_FORMAT = "marsad-ner-bilstm-crf"
MODEL_VERSION = 1
MODEL_FILE = "ner.pt"
NEG = -1e4
CHAR_CACHE_SIZE = 300_000


@dataclass
class ModelConfig:
    n_words: int
    n_stems: int
    n_prefixes: int
    n_chars: int
    n_gaz: int
    tags: list[str]
    word_dim: int = 100
    stem_dim: int = 64
    char_dim: int = 32
    char_filters: int = 50
    char_widths: tuple[int, ...] = (2, 3, 4)
    small_dim: int = 8
    hidden: int = 128
    dropout: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)


def is_bioes(tags: list[str]) -> bool:
    return any(tag.startswith(("E-", "S-")) for tag in tags)


def allowed_transitions(tags: list[str]) -> torch.Tensor:
    """(T, T) bool: may tag j follow tag i. BIO: I-X only after B-X or I-X. BIOES also: E-X only
    after B-X or I-X, and B-X / I-X must be followed by I-X or E-X."""
    size = len(tags)
    bioes = is_bioes(tags)
    allowed = torch.ones(size, size, dtype=torch.bool)
    for j, tag in enumerate(tags):
        if tag.startswith("I-") or (bioes and tag.startswith("E-")):
            kind = tag[2:]
            for i, previous in enumerate(tags):
                allowed[i, j] = previous in (f"B-{kind}", f"I-{kind}")
    if bioes:
        for i, previous in enumerate(tags):
            if previous.startswith(("B-", "I-")):
                kind = previous[2:]
                for j, tag in enumerate(tags):
                    allowed[i, j] = tag in (f"I-{kind}", f"E-{kind}")
    return allowed


def to_bioes(tags: list[str]) -> list[str]:
    """BIO (well-formed, see train.repair_bio) -> BIOES."""
    out: list[str] = []
    for index, tag in enumerate(tags):
        following = tags[index + 1] if index + 1 < len(tags) else "O"
        continues = following == f"I-{tag[2:]}"
        if tag.startswith("B-"):
            out.append(tag if continues else "S-" + tag[2:])
        elif tag.startswith("I-"):
            out.append(tag if continues else "E-" + tag[2:])
        else:
            out.append(tag)
    return out


def to_bio(tags: list[str]) -> list[str]:
    """BIOES -> BIO (identity on BIO)."""
    return [
        "B-" + tag[2:] if tag.startswith("S-") else "I-" + tag[2:] if tag.startswith("E-") else tag
        for tag in tags
    ]


class CRF(nn.Module):
    def __init__(self, tags: list[str]) -> None:
        super().__init__()
        size = len(tags)
        self.transitions = nn.Parameter(torch.zeros(size, size))
        self.start = nn.Parameter(torch.zeros(size))
        self.end = nn.Parameter(torch.zeros(size))
        allowed = allowed_transitions(tags)
        self.register_buffer("penalty", (~allowed).float() * NEG, persistent=False)
        bioes = is_bioes(tags)
        inside = ("I-", "E-") if bioes else ("I-",)
        start_penalty = torch.tensor([NEG if tag.startswith(inside) else 0.0 for tag in tags])
        self.register_buffer("start_penalty", start_penalty, persistent=False)
        # BIOES: a sentence cannot end inside an open span (B-X, I-X).
        end_penalty = torch.tensor([NEG if bioes and tag.startswith(("B-", "I-")) else 0.0 for tag in tags])
        self.register_buffer("end_penalty", end_penalty, persistent=False)

    def _trans(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transitions + self.penalty, self.start + self.start_penalty

    def _end(self) -> torch.Tensor:
        return self.end + self.end_penalty

    def neg_log_likelihood(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Sum over the batch of -log p(tags | emissions); emissions (B, T, K), mask (B, T)."""
        transitions, start = self._trans()
        batch, steps, _ = emissions.shape
        maskf = mask.float()
        # Score of the gold path.
        rows = torch.arange(batch)
        gold = start[tags[:, 0]] + emissions[rows, 0, tags[:, 0]]
        for t in range(1, steps):
            step = transitions[tags[:, t - 1], tags[:, t]] + emissions[rows, t, tags[:, t]]
            gold = gold + step * maskf[:, t]
        last = tags[rows, mask.long().sum(1) - 1]
        end = self._end()
        gold = gold + end[last]
        # Partition function by the forward algorithm.
        alpha = start[None, :] + emissions[:, 0]
        for t in range(1, steps):
            scores = alpha[:, :, None] + transitions[None] + emissions[:, t, None, :]
            new_alpha = torch.logsumexp(scores, dim=1)
            alpha = torch.where(mask[:, t, None], new_alpha, alpha)
        log_z = torch.logsumexp(alpha + end[None, :], dim=1)
        return (log_z - gold).sum()

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Viterbi best paths, one list of tag ids per sentence (its true length)."""
        transitions, start = self._trans()
        batch, steps, _ = emissions.shape
        score = start[None, :] + emissions[:, 0]
        history = []
        for t in range(1, steps):
            candidate = score[:, :, None] + transitions[None]
            best, index = candidate.max(dim=1)
            new_score = best + emissions[:, t]
            score = torch.where(mask[:, t, None], new_score, score)
            history.append(index)
        score = score + self._end()[None, :]
        lengths = mask.long().sum(1).numpy()
        current = score.argmax(dim=1).numpy()
        paths = np.zeros((batch, steps), dtype=np.int64)
        rows = np.arange(batch)
        back = torch.stack(history).numpy() if history else None
        # Backtrack all sentences at once; a row only starts moving once t is inside it.
        for t in range(steps - 1, -1, -1):
            paths[:, t] = current
            if t > 0 and back is not None:
                current = np.where(t < lengths, back[t - 1, rows, current], current)
        return [paths[row, : lengths[row]].tolist() for row in range(batch)]


class Tagger(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.word_emb = nn.Embedding(c.n_words, c.word_dim, padding_idx=0)
        self.stem_emb = nn.Embedding(c.n_stems, c.stem_dim, padding_idx=0)
        self.prefix_emb = nn.Embedding(c.n_prefixes, c.small_dim, padding_idx=0)
        self.shape_emb = nn.Embedding(N_SHAPES, c.small_dim, padding_idx=0)
        self.char_emb = nn.Embedding(c.n_chars, c.char_dim, padding_idx=0)
        # Widths 2-4 see clitic letters, nisba endings and syllable-like chunks of foreign names.
        self.char_cnns = nn.ModuleList(
            nn.Conv1d(c.char_dim, c.char_filters, kernel_size=k, padding=k // 2) for k in c.char_widths
        )
        self.gaz_proj = nn.Linear(c.n_gaz, 32)
        input_dim = c.word_dim + c.stem_dim + 2 * c.small_dim + len(c.char_widths) * c.char_filters + 32
        self.dropout = nn.Dropout(c.dropout)
        self.lstm = nn.LSTM(input_dim, c.hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * c.hidden, len(c.tags))
        self.crf = CRF(c.tags)
        self.char_cache: dict[tuple[int, ...], torch.Tensor] | None = None

    def _char_cnn(self, chars: torch.Tensor) -> torch.Tensor:
        """(U, W) char ids -> (U, F) max-pooled CNN features. Words are cut to the width of
        their length bucket first: most are short, so padding all to the longest wastes work."""
        if not self.training and chars.shape[0] > 256:
            lengths = (chars > 0).sum(1)
            out = torch.empty(chars.shape[0], len(self.char_cnns) * self.config.char_filters)
            low = 0
            for high in (8, 12, chars.shape[1]):
                rows = ((lengths > low) & (lengths <= high)).nonzero().squeeze(1)
                if low == 0:
                    rows = (lengths <= high).nonzero().squeeze(1)
                if len(rows):
                    out[rows] = self._char_cnn_block(chars[rows, :high])
                low = high
            return out
        return self._char_cnn_block(chars)

    def _char_cnn_block(self, chars: torch.Tensor) -> torch.Tensor:
        embedded = self.char_emb(chars).transpose(1, 2)  # (U, D, W)
        pad = chars.unsqueeze(1) == 0
        pooled = []
        for cnn in self.char_cnns:
            out = torch.relu(cnn(embedded))[:, :, : chars.shape[1]]  # even widths add a column
            pooled.append(out.masked_fill(pad, 0.0).max(dim=2).values)
        return torch.cat(pooled, dim=1)

    def _char_features(self, batch: Batch) -> torch.Tensor:
        """Char features of the batch's distinct words. At inference they are memoized per word
        (``char_cache``), since news repeats most of its vocabulary."""
        cache = self.char_cache
        if self.training or cache is None:
            return self._char_cnn(batch.chars)
        missing = [i for i, key in enumerate(batch.char_keys) if key not in cache]
        if missing:
            if len(cache) + len(missing) > CHAR_CACHE_SIZE:
                cache.clear()
            for i, row in zip(missing, self._char_cnn(batch.chars[missing]), strict=True):
                cache[batch.char_keys[i]] = row
        return torch.stack([cache[key] for key in batch.char_keys])

    def emissions(self, batch: Batch) -> torch.Tensor:
        t = batch.words.shape[1]
        # The char CNN runs once per distinct word of the batch, then is gathered per token.
        chars = self._char_features(batch)[batch.char_index]  # (B, T, F)
        x = torch.cat(
            [
                self.word_emb(batch.words),
                self.stem_emb(batch.stems),
                self.prefix_emb(batch.prefixes),
                self.shape_emb(batch.shapes),
                chars,
                torch.relu(self.gaz_proj(batch.gaz)),
            ],
            dim=-1,
        )
        x = self.dropout(x)
        packed = pack_padded_sequence(x, batch.lengths, batch_first=True, enforce_sorted=False)
        hidden, _ = self.lstm(packed)
        hidden, _ = pad_packed_sequence(hidden, batch_first=True, total_length=t)
        return self.out(self.dropout(hidden))

    def loss(self, batch: Batch, tags: torch.Tensor) -> torch.Tensor:
        return self.crf.neg_log_likelihood(self.emissions(batch), tags, batch.mask)

    def predict(self, batch: Batch) -> list[list[int]]:
        """Best tag paths."""
        return self.crf.decode(self.emissions(batch), batch.mask)


def for_inference(tagger: Tagger) -> Tagger:
    """A copy of ``tagger`` for tagging, its BiLSTM quantized to int8 on the fly (dynamic
    quantization; the small linear layers gain nothing from it): about 1.5x the tokens/s on one
    core, with the float model's tags on all but 28 of ANERcorp's 125k training tokens. On dev
    blocks they did not train on, ten models of an earlier recipe moved by -0.8 to +0.2 F1 points,
    and a block-5 model of the shipped one by -0.2 (0.7231 against 0.7251): less than a change of
    seed does. Training scores dev with the
    float model, which is deterministic on any CPU. torch has deprecated this eager-mode
    quantization: where it is gone or fails, tagging uses a float copy."""
    tagger = tagger.eval()
    quantize = getattr(getattr(torch.ao, "quantization", None), "quantize_dynamic", None)
    if quantize is not None:
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*quantiz.*deprecated")
                return quantize(tagger, {nn.LSTM}, dtype=torch.qint8)
        except (RuntimeError, NotImplementedError, AttributeError):
            pass
    return copy.deepcopy(tagger)


def batches_by_length(
    indices: list[int], lengths: list[int], max_sentences: int, max_tokens: int
) -> list[list[int]]:
    """Group sentence indices (in the given order, sorted by length within windows) into batches
    that keep padding low."""
    batches: list[list[int]] = []
    window = max_sentences * 20
    for begin in range(0, len(indices), window):
        chunk = sorted(indices[begin : begin + window], key=lambda i: lengths[i])
        current: list[int] = []
        for index in chunk:
            longest = max([lengths[i] for i in current] + [lengths[index]])
            if current and (len(current) >= max_sentences or longest * (len(current) + 1) > max_tokens):
                batches.append(current)
                current = []
            current.append(index)
        if current:
            batches.append(current)
    return batches


def predict(model: Tagger, encoded: list[Encoded], tags: list[str]) -> list[list[str]]:
    model.eval()
    lengths = [len(item) for item in encoded]
    out: list[list[str]] = [[] for _ in encoded]
    order = sorted(range(len(encoded)), key=lambda i: lengths[i])
    with torch.inference_mode():
        for group in batches_by_length(order, lengths, 128, 6000):
            group = [i for i in group if lengths[i] > 0]
            if not group:
                continue
            paths = model.predict(make_batch([encoded[i] for i in group]))
            for index, path in zip(group, paths, strict=True):
                out[index] = to_bio([tags[t] for t in path])
    return out
