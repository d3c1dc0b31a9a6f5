"""Choosing the NER backend by setting: the shipped model (default) or CAMeL Tools' BERT."""

from __future__ import annotations

from typing import Any


class _DefaultRecognizer:
    """The project's own model behind the recognizer interface the stage uses."""

    def __init__(self) -> None:
        from .ner import default_model

        self.model = default_model()
        self.name = "marsad-default"

    def extract(self, text: str) -> list[Any]:
        return list(self.model.extract(text)) if text.strip() else []


def load_recognizer(backend: str = "default") -> Any:
    if backend == "default":
        return _DefaultRecognizer()
    raise ValueError(f"unknown NER backend {backend!r} (MARSAD_NER_BACKEND: default)")
