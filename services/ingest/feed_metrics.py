"""Prometheus metrics of feed polling.

The ``source`` label is a configured source name and the other labels come from small fixed sets
(poll results, status classes, :class:`~services.ingest.http.FetchError` reasons), never a URL,
so the number of series grows with the sources file and nothing else.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from .http import FetchError, HTTPStatusError

FEED_LAST_SUCCESS = Gauge("marsad_feed_last_success_timestamp_seconds",
                          "When a source was last polled successfully (Unix time).", ["source"])
FEED_POLLS = Counter("marsad_feed_polls_total", "Polls of a source by result (ok, not_modified, error).",
                     ["source", "result"])
FEED_HTTP_RESPONSES = Counter("marsad_feed_http_responses_total",
                              "Fetches for a source (feed and articles) by final status class "
                              "(2xx, 3xx, 4xx, 5xx, error when there was no response).",
                              ["source", "status_class"])
FEED_BYTES = Counter("marsad_feed_bytes_total", "Body bytes downloaded for a source (feed and articles).",
                     ["source"])
FEED_CONSECUTIVE_FAILURES = Gauge("marsad_feed_consecutive_failures",
                                  "Failed polls of a source since its last success.", ["source"])
FEED_ITEMS = Counter("marsad_feed_items_total", "New items of a source published as raw documents.",
                     ["source"])
FEED_ERRORS = Counter("marsad_feed_errors_total",
                      "Failures while polling a source, by what failed (feed, article) and why.",
                      ["source", "stage", "reason"])
FEED_RETRIES = Counter("marsad_feed_retries_total",
                       "Fetches for a source (feed and articles) tried again, by why: throttled (HTTP 429), "
                       "server_error (5xx), timeout or connection. A retry that then succeeds shows only here.",
                       ["source", "reason"])


def status_class(status: int | None) -> str:
    """``2xx``..``5xx`` for an HTTP status, ``error`` when no response came back."""
    if status is None or not 100 <= status <= 599:
        return "error"
    return f"{status // 100}xx"


def retry_reason(error: FetchError) -> str:
    """Why a fetch was retried: ``throttled``, ``server_error`` or the error's own reason."""
    if isinstance(error, HTTPStatusError) and error.status == 429:
        return "throttled"
    if isinstance(error, HTTPStatusError) and error.status >= 500:
        return "server_error"
    return error.reason  # only timeout and connection are retried besides these
