"""Kafka and Redis security settings turned into the clients' arguments.

A SASL broker cannot be run here (the bundled Tansu keeps users only in its in-memory store, and
creating one needs an authenticated connection to begin with), so the SASL mapping is checked
against what aiokafka and faust expect; TLS is also exercised for real in
tests/integration/test_tls.py.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from services.common.config import ConfigError, Settings
from services.common.kafka_security import faust_broker_credentials, kafka_client_options, kafka_ssl_context
from services.common.redis_store import tls_options
from services.common.stage import Stage
from services.common.topics import consumer_group
from tests.tls import Certificates, make_certificates

SCRAM = {"KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_USERNAME": "marsad", "KAFKA_SASL_PASSWORD": "secret"}


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


def _ca_subjects(context: ssl.SSLContext) -> list[str]:
    return [value for cert in context.get_ca_certs() for rdn in cert["subject"] for key, value in rdn
            if key == "commonName"]


# -- Kafka -----------------------------------------------------------------------------------------

def test_plaintext_is_the_default_and_adds_nothing() -> None:
    settings = Settings.from_env({})
    assert kafka_client_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_broker_credentials(settings) is None


def test_sasl_plaintext_passes_the_mechanism_and_credentials_without_tls() -> None:
    settings = Settings.from_env({"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", **SCRAM,
                                  "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256"})
    assert kafka_client_options(settings) == {
        "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "marsad", "sasl_plain_password": "secret"}


def test_ssl_loads_the_configured_ca_and_checks_host_names(certificates: Certificates) -> None:
    settings = Settings.from_env({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": str(certificates.ca)})
    options = kafka_client_options(settings)
    assert set(options) == {"security_protocol", "ssl_context"} and options["security_protocol"] == "SSL"
    context = options["ssl_context"]
    assert _ca_subjects(context) == ["Marsad test CA"], "only the configured CA, not the system's"
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_ssl_without_a_ca_file_uses_the_system_cas() -> None:
    context = kafka_ssl_context(Settings(kafka_security_protocol="SSL"))
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
    assert "Marsad test CA" not in _ca_subjects(context)


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_faust_gets_what_the_other_clients_get(protocol: str, mechanism: str, certificates: Certificates) -> None:
    """faust turns its credentials into aiokafka arguments itself: they must come out as ours."""
    environ = {"KAFKA_SECURITY_PROTOCOL": protocol, "KAFKA_SSL_CAFILE": str(certificates.ca)}
    if protocol.startswith("SASL_"):
        environ |= {**SCRAM, "KAFKA_SASL_MECHANISM": mechanism}
    settings = Settings.from_env(environ)
    ours = kafka_client_options(settings)
    theirs = dict(credentials_to_aiokafka_auth(faust_broker_credentials(settings)))
    # faust always names an ssl_context (None without TLS); compare the contexts by what they trust.
    ours_context, their_context = ours.pop("ssl_context", None), theirs.pop("ssl_context", None)
    assert theirs == ours
    assert (ours_context is None) == (their_context is None) == (protocol in ("PLAINTEXT", "SASL_PLAINTEXT"))
    if their_context is not None:
        assert _ca_subjects(their_context) == ["Marsad test CA"]


def test_the_worker_app_carries_the_credentials_and_a_prefixed_group() -> None:
    settings = Settings(kafka_bootstrap_servers="b-1.example:9096", redis_url="redis://r:6379/0",
                        topic_prefix="staging.marsad.", kafka_security_protocol="SASL_SSL",
                        kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="marsad",
                        kafka_sasl_password="secret")
    stage = Stage("entities", settings)
    credentials = stage.app.conf.broker_credentials
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL" and credentials.mechanism.value == "SCRAM-SHA-512"
    assert stage.app.conf.id == stage.group_id == "staging.marsad-entities"


def test_consumer_groups_carry_the_topic_prefix() -> None:
    assert [consumer_group("marsad.", s) for s in ("ingest", "entities", "events")] == \
        ["marsad-ingest", "marsad-entities", "marsad-events"], "the default keeps the groups deployments have"
    assert consumer_group("staging.marsad.", "ingest") == "staging.marsad-ingest"
    assert consumer_group("acme-", "events") == "acme-events"
    assert consumer_group("", "ingest") == "marsad-ingest"


def test_the_embedded_broker_drops_the_cluster_security_settings() -> None:
    settings = Settings.from_env({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", **SCRAM, "KAFKA_SSL_CAFILE": "/nowhere"})
    embedded = settings.with_plaintext_kafka("127.0.0.1:9092")
    assert kafka_client_options(embedded) == {"security_protocol": "PLAINTEXT"}
    assert embedded.kafka_bootstrap_servers == "127.0.0.1:9092"


def test_the_password_stays_out_of_the_settings_repr() -> None:
    assert "secret" not in repr(Settings.from_env({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", **SCRAM}))


# -- errors at start-up ----------------------------------------------------------------------------

@pytest.mark.parametrize(("environ", "message"), [
    ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL='TLS' is not valid: expected one of PLAINTEXT"),
    ({"KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM='GSSAPI' is not valid: expected one of PLAIN"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
     "KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_USERNAME": "marsad"},
     "KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT needs KAFKA_SASL_PASSWORD"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SASL_USERNAME": "marsad", "KAFKA_SASL_PASSWORD": "secret"},
     "KAFKA_SECURITY_PROTOCOL=SSL does not use SASL: set SASL_SSL or SASL_PLAINTEXT"),
    ({"KAFKA_SASL_USERNAME": "marsad"}, "KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use SASL"),
    ({"REDIS_SSL_KEYFILE": "/etc/marsad/redis/client.key"}, "REDIS_SSL_KEYFILE is set without REDIS_SSL_CERTFILE"),
])
def test_inconsistent_settings_name_the_variables(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings.from_env(environ)


def test_protocol_and_mechanism_are_read_in_either_case() -> None:
    settings = Settings.from_env({"KAFKA_SECURITY_PROTOCOL": "sasl_ssl", **SCRAM, "KAFKA_SASL_MECHANISM": "scram-sha-256"})
    assert (settings.kafka_security_protocol, settings.kafka_sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-256")


def test_an_unusable_kafka_ca_file_stops_start_up(tmp_path: Path) -> None:
    missing = tmp_path / "missing.crt"
    with pytest.raises(ConfigError, match=re.escape(f"KAFKA_SSL_CAFILE='{missing}' cannot be loaded")):
        kafka_client_options(Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(missing)))
    garbage = tmp_path / "garbage.crt"
    garbage.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="KAFKA_SSL_CAFILE"):
        faust_broker_credentials(Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="u",
                                          kafka_sasl_password="p", kafka_ssl_cafile=str(garbage)))
    # Without TLS the file is not read (the Kubernetes manifests always name one).
    assert kafka_client_options(Settings(kafka_ssl_cafile=str(missing))) == {"security_protocol": "PLAINTEXT"}


# -- Redis -----------------------------------------------------------------------------------------

def test_redis_tls_files_apply_to_rediss_urls_only(certificates: Certificates) -> None:
    settings = Settings(redis_ssl_cafile=str(certificates.ca), redis_ssl_certfile=str(certificates.client_cert),
                        redis_ssl_keyfile=str(certificates.client_key))
    assert tls_options("rediss://marsad:pw@redis.example:6380/0", settings) == {
        "ssl_ca_certs": str(certificates.ca), "ssl_certfile": str(certificates.client_cert),
        "ssl_keyfile": str(certificates.client_key)}
    assert tls_options("redis://127.0.0.1:6379/0", settings) == {}, "the embedded valkey-server is plain"
    assert tls_options("rediss://redis.example:6380/0", Settings()) == {}


def test_redis_tls_files_default_to_the_environment(certificates: Certificates,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Code that only holds a URL (the near-duplicate index) still gets the CA."""
    monkeypatch.setenv("REDIS_SSL_CAFILE", str(certificates.ca))
    assert tls_options("rediss://redis.example:6380/0") == {"ssl_ca_certs": str(certificates.ca)}


def test_a_missing_redis_tls_file_stops_start_up(tmp_path: Path) -> None:
    missing = tmp_path / "missing.crt"
    with pytest.raises(ConfigError, match=re.escape(f"REDIS_SSL_CAFILE='{missing}' is not a readable file")):
        tls_options("rediss://redis.example:6380/0", Settings(redis_ssl_cafile=str(missing)))
