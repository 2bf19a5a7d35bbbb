"""The one wrapper every collection goes through.

It times the provider, bounds it with a timeout, turns any failure into a
counted reason and a redacted message, and checks that every currency the
provider used can be converted. Providers never record their own health.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import structlog

from cost_exporter.errors import CollectorError
from cost_exporter.logs import REDACT
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
) -> Outcome:
    started, clock = ctx.now.timestamp(), time.perf_counter()
    account = entry.config.account
    bound = log.bind(provider=spec.name, account=account)
    try:
        samples = await asyncio.wait_for(spec.collect(entry.config, ctx), timeout_s)
        _check_currencies(samples, config)
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


def _check_currencies(samples: list[Sample], config: Config) -> None:
    for sample in samples:
        if sample.currency and missing_rate(config, sample.currency):
            raise CollectorError(
                "config",
                f"amounts in {sample.currency} but fx_rates has no {sample.currency} "
                f"rate to {config.reporting_currency}",
            )
