"""From a raw document to a clean-article message: decode, clean, normalize, fingerprint. No I/O."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any

from services.common.arabic import arabic_ratio, normalize_display, normalize_for_matching
from services.common.clock import iso, normalize_timestamp
from services.common.schemas import SCHEMA_VERSION

from .cleaning import ChromeOracle, CleanedDocument, CleaningError, clean_page, clean_text, extract
from .decoding import Decoded, DecodingError, Evidence, decode
from .html import ExtractedPage, KnownMetadata

ARABIC_MIN_RATIO = 0.5


def raw_text(raw: dict[str, Any]) -> str:
    """The document's content as text, decoding base64 bytes with their charset or by detection."""
    decoded = decode_raw(raw)
    return decoded.text if decoded else str(raw["content"])


def decode_raw(raw: dict[str, Any]) -> Decoded | None:
    """The document's base64 bytes decoded, or None when its content is text already."""
    if raw.get("content_encoding", "text") != "base64":
        return None
    try:
        data = base64.b64decode(raw["content"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecodingError(f"content is marked base64 but is not: {exc}") from None
    return decode(data, raw.get("charset"))


@dataclass(frozen=True)
class Extracted:
    """A document between its expensive half (decoding, HTML extraction) and its line passes.

    ``lines`` are what a per-source chrome model looks at before the line passes run."""

    raw: dict[str, Any]
    text: str
    page: ExtractedPage | None
    charset_evidence: Evidence | None  # what chose the charset; None when the content came as text

    @property
    def lines(self) -> list[str]:
        return [line for line in (self.page.text if self.page else self.text).splitlines() if line.strip()]


def extract_document(raw: dict[str, Any]) -> Extracted:
    """Decode and, for HTML, extract the main text; raises CleaningError or DecodingError."""
    decoded = decode_raw(raw)
    text = decoded.text if decoded else str(raw["content"])
    page = None
    if raw["content_type"] == "text/html":
        page = extract(text, url=raw.get("url"), known=known_metadata(raw))
    return Extracted(raw, text, page, decoded.evidence if decoded else None)


def known_metadata(raw: dict[str, Any]) -> KnownMetadata | None:
    """The title, date and author the document came with (from its feed entry), when it has both a
    title and a date: then the page is not searched for them. None otherwise, and the page's win."""
    title, published_at = (raw.get("title") or "").strip(), raw.get("published_at")
    if not (title and published_at):
        return None
    return KnownMetadata(title=title, published_at=published_at, author=raw.get("author") or None)


def finish_cleaning(extracted: Extracted, is_known_chrome: ChromeOracle | None = None) -> CleanedDocument:
    if extracted.page is not None:
        return clean_page(extracted.page, is_known_chrome=is_known_chrome)
    return clean_text(extracted.text, title_hint=extracted.raw.get("title"), is_known_chrome=is_known_chrome)


def clean_document(raw: dict[str, Any], is_known_chrome: ChromeOracle | None = None) -> CleanedDocument:
    """Clean a raw document; raises CleaningError or DecodingError with the reason."""
    return finish_cleaning(extract_document(raw), is_known_chrome)


def content_hash(text: str) -> str:
    return hashlib.blake2b(normalize_for_matching(text).encode("utf-8"), digest_size=16).hexdigest()


def detect_language(cleaned: CleanedDocument) -> str:
    if cleaned.language:
        return cleaned.language
    return "ar" if arabic_ratio(cleaned.text) >= ARABIC_MIN_RATIO else "und"


def build_article(raw: dict[str, Any], cleaned: CleanedDocument, *, duplicate_of: str | None = None) -> dict[str, Any]:
    text = cleaned.text
    return {
        "schema_version": SCHEMA_VERSION,
        "article_id": raw["doc_id"],
        "doc_id": raw["doc_id"],
        "source": raw["source"],
        "source_path": raw.get("source_path"),
        "url": raw.get("url"),
        "title": normalize_display(cleaned.title or raw.get("title") or ""),
        "text": text,
        "normalized_text": normalize_for_matching(text),
        "lead": cleaned.lead,
        "author": cleaned.author,
        "language": detect_language(cleaned),
        "published_at": normalize_timestamp(raw.get("published_at") or cleaned.published_at),
        "received_at": raw["received_at"],
        "cleaned_at": iso(),
        "content_hash": content_hash(text),
        "duplicate_of": duplicate_of if duplicate_of != raw["doc_id"] else None,
    }


__all__ = ["CleaningError", "DecodingError", "Extracted", "build_article", "clean_document", "content_hash",
           "decode_raw", "extract_document", "finish_cleaning", "known_metadata", "raw_text"]
