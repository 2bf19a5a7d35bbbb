"""Errors with a reason the health wrapper can count.

The reasons are one fixed list (catalog.ERROR_REASONS) so that
`cost_collector_errors_total{reason}` can be pre-initialised to 0 and alert
rules can rely on the values. Messages never carry secrets: they name the
host and path of a request, never its headers.
"""

from __future__ import annotations

from cost_exporter.catalog import ERROR_REASONS


class ConfigError(Exception):
    """Invalid configuration: the message names the file, the key and the reason."""


class CollectorError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        if reason not in ERROR_REASONS:
            raise ValueError(f"unknown error reason {reason!r}")
        super().__init__(message)
        self.reason = reason


def reason_for_status(status: int) -> str:
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "http_5xx"
    return "http_4xx"
