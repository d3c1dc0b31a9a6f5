"""Encoding and decoding of topic messages: JSON, UTF-8, validated on both sides."""

from __future__ import annotations

import json
from typing import Any

from .schemas import SchemaError, validate
from .topics import TopicSpec


class DecodeError(ValueError):
    """A message value is not UTF-8 JSON."""


def encode(spec: TopicSpec, message: dict[str, Any]) -> bytes:
    """Validate ``message`` against the topic's schema and serialize it."""
    validate(spec.schema, message)
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode(spec: TopicSpec, value: bytes | None) -> dict[str, Any]:
    """Parse and validate one message value; raise DecodeError or SchemaError."""
    if value is None:
        raise DecodeError("message has no value (tombstone)")
    try:
        message = json.loads(value.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DecodeError(f"value is not UTF-8: {exc}") from None
    except json.JSONDecodeError as exc:
        raise DecodeError(f"value is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise SchemaError(f"{spec.schema}: at (root): expected an object, got {type(message).__name__}")
    validate(spec.schema, message)
    return message
