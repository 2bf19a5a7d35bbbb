from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from cost_exporter import catalog
from cost_exporter.providers import manual
from tests.helpers import NOW, config_for, run_provider, total

BILLS = [
    {
        "bills": [
            {
                "name": "IONOS VPS",
                "provider": "ionos",
                "service_name": "VPS",
                "amount": 6,
                "currency": "EUR",
            },
            {"name": "Old plan", "provider": "ovh", "amount": 99, "end": "2026-10"},
            {"name": "New plan", "provider": "ovh", "amount": 10, "start": "2026-11"},
        ],
        "one_off": [
            {"provider": "ovh", "service_name": "Domain", "date": "2026-11-05", "amount": "12.5"},
            {"provider": "ovh", "service_name": "Domain", "date": "2026-09-05", "amount": 1},
        ],
    }
]


async def test_fixed_bills_count_in_full_in_each_active_month(tmp_path: Path) -> None:
    config = config_for(manual.PROVIDER, BILLS, fx_rates={"EUR": "1.1"}, tmp_path=tmp_path)
    [outcome] = await run_provider(manual.PROVIDER, config, NOW)
    assert outcome.ok
    samples = outcome.samples or ()
    assert total(samples, catalog.MONTH_TO_DATE, provider="ionos") == Decimal(6)
    assert total(samples, catalog.MONTH_TO_DATE, provider="ovh") == Decimal("22.5")
    assert total(samples, catalog.PREVIOUS_MONTH, provider="ovh") == Decimal(99)
    assert {s.currency for s in samples if s.label("provider") == "ionos"} == {"EUR"}
    assert {s.label("source") for s in samples} == {"manual"}


async def test_bills_are_recurring_and_one_off_charges_one_time(tmp_path: Path) -> None:
    config = config_for(manual.PROVIDER, BILLS, fx_rates={"EUR": "1.1"}, tmp_path=tmp_path)
    [outcome] = await run_provider(manual.PROVIDER, config, NOW)
    frequencies = {
        (s.label("service_name"), s.label("charge_frequency")): s.value
        for s in outcome.samples or ()
        if s.family is catalog.MONTH_TO_DATE
    }
    assert frequencies == {
        ("VPS", "recurring"): Decimal(6),
        ("New plan", "recurring"): Decimal(10),
        ("Domain", "one_time"): Decimal("12.5"),
    }


async def test_csv_import_counts_bad_lines_and_keeps_the_good_ones(tmp_path: Path) -> None:
    csv_file = tmp_path / "bills.csv"
    csv_file.write_text(
        "date,provider,service_name,amount,currency\n"
        "2026-11-02,Netcup,VPS,4.20,EUR\n"
        "2026-11-03,netcup,VPS,not-a-number,EUR\n"
        "yesterday,netcup,VPS,1,EUR\n"
        "2026-10-02,netcup,VPS,4.20,EUR\n"
    )
    accounts = [{"csv_files": [str(csv_file)]}]
    config = config_for(manual.PROVIDER, accounts, fx_rates={"EUR": "1"}, tmp_path=tmp_path)
    [outcome] = await run_provider(manual.PROVIDER, config, NOW)
    assert outcome.skipped_records == 2
    samples = outcome.samples or ()
    assert total(samples, catalog.MONTH_TO_DATE, provider="netcup") == Decimal("4.20")
    assert total(samples, catalog.PREVIOUS_MONTH, provider="netcup") == Decimal("4.20")


async def test_missing_csv_file_fails_with_reason_config(tmp_path: Path) -> None:
    accounts = [{"csv_files": [str(tmp_path / "nope.csv")]}]
    config = config_for(manual.PROVIDER, accounts, tmp_path=tmp_path)
    [outcome] = await run_provider(manual.PROVIDER, config, NOW)
    assert not outcome.ok
    assert outcome.error_reason == "config"


async def test_a_currency_without_fx_rate_is_a_config_error(tmp_path: Path) -> None:
    config = config_for(manual.PROVIDER, BILLS, tmp_path=tmp_path)
    [outcome] = await run_provider(manual.PROVIDER, config, NOW)
    assert outcome.error_reason == "config"
    assert "EUR" in (outcome.error_message or "")
