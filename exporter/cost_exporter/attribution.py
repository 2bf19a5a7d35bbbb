"""Attribute every provider bill to the user's own apps, teams and environments.

Bills speak the provider's language (a Vercel project, an OpenAI key, a Wasabi bucket); the
config's `attribution:` section maps them to `app`, `team` and `app_env`. Pure functions over
the samples /metrics publishes (reporting currency, this month's figures only), per bill (one
provider account as one collector reported it) and month:

1. **Items**: the bill cut into pieces a rule can match, one per `service_name`. When the
   rules for a provider match one of its breakdowns (`cost_exporter.dimensions`), this
   month's bill is cut by that breakdown instead: each value keeps its amount (scaled down
   if the breakdown adds up to more than the bill), and what it does not cover (its top-N
   `other` row, charges without a project) is one more item, which only rules without a
   dimension match. A usage breakdown (bytes per bucket, requests per Worker script) shares
   the spend of the services it describes; the other services stay items, and the share of
   its top-N `other` row is one more item without a dimension. Previous months have no
   breakdowns.
2. **Rules**: an item goes to the first rule that matches it, else to `app="unallocated"`.
3. **Splits**: each share of a rule gets item x weight (the weights add up to exactly 1).
4. **Cents**: each app's amount is rounded down to the cent, the missing cents go to the
   largest remainders (ties: the app that sorts first), and the sub-cent rest of the bill to
   the largest amount. So per provider, `cost_allocated_month_to_date` adds up to exactly
   `cost_month_to_date`: nothing appears, nothing disappears.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, Decimal
from fnmatch import fnmatchcase

import yaml

from cost_exporter import catalog
from cost_exporter.breakdowns import OTHER
from cost_exporter.catalog import Family
from cost_exporter.dimensions import BREAKDOWNS, SERVICE_NAME, VENDOR, Breakdown
from cost_exporter.settings import UNALLOCATED, Attribution, AttributionRule

Row = tuple[Family, Mapping[str, str], Decimal]
"""A published sample: family, labels (provider, account, currency included), value."""
Collected = tuple[str, Sequence[Row]]
"""The rows of one collector's account, with the collector's registry name."""
Series = dict[Family, dict[tuple[str, ...], Decimal]]

CENT = Decimal("0.01")
MONTHS = (
    (catalog.ALLOCATED_MONTH_TO_DATE, catalog.MONTH_TO_DATE),
    (catalog.ALLOCATED_PREVIOUS_MONTH, catalog.PREVIOUS_MONTH),
)


@dataclass(frozen=True, order=True)
class Target:
    app: str
    team: str = ""
    app_env: str = ""


UNALLOCATED_TARGET = Target(UNALLOCATED)


@dataclass(frozen=True)
class Item:
    """A piece of a bill that one rule takes as a whole."""

    collector: str
    provider: str
    account: str
    amount: Decimal
    dimension: str | None = None
    """`service_name`, a breakdown's dimension, or None: what the breakdown does not cover."""
    value: str = ""


@dataclass(frozen=True)
class Bill:
    collector: str
    provider: str
    account: str
    total: Decimal
    items: tuple[Item, ...]


# --- items ------------------------------------------------------------------------


def bills(collected: Collected, month: Family, breakdown: str | None = None) -> list[Bill]:
    """The bills of one collector's account for `month`, cut by `breakdown` where it has one."""
    collector, rows = collected
    spend: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for family, labels, value in rows:
        if family is month:
            spend[(labels["provider"], labels["account"])][labels["service_name"]] += value
    # Breakdowns describe this month only.
    source = BREAKDOWNS.get(collector, {}).get(breakdown or "")
    found = []
    for (provider, account), services in sorted(spend.items()):
        bill = Bill(collector, provider, account, sum(services.values(), Decimal(0)), ())
        items = None
        if breakdown is not None and source is not None and month is catalog.MONTH_TO_DATE:
            values = _values(rows, source, provider, account)
            if source.family.money:
                items = _by_money(bill, breakdown, values)
            else:
                items = _by_usage(bill, breakdown, source, values, services)
        if items is None:
            items = by_service(bill, services)
        found.append(replace(bill, items=tuple(items)))
    return found


def by_service(bill: Bill, services: Mapping[str, Decimal]) -> list[Item]:
    return [_item(bill, amount, SERVICE_NAME, name) for name, amount in sorted(services.items())]


def _item(bill: Bill, amount: Decimal, dimension: str | None = None, value: str = "") -> Item:
    return Item(bill.collector, bill.provider, bill.account, amount, dimension, value)


def _values(
    rows: Iterable[Row], source: Breakdown, provider: str, account: str
) -> dict[str, Decimal]:
    values: dict[str, Decimal] = defaultdict(Decimal)
    for family, labels, value in rows:
        if family is not source.family or labels["provider"] != provider:
            continue
        if labels["account"] == account and (
            not source.metrics or labels.get("metric") in source.metrics
        ):
            values[labels[source.label]] += value
    return values


def _by_money(bill: Bill, dimension: str, values: Mapping[str, Decimal]) -> list[Item] | None:
    covered = sum(values.values(), Decimal(0))
    if bill.total <= 0 or covered <= 0:
        return None  # credits above spend, or no breakdown: the services say more
    scale = min(Decimal(1), bill.total / covered)
    items = [
        _item(bill, amount * scale, dimension, value)
        for value, amount in sorted(values.items())
        if value != OTHER and amount
    ]
    rest = bill.total - sum((item.amount for item in items), Decimal(0))
    return [*items, _item(bill, rest)] if rest else items


def _by_usage(
    bill: Bill,
    dimension: str,
    source: Breakdown,
    usage: Mapping[str, Decimal],
    services: Mapping[str, Decimal],
) -> list[Item] | None:
    shared = {name for name in services if fnmatchcase(name, source.services)}
    weights = {value: weight for value, weight in usage.items() if weight > 0}
    whole = sum(weights.values(), Decimal(0))
    if not shared or not whole:
        return None
    pool = sum((services[name] for name in shared), Decimal(0))
    items = [
        # The top-N rest is no value a rule can name: only rules without a dimension take it.
        _item(bill, pool * w / whole) if v == OTHER else _item(bill, pool * w / whole, dimension, v)
        for v, w in sorted(weights.items())
    ]
    return items + by_service(bill, {n: a for n, a in services.items() if n not in shared})


# --- rules ------------------------------------------------------------------------


def matches(rule: AttributionRule, item: Item) -> bool:
    if rule.provider not in (item.provider, item.collector):
        return False
    for key, pattern in rule.match.items():
        if key == "provider":
            continue
        if key == "account":
            value: str | None = item.account
        elif key == VENDOR:
            value = item.provider
        else:
            value = item.value if key == item.dimension else None
        if value is None or not (value == pattern or fnmatchcase(value, pattern)):
            return False
    return True


def first_match(rules: Sequence[AttributionRule], item: Item) -> int | None:
    return next((i for i, rule in enumerate(rules) if matches(rule, item)), None)


def allocate(bill: Bill, rules: Sequence[AttributionRule]) -> dict[Target, Decimal]:
    """The bill per app, team and app_env, in amounts that add up to its total exactly."""
    exact: dict[Target, Decimal] = defaultdict(Decimal)
    for item in bill.items:
        index = first_match(rules, item)
        if index is None:
            exact[UNALLOCATED_TARGET] += item.amount
            continue
        for share in rules[index].shares:
            exact[Target(share.app, share.team, share.app_env)] += item.amount * share.weight
    return apportion(bill.total, exact)


def apportion(total: Decimal, exact: Mapping[Target, Decimal]) -> dict[Target, Decimal]:
    """Cents for each target (largest remainder), the parts adding up to `total` exactly."""
    if not exact:
        return {}
    order = sorted(exact)
    parts = {t: exact[t].quantize(CENT, rounding=ROUND_FLOOR) for t in order}
    rest = total - sum(parts.values(), Decimal(0))
    cents = int((rest / CENT).to_integral_value(rounding=ROUND_FLOOR))
    ranked = sorted(order, key=lambda t: (parts[t] - exact[t], t))  # largest remainder first
    if cents < 0:  # only when the exact parts add up to more than the total
        ranked.reverse()
    for n in range(abs(cents)):
        parts[ranked[n % len(ranked)]] += CENT if cents > 0 else -CENT
    leftover = rest - cents * CENT  # the sub-cent rest of the total, in [0, 0.01)
    if leftover:
        parts[min(order, key=lambda t: -abs(exact[t]))] += leftover
    return parts


# --- what the exporter publishes, and what the CLI prints ---------------------------


def all_bills(
    collected: Iterable[Collected], attribution: Attribution, month: Family
) -> list[Bill]:
    return [bill for one in collected for bill in bills(one, month, attribution.breakdown(one[0]))]


def add_series(
    series: Series, attribution: Attribution, collected: Iterable[Collected], currency: str
) -> None:
    """cost_allocated_month_to_date, cost_allocated_previous_month and cost_app_budget."""
    collected = list(collected)
    for family, month in MONTHS:
        for bill in all_bills(collected, attribution, month):
            for target, amount in allocate(bill, attribution.rules).items():
                if amount:
                    labels = {**vars(target), "provider": bill.provider, "currency": currency}
                    key = tuple(labels[name] for name in family.labels)
                    values = series.setdefault(family, {})
                    values[key] = values.get(key, Decimal(0)) + amount
    for app, budget in sorted(attribution.app_budgets.items()):
        series.setdefault(catalog.APP_BUDGET, {})[(app, currency)] = budget


@dataclass(frozen=True)
class Report:
    """This month's spend per app, and what no rule takes yet."""

    apps: dict[Target, Decimal]
    total: Decimal
    unallocated: list[Item]
    """Items no rule matches, largest first."""
    other_values: list[tuple[str, Item]]
    """(breakdown, item) of bills with unallocated spend whose rules match no breakdown yet:
    the same bill cut by each of its breakdowns, with what the breakdown does not cover."""


def report(attribution: Attribution, collected: Iterable[Collected]) -> Report:
    rules = attribution.rules
    apps: dict[Target, Decimal] = defaultdict(Decimal)
    unallocated: list[Item] = []
    other_values: list[tuple[str, Item]] = []
    total = Decimal(0)
    for one in collected:
        breakdown = attribution.breakdown(one[0])
        for bill in bills(one, catalog.MONTH_TO_DATE, breakdown):
            total += bill.total
            for target, amount in allocate(bill, rules).items():
                apps[target] += amount
            missed = [item for item in bill.items if first_match(rules, item) is None]
            unallocated += missed
            if not missed or breakdown is not None:
                continue
            for dimension in BREAKDOWNS.get(bill.collector, {}):
                for alternative in bills(one, catalog.MONTH_TO_DATE, dimension):
                    same = (alternative.provider, alternative.account) == (
                        bill.provider,
                        bill.account,
                    )
                    if same and any(item.dimension == dimension for item in alternative.items):
                        other_values += [
                            (dimension, item)
                            for item in alternative.items
                            if first_match(rules, item) is None
                        ]
    return Report(
        apps={target: amount for target, amount in sorted(apps.items()) if amount},
        total=total,
        unallocated=sorted(unallocated, key=_largest_first),
        other_values=sorted(other_values, key=lambda d: (d[1].provider, d[0], _rest_last(d[1]))),
    )


def _rest_last(item: Item) -> tuple[str, int, Decimal, str]:
    """Breakdown values first, then what they do not cover, then the services they leave."""
    rank = 2 if item.dimension == SERVICE_NAME else 1 if item.dimension is None else 0
    return (item.account, rank, -item.amount, item.value)


def _largest_first(item: Item) -> tuple[Decimal, str, str, str, str]:
    return (-item.amount, item.provider, item.account, item.dimension or "", item.value)


def suggested_match(item: Item, known_providers: Collection[str]) -> str:
    """The `match:` of a rule that takes this item, as YAML to paste into the config."""
    if item.provider in known_providers:
        pairs = [("provider", item.provider)]
    else:  # a vendor only seen in a CSV or FOCUS file
        pairs = [("provider", item.collector), (VENDOR, item.provider)]
    if item.account != "default":
        pairs.append(("account", item.account))
    if item.dimension is not None:
        pairs.append((item.dimension, item.value))
    return "{" + ", ".join(f"{key}: {_scalar(value)}" for key, value in pairs) + "}"


def _scalar(value: str) -> str:
    """`value` as a YAML flow scalar: plain when YAML reads it back as the same string."""
    try:
        plain = yaml.safe_load(f"{{k: {value}}}") == {"k": value}
    except yaml.YAMLError:
        plain = False
    return value if plain and value.strip() == value else json.dumps(value)
