"""Choosing the NER backend by setting: the shipped model (default) or CAMeL Tools' BERT."""

from __future__ import annotations

from typing import Any

from .ruler import curated_mentions


class _DefaultRecognizer:
    """The project's own model behind the recognizer interface the stage uses."""

    def __init__(self) -> None:
        from .ner import default_model

        self.model = default_model()
        self.name = "marsad-default"

    def extract(self, text: str) -> list[Any]:
        if not text.strip():
            return []
        found = list(self.model.extract(text))
        added, replaced = curated_mentions(text, found)
        kept = [m for m in found if m not in replaced]
        return sorted([*kept, *added], key=lambda m: m.start)


def load_recognizer(backend: str = "default") -> Any:
    if backend == "default":
        return _DefaultRecognizer()
    if backend == "camel-bert":
        from .bert_backend import load_camel_recognizer

        return load_camel_recognizer(None)
    raise ValueError(f"unknown NER backend {backend!r} (MARSAD_NER_BACKEND: default or camel-bert)")
