"""Settings, read once from the environment.

Every knob a worker or command has is here, with its environment variable and default, so
that the README's settings table and the code cannot drift apart (see ``SETTINGS_HELP``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

# (environment variable, field name, default, help) — the single source of truth.
SETTINGS_HELP: list[tuple[str, str, str, str]] = [
    ("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers", "",
     "Kafka brokers, host:port[,host:port]. Unset: the commands start the embedded Tansu broker."),
    ("REDIS_URL", "redis_url", "",
     "Redis URL (redis:// or rediss://). Unset: the commands start the embedded valkey-server."),
    ("MARSAD_TOPIC_PREFIX", "topic_prefix", "marsad.", "Prefix of every topic name."),
    ("MARSAD_PARTITIONS", "partitions", "3", "Partitions of each topic the commands create."),
    ("MARSAD_REPLICATION_FACTOR", "replication_factor", "1", "Replication factor of created topics."),
    ("MARSAD_REDIS_PREFIX", "redis_prefix", "marsad:", "Prefix of every Redis key Marsad writes."),
    ("MARSAD_METRICS_PORT", "metrics_port", "0",
     "Port of a worker's /metrics, /healthz and /readyz (0: 9101 ingest, 9102 entities, 9103 events)."),
    ("MARSAD_METRICS_HOST", "metrics_host", "0.0.0.0", "Address the metrics and health server binds to."),
    ("MARSAD_HOME", "home", ".marsad", "Where the embedded broker and Redis keep their state and logs."),
    ("MARSAD_SESSION_TIMEOUT", "session_timeout", "10",
     "Kafka consumer session timeout in seconds (a group join waits about half of it on Tansu)."),
    ("MARSAD_LOG_LEVEL", "log_level", "info", "Log level of the workers."),
    ("MARSAD_LOG_JSON", "log_json", "0",
     "1: workers log one JSON object per line, with document, article and event ids as fields."),
    ("MARSAD_NER_BACKEND", "ner_backend", "default", "Named-entity recognizer: default (the model shipped in services/entities/models) or camel-bert (CAMeL Tools' BERT; MARSAD_CAMEL_NER_MODEL names its folder)."),
    ("MARSAD_EVENT_THRESHOLD", "event_threshold", "0.25", "Similarity an article needs to join an event."),
    ("MARSAD_EVENT_DORMANT_HOURS", "event_dormant_hours", "72",
     "Hours of stream time without a new article after which an event goes dormant."),
    ("MARSAD_TRENDS_INTERVAL", "trends_interval", "60", "Seconds between trend snapshots on the trends topic."),
    ("MARSAD_SOURCES", "sources", "",
     "TOML file of feeds, news sitemaps and pages the ingest worker polls (unset: no polling)."),
    ("MARSAD_FETCH_ALLOW", "fetch_allow", "",
     "Hosts or CIDR networks the fetcher may reach although private or loopback (comma-separated)."),
    ("MARSAD_FETCH_MAX_BYTES", "fetch_max_bytes", "10485760", "Largest response body the fetcher reads."),
    ("MARSAD_FETCH_HOST_DELAY", "fetch_host_delay", "1.0", "Seconds between two requests to one host."),
    ("MARSAD_OTHER_LANGUAGES", "other_languages", "topic",
     "Where non-Arabic articles go: topic (articles-other-language) or dead-letter."),
    ("MARSAD_DEDUP_TTL_DAYS", "dedup_ttl_days", "7", "How long exact-duplicate fingerprints are remembered."),
    ("MARSAD_OUTCOME_TTL_DAYS", "outcome_ttl_days", "7", "How long a document's pipeline outcome is kept."),
]


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap_servers: str = ""
    redis_url: str = ""
    topic_prefix: str = "marsad."
    partitions: int = 3
    replication_factor: int = 1
    redis_prefix: str = "marsad:"
    metrics_port: int = 0
    metrics_host: str = "0.0.0.0"
    home: Path = field(default_factory=lambda: Path(".marsad"))
    session_timeout: float = 10.0
    log_level: str = "info"
    log_json: bool = False
    ner_backend: str = "default"
    event_threshold: float = 0.25
    event_dormant_hours: float = 72.0
    trends_interval: float = 60.0
    sources: str = ""
    fetch_allow: str = ""
    fetch_max_bytes: int = 10485760
    fetch_host_delay: float = 1.0
    other_languages: str = "topic"
    dedup_ttl_days: float = 7.0
    outcome_ttl_days: float = 7.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        kinds = {f.name: f.type for f in fields(cls)}
        values: dict[str, object] = {}
        for var, name, default, _ in SETTINGS_HELP:
            raw = env.get(var, default).strip()
            try:
                values[name] = _convert(kinds[name], raw)
            except ValueError as exc:
                raise ValueError(f"{var}={raw!r} is not valid: {exc}") from None
        if values["other_languages"] not in ("topic", "dead-letter"):
            raise ValueError(f"MARSAD_OTHER_LANGUAGES={values['other_languages']!r} is not valid: "
                             "expected topic or dead-letter")
        return cls(**values)  # type: ignore[arg-type]

    @property
    def embedded(self) -> bool:
        """True when neither a Kafka nor a Redis address is configured."""
        return not self.kafka_bootstrap_servers and not self.redis_url

    def worker_metrics_port(self, stage: str) -> int:
        defaults = {"ingest": 9101, "entities": 9102, "events": 9103}
        return self.metrics_port or defaults[stage]


def _convert(kind: object, raw: str) -> object:
    if kind in ("int", int):
        return int(raw)
    if kind in ("float", float):
        return float(raw)
    if kind in ("bool", bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ValueError("expected 1/0, true/false, yes/no")
    if kind in ("Path", Path):
        return Path(raw)
    return raw
