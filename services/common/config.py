"""Settings, read once from the environment.

Every knob a worker or command has is here, with its environment variable and default, so
that the README's settings table and the code cannot drift apart (see ``SETTINGS_HELP``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

# (environment variable, field name, default, help) — the single source of truth.
SETTINGS_HELP: list[tuple[str, str, str, str]] = [
    ("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers", "",
     "Kafka brokers, host:port[,host:port]. Unset: the commands start the embedded Tansu broker."),
    ("KAFKA_SECURITY_PROTOCOL", "kafka_security_protocol", "PLAINTEXT",
     "How the Kafka clients connect: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."),
    ("KAFKA_SASL_MECHANISM", "kafka_sasl_mechanism", "PLAIN",
     "SASL mechanism with SASL_PLAINTEXT or SASL_SSL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."),
    ("KAFKA_SASL_USERNAME", "kafka_sasl_username", "", "SASL user (required with SASL_PLAINTEXT or SASL_SSL)."),
    ("KAFKA_SASL_PASSWORD", "kafka_sasl_password", "", "SASL password (required with SASL_PLAINTEXT or SASL_SSL)."),
    ("KAFKA_SSL_CAFILE", "kafka_ssl_cafile", "",
     "PEM CA bundle the brokers' certificates are checked against with SSL or SASL_SSL "
     "(unset: the system's CAs)."),
    ("REDIS_URL", "redis_url", "",
     "Redis URL (redis:// or rediss://). Unset: the commands start the embedded valkey-server."),
    ("REDIS_SSL_CAFILE", "redis_ssl_cafile", "",
     "PEM CA bundle the Redis server's certificate is checked against with rediss:// (unset: the system's CAs)."),
    ("REDIS_SSL_CERTFILE", "redis_ssl_certfile", "",
     "PEM client certificate for Redis servers that require one (rediss:// only); may hold the key too."),
    ("REDIS_SSL_KEYFILE", "redis_ssl_keyfile", "", "PEM private key of REDIS_SSL_CERTFILE, when it is a separate file."),
    ("MARSAD_TOPIC_PREFIX", "topic_prefix", "marsad.",
     "Prefix of every topic name and, without its trailing separator, of each consumer group (marsad-ingest)."),
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
    ("MARSAD_EVENT_BATCH", "event_batch", "64",
     "Most articles the events worker assigns in one Redis transaction (1: one at a time)."),
    ("MARSAD_EVENT_BATCH_WAIT", "event_batch_wait", "0.2",
     "Seconds the events worker waits to fill a batch before assigning what it has."),
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


KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class ConfigError(ValueError):
    """A setting, or a combination of settings, that cannot work; the message names the variables."""


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap_servers: str = ""
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "PLAIN"
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = field(default="", repr=False)
    kafka_ssl_cafile: str = ""
    redis_url: str = ""
    redis_ssl_cafile: str = ""
    redis_ssl_certfile: str = ""
    redis_ssl_keyfile: str = ""
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
    event_batch: int = 64
    event_batch_wait: float = 0.2
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
                raise ConfigError(f"{var}={raw!r} is not valid: {exc}") from None
        if values["other_languages"] not in ("topic", "dead-letter"):
            raise ConfigError(f"MARSAD_OTHER_LANGUAGES={values['other_languages']!r} is not valid: "
                              "expected topic or dead-letter")
        # Providers' documentation spells these in either case (sasl_ssl, scram-sha-512).
        for name in ("kafka_security_protocol", "kafka_sasl_mechanism"):
            values[name] = str(values[name]).upper()
        return cls(**values)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        # Checked on every instance, not only in from_env, so a worker fails at start-up with the
        # variable's name rather than at its first connection with a broker-side error.
        if self.kafka_security_protocol not in KAFKA_SECURITY_PROTOCOLS:
            raise ConfigError(f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol!r} is not valid: "
                              f"expected one of {', '.join(KAFKA_SECURITY_PROTOCOLS)}")
        if self.kafka_sasl_mechanism not in KAFKA_SASL_MECHANISMS:
            raise ConfigError(f"KAFKA_SASL_MECHANISM={self.kafka_sasl_mechanism!r} is not valid: "
                              f"expected one of {', '.join(KAFKA_SASL_MECHANISMS)}")
        if self.kafka_uses_sasl:
            missing = [var for var, value in (("KAFKA_SASL_USERNAME", self.kafka_sasl_username),
                                              ("KAFKA_SASL_PASSWORD", self.kafka_sasl_password)) if not value]
            if missing:
                raise ConfigError(f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                                  f"{' and '.join(missing)}")
        elif self.kafka_sasl_username or self.kafka_sasl_password:
            # Credentials without a SASL protocol are a forgotten KAFKA_SECURITY_PROTOCOL, not a choice.
            raise ConfigError(f"KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD are set but KAFKA_SECURITY_PROTOCOL="
                              f"{self.kafka_security_protocol} does not use SASL: set SASL_SSL or SASL_PLAINTEXT")
        if self.event_batch < 1:
            raise ConfigError(f"MARSAD_EVENT_BATCH={self.event_batch} is not valid: expected 1 or more")
        if self.redis_ssl_keyfile and not self.redis_ssl_certfile:
            raise ConfigError("REDIS_SSL_KEYFILE is set without REDIS_SSL_CERTFILE, the certificate it belongs to")

    @property
    def kafka_uses_sasl(self) -> bool:
        return self.kafka_security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @property
    def kafka_uses_tls(self) -> bool:
        return self.kafka_security_protocol in ("SSL", "SASL_SSL")

    def with_plaintext_kafka(self, bootstrap_servers: str) -> Settings:
        """These settings pointed at a plaintext broker (the embedded one): the Kafka security
        settings describe a configured cluster and would only break the connection to it."""
        return replace(self, kafka_bootstrap_servers=bootstrap_servers, kafka_security_protocol="PLAINTEXT",
                       kafka_sasl_mechanism="PLAIN", kafka_sasl_username="", kafka_sasl_password="",
                       kafka_ssl_cafile="")

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
