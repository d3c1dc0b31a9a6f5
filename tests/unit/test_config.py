from pathlib import Path

import pytest

from services.common.config import SETTINGS_HELP, Settings


def test_defaults_mean_embedded() -> None:
    settings = Settings.from_env({})
    assert settings.embedded
    assert settings.topic_prefix == "marsad."
    assert settings.home == Path(".marsad")
    assert settings.worker_metrics_port("events") == 9103


def test_environment_overrides_and_types() -> None:
    settings = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9092", "REDIS_URL": "redis://r:6379/2",
                                  "MARSAD_PARTITIONS": "6", "MARSAD_LOG_LEVEL": "debug",
                                  "MARSAD_METRICS_PORT": "9200", "MARSAD_EVENT_THRESHOLD": "0.5"})
    assert not settings.embedded
    assert settings.partitions == 6 and settings.log_level == "debug"
    assert settings.worker_metrics_port("ingest") == 9200
    assert settings.event_threshold == 0.5


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(ValueError, match="MARSAD_PARTITIONS='many'"):
        Settings.from_env({"MARSAD_PARTITIONS": "many"})
    with pytest.raises(ValueError, match="MARSAD_EVENT_THRESHOLD"):
        Settings.from_env({"MARSAD_EVENT_THRESHOLD": "high"})


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    missing = [var for var, *_ in SETTINGS_HELP if f"`{var}`" not in readme]
    assert not missing, f"README lacks: {missing}"
