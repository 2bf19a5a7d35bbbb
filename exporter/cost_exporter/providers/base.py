"""The collector seam: what a provider is and what it is handed.

A provider is a module with a pydantic `Config` (one account), an async
`collect(config, ctx)` returning `Sample`s, optionally an async
`history(config, ctx, start, end)` for the backfill and a
`warnings(config)` naming what a valid config will still not see, and a
`PROVIDER = ProviderSpec(...)` line that the registry lists. It knows nothing
about Prometheus, the HTTP server or scheduling; timing, error counting and
keeping the last good values are the health wrapper's job
(`cost_exporter.health`).

A provider whose API only answers for windows relative to now (the last 7
days, not a calendar day) keeps what it has read in `Context.ledger`: figures
keyed by a name and a UTC day (`cost_exporter.ledger`), which the snapshot
persists with the account's samples and hands back to the next collection.
Only a successful collection saves its ledger, so a failed one never records a
half-read day.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import structlog

from cost_exporter import periods
from cost_exporter.http_client import HttpClient
from cost_exporter.ledger import Ledger
from cost_exporter.samples import Sample
from cost_exporter.settings import AccountConfig, ProviderEnv

C = TypeVar("C", bound=AccountConfig)


@dataclass
class Context:
    """What a collection may use besides its config: HTTP, the clock, a logger, the
    account's usage-limit keys and its ledger."""

    http: HttpClient
    now: datetime
    log: Any = field(default_factory=lambda: structlog.get_logger("cost_exporter.provider"))
    skipped_records: int = 0
    usage_limits: frozenset[str] = frozenset()
    """The `metric` keys of this account's usage limits in the current config: a capped
    breakdown never folds an item that has a limit of its own into `other`."""
    ledger: Ledger = field(default_factory=dict)
    """Day-keyed figures of earlier collections (see the module docstring); a provider
    replaces what it keeps, and the snapshot saves it when the collection succeeds."""

    def skip(self, what: str, detail: str = "") -> None:
        """Count a record we could not read; the rest of the response still counts."""
        self.skipped_records += 1
        self.log.warning("record_skipped", what=what, detail=detail[:200])

    @property
    def month_start(self) -> datetime:
        return periods.month_start(self.now)

    @property
    def previous_month_start(self) -> datetime:
        return periods.previous_month_start(self.now)


Collect = Callable[[C, Context], Awaitable[list[Sample]]]
History = Callable[[C, Context, datetime, datetime], Awaitable[list[Sample]]]
"""`history(config, ctx, start, end)`: `DAILY_SPEND` and `DAILY_SERVICE_SPEND` of the
UTC days in [start, end), read at the API's largest page size (cost-exporter backfill)."""
Warnings = Callable[[C], list[str]]
"""`warnings(config)`: what this valid account config will still not see, one sentence
each (`check-config` prints them, start-up and SIGHUP log them)."""


@dataclass(frozen=True)
class ProviderSpec(Generic[C]):
    """One registry row: everything the rest of the exporter needs to know."""

    name: str
    config_model: type[C]
    collect: Collect[C]
    summary: str
    env: Mapping[str, str] = field(default_factory=dict)
    history: History[C] | None = None
    """Daily spend over a date range, for the backfill; None when the API has no history."""
    history_days: int | None = None
    """How many days before today the history reaches (None: as far back as asked)."""
    warnings: Warnings[C] | None = None
    """What a config will not see (None: nothing to say)."""

    def config_warnings(self, config: C) -> list[str]:
        return self.warnings(config) if self.warnings is not None else []

    def env_spec(self) -> ProviderEnv:
        return ProviderEnv(name=self.name, config_model=self.config_model, env=dict(self.env))
