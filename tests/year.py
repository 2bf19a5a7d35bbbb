"""A fixture year: Vercel charges and Wasabi daily records, generated day by day.

The backfill tests replay it twice: as history (what `cost-exporter backfill`
reads) and as the live exporter would have collected it on each day. The
records are shaped like the fixtures in `tests/fixtures/{vercel,wasabi}/`,
and a day only shows once it has ended, as the real APIs report it: Vercel's
`to` is a moment (a charge shows when its `ChargePeriodEnd` is not after it),
Wasabi's `to` a date the answer stops before.

The amounts are a pure function of the day, so a test can compute what a
month to date must be without the exporter's code (`expected_*`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

VERCEL_URL = re.compile(r"https://api\.vercel\.com/v1/billing/charges\?.*")
WASABI_URL = re.compile(r"https://stats\.wasabisys\.com/v1/standalone/utilizations\?.*")
TIB = 1024**4
PRICE = Decimal("6.99")


@dataclass(frozen=True)
class Charge:
    day: date
    service: str
    amount: Decimal
    category: str = "Usage"

    @property
    def frequency(self) -> str:
        """The stream sends no ChargeFrequency: only a `Usage` line is usage-based."""
        return "usage_based" if self.category == "Usage" else "one_time"

    def line(self) -> str:
        start = datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)
        return json.dumps(
            {
                "BilledCost": float(self.amount),
                "BillingCurrency": "USD",
                "ChargeCategory": self.category,
                "ChargePeriodStart": start.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "ChargePeriodEnd": (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "ServiceName": self.service,
                "ServiceProviderName": "Vercel",
                "Tags": {"ProjectName": "web"},
            }
        )


def charges_of(day: date) -> list[Charge]:
    """A few services a day; the Pro plan on the 1st; a credit now and then; idle days."""
    n = day.toordinal()
    if n % 17 == 0:
        return []
    charges = [
        Charge(day, "Function Invocations", Decimal(n * 37 % 500) / 100),
        Charge(day, "Fast Data Transfer", Decimal(n * 11 % 90) / 100),
    ]
    if day.day == 1:
        charges.append(Charge(day, "Pro Plan", Decimal(20), "Purchase"))
    if n % 10 == 0:
        charges.append(Charge(day, "Function Invocations", Decimal(-1), "Credit"))
    return charges


def wasabi_record(day: date, first: date) -> dict[str, Any]:
    """Storage that grows from 0.6 TiB past the 1 TiB minimum over the year."""
    age = (day - first).days
    padded = int(TIB * (Decimal("0.6") + Decimal(age) / 500))
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {
        "StartTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "EndTime": (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "PaddedStorageSizeBytes": padded,
        "MetadataStorageSizeBytes": 1024**3,
        "DeletedStorageSizeBytes": (age % 7) * 10 * 1024**3,
        "RawStorageSizeBytes": padded,
        "NumBillableObjects": 1000 + age,
        "NumBillableDeletedObjects": age % 3,
        "NumAPICalls": 100 + age,
        "UploadBytes": 1024**3,
        "DownloadBytes": 2 * 1024**3,
    }


@dataclass
class Year:
    first: date
    last: date
    _lines: dict[date, list[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._lines = {day: [c.line() for c in charges_of(day)] for day in self.days()}

    def days(self, start: date | None = None, end: date | None = None) -> Iterator[date]:
        day = max(start or self.first, self.first)
        stop = min(end or self.last + timedelta(days=1), self.last + timedelta(days=1))
        while day < stop:
            yield day
            day += timedelta(days=1)

    # --- the fake APIs ------------------------------------------------------------

    def vercel(self, request: httpx.Request) -> httpx.Response:
        query = parse_qs(urlsplit(str(request.url)).query)
        since = _moment(query["from"][0])
        until = _moment(query["to"][0])
        lines = [
            line
            for day in self.days(since.date(), until.date() + timedelta(days=1))
            # The day has ended by `to`, and it starts inside the window.
            if since <= _midnight(day) and _midnight(day) + timedelta(days=1) <= until
            for line in self._lines[day]
        ]
        body = "".join(line + "\n" for line in lines)
        return httpx.Response(200, text=body, headers={"Content-Type": "application/jsonl"})

    def wasabi(self, request: httpx.Request) -> httpx.Response:
        query = parse_qs(urlsplit(str(request.url)).query)
        since, until = date.fromisoformat(query["from"][0]), date.fromisoformat(query["to"][0])
        page, size = int(query["pageNum"][0]), int(query["pageSize"][0])
        records = [wasabi_record(day, self.first) for day in self.days(since, until)]
        chunk = records[page * size : (page + 1) * size]
        info = {"RecordCount": len(records), "PageCount": -(-len(records) // size), "PageNum": page}
        return httpx.Response(200, json={"PageInfo": info, "Records": chunk})

    # --- what the exporter must show, computed without the exporter -------------

    def vercel_month_to_date(self, day: date) -> dict[tuple[str, str], Decimal]:
        """Per service and charge frequency: the charges of `day`'s month before `day`
        (the days completed)."""
        return self.vercel_between(day.replace(day=1), day)

    def vercel_between(self, start: date, end: date) -> dict[tuple[str, str], Decimal]:
        """Per service and charge frequency: the charges of the days in [start, end)."""
        totals: dict[tuple[str, str], Decimal] = {}
        for known in self.days(start, end):
            for charge in charges_of(known):
                key = (charge.service, charge.frequency)
                totals[key] = totals.get(key, Decimal(0)) + charge.amount
        return totals

    def vercel_usage_day(self, day: date) -> Decimal:
        """What `cost_last_day` shows for `day`: its usage lines, no plan fee, no credit."""
        return sum((c.amount for c in charges_of(day) if c.category == "Usage"), Decimal(0))


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
