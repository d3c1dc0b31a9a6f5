"""Garbage-collector settings for long-running workers.

A worker allocates many short-lived dicts and lists per message and holds a large, long-lived heap
(models, caches, vocabularies). CPython's default collector runs a young-generation pass every 700
allocations and, every so often, a full pass over that whole heap: on the events stage this was
a quarter of the CPU per article. Objects that exist once a worker has started are frozen out of
collection (they live as long as the process), and young passes run less often.
"""

from __future__ import annotations

import gc

# Young-generation threshold: about one message's allocations, rather than a fraction of one.
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Call once start-up is over (imports done, models loaded): collect what start-up left, keep
    the rest out of later collections, and collect young objects less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
