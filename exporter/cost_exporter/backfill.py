"""`cost-exporter backfill`: a year of history in Prometheus on the first day.

Every configured account whose provider has a `history` is asked once for
its daily spend over the range (at the API's largest page size, through the
shared client and its backoff, never further back than `history_days`).
Then the snapshot the live exporter would have held on each day is rebuilt
and put through the live derivation (`figures.derive`), so names,
labels, currency conversion, `cost_last_day` and the forecast are exactly
the live ones, and written as OpenMetrics with timestamps for
`promtool tsdb create-blocks-from openmetrics`.

Timestamps. The live exporter collects a few minutes after 00:00 UTC and
serves that snapshot all day; its month to date holds the days completed
before that collection. So the sample of day D is stamped D 00:00:00 UTC and
holds the days before D: `last_over_time(...[1d])` anywhere in day D, and an
instant query in the 5 minutes after 00:00, both see what the live exporter
served on D. On the 1st no day of the month has completed, so there is no
month-to-date sample: the series restarts on the 2nd. Only days before today
are written, so nothing lands in the range Prometheus' head block still owns.

Coverage. A month's month-to-date is only written when the history reaches
back to its 1st, and the previous month's total only when the history holds
all of it: a partial month would read as a small month. A day with no charge
inside the covered range counts as nothing spent.

Idempotent: the same history gives byte-identical output. Prometheus keeps one
sample per series and timestamp, so loading a second run's blocks next to the
first (overlapping blocks are merged by compaction) doubles nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TextIO

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.openmetrics.exposition import generate_latest

from cost_exporter import catalog, health
from cost_exporter.catalog import Family
from cost_exporter.daily import days
from cost_exporter.exposition import FixedMetrics
from cost_exporter.figures import derive
from cost_exporter.files import write_atomically
from cost_exporter.http_client import Budget, HttpClient, RetryPolicy
from cost_exporter.http_client import budgets as http_budgets
from cost_exporter.logs import REDACT
from cost_exporter.periods import month_start, previous_month_start
from cost_exporter.providers import REGISTRY
from cost_exporter.providers.base import Context
from cost_exporter.samples import Money, Sample
from cost_exporter.settings import AccountEntry, Config, ExporterSettings
from cost_exporter.snapshot import AccountState, Snapshot

# The families the live exporter shows that history can rebuild, in output order.
FAMILIES: tuple[Family, ...] = (
    catalog.MONTH_TO_DATE,
    catalog.PREVIOUS_MONTH,
    catalog.FORECAST_MONTH_END,
    catalog.LAST_DAY,
    catalog.LAST_DAY_TIMESTAMP,
)
LabelValues = tuple[str, ...]
Points = dict[Family, dict[LabelValues, list[tuple[int, Decimal]]]]
ServiceKey = tuple[str, str, str, str]  # service_name, source, charge_frequency, currency


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def backfill_range(now: datetime, months: int) -> tuple[date, date]:
    """[first, end): from the 1st of the month `months` before this one up to today."""
    first = month_start(now)
    for _ in range(months):
        first = previous_month_start(first)
    return first.date(), now.astimezone(UTC).date()


@dataclass
class History:
    """One account's daily spend, known for every day in [covered_from, end)."""

    provider: str
    account: str
    covered_from: date
    samples: tuple[Sample, ...]
    _services: dict[date, list[Sample]] = field(init=False, repr=False)
    _daily: dict[date, list[Sample]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._services, self._daily = defaultdict(list), defaultdict(list)
        for sample in self.samples:
            day = date.fromisoformat(sample.label("day") or "")
            if sample.family is catalog.DAILY_SERVICE_SPEND:
                self._services[day].append(sample)
            elif sample.family is catalog.DAILY_SPEND:
                self._daily[day].append(sample)

    def as_of(self, day: date) -> list[Sample]:
        """What a collection at 00:00 UTC on `day` would have returned for the spend."""
        month = day.replace(day=1)
        previous = previous_month_start(midnight(month)).date()
        samples: list[Sample] = []
        if self.covered_from <= month:
            samples += self._totals(catalog.MONTH_TO_DATE, month, day)
        if self.covered_from <= previous:
            samples += self._totals(catalog.PREVIOUS_MONTH, previous, month)
        for known in days(max(previous, self.covered_from), day):
            samples += self._daily.get(known, [])
        return samples

    def _totals(self, family: Family, start: date, end: date) -> list[Sample]:
        sums: dict[ServiceKey, Decimal] = defaultdict(Decimal)
        for known in days(start, end):
            for sample in self._services.get(known, []):
                key = (
                    sample.label("service_name") or "",
                    sample.label("source") or "api",
                    sample.label("charge_frequency") or catalog.USAGE_BASED,
                    sample.currency or "",
                )
                sums[key] += sample.value
        return [
            Sample.of(
                family,
                Money(amount, currency),
                service_name=service,
                source=source,
                charge_frequency=frequency,
            )
            for (service, source, frequency, currency), amount in sorted(sums.items())
        ]


@dataclass(frozen=True)
class Failure:
    provider: str
    account: str
    reason: str
    message: str


class Progress:
    """A bar on a terminal; plain lines otherwise (logs, CI, docker compose)."""

    WIDTH = 24

    def __init__(self, stream: TextIO, total: int, tty: bool | None = None) -> None:
        self.stream = stream
        self.total = max(total, 1)
        self.tty = stream.isatty() if tty is None else tty
        self.done = 0
        self.current = ""
        self.requests = 0

    def start(self, label: str) -> None:
        self.current, self.requests = label, 0
        if self.tty:
            self._bar()
        else:
            self._line(f"backfill: {label}: reading history ({self.done + 1}/{self.total})")

    def request(self) -> None:
        self.requests += 1
        if self.tty:
            self._bar()

    def finish(self, label: str, detail: str) -> None:
        self.done += 1
        if self.tty:
            self._bar()
        else:
            self._line(f"backfill: {label}: {detail} ({self.requests} requests)")

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def _bar(self) -> None:
        filled = self.WIDTH * self.done // self.total
        bar = "#" * filled + "." * (self.WIDTH - filled)
        text = f"[{bar}] {self.done}/{self.total} {self.current} ({self.requests} requests)"
        self.stream.write(f"\r\033[K{text}")
        self.stream.flush()

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


def accounts_with_history(
    config: Config, providers: Sequence[str] | None = None
) -> list[AccountEntry]:
    return [
        entry
        for entry in config.accounts
        if REGISTRY[entry.provider].history is not None
        and (not providers or entry.provider in providers)
    ]


async def fetch_histories(
    config: Config,
    http: HttpClient,
    now: datetime,
    months: int,
    progress: Progress,
    providers: Sequence[str] | None = None,
) -> tuple[list[History], list[Failure]]:
    """Each account's history, one account after the other (gentle on rate limits)."""
    first, today = backfill_range(now, months)
    histories: list[History] = []
    failures: list[Failure] = []
    for entry in accounts_with_history(config, providers):
        spec = REGISTRY[entry.provider]
        assert spec.history is not None
        label = f"{entry.provider}/{entry.config.account}"
        covered = first
        if spec.history_days is not None:
            covered = max(first, today - timedelta(days=spec.history_days))
        progress.start(label)
        ctx = Context(http=http.for_provider(entry.provider), now=now)
        ctx.log = ctx.log.bind(provider=entry.provider, account=entry.config.account)
        try:
            samples = await spec.history(entry.config, ctx, midnight(covered), midnight(today))
            health.check_currencies(samples, config)
            history = History(*entry.key, covered, tuple(samples))
        except Exception as exc:
            reason, message = health.classify(exc)
            failures.append(Failure(*entry.key, reason, REDACT(message)[:500]))
            progress.finish(label, f"FAILED ({reason}): {REDACT(message)[:200]}")
            continue
        histories.append(history)
        span = f"{covered.isoformat()}..{(today - timedelta(days=1)).isoformat()}"
        progress.finish(label, f"{span}, {len(samples)} daily figures")
    return histories, failures


def rebuild(histories: Sequence[History], config: Config, first: date, end: date) -> Points:
    """The live figures of every day in [first, end), each stamped 00:00 UTC of its day."""
    points: Points = {family: defaultdict(list) for family in FAMILIES}
    for day in days(first, end):
        at = midnight(day)
        states = {
            (h.provider, h.account): AccountState(
                h.provider,
                h.account,
                samples=tuple(h.as_of(day)),
                up=True,
                last_success=at.timestamp(),
            )
            for h in histories
        }
        figures = derive(Snapshot(states), config, at)
        for family in FAMILIES:
            for labels, value in figures.values_of(family).items():
                points[family][labels].append((int(at.timestamp()), value))
    return points


def openmetrics(points: Mapping[Family, Mapping[LabelValues, list[tuple[int, Decimal]]]]) -> bytes:
    """OpenMetrics text: one family after another, each series in time order, `# EOF`."""
    metrics: list[Metric] = []
    for family in FAMILIES:
        values = points.get(family, {})
        if not values:
            continue
        gauge = GaugeMetricFamily(family.name, family.help, labels=list(family.labels))
        for labels in sorted(values):
            for timestamp, value in sorted(values[labels]):
                gauge.add_metric(list(labels), float(value), timestamp=timestamp)
        metrics.append(gauge)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FixedMetrics(metrics))
    return generate_latest(registry)  # type: ignore[no-untyped-call,no-any-return]


def sample_count(points: Points) -> int:
    return sum(len(series) for values in points.values() for series in values.values())


def counting_http(
    settings: ExporterSettings, progress: Progress, budgets: Mapping[str, Budget] | None = None
) -> HttpClient:
    """The shared client (same retries, backoff and per-provider budgets), telling the
    progress of each request."""

    async def on_request(_request: httpx.Request) -> None:
        progress.request()

    return HttpClient(
        timeout_s=settings.http_timeout_s,
        retry=RetryPolicy(max_attempts=settings.http_max_attempts),
        on_request=on_request,
        budgets=budgets,
    )


def write(output: str, body: bytes, stdout: TextIO) -> None:
    """To standard output (`-`), or atomically to a file: a half-written file never loads."""
    if output == "-":
        stdout.write(body.decode())
        stdout.flush()
        return
    # Readable by all: promtool may run as another user (compose).
    write_atomically(Path(output).absolute(), body, mode=0o644)


async def run(
    config: Config,
    settings: ExporterSettings,
    *,
    months: int,
    output: str,
    stdout: TextIO,
    stderr: TextIO,
    providers: Sequence[str] | None = None,
    now: datetime | None = None,
    tty: bool | None = None,
) -> int:
    """The command: 0 when every account's history was read, 1 when one failed (the
    others are still written: a second run is safe), 2 when there is nothing to read."""
    now = now or datetime.now(UTC)
    entries = accounts_with_history(config, providers)
    if not entries:
        able = ", ".join(name for name, spec in REGISTRY.items() if spec.history) or "none"
        print(
            f"backfill: no configured account has history (providers with it: {able})", file=stderr
        )
        return 2
    progress = Progress(stderr, len(entries), tty)
    overrides = {k: v.model_dump(exclude_none=True) for k, v in config.rate_limits.items()}
    http = counting_http(settings, progress, http_budgets(overrides))
    try:
        histories, failures = await fetch_histories(config, http, now, months, progress, providers)
    finally:
        await http.aclose()
        progress.close()
    first, today = backfill_range(now, months)
    points = rebuild(histories, config, first, today)
    write(output, openmetrics(points), stdout)
    where = "standard output" if output == "-" else output
    print(
        f"backfill: wrote {sample_count(points)} samples, days {first.isoformat()} to "
        f"{(today - timedelta(days=1)).isoformat()}, to {where}; load them with "
        "`promtool tsdb create-blocks-from openmetrics FILE PROMETHEUS_DATA_DIR`",
        file=stderr,
    )
    for failure in failures:
        print(
            f"backfill: {failure.provider}/{failure.account} FAILED ({failure.reason}): "
            f"{failure.message}",
            file=stderr,
        )
    return 1 if failures else 0
