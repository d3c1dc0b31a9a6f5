import json
import logging
import logging.config

from services.common.logs import JsonFormatter, logging_config


def test_json_lines_carry_the_ids_they_are_about() -> None:
    record = logging.LogRecord("marsad", logging.INFO, __file__, 1, "article %s -> event %s", ("a1", "ev-1"), None)
    record.article_id, record.event_id, record.stage = "a1", "ev-1", "events"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "article a1 -> event ev-1"
    assert line["article_id"] == "a1" and line["event_id"] == "ev-1" and line["stage"] == "events"
    assert line["level"] == "info" and "doc_id" not in line


def test_plain_logs_unless_asked() -> None:
    assert logging_config("info", False) is None
    config = logging_config("debug", True)
    assert config is not None and config["root"]["level"] == "DEBUG"
    logging.config.dictConfig(config)  # a valid configuration
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
