"""The event record kept in Redis, and the event-update message built from it. No I/O."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from services.common.clock import iso
from services.common.schemas import SCHEMA_VERSION

from .clustering import EventProfile, PreparedArticle
from .features import terms_of

TOP_ENTITIES_PER_TYPE = 5
_SENTENCE_END = re.compile(r"(?<=[.!؟?])\s+")


def event_id_for(article_id: str) -> str:
    """An event is named after the article that opened it, so a replay names it the same."""
    return "ev-" + hashlib.blake2b(article_id.encode("utf-8"), digest_size=8).hexdigest()


def member_of(article: dict[str, Any], timestamp: float) -> dict[str, Any]:
    """What an event keeps of one member article."""
    return {
        "article_id": article["article_id"],
        "source": article["source"],
        "title": article.get("title") or "",
        "url": article.get("url"),
        "published_at": article.get("published_at"),
        "source_path": article.get("source_path"),
        "duplicate_of": article.get("duplicate_of"),
        "lead": article.get("lead") or "",
        "timestamp": timestamp,
    }


@dataclass
class EventRecord:
    """An event's state. ``members`` is stored apart from the rest (a Redis list) so that scoring
    candidates never loads the member lists of big events."""

    profile: EventProfile
    version: int = 0
    status: str = "new"
    merged_into: str | None = None
    members: list[dict[str, Any]] = field(default_factory=list)
    entity_info: dict[str, list[str]] = field(default_factory=dict)  # canonical_id -> [type, name]
    syndicated: int = 0
    indexed_terms: list[str] = field(default_factory=list)  # what the inverted index files it under

    def to_json(self) -> dict[str, Any]:
        # Written by hand: dataclasses.asdict deep-copies every vector, which cost more than scoring.
        return {"profile": self.profile.to_json(), "version": self.version, "status": self.status,
                "merged_into": self.merged_into, "entity_info": self.entity_info, "syndicated": self.syndicated,
                "indexed_terms": self.indexed_terms}

    @classmethod
    def from_json(cls, data: dict[str, Any], members: list[dict[str, Any]] | None = None) -> EventRecord:
        return cls(profile=EventProfile(**data["profile"]), version=data["version"], status=data["status"],
                   merged_into=data.get("merged_into"), members=members or [],
                   entity_info=data["entity_info"], syndicated=data.get("syndicated", 0),
                   indexed_terms=data.get("indexed_terms", []))

    @classmethod
    def stored(cls, raw: str, members: Iterable[str] = ()) -> EventRecord:
        """The record from its stored form: the record's JSON and its members' JSON entries."""
        return cls.from_json(json.loads(raw), [json.loads(member) for member in members])

    def add(self, article: dict[str, Any], prepared: PreparedArticle, syndicated: bool) -> dict[str, Any]:
        """Take the article in; returns the member entry to append to the stored list."""
        self.profile.absorb(prepared)
        member = member_of(article, prepared.features.timestamp)
        self.members.append(member)
        for entity in article.get("entities", []):
            self.entity_info.setdefault(entity["canonical_id"], [entity["type"], entity["canonical_name"]])
        self.syndicated += int(syndicated)
        self.version += 1
        self.status = "new" if self.version == 1 else "updated"
        return member

    def absorb_event(self, other: EventRecord) -> None:
        """Take in a whole event that turned out to be this one."""
        self.profile.merge(other.profile)
        known = {m["article_id"] for m in self.members}
        self.members.extend(m for m in other.members if m["article_id"] not in known)
        self.members.sort(key=lambda m: (m["timestamp"], m["article_id"]))
        for canonical_id, info in other.entity_info.items():
            self.entity_info.setdefault(canonical_id, info)
        self.syndicated += other.syndicated
        self.version += 1
        self.status = "updated"

    def mark_merged(self, survivor: str) -> None:
        self.status = "merged"
        self.merged_into = survivor
        self.version += 1

    def mark_dormant(self) -> None:
        self.status = "dormant"
        self.version += 1

    @property
    def active(self) -> bool:
        return self.status in ("new", "updated")


def representative(record: EventRecord) -> dict[str, Any]:
    """The member whose headline best covers the event's vocabulary (ties: the earliest)."""
    def coverage(member: dict[str, Any]) -> float:
        words = _title_terms(member["title"])
        if not words:
            return 0.0
        return sum(record.profile.terms.get(w, 0.0) for w in words) / (len(words) ** 0.5)

    return max(record.members, key=lambda m: (coverage(m), -m["timestamp"], m["article_id"]))


@lru_cache(maxsize=8192)
def _title_terms(title: str) -> tuple[str, ...]:
    # Every update re-ranks all member headlines; each is tokenized once per worker, not per update.
    return tuple(terms_of(title))


def first_sentence(text: str) -> str:
    text = text.strip()
    return _SENTENCE_END.split(text, maxsplit=1)[0] if text else ""


def update_message(event_id: str, record: EventRecord) -> dict[str, Any]:
    profile = record.profile
    best = representative(record) if record.members else None
    by_type: dict[str, list[dict[str, Any]]] = {}
    ranked = sorted(profile.entities.items(), key=lambda item: (-item[1], item[0]))
    for canonical_id, count in ranked:
        entity_type, name = record.entity_info.get(canonical_id, ["MISC", canonical_id])
        bucket = by_type.setdefault(entity_type, [])
        if len(bucket) < TOP_ENTITIES_PER_TYPE:
            bucket.append({"canonical_id": canonical_id, "name": name, "count": count})
    sources = sorted({m["source"] for m in record.members})
    span_hours = max((profile.last_ts - profile.first_ts) / 3600.0, 1.0)
    return {
        "schema_version": SCHEMA_VERSION,
        "event_id": event_id,
        "version": record.version,
        "status": record.status,
        "merged_into": record.merged_into,
        "title": best["title"] if best else "",
        "summary": first_sentence(best["lead"]) if best else "",
        "article_count": len(record.members),
        "syndicated_count": record.syndicated,
        "sources": sources,
        "source_count": len(sources),
        "first_seen": iso(datetime.fromtimestamp(profile.first_ts, UTC)),
        "last_seen": iso(datetime.fromtimestamp(profile.last_ts, UTC)),
        "updated_at": iso(),
        "velocity": round(len(record.members) / span_hours, 4),
        "primary_location": (by_type.get("LOC") or [None])[0],
        "top_entities": by_type,
        "articles": [{k: m[k] for k in ("article_id", "source", "title", "url", "published_at", "source_path",
                                         "duplicate_of")}
                     for m in sorted(record.members, key=lambda m: (m["timestamp"], m["article_id"]))],
    }
