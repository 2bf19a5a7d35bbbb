"""When a collector is due, and when its data is stale: decided here, once.

The refresher collects what `next_due` says is due. `/metrics` publishes the
same answers, `cost_collector_next_due_timestamp_seconds` per collector and
`cost_data_stale_after_seconds`, and CostDataStale reads that limit, as
`/healthz` and the status page call `fresh()`: "stale" means one thing
everywhere, relative to the configured refresh interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cost_exporter.periods import next_month_start
from cost_exporter.settings import ExporterSettings
from cost_exporter.snapshot import AccountState

STALE_AFTER_INTERVALS = 2
"""Data is stale after two refresh intervals without a success: one missed refresh is a
provider's bad day that the retries may still mend; a second means they did not."""
ROLLOVER_DELAY = timedelta(minutes=5)
"""Collect a little after midnight UTC on the 1st: providers need a moment to close the
previous day."""


@dataclass(frozen=True)
class Schedule:
    refresh_interval_s: float
    """After a success (COST_REFRESH_INTERVAL_S)."""
    retry_interval_s: float
    """After a failure (COST_RETRY_INTERVAL_S)."""

    @classmethod
    def of(cls, settings: ExporterSettings) -> Schedule:
        return cls(settings.refresh_interval_s, settings.retry_interval_s)

    @property
    def stale_after_s(self) -> float:
        return STALE_AFTER_INTERVALS * self.refresh_interval_s

    def next_due(self, state: AccountState | None) -> datetime | None:
        """When the account is due next; None when it was never attempted (due at once).

        The refresh interval after a success, the shorter retry interval after a failure,
        and never later than just after the next month starts, so the 1st starts from
        zero, not from last month's total."""
        if state is None or state.last_attempt is None:
            return None
        attempt = datetime.fromtimestamp(state.last_attempt, UTC)
        wait = self.refresh_interval_s if state.up else self.retry_interval_s
        return min(attempt + timedelta(seconds=wait), next_month_start(attempt) + ROLLOVER_DELAY)

    def fresh(self, state: AccountState, now: datetime) -> bool:
        """Whether the account's data is recent enough to trust: a success within the limit.
        A collector that never succeeded has no fresh data."""
        last = state.last_success
        return last is not None and now.timestamp() - last <= self.stale_after_s
