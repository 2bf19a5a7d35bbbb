"""The numbers behind the status page on `/` and `GET /api/summary`, computed once.

Both views read one `Summary`. Its money comes from `figures.Figures`, the very
object `/metrics` is rendered from (converted to the reporting currency, last
month's figures hidden), so the page, the JSON and `/metrics` cannot disagree:
nothing here derives a figure of its own, it only groups them by account.

Two tables, because spend and health are keyed differently:

* spend rows are keyed by the `provider`/`account` labels of the spend. The
  `manual` collector's bills carry the vendor they pay (`ovh`), so one row can
  come from another collector than its name suggests; each row names the
  collectors behind it and shows their worst state;
* collector rows are keyed by the configured collector (`manual/default`) and
  carry its health: state, last success, redacted last error, errors by reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cost_exporter import __version__, catalog
from cost_exporter.figures import Figures
from cost_exporter.schedule import Schedule
from cost_exporter.snapshot import AccountState, Key, Snapshot

if TYPE_CHECKING:
    from cost_exporter.refresher import Refresher

SCHEMA_VERSION = 1
GRAFANA_DASHBOARD_PATH = "/d/cost-exporter-costs"
"""The Costs dashboard's uid in grafana/dashboards/costs.json (a test keeps them equal)."""

# Worst first: a spend row backed by several collectors shows the worst state.
STATES = ("failing", "never", "stale", "ok")
NO_COLLECTOR = "unconfigured"
SPEND_FAMILIES = (catalog.MONTH_TO_DATE, catalog.PREVIOUS_MONTH, catalog.DAILY_SPEND, catalog.USAGE)


def cap_status(used: Decimal | None, cap: Decimal | None, warning_ratio: Decimal) -> str | None:
    """`ok`, `warning` (from the warning ratio, cost_budget_warning_ratio, that BudgetWarning
    reads) or `exceeded` (from 100%, BudgetExceeded); None without both numbers."""
    if used is None or cap is None:
        return None
    if cap <= 0:
        return "exceeded" if used > 0 else "ok"
    ratio = used / cap
    if ratio >= 1:
        return "exceeded"
    return "warning" if ratio >= warning_ratio else "ok"


def percent(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
    if part is None or whole is None or whole == 0:
        return None
    return part / whole * 100


@dataclass(frozen=True)
class Usage:
    """A usage metric with a configured limit; `value` is None when nothing reported it."""

    metric: str
    value: Decimal | None
    limit: Decimal
    warning_ratio: Decimal

    @property
    def status(self) -> str | None:
        return cap_status(self.value, self.limit, self.warning_ratio)

    @property
    def used_pct(self) -> Decimal | None:
        return percent(self.value, self.limit)


@dataclass(frozen=True)
class Service:
    service_name: str
    source: str
    charge_frequency: str
    month_to_date: Decimal


@dataclass(frozen=True)
class SpendRow:
    """One provider account as the spend labels name it.

    `month_to_date` is None when nothing was reported this month (a budget
    configured for an account without data), never a made-up 0.
    """

    provider: str
    account: str
    month_to_date: Decimal | None
    previous_month: Decimal | None
    forecast_month_end: Decimal | None
    budget: Decimal | None
    services: tuple[Service, ...]
    usage: tuple[Usage, ...]
    daily: tuple[tuple[date, Decimal], ...]
    collectors: tuple[Key, ...]
    state: str
    last_success: float | None
    warning_ratio: Decimal

    @property
    def sources(self) -> dict[str, Decimal]:
        """Amount per `source` (api / estimated / manual), in catalog order."""
        amounts: dict[str, Decimal] = {}
        for service in self.services:
            amounts[service.source] = (
                amounts.get(service.source, Decimal(0)) + service.month_to_date
            )
        order = {source: i for i, source in enumerate(catalog.SOURCES)}
        return dict(sorted(amounts.items(), key=lambda item: (order.get(item[0], 99), item[0])))

    @property
    def budget_status(self) -> str | None:
        return cap_status(self.month_to_date, self.budget, self.warning_ratio)

    @property
    def budget_used_pct(self) -> Decimal | None:
        return percent(self.month_to_date, self.budget)


@dataclass(frozen=True)
class Collector:
    """One configured collector's health."""

    provider: str
    account: str
    state: str
    last_success: float | None
    last_attempt: float | None
    duration_s: float | None
    last_error: str | None
    """Already redacted by the health wrapper before it reached the snapshot."""
    errors: Mapping[str, int]
    """Failed collections by reason (`cost_collector_errors_total`), non-zero reasons only."""
    skipped_records: int


@dataclass(frozen=True)
class Totals:
    month_to_date: Decimal
    previous_month: Decimal | None
    forecast_month_end: Decimal
    budget: Decimal | None
    """The sum of the configured monthly budgets; None when none is set."""
    budgeted_forecast_month_end: Decimal | None
    """The forecast of the accounts that have a monthly budget: the part of the forecast the
    budgets speak for (an account without a budget is not measured against the others')."""
    warning_ratio: Decimal

    @property
    def forecast_vs_previous_pct(self) -> Decimal | None:
        """How the month-end forecast compares with last month (+10 = 10% more)."""
        change = percent(self.forecast_month_end, self.previous_month)
        return None if change is None else change - 100

    @property
    def forecast_vs_budget_pct(self) -> Decimal | None:
        return percent(self.budgeted_forecast_month_end, self.budget)

    @property
    def budget_status(self) -> str | None:
        return cap_status(self.budgeted_forecast_month_end, self.budget, self.warning_ratio)


@dataclass(frozen=True)
class Summary:
    generated_at: datetime
    currency: str
    fx_rates: Mapping[str, Decimal]
    warning_ratio: Decimal
    """The cost_budget_warning_ratio /metrics publishes: a cap is amber from it."""
    totals: Totals
    spend: tuple[SpendRow, ...]
    collectors: tuple[Collector, ...]
    next_collection: datetime | None
    refreshing: bool
    token_required: bool
    grafana_url: str | None
    refresh_min_interval_s: float = 0
    demo: bool = False
    """Every figure comes from the built-in fake providers: the page says so in a banner."""

    @property
    def newest_success(self) -> float | None:
        return max((c.last_success for c in self.collectors if c.last_success), default=None)

    @property
    def oldest_success(self) -> float | None:
        return min((c.last_success for c in self.collectors if c.last_success), default=None)

    @property
    def budgeted_rows(self) -> int:
        return sum(row.budget is not None for row in self.spend)

    @property
    def grafana_dashboard(self) -> str | None:
        if self.grafana_url is None:
            return None
        return self.grafana_url.rstrip("/") + GRAFANA_DASHBOARD_PATH


# --- building -------------------------------------------------------------------


def from_refresher(refresher: Refresher, now: datetime | None = None) -> Summary:
    """The summary of what the running exporter serves right now."""
    settings = refresher.settings
    now = now or refresher.clock()
    return build(
        refresher.figures,
        refresher.snapshot,
        now,
        next_collection=max(refresher.next_wakeup(), now),
        refreshing=refresher.refreshing,
        schedule=refresher.schedule,
        token_required=settings.refresh_token is not None,
        grafana_url=settings.grafana_url,
        refresh_min_interval_s=settings.refresh_min_interval_s,
        demo=refresher.demo,
    )


def build(
    figures: Figures,
    snapshot: Snapshot,
    now: datetime,
    *,
    next_collection: datetime | None = None,
    refreshing: bool = False,
    schedule: Schedule | None = None,
    token_required: bool = False,
    grafana_url: str | None = None,
    refresh_min_interval_s: float = 0,
    demo: bool = False,
) -> Summary:
    warning_ratio = figures.warning_ratio
    collectors = tuple(
        _collector(state, now, schedule)
        for state in sorted(snapshot.accounts.values(), key=lambda s: s.key)
    )
    rows = _spend_rows(figures, snapshot, collectors, now, warning_ratio)
    budget = figures.total(catalog.BUDGET) if figures.values_of(catalog.BUDGET) else None
    budgeted_forecast = sum(
        (r.forecast_month_end or Decimal(0) for r in rows if r.budget is not None), Decimal(0)
    )
    return Summary(
        generated_at=now,
        currency=figures.currency,
        fx_rates=figures.fx_rates,
        warning_ratio=warning_ratio,
        totals=Totals(
            month_to_date=figures.total(catalog.MONTH_TO_DATE),
            previous_month=(
                figures.total(catalog.PREVIOUS_MONTH)
                if figures.values_of(catalog.PREVIOUS_MONTH)
                else None
            ),
            forecast_month_end=figures.total(catalog.FORECAST_MONTH_END),
            budget=budget,
            budgeted_forecast_month_end=None if budget is None else budgeted_forecast,
            warning_ratio=warning_ratio,
        ),
        spend=rows,
        collectors=collectors,
        next_collection=next_collection,
        refreshing=refreshing,
        token_required=token_required,
        grafana_url=grafana_url,
        refresh_min_interval_s=refresh_min_interval_s,
        demo=demo,
    )


def _collector(state: AccountState, now: datetime, schedule: Schedule | None) -> Collector:
    """`never`, `failing`, `stale` (by the schedule's one rule; never without a schedule) or
    `ok`."""
    if state.last_attempt is None:
        word = "never"
    elif not state.up:
        word = "failing"
    elif schedule is not None and not schedule.fresh(state, now):
        word = "stale"
    else:
        word = "ok"
    return Collector(
        provider=state.provider,
        account=state.account,
        state=word,
        last_success=state.last_success,
        last_attempt=state.last_attempt,
        duration_s=state.duration_s,
        last_error=state.last_error,
        errors={reason: n for reason, n in state.errors.items() if n},
        skipped_records=state.skipped_records,
    )


def _by_account(
    figures: Figures, family: catalog.Family, *names: str
) -> dict[Key, dict[tuple[str, ...], Decimal]]:
    """{(provider, account): {values of the labels `names`: value}} of one family; values
    whose other labels differ are summed."""
    grouped: dict[Key, dict[tuple[str, ...], Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for values, value in figures.values_of(family).items():
        labels = dict(zip(family.labels, values, strict=True))
        key = (labels["provider"], labels["account"])
        grouped[key][tuple(labels[name] for name in names)] += value
    return grouped


def _spend_keys(snapshot: Snapshot) -> dict[Key, set[Key]]:
    """Which collectors produced the spend of each (provider, account) label pair."""
    behind: dict[Key, set[Key]] = defaultdict(set)
    for state in snapshot.accounts.values():
        behind[state.key].add(state.key)
        for sample in state.samples:
            if sample.family in SPEND_FAMILIES:
                provider = sample.label("provider") or state.provider
                account = sample.label("account") or state.account
                behind[(provider, account)].add(state.key)
    return behind


def _spend_rows(
    figures: Figures,
    snapshot: Snapshot,
    collectors: Iterable[Collector],
    now: datetime,
    warning_ratio: Decimal,
) -> tuple[SpendRow, ...]:
    mtd = _by_account(figures, catalog.MONTH_TO_DATE, "service_name", "source", "charge_frequency")
    previous = _by_account(figures, catalog.PREVIOUS_MONTH)
    forecast = _by_account(figures, catalog.FORECAST_MONTH_END)
    budgets = _by_account(figures, catalog.BUDGET)
    limits = _by_account(figures, catalog.USAGE_LIMIT, "metric")
    usage = _by_account(figures, catalog.USAGE, "metric")
    # The sparkline shows every charge of a day, plan fees and credits included.
    daily = _by_account(figures, catalog.DAILY_SPEND, "day")
    health = {(c.provider, c.account): c for c in collectors}
    behind = _spend_keys(snapshot)
    month = now.astimezone(UTC).strftime("%Y-%m")

    rows = []
    for key in sorted(set(mtd) | set(previous) | set(budgets) | set(limits)):
        services = tuple(
            Service(
                service_name=service, source=source, charge_frequency=frequency, month_to_date=value
            )
            for (service, source, frequency), value in sorted(mtd.get(key, {}).items())
        )
        days = _this_month(daily.get(key, {}), month)
        backing = [health[k] for k in sorted(behind.get(key, ())) if k in health]
        state = min((c.state for c in backing), key=STATES.index, default=NO_COLLECTOR)
        rows.append(
            SpendRow(
                provider=key[0],
                account=key[1],
                month_to_date=_total(mtd.get(key)),
                previous_month=_total(previous.get(key)),
                forecast_month_end=_total(forecast.get(key)),
                budget=_total(budgets.get(key)),
                services=services,
                usage=tuple(
                    Usage(metric, usage.get(key, {}).get((metric,)), limit, warning_ratio)
                    for (metric,), limit in sorted(limits.get(key, {}).items())
                ),
                daily=days,
                collectors=tuple((c.provider, c.account) for c in backing),
                state=state,
                last_success=_oldest(c.last_success for c in backing),
                warning_ratio=warning_ratio,
            )
        )
    return tuple(rows)


def _this_month(
    daily: Mapping[tuple[str, ...], Decimal], month: str
) -> tuple[tuple[date, Decimal], ...]:
    """The days of `month` (YYYY-MM), in order; a malformed day label is left out."""
    days = []
    for (label,), value in daily.items():
        try:
            day = date.fromisoformat(label)
        except ValueError:
            continue
        if day.strftime("%Y-%m") == month:
            days.append((day, value))
    return tuple(sorted(days))


def _oldest(moments: Iterable[float | None]) -> float | None:
    """The oldest success, or None when one of them never succeeded (or there are none)."""
    known = list(moments)
    if not known or None in known:
        return None
    return min(m for m in known if m is not None)


def _total(values: Mapping[Any, Decimal] | None) -> Decimal | None:
    return None if not values else sum(values.values(), Decimal(0))


# --- JSON -----------------------------------------------------------------------


def _number(value: Decimal | None) -> float | None:
    """The float /metrics prints for the same value."""
    return None if value is None else float(value)


def _pct(value: Decimal | None) -> float | None:
    return None if value is None else float(round(value, 1))


def _iso(moment: datetime | float | None) -> str | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def to_json(summary: Summary) -> dict[str, Any]:
    """The stable `GET /api/summary` document (README: "The status page and /api/summary")."""
    totals = summary.totals
    return {
        "schema_version": SCHEMA_VERSION,
        "exporter_version": __version__,
        "generated_at": _iso(summary.generated_at),
        "month": summary.generated_at.astimezone(UTC).strftime("%Y-%m"),
        "currency": summary.currency,
        "fx_rates": {code: float(rate) for code, rate in summary.fx_rates.items()},
        "warning_ratio": float(summary.warning_ratio),
        "demo": summary.demo,
        "totals": {
            "month_to_date": _number(totals.month_to_date),
            "previous_month": _number(totals.previous_month),
            "forecast_month_end": _number(totals.forecast_month_end),
            "forecast_vs_previous_month_pct": _pct(totals.forecast_vs_previous_pct),
            "budget": _number(totals.budget),
            "budgeted_forecast_month_end": _number(totals.budgeted_forecast_month_end),
            "forecast_vs_budget_pct": _pct(totals.forecast_vs_budget_pct),
            "budget_status": totals.budget_status,
        },
        "data": {
            "newest_success": _iso(summary.newest_success),
            "oldest_success": _iso(summary.oldest_success),
            "next_collection": _iso(summary.next_collection),
            "refreshing": summary.refreshing,
        },
        "spend": [
            {
                "provider": row.provider,
                "account": row.account,
                "month_to_date": _number(row.month_to_date),
                "previous_month": _number(row.previous_month),
                "forecast_month_end": _number(row.forecast_month_end),
                "budget": _number(row.budget),
                "budget_used_pct": _pct(row.budget_used_pct),
                "budget_status": row.budget_status,
                "sources": {source: float(v) for source, v in row.sources.items()},
                "services": [
                    {
                        "service_name": s.service_name,
                        "source": s.source,
                        "charge_frequency": s.charge_frequency,
                        "month_to_date": float(s.month_to_date),
                    }
                    for s in row.services
                ],
                "usage": [
                    {
                        "metric": u.metric,
                        "value": _number(u.value),
                        "limit": float(u.limit),
                        "used_pct": _pct(u.used_pct),
                        "status": u.status,
                    }
                    for u in row.usage
                ],
                "daily": [{"day": day.isoformat(), "amount": float(v)} for day, v in row.daily],
                "collectors": [{"provider": p, "account": a} for p, a in row.collectors],
                "state": row.state,
                "last_success": _iso(row.last_success),
            }
            for row in summary.spend
        ],
        "collectors": [
            {
                "provider": c.provider,
                "account": c.account,
                "state": c.state,
                "last_success": _iso(c.last_success),
                "last_attempt": _iso(c.last_attempt),
                "duration_s": None if c.duration_s is None else round(c.duration_s, 3),
                "last_error": c.last_error,
                "errors": dict(c.errors),
                "skipped_records": c.skipped_records,
            }
            for c in summary.collectors
        ],
        "refresh": {
            "endpoint": "/refresh",
            "token_required": summary.token_required,
            "min_interval_s": summary.refresh_min_interval_s,
        },
        "links": {
            "metrics": "/metrics",
            "healthz": "/healthz",
            "grafana": summary.grafana_dashboard,
        },
    }
