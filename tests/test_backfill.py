"""`cost-exporter backfill`: history rebuilt into exactly what the live exporter showed.

The central test replays a fixture year (tests/year.py) twice through the real
Vercel and Wasabi collectors: once as the backfill reads it, once as the live
exporter would have collected it at 00:05 UTC on each day, and compares every
rebuilt sample with the live figure of that day.
"""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from pytest_httpx import HTTPXMock

from cost_exporter import backfill, catalog, cli, forecast, health
from cost_exporter.backfill import (
    FAMILIES,
    History,
    Points,
    Progress,
    backfill_range,
    fetch_histories,
    midnight,
    openmetrics,
    rebuild,
)
from cost_exporter.daily import days
from cost_exporter.figures import derive
from cost_exporter.http_client import HttpClient
from cost_exporter.logs import REDACT
from cost_exporter.providers import REGISTRY
from cost_exporter.providers.base import Context, ProviderSpec
from cost_exporter.samples import Money, Sample
from cost_exporter.schedule import ROLLOVER_DELAY
from cost_exporter.settings import Config, load_exporter_settings
from cost_exporter.snapshot import Snapshot
from tests.fakes import FakeConfig, make_config
from tests.helpers import fast_http
from tests.year import VERCEL_URL, WASABI_URL, Year, charges_of

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
ENV = {"VERCEL_TOKEN": "vercel-secret-token", "W_KEY": "WASABIKEY", "W_SECRET": "wasabi-secret"}
CONFIG = """
providers:
  vercel:
    - token_env: VERCEL_TOKEN
  wasabi:
    - {access_key_env: W_KEY, secret_key_env: W_SECRET, inventory: false, bucket_stats: false}
"""


def year_config(tmp_path: Path, extra: str = "") -> Config:
    return make_config(tmp_path, CONFIG + extra, ENV)


def serve(httpx_mock: HTTPXMock, year: Year) -> None:
    httpx_mock.add_callback(year.vercel, url=VERCEL_URL, is_reusable=True)
    httpx_mock.add_callback(year.wasabi, url=WASABI_URL, is_reusable=True)


def quiet() -> Progress:
    return Progress(io.StringIO(), 1, tty=False)


async def backfilled(config: Config, months: int = 12, now: datetime = NOW) -> Points:
    http = fast_http()
    try:
        histories, failures = await fetch_histories(config, http, now, months, quiet())
    finally:
        await http.aclose()
    assert not failures, failures
    first, today = backfill_range(now, months)
    return rebuild(histories, config, first, today)


def flat(points: Points) -> dict[tuple[catalog.Family, tuple[str, ...], int], Decimal]:
    return {
        (family, labels, ts): value
        for family, series in points.items()
        for labels, values in series.items()
        for ts, value in values
    }


async def live_on(
    day: date, config: Config, http: HttpClient
) -> dict[tuple[catalog.Family, tuple[str, ...]], Any]:
    """What /metrics showed on `day`: every account collected at 00:05 UTC, as the
    scheduler does after the day changed."""
    at = midnight(day) + ROLLOVER_DELAY
    outcomes = [
        await health.run(REGISTRY[e.provider], e, Context(http=http, now=at), config, 30)
        for e in config.accounts
    ]
    assert all(o.ok for o in outcomes), [o.error_message for o in outcomes]
    series = derive(Snapshot().with_outcomes(outcomes), config, at)
    return {
        (family, labels): value
        for family in FAMILIES
        for labels, value in series.get(family, {}).items()
    }


# --- the fixture year against the live exporter -----------------------------------


def known_gap(day: date, first: date, family: catalog.Family, provider: str) -> bool:
    """The live figures the history cannot rebuild, each for a stated reason."""
    first_month = (day.year, day.month) == (first.year, first.month)
    # History starts on the 1st of the first month: that month has no previous
    # month, and its 1st no previous day, to rebuild.
    if first_month and family is catalog.PREVIOUS_MONTH:
        return True
    if day == first and family in (catalog.LAST_DAY, catalog.LAST_DAY_TIMESTAMP):
        return True
    # On the 1st no day has completed: Wasabi's estimate says 0 (its forecast leans
    # on the previous month alone), the history has no day to sum, so no sample: the
    # series restarts on the 2nd, as Vercel's does live.
    monthly = (catalog.MONTH_TO_DATE, catalog.FORECAST_MONTH_END)
    return day.day == 1 and provider == "wasabi" and family in monthly


def leaned_on(day: date, first: date) -> bool:
    """Early in the first month the live forecast leans on the month before, which the
    history does not reach: there the two forecasts differ, for that reason only."""
    first_month = (day.year, day.month) == (first.year, first.month)
    return first_month and day.day <= forecast.WARM_UP_DAYS


async def test_every_rebuilt_sample_is_what_the_live_exporter_showed_that_day(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    year = Year(date(2025, 9, 1), date(2026, 12, 31))
    serve(httpx_mock, year)
    config = year_config(tmp_path)
    rebuilt = flat(await backfilled(config))
    first, today = backfill_range(NOW, 12)
    assert (first, today) == (date(2025, 11, 1), date(2026, 11, 23))

    compared = 0
    http = fast_http()
    for day in days(first, today):
        ts = int(midnight(day).timestamp())
        live = await live_on(day, config, http)
        for (family, labels), value in live.items():
            if family is catalog.FORECAST_MONTH_END and leaned_on(day, first):
                continue
            if known_gap(day, first, family, labels[0]):
                assert (family, labels, ts) not in rebuilt
                if family is catalog.MONTH_TO_DATE:
                    assert value == 0
                continue
            assert rebuilt.get((family, labels, ts)) == value, (day, family.name, labels)
            compared += 1
        # Nothing rebuilt that the live exporter did not show.
        extra = [key for key in rebuilt if key[2] == ts and (key[0], key[1]) not in live]
        assert not extra, (day, extra)
    await http.aclose()
    assert compared > 4000


async def test_month_to_date_matches_the_fixture_computed_without_the_exporter(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    year = Year(date(2025, 9, 1), date(2026, 12, 31))
    serve(httpx_mock, year)
    rebuilt = flat(await backfilled(year_config(tmp_path)))
    for day in (date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 31), date(2026, 11, 22)):
        ts = int(midnight(day).timestamp())
        expected = year.vercel_month_to_date(day)
        names = catalog.MONTH_TO_DATE.labels
        found = {
            (named["service_name"], named["charge_frequency"]): value
            for (family, labels, at), value in rebuilt.items()
            if family is catalog.MONTH_TO_DATE and at == ts
            for named in [dict(zip(names, labels, strict=True))]
            if named["provider"] == "vercel"
        }
        assert found == expected, day
        yesterday = day - timedelta(days=1)
        last = rebuilt.get((catalog.LAST_DAY, ("vercel", "default", "USD"), ts))
        if charges_of(yesterday):  # an idle day has no figure: the day before it shows
            assert last == year.vercel_usage_day(yesterday)


async def test_the_month_to_date_restarts_on_the_1st_and_the_previous_month_takes_over(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    year = Year(date(2025, 9, 1), date(2026, 12, 31))
    serve(httpx_mock, year)
    points = await backfilled(year_config(tmp_path))
    mtd = points[catalog.MONTH_TO_DATE]
    invocations = ("vercel", "default", "Function Invocations", "USD", "api", "usage_based")
    by_day = {datetime.fromtimestamp(ts, UTC).date(): v for ts, v in mtd[invocations]}
    assert date(2026, 10, 31) in by_day
    assert date(2026, 11, 1) not in by_day  # no completed day yet: no sample
    assert by_day[date(2026, 11, 2)] < by_day[date(2026, 10, 31)]
    # From the 1st on, October's total is the previous month, every day of November.
    october = year.vercel_month_to_date(date(2026, 10, 31))[(invocations[2], "usage_based")]
    october += sum(
        (
            c.amount
            for c in charges_of(date(2026, 10, 31))
            if (c.service, c.frequency) == (invocations[2], "usage_based")
        ),
        Decimal(0),
    )
    previous = dict(points[catalog.PREVIOUS_MONTH][invocations])
    for day in days(date(2026, 11, 1), date(2026, 11, 23)):
        assert previous[int(midnight(day).timestamp())] == october


# --- coverage -----------------------------------------------------------------------


def thirty_day_provider(amount: str = "2") -> ProviderSpec[FakeConfig]:
    async def collect(_config: FakeConfig, _ctx: Context) -> list[Sample]:
        return []

    async def history(
        _config: FakeConfig, _ctx: Context, start: datetime, end: datetime
    ) -> list[Sample]:
        found = []
        for day in days(start.date(), end.date()):
            money = Money.of(amount, "EUR")
            usage = {"day": day.isoformat(), "charge_frequency": catalog.USAGE_BASED}
            found.append(Sample.of(catalog.DAILY_SPEND, money, **usage))
            found.append(
                Sample.of(
                    catalog.DAILY_SERVICE_SPEND,
                    money,
                    service_name="Inference",
                    source="api",
                    **usage,
                )
            )
        return found

    return ProviderSpec(
        name="fake",
        config_model=FakeConfig,
        collect=collect,
        history=history,
        history_days=30,
        summary="test double",
        env={"token": "FAKE_TOKEN"},
    )


@pytest.fixture
def fake_history() -> Any:
    REGISTRY["fake"] = thirty_day_provider()
    yield REGISTRY["fake"]
    del REGISTRY["fake"]


async def test_a_month_the_history_does_not_reach_from_its_1st_gets_no_month_to_date(
    fake_history: Any, tmp_path: Path
) -> None:
    config = make_config(
        tmp_path, "reporting_currency: USD\nfx_rates: {EUR: 1.5}\nproviders: {fake: [{}]}\n"
    )
    points = await backfilled(config)
    # 30 days before 23 Nov is 24 Oct: October is partial, November complete from the 1st.
    stamps = {
        family: sorted(
            datetime.fromtimestamp(ts, UTC).date() for s in series.values() for ts, _ in s
        )
        for family, series in points.items()
        if series
    }
    assert stamps[catalog.MONTH_TO_DATE][0] == date(2026, 11, 2)
    assert catalog.PREVIOUS_MONTH not in stamps
    assert stamps[catalog.LAST_DAY][0] == date(2026, 10, 25)
    inference = ("fake", "default", "Inference", "USD", "api", "usage_based")
    mtd = dict(points[catalog.MONTH_TO_DATE][inference])
    # Converted to the reporting currency: 2 EUR a day at 1.5, 21 days completed.
    assert mtd[int(midnight(date(2026, 11, 22)).timestamp())] == Decimal("63.0")


# --- the output ---------------------------------------------------------------------


async def test_the_output_is_openmetrics_the_reference_parser_accepts(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    serve(httpx_mock, Year(date(2025, 9, 1), date(2026, 12, 31)))
    text = openmetrics(await backfilled(year_config(tmp_path))).decode()
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert set(families) == {f.name for f in FAMILIES}
    assert {f.type for f in families.values()} == {"gauge"}
    for family in FAMILIES:
        parsed = families[family.name]
        assert parsed.documentation == family.help
        assert {tuple(sorted(s.labels)) for s in parsed.samples} == {tuple(sorted(family.labels))}
        # Whole seconds at 00:00 UTC: one sample per series and day.
        assert {s.timestamp.nsec for s in parsed.samples} == {0}
        assert {s.timestamp.sec % 86400 for s in parsed.samples} == {0}
    newest = max(s.timestamp.sec for f in families.values() for s in f.samples)
    assert newest == int(midnight(date(2026, 11, 22)).timestamp())  # never today


async def test_the_same_history_gives_the_same_bytes(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    serve(httpx_mock, Year(date(2025, 9, 1), date(2026, 12, 31)))
    config = year_config(tmp_path)
    first = openmetrics(await backfilled(config))
    second = openmetrics(await backfilled(config))
    assert first == second


# --- the command --------------------------------------------------------------------


async def test_the_command_writes_the_file_and_reports_progress_in_plain_lines(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    serve(httpx_mock, Year(date(2025, 9, 1), date(2026, 12, 31)))
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "costs.om"
    code = await backfill.run(
        year_config(tmp_path),
        load_exporter_settings({}),
        months=2,
        output=str(target),
        stdout=out,
        stderr=err,
        now=NOW,
        tty=False,
    )
    assert code == 0
    assert out.getvalue() == ""
    assert target.read_text().endswith("# EOF\n")
    assert target.stat().st_mode & 0o777 == 0o644  # promtool may run as another user
    lines = err.getvalue().splitlines()
    assert lines[0] == "backfill: vercel/default: reading history (1/2)"
    assert lines[1].startswith("backfill: vercel/default: 2026-09-01..2026-11-22, ")
    assert lines[1].endswith("(1 requests)")  # two months and a bit: one request
    assert lines[3].endswith("(3 requests)")  # Wasabi: one request per month
    assert "\r" not in err.getvalue()
    assert "wrote" in lines[4] and "days 2026-09-01 to 2026-11-22" in lines[4]


async def test_on_a_terminal_progress_is_one_bar_redrawn_in_place(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    serve(httpx_mock, Year(date(2025, 9, 1), date(2026, 12, 31)))
    err = io.StringIO()
    code = await backfill.run(
        year_config(tmp_path),
        load_exporter_settings({}),
        months=1,
        output=str(tmp_path / "costs.om"),
        stdout=io.StringIO(),
        stderr=err,
        now=NOW,
        tty=True,
    )
    assert code == 0
    bar = err.getvalue().split("\n")[0]
    assert bar.startswith("\r\x1b[K[")
    assert "[########################] 2/2 wasabi/default (2 requests)" in bar


async def test_a_failing_provider_is_reported_masked_and_the_others_still_written(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    year = Year(date(2025, 9, 1), date(2026, 12, 31))
    httpx_mock.add_response(url=VERCEL_URL, status_code=401, text="bad vercel-secret-token")
    httpx_mock.add_callback(year.wasabi, url=WASABI_URL, is_reusable=True)
    err, target = io.StringIO(), tmp_path / "costs.om"
    config = year_config(tmp_path)
    REDACT.set_secrets(config.secrets)
    code = await backfill.run(
        config,
        load_exporter_settings({}),
        months=1,
        output=str(target),
        stdout=io.StringIO(),
        stderr=err,
        now=NOW,
        tty=False,
    )
    assert code == 1
    assert "vercel/default FAILED (auth)" in err.getvalue()
    assert "vercel-secret-token" not in err.getvalue()
    text = target.read_text()
    assert 'provider="wasabi"' in text and 'provider="vercel"' not in text


def test_months_must_be_between_1_and_24(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["backfill", "--months", "0"])
    assert "between 1 and 24" in capsys.readouterr().err
    args = cli.parser().parse_args(["backfill"])
    assert (args.months, args.output, args.provider) == (12, "-", None)


def test_without_an_account_that_has_history_the_command_says_so(tmp_path: Path) -> None:
    config = make_config(tmp_path, "providers: {manual: [{bills: []}]}\n")
    err = io.StringIO()
    code = asyncio.run(
        backfill.run(
            config,
            load_exporter_settings({}),
            months=1,
            output="-",
            stdout=io.StringIO(),
            stderr=err,
            now=NOW,
        )
    )
    assert code == 2
    assert "no configured account has history" in err.getvalue()


def test_history_as_of_a_day_sums_the_days_before_it_only() -> None:
    def spend(day: str, amount: str) -> list[Sample]:
        money = Money.of(amount, "USD")
        usage = {"day": day, "charge_frequency": catalog.USAGE_BASED}
        return [
            Sample.of(catalog.DAILY_SPEND, money, **usage),
            Sample.of(catalog.DAILY_SERVICE_SPEND, money, service_name="S", source="api", **usage),
        ]

    history = History(
        "p",
        "a",
        date(2026, 10, 1),
        (*spend("2026-10-30", "1"), *spend("2026-11-01", "2"), *spend("2026-11-02", "4")),
    )
    samples = history.as_of(date(2026, 11, 2))
    mtd = [s for s in samples if s.family is catalog.MONTH_TO_DATE]
    previous = [s for s in samples if s.family is catalog.PREVIOUS_MONTH]
    daily = sorted(s.label("day") or "" for s in samples if s.family is catalog.DAILY_SPEND)
    assert [s.value for s in mtd] == [Decimal(2)]
    assert [s.value for s in previous] == [Decimal(1)]
    assert daily == ["2026-10-30", "2026-11-01"]
