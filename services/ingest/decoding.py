"""Bytes to text: declared charset first, then a byte-order mark, then detection."""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class DecodingError(ValueError):
    """The bytes are not text in any encoding we can recognise."""


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    if declared:
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration is common; fall through to evidence in the bytes
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data, cp_isolation=["cp1256", "iso8859_6", "utf_8", "cp1252"]).best()
    if best is None:
        raise DecodingError(f"{len(data)} bytes are not text in a recognisable encoding")
    return str(best)
