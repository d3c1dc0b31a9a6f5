"""Bytes to text: the declared charset, a byte-order mark, the page's <meta>, then detection.

Declarations are often wrong (a windows-1256 page served as ISO-8859-1 decodes without error into
Latin-1 gibberish), so a declared or <meta> charset is accepted only when its text does not look
like mis-decoded Arabic; otherwise the next source of evidence decides.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_META_PROBE = 4096
_ARABIC = re.compile("[\u0600-\u06ff]")
# What Arabic bytes look like when decoded as a Western single-byte charset: Latin-1 letters.
_MOJIBAKE = re.compile("[\u00c0-\u00ff]")
_DETECTION_CANDIDATES = ["cp1256", "iso8859_6", "utf_8", "cp1252"]


class DecodingError(ValueError):
    """The bytes are not text in any encoding we can recognise."""


def meta_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:_META_PROBE])
    return match.group(1).decode("ascii", "replace") if match else None


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    for candidate in (declared, meta_charset(data), "utf-8"):
        text = _try(data, candidate)
        if text is not None and not _looks_misdecoded(text):
            return text
    best = from_bytes(data, cp_isolation=_DETECTION_CANDIDATES).best()
    if best is None:
        raise DecodingError(f"{len(data)} bytes are not text in a recognisable encoding"
                            + (f" (declared {declared!r} does not fit)" if declared else ""))
    return str(best)


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
