"""The topic contracts: schema files, example messages, and the AsyncAPI document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator

from services.common.codec import DecodeError, decode, encode
from services.common.schemas import SchemaError, schemas_dir, validate
from services.common.topics import ALL_TOPICS, DEAD_LETTERS, EVENT_UPDATES, RAW_DOCUMENTS
from tests.conftest import ROOT

SCHEMA_FILES = sorted(p.name for p in schemas_dir().glob("*.schema.json"))
ASYNCAPI_META = ROOT / ".venv" / "share" / "asyncapi" / "3.0.0.json"


def raw_document(**overrides: Any) -> dict[str, Any]:
    message = {"schema_version": 1, "doc_id": "d1", "source": "example", "content_type": "text/plain",
               "content": "نص الخبر", "received_at": "2026-11-10T08:00:00Z"}
    message.update(overrides)
    return message


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_every_schema_is_valid_draft_2020_12(name: str) -> None:
    document = json.loads((schemas_dir() / name).read_text())
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(document)


def test_every_topic_schema_requires_schema_version() -> None:
    from services.common.schemas import validator

    for spec in ALL_TOPICS:
        messages = [error.message for error in validator(spec.schema).iter_errors({})]
        assert any("'schema_version' is a required property" in m for m in messages), spec.schema


def test_raw_document_round_trip_and_rejections() -> None:
    message = raw_document()
    assert decode(RAW_DOCUMENTS, encode(RAW_DOCUMENTS, message)) == message
    from_feed = raw_document(title="عنوان", published_at="2026-11-10T07:00:00Z", author="سارة الأحمد")
    assert decode(RAW_DOCUMENTS, encode(RAW_DOCUMENTS, from_feed)) == from_feed
    with pytest.raises(SchemaError, match="author"):
        encode(RAW_DOCUMENTS, raw_document(author="ع" * 501))
    with pytest.raises(SchemaError, match="received_at"):
        encode(RAW_DOCUMENTS, raw_document(received_at="yesterday"))
    with pytest.raises(SchemaError, match="content_type"):
        encode(RAW_DOCUMENTS, raw_document(content_type="application/pdf"))
    with pytest.raises(SchemaError):
        encode(RAW_DOCUMENTS, raw_document(unexpected="field"))
    with pytest.raises(DecodeError, match="not JSON"):
        decode(RAW_DOCUMENTS, b"{not json")
    with pytest.raises(DecodeError, match="not UTF-8"):
        decode(RAW_DOCUMENTS, "خبر".encode("cp1256"))


def test_enriched_article_extends_clean_article_and_checks_entities() -> None:
    clean = {"schema_version": 1, "article_id": "d1", "doc_id": "d1", "source": "s", "title": "عنوان",
             "text": "دمشق مدينة", "normalized_text": "دمشق مدينه", "lead": "دمشق مدينة", "language": "ar",
             "received_at": "2026-11-10T08:00:00Z", "cleaned_at": "2026-11-10T08:00:01Z",
             "content_hash": "0" * 32}
    validate("clean-article.schema.json", clean)
    entity = {"type": "LOC", "canonical_id": "LOC:0123456789abcdef", "canonical_name": "دمشق",
              "surface_forms": ["دمشق"], "mentions": [{"start": 0, "end": 4, "text": "دمشق", "in_title": False}],
              "count": 1, "salience": 1.0}
    enriched = {**clean, "entities": [entity], "ner_model": "m", "enriched_at": "2026-11-10T08:00:02Z"}
    validate("enriched-article.schema.json", enriched)
    with pytest.raises(SchemaError):
        validate("clean-article.schema.json", enriched)  # clean articles carry no entities
    with pytest.raises(SchemaError, match="type"):
        validate("enriched-article.schema.json", {**enriched, "entities": [{**entity, "type": "CITY"}]})
    with pytest.raises(SchemaError, match="mentions"):
        validate("enriched-article.schema.json", {**enriched, "entities": [{**entity, "mentions": []}]})


def test_event_update_and_dead_letter_examples() -> None:
    update = {"schema_version": 1, "event_id": "ev-1", "version": 1, "status": "new", "merged_into": None,
              "title": "t", "summary": "s", "article_count": 1, "syndicated_count": 0, "sources": ["a"],
              "source_count": 1, "first_seen": "2026-11-10T08:00:00Z", "last_seen": "2026-11-10T08:00:00Z",
              "updated_at": "2026-11-10T08:00:00Z", "velocity": 1.0, "primary_location": None,
              "top_entities": {"LOC": [{"canonical_id": "LOC:0123456789abcdef", "name": "دمشق", "count": 1}]},
              "articles": [{"article_id": "d1", "source": "a", "title": "t", "url": None, "published_at": None,
                            "source_path": "x.txt", "duplicate_of": None}]}
    encode(EVENT_UPDATES, update)
    with pytest.raises(SchemaError, match="status"):
        encode(EVENT_UPDATES, {**update, "status": "closed"})
    with pytest.raises(SchemaError):
        encode(EVENT_UPDATES, {**update, "top_entities": {"CITY": []}})
    from services.common.dead_letters import dead_letter

    letter = dead_letter(stage="ingest", topic="marsad.raw-documents", partition=0, offset=7, key=b"d1",
                         value=b"\xff\xfe", error_class="decode", reason="not UTF-8", doc_id="d1")
    encode(DEAD_LETTERS, letter)
    assert letter["payload_encoding"] == "base64"
    again = dead_letter(stage="ingest", topic="marsad.raw-documents", partition=0, offset=7, key=b"d1",
                        value=b"\xff\xfe", error_class="decode", reason="not UTF-8", doc_id="d1")
    assert again["dead_letter_id"] == letter["dead_letter_id"]  # a redelivered failure is recognisable


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_asyncapi_document_is_valid_and_uses_the_same_schema_files() -> None:
    if not ASYNCAPI_META.exists():
        pytest.fail(f"{ASYNCAPI_META} missing: run `make setup` (it fetches the AsyncAPI 3.0 JSON Schema)")
    document = yaml.safe_load((schemas_dir() / "asyncapi.yaml").read_text())
    meta = json.loads(ASYNCAPI_META.read_text())
    errors = sorted(Draft7Validator(meta).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors[:5]]
    assert document["asyncapi"] == "3.0.0"
    file_refs = {Path(r).name for r in _refs(document) if not r.startswith("#")}
    topic_schemas = {spec.schema for spec in ALL_TOPICS}
    assert file_refs == topic_schemas
    for ref in file_refs:
        assert (schemas_dir() / ref).exists()
    addresses = {channel["address"].replace("{prefix}", "") for channel in document["channels"].values()}
    assert addresses == {spec.name for spec in ALL_TOPICS}


def test_the_compiled_validator_agrees_with_jsonschema() -> None:
    # Messages are checked by jsonschema-rs for speed and by jsonschema for the error message:
    # both must draw the line in the same place.
    from services.common.schemas import compiled, validator

    clean = {"schema_version": 1, "article_id": "d1", "doc_id": "d1", "source": "s", "title": "عنوان",
             "text": "دمشق", "normalized_text": "دمشق", "lead": "دمشق", "language": "ar",
             "received_at": "2026-11-10T08:00:00Z", "cleaned_at": "2026-11-10T08:00:01Z", "content_hash": "0" * 32}
    samples = [
        ("raw-document.schema.json", raw_document()),
        ("raw-document.schema.json", raw_document(received_at="yesterday")),
        ("raw-document.schema.json", raw_document(received_at="2026-11-10T08:00:00")),  # no offset
        ("raw-document.schema.json", raw_document(unexpected="field")),
        ("raw-document.schema.json", raw_document(doc_id="no spaces allowed")),
        ("clean-article.schema.json", clean),
        ("clean-article.schema.json", {**clean, "entities": []}),
        ("enriched-article.schema.json", {**clean, "entities": [], "ner_model": "m",
                                          "enriched_at": "2026-11-10T08:00:02Z"}),
        ("enriched-article.schema.json", {**clean, "entities": [], "ner_model": "m",
                                          "enriched_at": "2026-11-10T08:00:02Z", "extra": 1}),
        ("clean-article.schema.json", {**clean, "schema_version": "1"}),
    ]
    verdicts = [(compiled(name).is_valid(message), validator(name).is_valid(message)) for name, message in samples]
    assert all(fast == slow for fast, slow in verdicts), verdicts
    assert [fast for fast, _ in verdicts] == [True, False, False, False, False, True, False, True, False, False]
