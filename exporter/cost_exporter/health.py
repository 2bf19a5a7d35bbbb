"""The one wrapper every collection goes through.

It times the provider, bounds it with a timeout, turns any failure into a
counted reason and a redacted message, checks that every currency the
provider used can be converted, and that a month which had charges did not
lose them all. Providers never record their own health.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from cost_exporter import catalog
from cost_exporter.errors import CollectorError
from cost_exporter.logs import REDACT
from cost_exporter.periods import same_month
from cost_exporter.providers.base import Context, ProviderSpec
from cost_exporter.samples import BadAmount, Sample
from cost_exporter.settings import AccountEntry, Config, missing_rate

log = structlog.get_logger("cost_exporter.health")


@dataclass(frozen=True)
class Outcome:
    provider: str
    account: str
    started_at: float
    duration_s: float
    samples: tuple[Sample, ...] | None
    """None when the collection failed: the snapshot keeps the last good samples."""
    skipped_records: int = 0
    error_reason: str | None = None
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        return self.samples is not None


def classify(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, CollectorError):
        return exc.reason, str(exc)
    if isinstance(exc, TimeoutError):
        return "timeout", "collection timed out"
    if isinstance(exc, BadAmount | KeyError | ValueError | TypeError | IndexError):
        return "parse", f"unexpected response shape: {type(exc).__name__}: {exc}"
    return "internal", f"{type(exc).__name__}: {exc}"


async def run(
    spec: ProviderSpec[Any],
    entry: AccountEntry,
    ctx: Context,
    config: Config,
    timeout_s: float,
    last_good: LastGood | None = None,
) -> Outcome:
    started, clock = ctx.now.timestamp(), time.perf_counter()
    account = entry.config.account
    bound = log.bind(provider=spec.name, account=account)
    try:
        samples = await asyncio.wait_for(spec.collect(entry.config, ctx), timeout_s)
        check_currencies(samples, config)
        if last_good is not None:
            _check_not_emptied(samples, last_good, ctx.now)
    except Exception as exc:
        reason, message = classify(exc)
        message = REDACT(message)[:500]
        duration = time.perf_counter() - clock
        bound.warning(
            "collection_failed", reason=reason, error=message, duration_s=round(duration, 3)
        )
        return Outcome(
            spec.name, account, started, duration, None, ctx.skipped_records, reason, message
        )
    duration = time.perf_counter() - clock
    bound.info(
        "collection_succeeded",
        samples=len(samples),
        skipped_records=ctx.skipped_records,
        duration_s=round(duration, 3),
    )
    return Outcome(spec.name, account, started, duration, tuple(samples), ctx.skipped_records)


@dataclass(frozen=True)
class LastGood:
    """The samples of an account's last successful collection, and when it ran."""

    samples: Sequence[Sample]
    collected_at: float


def _has_charges(samples: Sequence[Sample]) -> bool:
    return any(s.family is catalog.MONTH_TO_DATE and s.value != 0 for s in samples)


def _check_not_emptied(samples: Sequence[Sample], last_good: LastGood, now: datetime) -> None:
    """A month that held charges cannot lose them all: an answer without any is a provider
    that has not processed the period (or lost it), not a refund of everything. A new
    month starts empty, and a provider that never had charges is no error."""
    before = datetime.fromtimestamp(last_good.collected_at, UTC)
    if same_month(before, now) and _has_charges(last_good.samples) and not _has_charges(samples):
        raise CollectorError(
            "empty",
            f"empty answer: no charges this month, where the collection of "
            f"{before:%Y-%m-%d %H:%M} UTC had some: keeping those",
        )


def check_currencies(samples: Sequence[Sample], config: Config) -> None:
    """Every amount can be converted to the reporting currency, or the collection is a
    `config` error (a 0 in place of an unconvertible amount would mean unknown)."""
    for sample in samples:
        if sample.currency and missing_rate(config, sample.currency):
            raise CollectorError(
                "config",
                f"amounts in {sample.currency} but fx_rates has no {sample.currency} "
                f"rate to {config.reporting_currency}",
            )
