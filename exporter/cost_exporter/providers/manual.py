"""Manual bills: fixed monthly charges and one-off entries from the config, or a CSV.

For the bills that have no API (a VPS at IONOS, a Hostinger plan, a Claude
Max subscription). Each bill names the vendor it pays, which becomes the
`provider` label, so IONOS shows up as `ionos` on the dashboard, not as
`manual`. Needs no credential. A fixed bill is `recurring` and counts in full
from the 1st of each month it is active; a one-off charge (config or CSV) is
`one_time` and counts in the month of its date. The forecast adds both as they
are, never extrapolated.

    cost_month_to_date{provider="ionos",account="default",service_name="VPS",currency="USD",source="manual",charge_frequency="recurring"} 6.48
    cost_previous_month{provider="ionos",account="default",service_name="VPS",currency="USD",source="manual",charge_frequency="recurring"} 6.48
    cost_month_to_date{provider="ovh",account="default",service_name="Domain renewal",currency="USD",source="manual",charge_frequency="one_time"} 12.96

CSV import (`csv_files`): a header row with `date,provider,service_name,amount,currency`
and optionally `account`; one line per charge. Lines that cannot be read are
counted and skipped.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from pydantic import Field, field_validator

from cost_exporter import catalog
from cost_exporter.errors import CollectorError
from cost_exporter.periods import month_start, previous_month_start
from cost_exporter.providers.base import Context, ProviderSpec
from cost_exporter.samples import BadAmount, Money, Sample, to_decimal
from cost_exporter.settings import AccountConfig, Strict

LABEL = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
Month = tuple[int, int]


def _month(value: str | None) -> Month | None:
    if value is None:
        return None
    match = re.fullmatch(r"(\d{4})-(\d{2})", str(value))
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValueError("months are written YYYY-MM")
    return int(match[1]), int(match[2])


class Bill(Strict):
    """A charge that repeats every month between `start` and `end` (both YYYY-MM, inclusive)."""

    name: str
    provider: str = Field(pattern=LABEL)
    account: str = "default"
    service_name: str | None = None
    amount: Decimal
    currency: str = Field("USD", pattern="^[A-Z]{3}$")
    start: str | None = None
    end: str | None = None

    @field_validator("start", "end")
    @classmethod
    def _valid_month(cls, value: str | None) -> str | None:
        _month(value)
        return value

    def active_in(self, month: Month) -> bool:
        start, end = _month(self.start), _month(self.end)
        return (start is None or start <= month) and (end is None or month <= end)


class OneOff(Strict):
    provider: str = Field(pattern=LABEL)
    account: str = "default"
    service_name: str
    date: date
    amount: Decimal
    currency: str = Field("USD", pattern="^[A-Z]{3}$")


class Config(AccountConfig):
    bills: list[Bill] = Field(default_factory=list)
    one_off: list[OneOff] = Field(default_factory=list)
    csv_files: list[Path] = Field(default_factory=list)

    def vendors(self) -> frozenset[str]:
        return frozenset(b.provider for b in self.bills) | {c.provider for c in self.one_off}


def _month_of(moment: datetime | date) -> Month:
    return moment.year, moment.month


def read_csv(path: Path, ctx: Context) -> list[OneOff]:
    """Charges from a CSV export; unreadable lines are counted, not fatal."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CollectorError("config", f"cannot read CSV {path}: {exc.strerror}") from None
    rows = csv.DictReader(text.splitlines())
    required = {"date", "provider", "service_name", "amount", "currency"}
    if not required <= set(rows.fieldnames or ()):
        raise CollectorError("parse", f"CSV {path}: header must name {sorted(required)}")
    charges = []
    for line, row in enumerate(rows, start=2):
        try:
            charges.append(
                OneOff(
                    provider=row["provider"].strip().lower(),
                    account=(row.get("account") or "default").strip(),
                    service_name=row["service_name"].strip(),
                    date=date.fromisoformat(row["date"].strip()),
                    amount=to_decimal(row["amount"]),
                    currency=row["currency"].strip().upper(),
                )
            )
        except (ValueError, BadAmount, AttributeError) as exc:
            ctx.skip("csv_line", f"{path.name}:{line}: {exc}")
    return charges


def monthly_totals(
    bills: Iterable[Bill], one_offs: Iterable[OneOff], month: Month
) -> dict[tuple[str, str, str, str, str], Decimal]:
    """(provider, account, service_name, charge_frequency, currency) -> amount charged in
    `month`."""
    totals: dict[tuple[str, str, str, str, str], Decimal] = defaultdict(Decimal)
    for bill in bills:
        if bill.active_in(month):
            service = bill.service_name or bill.name
            key = (bill.provider, bill.account, service, catalog.RECURRING, bill.currency)
            totals[key] += bill.amount
    for charge in one_offs:
        if _month_of(charge.date) == month:
            service = charge.service_name
            key = (charge.provider, charge.account, service, catalog.ONE_TIME, charge.currency)
            totals[key] += charge.amount
    return dict(totals)


async def collect(config: Config, ctx: Context) -> list[Sample]:
    one_offs = list(config.one_off)
    for path in config.csv_files:
        one_offs.extend(read_csv(path, ctx))
    periods = (
        (catalog.MONTH_TO_DATE, _month_of(month_start(ctx.now))),
        (catalog.PREVIOUS_MONTH, _month_of(previous_month_start(ctx.now))),
    )
    samples = []
    for family, month in periods:
        for (provider, account, service, frequency, currency), amount in monthly_totals(
            config.bills, one_offs, month
        ).items():
            samples.append(
                Sample.of(
                    family,
                    Money(amount, currency),
                    provider=provider,
                    account=account,
                    service_name=service,
                    source="manual",
                    charge_frequency=frequency,
                )
            )
    return samples


PROVIDER = ProviderSpec(
    name="manual",
    config_model=Config,
    collect=collect,
    summary="Fixed monthly bills and one-off charges from the config file or a CSV export.",
)
