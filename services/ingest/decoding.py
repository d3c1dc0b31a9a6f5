"""Bytes to text: the declared charset, a byte-order mark, the page's <meta>, then detection.

Declarations are often wrong (a windows-1256 page served as ISO-8859-1 decodes without error into
Latin-1 gibberish), so a declared or <meta> charset is accepted only when its text does not look
like mis-decoded Arabic; otherwise the next source of evidence decides.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Literal

from charset_normalizer import from_bytes

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_META_PROBE = 4096
_ARABIC = re.compile("[\u0600-\u06ff]")
# What Arabic bytes look like when decoded as a Western single-byte charset: Latin-1 letters.
_MOJIBAKE = re.compile("[\u00c0-\u00ff]")
_DETECTION_CANDIDATES = ["cp1256", "iso8859_6", "utf_8", "cp1252"]


# What decided the charset, a small fixed set so it can be a metric label.
Evidence = Literal["bom", "declared", "meta", "utf-8", "detected"]


class DecodingError(ValueError):
    """The bytes are not text in any encoding we can recognise."""


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # the codec that produced ``text``
    evidence: Evidence


def meta_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:_META_PROBE])
    return match.group(1).decode("ascii", "replace") if match else None


def decode(data: bytes, declared: str | None = None) -> Decoded:
    """``data`` as text, with the charset used and what chose it; raises :class:`DecodingError`."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return Decoded(data.decode(encoding), encoding, "bom")
    candidates: tuple[tuple[str | None, Evidence], ...] = (
        (declared, "declared"), (meta_charset(data), "meta"), ("utf-8", "utf-8"))
    for candidate, evidence in candidates:
        text = _try(data, candidate)
        if candidate and text is not None and not _looks_misdecoded(text):
            return Decoded(text, candidate, evidence)
    best = from_bytes(data, cp_isolation=_DETECTION_CANDIDATES).best()
    if best is None:
        raise DecodingError(f"{len(data)} bytes are not text in a recognisable encoding"
                            + (f" (declared {declared!r} does not fit)" if declared else ""))
    return Decoded(str(best), best.encoding, "detected")


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    return decode(data, declared).text


def _try(data: bytes, encoding: str | None) -> str | None:
    if not encoding:
        return None
    try:
        return data.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        return None


def _looks_misdecoded(text: str) -> bool:
    """Many Latin-1 letters and no Arabic at all: Arabic bytes read with the wrong table."""
    sample = text[:20000]
    latin1_letters = len(_MOJIBAKE.findall(sample))
    return latin1_letters > 20 and latin1_letters > 0.05 * len(sample) and not _ARABIC.search(sample)
