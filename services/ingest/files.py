"""Documents from local files for replays: .txt, .html, .json/.jsonl raw documents, SaudiNewsNet zips.

Directories are walked recursively in name order so a replay is repeatable. Each file becomes a
raw-document message; a JSON record that breaks the raw-document schema comes out as an
:class:`InvalidRecord` so the caller can dead-letter it instead of losing it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from services.common.clock import iso
from services.common.schemas import SCHEMA_VERSION, SchemaError, validate

RAW_SCHEMA = "raw-document.schema.json"
SUPPORTED_SUFFIXES = (".txt", ".html", ".htm", ".json", ".jsonl", ".zip")
# SaudiNewsNet's date_extracted is local time in Riyadh.
_RIYADH = timezone(timedelta(hours=3))


@dataclass(frozen=True)
class InvalidRecord:
    source_path: str
    reason: str
    payload: str


def document_id(*parts: str | bytes) -> str:
    digest = hashlib.blake2b(digest_size=12)
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode("utf-8"))
        digest.update(b"\x00")
    return "d" + digest.hexdigest()


def iter_paths(paths: Iterable[str | Path]) -> Iterator[Path]:
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield child
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")


def iter_documents(paths: Iterable[str | Path]) -> Iterator[dict[str, Any] | InvalidRecord]:
    """Raw-document messages (dicts, schema-valid) or invalid records, file by file."""
    for path in iter_paths(paths):
        suffix = path.suffix.lower()
        if suffix in (".txt", ".html", ".htm"):
            yield file_document(path)
        elif suffix == ".jsonl":
            yield from _jsonl_documents(path)
        elif suffix == ".json":
            yield from _json_documents(path)
        elif suffix == ".zip":
            yield from saudinewsnet_documents(path)
        else:
            yield InvalidRecord(str(path), f"unsupported file type {suffix!r}", "")


def file_document(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    content_type = "text/html" if path.suffix.lower() in (".html", ".htm") else "text/plain"
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "doc_id": document_id(path.name, data),
        "source": path.parent.name or "local",
        "source_path": str(path),
        "url": None,
        "title": None,
        "published_at": None,
        "received_at": iso(),
        "content_type": content_type,
    }
    try:
        document["content"] = data.decode("utf-8")
        document["content_encoding"] = "text"
    except UnicodeDecodeError:
        # Legacy Arabic encodings (windows-1256, ISO-8859-6): ingest detects and decodes them.
        document["content"] = base64.b64encode(data).decode("ascii")
        document["content_encoding"] = "base64"
    return document


def _check(record: Any, where: str, raw: str) -> dict[str, Any] | InvalidRecord:
    try:
        validate(RAW_SCHEMA, record)
    except SchemaError as exc:
        return InvalidRecord(where, str(exc), raw)
    return record


def _jsonl_documents(path: Path) -> Iterator[dict[str, Any] | InvalidRecord]:
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield InvalidRecord(where, f"not JSON: {exc}", line)
                continue
            yield _check(_with_path(record, where), where, line)


def _json_documents(path: Path) -> Iterator[dict[str, Any] | InvalidRecord]:
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        yield InvalidRecord(str(path), f"not JSON: {exc}", text)
        return
    records = data if isinstance(data, list) else [data]
    for index, record in enumerate(records):
        where = f"{path}#{index}" if isinstance(data, list) else str(path)
        yield _check(_with_path(record, where), where, json.dumps(record, ensure_ascii=False))


def _with_path(record: Any, where: str) -> Any:
    if isinstance(record, dict) and not record.get("source_path"):
        record = {**record, "source_path": where}
    return record


def saudinewsnet_documents(path: Path) -> Iterator[dict[str, Any] | InvalidRecord]:
    """Articles of one SaudiNewsNet day file (a zip holding one JSON array)."""
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if not member.endswith(".json"):
                continue
            articles = json.loads(archive.read(member).decode("utf-8"))
            for index, article in enumerate(articles):
                where = f"{path}#{index}"
                try:
                    yield _saudinewsnet_document(article, where)
                except (KeyError, TypeError, ValueError) as exc:
                    yield InvalidRecord(where, f"not a SaudiNewsNet article: {exc}",
                                        json.dumps(article, ensure_ascii=False))


def _saudinewsnet_document(article: dict[str, Any], where: str) -> dict[str, Any]:
    content = article["content"] or ""
    published = None
    if article.get("date_extracted"):
        moment = datetime.strptime(article["date_extracted"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=_RIYADH)
        published = iso(moment)
    document = {
        "schema_version": SCHEMA_VERSION,
        "doc_id": document_id(article.get("url") or where, content),
        "source": article["source"] or "saudinewsnet",
        "source_path": where,
        "url": article.get("url") or None,
        "title": article.get("title") or None,
        "published_at": published,
        "received_at": iso(),
        "content_type": "text/plain",
        "content_encoding": "text",
        "content": content,
    }
    validate(RAW_SCHEMA, document)
    return document
