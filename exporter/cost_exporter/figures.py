"""Every figure the exporter publishes, derived once per snapshot.

One stage sits between the snapshot and every view: `derive` turns the last good
samples and the current config into a frozen `Figures`, and `/metrics`,
`/api/summary`, the status page, `collect --once`, `attribution` and the backfill
read that object; none of them computes a business figure of its own. What is
derived here: money in the reporting currency (figures of an earlier month left
out), the month-end forecast (forecast.py), `cost_last_day` (usage-based spend of
the latest complete day), allocation to apps (attribution.py), the AI price
table's age, the caps of the current config, collector health and the schedule.
Caps and FX rates come from the current config, not from the snapshot, so a
changed cap shows at once after a reload.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from types import MappingProxyType

from cost_exporter import attribution, catalog, forecast
from cost_exporter.attribution import Row
from cost_exporter.catalog import Family
from cost_exporter.periods import same_month
from cost_exporter.schedule import Schedule
from cost_exporter.settings import Config, missing_rate
from cost_exporter.snapshot import AccountState, Key, Snapshot

LabelValues = tuple[str, ...]
Series = dict[Family, dict[LabelValues, Decimal]]
NO_VALUES: Mapping[LabelValues, Decimal] = MappingProxyType({})


@dataclass(frozen=True)
class Figures(Mapping[Family, Mapping[LabelValues, Decimal]]):
    """The published figures of one snapshot under one config at one moment, by family
    and label values (in the family's catalog label order). Read-only: every view reads
    the same values, so `/metrics`, the JSON and the page cannot disagree."""

    at: datetime
    currency: str
    fx_rates: Mapping[str, Decimal]
    series: Mapping[Family, Mapping[LabelValues, Decimal]]
    published: Mapping[Key, tuple[Row, ...]] = field(default_factory=dict)
    """Each collector's samples as /metrics labels them, for reports that regroup them."""

    def __getitem__(self, family: Family) -> Mapping[LabelValues, Decimal]:
        return self.series[family]

    def __iter__(self) -> Iterator[Family]:
        return iter(self.series)

    def __len__(self) -> int:
        return len(self.series)

    def values_of(self, family: Family) -> Mapping[LabelValues, Decimal]:
        """A family's values; empty when nothing published it (never a made-up 0)."""
        return self.series.get(family, NO_VALUES)

    def total(self, family: Family) -> Decimal:
        return sum(self.values_of(family).values(), Decimal(0))

    @property
    def warning_ratio(self) -> Decimal:
        return self.series[catalog.WARNING_RATIO][()]


def derive(
    snapshot: Snapshot, config: Config, now: datetime, schedule: Schedule | None = None
) -> Figures:
    """Every value the exporter publishes; the schedule's series only with a schedule
    (the serving exporter's)."""
    series: Series = defaultdict(lambda: defaultdict(Decimal))
    published = {
        key: tuple(published_samples(s, config, now)) for key, s in snapshot.accounts.items()
    }
    for key, state in snapshot.accounts.items():
        _add_provider_samples(series, state, published[key], config)
    if config.attribution is not None:
        collected = [(provider, list(rows)) for (provider, _), rows in published.items()]
        attribution.add_series(series, config.attribution, collected, config.reporting_currency)
    _add_price_table_age(series, config, now)
    _add_caps(series, config)
    _add_health(series, snapshot.accounts.values())
    if schedule is not None:
        _add_schedule(series, snapshot.accounts.values(), schedule)
    for rate_from, rate in sorted(config.fx_rates.items()):
        series[catalog.FX_RATE][(rate_from, config.reporting_currency)] = rate
    return Figures(
        at=now,
        currency=config.reporting_currency,
        fx_rates=MappingProxyType(dict(sorted(config.fx_rates.items()))),
        series=MappingProxyType(
            {family: MappingProxyType(dict(values)) for family, values in series.items()}
        ),
        published=MappingProxyType(published),
    )


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


def _add_price_table_age(series: Series, config: Config, now: datetime) -> None:
    """The age of the oldest shipped AI price in use, from this render's clock (never the
    wall clock), with its configured limit; nothing while no collector priced with it."""
    used = series.get(catalog.AI_PRICE_TABLE_AS_OF)
    if not used:
        return
    oldest = min(used.values())
    series[catalog.AI_PRICE_TABLE_AGE][()] = Decimal(int(now.timestamp())) - oldest
    max_age = Decimal(config.ai_price_table_max_age_days * 86400)
    series[catalog.AI_PRICE_TABLE_MAX_AGE][()] = max_age


def _add_caps(series: Series, config: Config) -> None:
    series[catalog.WARNING_RATIO][()] = config.warning_ratio
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
        series[catalog.COLLECTOR_FAILURES_IN_A_ROW][key] = Decimal(state.failures_in_a_row)
        if state.duration_s is not None:
            series[catalog.COLLECTOR_DURATION][key] = Decimal(str(round(state.duration_s, 6)))
        for reason in catalog.ERROR_REASONS:
            series[catalog.COLLECTOR_ERRORS][(*key, reason)] = Decimal(state.errors.get(reason, 0))
        series[catalog.COLLECTOR_SKIPPED_RECORDS][key] = Decimal(state.skipped_records)


def _add_schedule(series: Series, states: Iterable[AccountState], schedule: Schedule) -> None:
    series[catalog.DATA_STALE_AFTER][()] = Decimal(str(schedule.stale_after_s))
    for state in states:
        due = schedule.next_due(state)
        if due is not None:  # never attempted: due at once, no time to publish
            series[catalog.COLLECTOR_NEXT_DUE][state.key] = Decimal(str(due.timestamp()))
