"""Word vectors learned from the training text itself (no pretrained weights are available).

Positive PMI over a small symmetric window, factorized by a seeded truncated SVD: a cheap,
deterministic stand-in for word2vec that gives rare words and their spelling relatives
neighbours in vector space before the tagger starts training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.utils.extmath import randomized_svd
from threadpoolctl import threadpool_limits

from services.entities.features import UNK, Vocab


def ppmi_svd(
    sentences: Sequence[Sequence[str]], vocab: Vocab, dim: int, window: int = 3, seed: int = 0
) -> np.ndarray:
    """(len(vocab), dim) float32 matrix; rows for PAD/UNK and words too rare to place are zero.

    ``sentences`` must already be in the vocabulary's form (normalized words or stems)."""
    size = len(vocab)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for sentence in sentences:
        ids = [vocab.get(item) for item in sentence]
        for i, center in enumerate(ids):
            if center <= UNK:
                continue
            for offset in range(1, window + 1):
                j = i + offset
                if j >= len(ids):
                    break
                if ids[j] > UNK:
                    weight = 1.0 / offset  # nearer neighbours count more
                    rows += [center, ids[j]]
                    cols += [ids[j], center]
                    vals += [weight, weight]
    counts = sparse.coo_matrix((vals, (rows, cols)), shape=(size, size), dtype=np.float64).tocsr()
    counts.sum_duplicates()
    total = counts.sum()
    if total == 0:
        return np.zeros((size, dim), dtype=np.float32)
    row_sum = np.asarray(counts.sum(axis=1)).ravel()
    col_sum = np.asarray(counts.sum(axis=0)).ravel() ** 0.75  # context smoothing (Levy et al.)
    col_sum /= col_sum.sum()
    coo = counts.tocoo()
    pmi = np.log(coo.data / total) - np.log(row_sum[coo.row] / total) - np.log(col_sum[coo.col])
    keep = pmi > 0
    ppmi = sparse.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=(size, size))
    k = min(dim, size - 1)
    # One BLAS thread: the thread count changes the sums' rounding, and so the vectors and the
    # model trained from them, from one machine to another.
    with threadpool_limits(limits=1):
        u, s, _ = randomized_svd(ppmi, n_components=k, n_iter=5, random_state=seed)
    vectors = u * np.sqrt(s)[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    out = np.zeros((size, dim), dtype=np.float32)
    out[:, :k] = vectors
    return out
