"""Timestamps as the schemas write them: ISO 8601, UTC, seconds precision or better."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None = None) -> str:
    moment = moment or utc_now()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_epoch(text: str | None) -> float | None:
    return parse_iso(text).timestamp() if text else None


def normalize_timestamp(text: str | None) -> str | None:
    """Any ISO-like date or date-time (``2026-11-11``, ``...T09:30:00+0300``) as the schemas write
    them, or None when it cannot be read. A bare date means its midnight, UTC."""
    if not text:
        return None
    try:
        return iso(parse_iso(text.strip()))
    except ValueError:
        return None
