"""How every Kafka client connects: the security settings turned into aiokafka's and faust's terms.

The workers (faust), the topic creator (aiokafka's admin client) and the replay producer all go
through here, so a managed cluster's SASL_SSL settings reach each of them the same way.
"""

from __future__ import annotations

import ssl
from typing import Any

import faust
from aiokafka.helpers import create_ssl_context
from faust.types.auth import CredentialsT

from .config import ConfigError, Settings


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL (None otherwise), checking brokers against
    ``KAFKA_SSL_CAFILE`` or, when it is unset, the system's CAs."""
    if not settings.kafka_uses_tls:
        return None
    cafile = settings.kafka_ssl_cafile or None
    try:
        return create_ssl_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        # Raised here, at start-up: otherwise the first connection fails with an opaque handshake error.
        raise ConfigError(f"KAFKA_SSL_CAFILE={cafile!r} cannot be loaded as a PEM CA bundle: {exc}") from None


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``AIOKafkaProducer``, ``AIOKafkaConsumer`` and ``AIOKafkaAdminClient``."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    context = kafka_ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_uses_sasl:
        options.update(sasl_mechanism=settings.kafka_sasl_mechanism,
                       sasl_plain_username=settings.kafka_sasl_username,
                       sasl_plain_password=settings.kafka_sasl_password)
    return options


def faust_broker_credentials(settings: Settings) -> CredentialsT | None:
    """``broker_credentials`` for ``faust.App`` (None for PLAINTEXT); faust hands them to the same
    aiokafka arguments as :func:`kafka_client_options`."""
    context = kafka_ssl_context(settings)
    if settings.kafka_uses_sasl:
        # With a context faust says SASL_SSL, without one SASL_PLAINTEXT.
        return faust.SASLCredentials(username=settings.kafka_sasl_username, password=settings.kafka_sasl_password,
                                     mechanism=settings.kafka_sasl_mechanism, ssl_context=context)
    if context is not None:
        return faust.SSLCredentials(context)
    return None
