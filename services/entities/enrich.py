"""From a clean article to an enriched one: recognize, place, canonicalize. No I/O."""

from __future__ import annotations

from typing import Any, Protocol

from services.common.clock import iso

from .extract import Extraction, MentionLike, PlacedMention, RegistrySnapshot, build_entities, place_mentions


class Recognizer(Protocol):
    name: str

    def extract(self, text: str) -> list[MentionLike]: ...


def recognize(article: dict[str, Any], recognizer: Recognizer) -> list[PlacedMention]:
    text = article["text"]
    lead = article.get("lead") or ""
    lead_end = text.find(lead) + len(lead) if lead and lead in text else len(text.split("\n", 1)[0])
    return place_mentions(recognizer.extract(article.get("title") or ""), recognizer.extract(text), lead_end)


def enriched_message(article: dict[str, Any], extraction: Extraction, model_name: str) -> dict[str, Any]:
    return {**article, "entities": extraction.entities, "ner_model": model_name, "enriched_at": iso()}


def enrich(article: dict[str, Any], recognizer: Recognizer,
           registry: RegistrySnapshot | None = None) -> dict[str, Any]:
    """Recognize and canonicalize in one go (no registry: names are resolved within the article)."""
    extraction = build_entities(recognize(article, recognizer), registry)
    return enriched_message(article, extraction, recognizer.name)
