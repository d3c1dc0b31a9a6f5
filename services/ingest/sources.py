"""The sources file: which outlets to poll, how, and how often.

A TOML file with one ``[[source]]`` table per outlet::

    [[source]]
    name = "sindyan-news"          # outlet id: the raw documents' ``source``, metric label, Redis key
    kind = "rss"                   # rss | atom | sitemap (a news sitemap) | page (one article URL)
    url = "https://example.org/feed.xml"
    interval = 300                 # seconds between polls (default 300)
    language = "ar"                # optional, passed on to the raw documents
    charset = "windows-1256"       # optional, overrides the charset the server declares
    enabled = true                 # optional, default true

Everything is checked when the file is loaded, and an error names the file, the source and the
field, so a typo fails at start-up rather than as a silent gap in the news.
"""

from __future__ import annotations

import codecs
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SOURCE_KINDS = ("rss", "atom", "sitemap", "page")
DEFAULT_INTERVAL = 300.0
MIN_INTERVAL = 1.0
# The name becomes a Redis key part and a metric label: keep it short and plain.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_FIELDS = ("name", "kind", "url", "interval", "language", "charset", "enabled")


class SourcesError(ValueError):
    """The sources file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Source:
    name: str
    kind: str
    url: str
    interval: float = DEFAULT_INTERVAL
    language: str | None = None
    charset: str | None = None
    enabled: bool = True


def load_sources(path: str | Path) -> list[Source]:
    """Every source of the file, enabled or not, in file order."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourcesError(f"{path}: cannot read the sources file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise SourcesError(f"{path}: not UTF-8 text: {exc}") from None
    return parse_sources(text, origin=str(path))


def parse_sources(text: str, origin: str = "<sources>") -> list[Source]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"{origin}: not valid TOML: {exc}") from None
    unknown = sorted(set(document) - {"source"})
    if unknown:
        raise SourcesError(f"{origin}: unknown top-level key(s) {', '.join(unknown)} "
                           "(sources are [[source]] tables)")
    tables = document.get("source")
    if not isinstance(tables, list) or not tables:
        raise SourcesError(f"{origin}: no [[source]] tables")
    sources: list[Source] = []
    names: set[str] = set()
    for index, table in enumerate(tables, start=1):
        source = _source(table, f"{origin}: source #{index}")
        if source.name in names:
            raise SourcesError(f"{origin}: source #{index}: name {source.name!r} is used twice")
        names.add(source.name)
        sources.append(source)
    return sources


def _source(table: dict[str, Any], where: str) -> Source:
    name = table.get("name")
    if isinstance(name, str) and _NAME.match(name):
        where = f"{where} ({name})"
    unknown = sorted(set(table) - set(_FIELDS))
    if unknown:
        raise SourcesError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(_FIELDS)}")
    return Source(
        name=_name(table, where),
        kind=_kind(table, where),
        url=_url(table, where),
        interval=_interval(table, where),
        language=_optional_text(table, "language", where, max_length=16),
        charset=_charset(table, where),
        enabled=_enabled(table, where),
    )


def _required_text(table: dict[str, Any], field: str, where: str) -> str:
    if field not in table:
        raise SourcesError(f"{where}: field {field!r} is missing")
    value = table[field]
    if not isinstance(value, str) or not value.strip():
        raise SourcesError(f"{where}: field {field!r} must be a non-empty string, not {value!r}")
    return value.strip()


def _name(table: dict[str, Any], where: str) -> str:
    name = _required_text(table, "name", where)
    if not _NAME.match(name):
        raise SourcesError(f"{where}: field 'name' = {name!r} must be 1-100 letters, digits, '.', '_' or '-' "
                           "and start with a letter or digit")
    return name


def _kind(table: dict[str, Any], where: str) -> str:
    kind = _required_text(table, "kind", where).lower()
    if kind not in SOURCE_KINDS:
        raise SourcesError(f"{where}: field 'kind' = {kind!r} must be one of {', '.join(SOURCE_KINDS)}")
    return kind


def _url(table: dict[str, Any], where: str) -> str:
    url = _required_text(table, "url", where)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourcesError(f"{where}: field 'url' = {url!r} must be an absolute http:// or https:// URL")
    return url


def _interval(table: dict[str, Any], where: str) -> float:
    value = table.get("interval", DEFAULT_INTERVAL)
    # bool is an int to Python, and `interval = true` is surely a mistake.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SourcesError(f"{where}: field 'interval' must be a number of seconds, not {value!r}")
    if value < MIN_INTERVAL:
        raise SourcesError(f"{where}: field 'interval' = {value} must be at least {MIN_INTERVAL:g} second(s)")
    return float(value)


def _optional_text(table: dict[str, Any], field: str, where: str, max_length: int) -> str | None:
    value = table.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > max_length:
        raise SourcesError(f"{where}: field {field!r} must be a non-empty string of at most "
                           f"{max_length} characters, not {value!r}")
    return value.strip()


def _charset(table: dict[str, Any], where: str) -> str | None:
    charset = _optional_text(table, "charset", where, max_length=64)
    if charset is None:
        return None
    try:
        codecs.lookup(charset)
    except LookupError:
        raise SourcesError(f"{where}: field 'charset' = {charset!r} is not an encoding Python knows") from None
    return charset


def _enabled(table: dict[str, Any], where: str) -> bool:
    value = table.get("enabled", True)
    if not isinstance(value, bool):
        raise SourcesError(f"{where}: field 'enabled' must be true or false, not {value!r}")
    return value
