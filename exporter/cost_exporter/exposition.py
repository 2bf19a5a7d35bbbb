"""Turn a snapshot and the current config into Prometheus bytes, once per change.

`/metrics` only hands out the bytes rendered here, so a scrape never calls a
provider and costs the same whether one provider or twenty are configured.
Caps (budgets, daily caps, usage limits) and FX rates come from the current
config, not from the snapshot, so a changed cap shows at once after a reload.
`cost_last_day` is derived here, for every provider alike, from the daily
usage-based spend the providers report.
"""

from __future__ import annotations

import gzip
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.exposition import generate_latest as generate_text
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from cost_exporter import __version__, attribution, catalog, forecast
from cost_exporter.attribution import Row
from cost_exporter.catalog import Family, Kind
from cost_exporter.periods import same_month
from cost_exporter.settings import Config, missing_rate
from cost_exporter.snapshot import AccountState, Snapshot

LabelValues = tuple[str, ...]
Series = dict[Family, dict[LabelValues, Decimal]]

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@dataclass(frozen=True)
class Rendered:
    """The page in both formats, each also gzipped once here rather than per scrape."""

    text: bytes
    text_gzip: bytes
    openmetrics: bytes
    openmetrics_gzip: bytes
    rendered_at: float

    def body(self, accept: str, accept_encoding: str) -> tuple[bytes, str, bool]:
        """(body, content type, gzipped) for a scrape's Accept and Accept-Encoding headers,
        chosen as prometheus_client chooses: OpenMetrics when the client lists it (Prometheus
        lists it first), the text format otherwise, gzip whenever the client takes it."""
        _, chosen = choose_encoder(accept)
        zipped = gzip_accepted(accept_encoding)
        if chosen.startswith("application/openmetrics-text"):
            body = self.openmetrics_gzip if zipped else self.openmetrics
            return body, OPENMETRICS_CONTENT_TYPE, zipped
        return (self.text_gzip if zipped else self.text), TEXT_CONTENT_TYPE, zipped


def render(snapshot: Snapshot, config: Config, now: datetime | None = None) -> Rendered:
    now = now or datetime.now(UTC)
    metrics = list(build(snapshot, config, now))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FixedMetrics(metrics))
    text = generate_text(registry)
    openmetrics: bytes = generate_openmetrics(registry)  # type: ignore[no-untyped-call]
    return Rendered(
        text=text,
        text_gzip=gzip.compress(text, compresslevel=6, mtime=0),
        openmetrics=openmetrics,
        openmetrics_gzip=gzip.compress(openmetrics, compresslevel=6, mtime=0),
        rendered_at=now.timestamp(),
    )


class FixedMetrics:
    """A registry collector that yields metrics built beforehand."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return iter(self._metrics)


def collect_series(snapshot: Snapshot, config: Config, now: datetime) -> Series:
    """Every value the exporter publishes, by family and label values."""
    series: Series = defaultdict(lambda: defaultdict(Decimal))
    published = {
        key: list(published_samples(s, config, now)) for key, s in snapshot.accounts.items()
    }
    for key, state in snapshot.accounts.items():
        _add_provider_samples(series, state, published[key], config)
    if config.attribution is not None:
        collected = [(provider, rows) for (provider, _), rows in published.items()]
        attribution.add_series(series, config.attribution, collected, config.reporting_currency)
    _add_caps(series, config)
    _add_health(series, snapshot.accounts.values())
    for rate_from, rate in sorted(config.fx_rates.items()):
        series[catalog.FX_RATE][(rate_from, config.reporting_currency)] = rate
    return series


def build(snapshot: Snapshot, config: Config, now: datetime) -> Iterator[Metric]:
    series = collect_series(snapshot, config, now)
    for family in catalog.PUBLISHED:
        if family is catalog.BUILD_INFO:
            info = InfoMetricFamily(family.name, family.help, labels=[])
            info.add_metric([], {"version": __version__})
            yield info
        elif family in series:
            yield _metric(family, series[family])


def _metric(family: Family, values: dict[LabelValues, Decimal]) -> Metric:
    metric: GaugeMetricFamily | CounterMetricFamily
    if family.kind is Kind.COUNTER:
        metric = CounterMetricFamily(family.name, family.help, labels=list(family.labels))
    else:
        metric = GaugeMetricFamily(family.name, family.help, labels=list(family.labels))
    for label_values in sorted(values):
        metric.add_metric(list(label_values), float(values[label_values]))
    return metric


def published_samples(state: AccountState, config: Config, now: datetime) -> Iterator[Row]:
    """One account's samples as /metrics shows them: labelled with provider and account,
    money in the reporting currency, figures of an earlier month left out."""
    if state.last_success is None:
        return
    current = same_month(datetime.fromtimestamp(state.last_success, UTC), now)
    for sample in state.samples:
        family = sample.family
        # Figures of an earlier month would pass last month's total off as this
        # month's: leave them out until a collection of this month succeeds.
        if family.monthly and not current:
            continue
        labels = dict(sample.labels)
        labels.setdefault("provider", state.provider)
        labels.setdefault("account", state.account)
        value = sample.value
        if family.money:
            currency = sample.currency or config.reporting_currency
            if missing_rate(config, currency):
                continue
            value = config.convert(value, currency)
            labels["currency"] = config.reporting_currency
        yield family, labels, value


def _add_provider_samples(
    series: Series, state: AccountState, rows: Iterable[Row], config: Config
) -> None:
    if state.last_success is None:
        return
    collected_at = datetime.fromtimestamp(state.last_success, UTC)
    mtd_by_account: dict[tuple[str, str], list[tuple[str, Decimal]]] = defaultdict(list)
    previous_usage: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    usage_by_day: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    for family, labels, value in rows:
        series[family][tuple(labels[name] for name in family.labels)] += value
        key = (labels["provider"], labels["account"])
        usage_based = labels.get("charge_frequency") == catalog.USAGE_BASED
        if family is catalog.MONTH_TO_DATE:
            mtd_by_account[key].append((labels["charge_frequency"], value))
        elif family is catalog.PREVIOUS_MONTH and usage_based:
            previous_usage[key] += value
        elif family is catalog.DAILY_SPEND and usage_based:
            # A plan fee or a credit is not a day's burn: DailySpendHigh reads usage only.
            usage_by_day[key][labels["day"]] += value
    for (provider, account), amounts in mtd_by_account.items():
        previous = previous_usage.get((provider, account))
        series[catalog.FORECAST_MONTH_END][(provider, account, config.reporting_currency)] += (
            forecast.month_end(amounts, previous, collected_at)
        )
    for (provider, account), days in usage_by_day.items():
        _add_last_day(series, provider, account, days, collected_at.date(), config)


def _add_last_day(
    series: Series,
    provider: str,
    account: str,
    days: dict[str, Decimal],
    collected_on: date,
    config: Config,
) -> None:
    """cost_last_day: the latest day before the collection day (a day still running is
    not complete). No daily figure, no series: never a 0 that means unknown."""
    complete: dict[date, Decimal] = {}
    for label, amount in days.items():
        try:
            day = date.fromisoformat(label)
        except ValueError:  # a provider bug must not break the page
            continue
        if day < collected_on:
            complete[day] = amount
    if not complete:
        return
    day = max(complete)
    series[catalog.LAST_DAY][(provider, account, config.reporting_currency)] = complete[day]
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    series[catalog.LAST_DAY_TIMESTAMP][(provider, account)] = Decimal(int(midnight.timestamp()))


def _add_caps(series: Series, config: Config) -> None:
    for budget in config.budgets:
        key = (budget.provider, budget.account, config.reporting_currency)
        if budget.monthly is not None:
            series[catalog.BUDGET][key] = budget.monthly
        if budget.daily is not None:
            series[catalog.DAILY_BUDGET][key] = budget.daily
        if budget.credit_balance_min is not None:
            series[catalog.CREDIT_BALANCE_MIN][key] = budget.credit_balance_min
        for metric_name, limit in budget.usage_limits.items():
            series[catalog.USAGE_LIMIT][(budget.provider, budget.account, metric_name)] = limit


def _add_health(series: Series, states: Iterable[AccountState]) -> None:
    for state in states:
        key = (state.provider, state.account)
        series[catalog.COLLECTOR_UP][key] = Decimal(int(state.up))
        if state.last_success is not None:
            series[catalog.COLLECTOR_LAST_SUCCESS][key] = Decimal(str(state.last_success))
        if state.last_attempt is not None:
            series[catalog.COLLECTOR_LAST_ATTEMPT][key] = Decimal(str(state.last_attempt))
        if state.duration_s is not None:
            series[catalog.COLLECTOR_DURATION][key] = Decimal(str(round(state.duration_s, 6)))
        for reason in catalog.ERROR_REASONS:
            series[catalog.COLLECTOR_ERRORS][(*key, reason)] = Decimal(state.errors.get(reason, 0))
        series[catalog.COLLECTOR_SKIPPED_RECORDS][key] = Decimal(state.skipped_records)
