"""Dead-letter messages: the original payload, where it came from, and why it failed."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from .clock import iso
from .schemas import SCHEMA_VERSION

# Stable error classes; dashboards and alerts group by these.
DECODE = "decode"            # not UTF-8 / not JSON
SCHEMA = "schema"            # valid JSON that breaks the topic's schema
PROCESSING = "processing"    # the stage's core rejected or failed on the content
OUTPUT_SCHEMA = "output-schema"  # the stage produced something its output schema refuses (a bug of ours)


def dead_letter(*, stage: str, topic: str, partition: int | None, offset: int | None, key: bytes | str | None,
                value: bytes | None, error_class: str, reason: str, doc_id: str | None) -> dict[str, Any]:
    payload, encoding = _payload_text(value or b"")
    key_text = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
    # Deterministic id: the same message failing twice (after a redelivery) makes the same dead letter.
    identity = f"{topic}|{partition}|{offset}|{stage}|{hashlib.blake2b(value or b'', digest_size=8).hexdigest()}"
    return {
        "schema_version": SCHEMA_VERSION,
        "dead_letter_id": "dl-" + hashlib.blake2b(identity.encode(), digest_size=12).hexdigest(),
        "stage": stage,
        "original_topic": topic,
        "partition": partition,
        "offset": offset,
        "key": key_text,
        "payload": payload,
        "payload_encoding": encoding,
        "error_class": error_class,
        "reason": reason[:2000],
        "doc_id": doc_id,
        "failed_at": iso(),
    }


def _payload_text(value: bytes) -> tuple[str, str]:
    try:
        return value.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(value).decode("ascii"), "base64"
