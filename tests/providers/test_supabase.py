from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from cost_exporter import catalog
from cost_exporter.errors import CollectorError, ConfigError
from cost_exporter.providers import supabase
from cost_exporter.providers.base import Context
from cost_exporter.samples import Sample
from tests.helpers import NOW, config_for, fast_http, fixture_json, run_provider, total, values

TOKEN = "sbp_0123456789abcdef0123456789abcdef01234567"
REF_A = "abcdefghijklmnopqrst"
REF_B = "bcdefghijklmnopqrstu"
API = "https://api.supabase.com/v1/projects"
# NOW is 2026-11-23 01:00 UTC: 22 completed days of a 30-day month, 528 hours.
HOURS = Decimal(528)
DAYS = Decimal(22) / Decimal(30)


def env(*refs: str, **extra: str) -> dict[str, str]:
    return {"SUPABASE_ACCESS_TOKEN": TOKEN, "SUPABASE_PROJECT_REF": ",".join(refs), **extra}


def project(
    httpx_mock: HTTPXMock,
    ref: str,
    addons: str | None = "addons.json",
    db: str = "db_size.json",
    disk: str = "disk_util.json",
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    if addons:
        httpx_mock.add_response(
            url=f"{API}/{ref}/billing/addons",
            match_headers=auth,
            json=fixture_json("supabase", addons),
        )
    httpx_mock.add_response(
        method="POST",
        url=f"{API}/{ref}/database/query/read-only",
        match_headers=auth,
        match_json={"query": supabase.DB_SIZE_QUERY},
        status_code=201,
        json=fixture_json("supabase", db),
    )
    httpx_mock.add_response(
        url=f"{API}/{ref}/config/disk/util", match_headers=auth, json=fixture_json("supabase", disk)
    )


def spend(
    samples: tuple[Sample, ...], family: catalog.Family = catalog.MONTH_TO_DATE
) -> dict[str, Decimal]:
    return {s.label("service_name") or "": s.value for s in samples if s.family is family}


def usage(samples: tuple[Sample, ...]) -> dict[str, Decimal]:
    return {s.label("metric") or "": s.value for s in samples if s.family is catalog.USAGE}


async def test_plan_fee_is_manual_and_add_ons_are_estimated_over_the_completed_days(
    httpx_mock: HTTPXMock,
) -> None:
    project(httpx_mock, REF_A)
    config = config_for(supabase.PROVIDER, env=env(REF_A, SUPABASE_PLAN="pro"))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    samples = outcome.samples or ()
    compute = Decimal("0.0206") * HOURS
    assert spend(samples) == {
        "Plan": Decimal(25),
        "Compute": compute,
        "Point-in-time recovery": Decimal("0.137") * HOURS,
        "Custom domain": Decimal(10) * DAYS,
        "Compute credits": -(Decimal(10) * DAYS),
    }
    assert spend(samples, catalog.PREVIOUS_MONTH) == {"Plan": Decimal(25)}
    sources = {(s.label("service_name"), s.label("source")) for s in samples if s.label("source")}
    assert ("Plan", "manual") in sources
    assert {src for name, src in sources if name != "Plan"} == {"estimated"}
    # The plan is a fee; add-ons and the credit that pays for compute accrue day by day.
    frequencies = {
        s.label("service_name"): s.label("charge_frequency")
        for s in samples
        if s.family is catalog.MONTH_TO_DATE
    }
    assert frequencies == {
        "Plan": "recurring",
        "Compute": "usage_based",
        "Point-in-time recovery": "usage_based",
        "Custom domain": "usage_based",
        "Compute credits": "usage_based",
    }
    assert usage(samples) == {
        "database_size_bytes": Decimal(52428800),
        "disk_used_bytes": Decimal(2147483648),
        "disk_size_bytes": Decimal(8589934592),
    }
    assert outcome.skipped_records == 0


async def test_several_projects_sum_into_one_series_per_service_and_metric(
    httpx_mock: HTTPXMock,
) -> None:
    project(httpx_mock, REF_A)
    project(httpx_mock, REF_B, "addons_second.json", "db_size_string.json", "disk_util_second.json")
    config = config_for(supabase.PROVIDER, env=env(REF_A, REF_B, SUPABASE_PLAN="pro"))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    samples = outcome.samples or ()
    assert (
        total(samples, catalog.MONTH_TO_DATE, service_name="Compute")
        == (Decimal("0.0206") + Decimal("0.01344")) * HOURS
    )
    assert total(samples, catalog.MONTH_TO_DATE, service_name="IPv4") == Decimal("0.0055") * HOURS
    # The plan and its credits belong to the organisation: counted once, not per project.
    assert total(samples, catalog.MONTH_TO_DATE, service_name="Plan") == Decimal(25)
    assert total(samples, catalog.MONTH_TO_DATE, service_name="Compute credits") == -(
        Decimal(10) * DAYS
    )
    assert usage(samples)["database_size_bytes"] == Decimal(52428800 + 1073741824)
    assert usage(samples)["disk_used_bytes"] == Decimal(2147483648 + 1073741824)
    assert len(values(samples, catalog.USAGE)) == 3
    requested = [(r.method, r.url.path) for r in httpx_mock.get_requests()]
    assert requested[:3] == [
        ("GET", f"/v1/projects/{REF_A}/billing/addons"),
        ("POST", f"/v1/projects/{REF_A}/database/query/read-only"),
        ("GET", f"/v1/projects/{REF_A}/config/disk/util"),
    ]
    assert len(requested) == 6


async def test_a_project_without_add_ons_shows_the_plan_and_usage_only(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    project(httpx_mock, REF_A, "addons_empty.json")
    accounts = [{"token_env": "SB", "project_refs": [REF_A], "plan": "team"}]
    config = config_for(supabase.PROVIDER, accounts, env={"SB": TOKEN}, tmp_path=tmp_path)
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    samples = outcome.samples or ()
    # No compute spent means no credit used: no negative line without a cost it offsets.
    assert spend(samples) == {"Plan": Decimal(599)}
    assert set(usage(samples)) == {"database_size_bytes", "disk_used_bytes", "disk_size_bytes"}


async def test_the_free_plan_costs_nothing_and_skips_the_add_on_request(
    httpx_mock: HTTPXMock,
) -> None:
    project(httpx_mock, REF_A, addons=None)
    config = config_for(supabase.PROVIDER, env=env(REF_A, SUPABASE_PLAN="free"))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    assert spend(outcome.samples or ()) == {"Plan": Decimal(0)}
    assert len(httpx_mock.get_requests()) == 2


async def test_without_a_plan_no_plan_fee_is_guessed(httpx_mock: HTTPXMock) -> None:
    project(httpx_mock, REF_A, "addons_second.json")
    config = config_for(supabase.PROVIDER, env=env(REF_A))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    services = spend(outcome.samples or ())
    assert "Plan" not in services
    assert "Compute credits" not in services
    assert services["Compute"] == Decimal("0.01344") * HOURS
    assert spend(outcome.samples or (), catalog.PREVIOUS_MONTH) == {}


async def test_plan_price_and_compute_credits_from_the_config_win(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    project(httpx_mock, REF_A, "addons_second.json")
    accounts = [
        {
            "token_env": "SB",
            "project_refs": REF_A,
            "plan": "enterprise",
            "plan_price": "1000",
            "compute_credits": 100,
        }
    ]
    config = config_for(supabase.PROVIDER, accounts, env={"SB": TOKEN}, tmp_path=tmp_path)
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    services = spend(outcome.samples or ())
    assert services["Plan"] == Decimal(1000)
    # 100 USD of credits a month exceed the compute cost: they only cancel it out.
    assert services["Compute credits"] == -services["Compute"]


async def test_malformed_add_ons_are_counted_and_the_rest_still_count(
    httpx_mock: HTTPXMock,
) -> None:
    project(httpx_mock, REF_A, "addons_malformed.json")
    config = config_for(supabase.PROVIDER, env=env(REF_A))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    assert outcome.skipped_records == 4
    assert spend(outcome.samples or ()) == {"Compute": Decimal("0.01344") * HOURS}


async def test_a_usage_figure_missing_for_one_project_leaves_that_series_out(
    httpx_mock: HTTPXMock,
) -> None:
    project(httpx_mock, REF_A)
    project(httpx_mock, REF_B, "addons_empty.json", db="db_size_empty.json")
    config = config_for(supabase.PROVIDER, env=env(REF_A, REF_B))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.ok
    assert outcome.skipped_records == 1
    figures = usage(outcome.samples or ())
    assert "database_size_bytes" not in figures
    assert figures["disk_used_bytes"] == Decimal(2147483648 * 2)


async def test_an_answer_without_the_expected_shape_is_a_parse_error(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(url=f"{API}/{REF_A}/billing/addons", json={"error": "bad"})
    config = config_for(supabase.PROVIDER, env=env(REF_A))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.error_reason == "parse"
    assert "selected_addons" in (outcome.error_message or "")


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_token_fails_with_reason_auth_and_is_never_shown(
    httpx_mock: HTTPXMock, status: int
) -> None:
    httpx_mock.add_response(
        url=f"{API}/{REF_A}/billing/addons", status_code=status, json={"message": "Unauthorized"}
    )
    config = config_for(supabase.PROVIDER, env=env(REF_A))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.error_reason == "auth"
    assert f"HTTP {status}" in (outcome.error_message or "")
    assert TOKEN not in (outcome.error_message or "")
    assert len(httpx_mock.get_requests()) == 1


async def test_a_429_waits_out_its_retry_after_and_then_succeeds(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=f"{API}/{REF_A}/billing/addons", status_code=429, headers={"Retry-After": "60"}
    )
    project(httpx_mock, REF_A)
    config = config_for(supabase.PROVIDER, env=env(REF_A))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    assert len(httpx_mock.get_requests()) == 4


async def test_a_429_that_persists_counts_as_rate_limited(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=f"{API}/{REF_A}/billing/addons",
        status_code=429,
        headers={"Retry-After": "60"},
        is_reusable=True,
    )
    config = config_for(supabase.PROVIDER, env=env(REF_A))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.error_reason == "rate_limited"


async def test_one_failing_project_fails_the_whole_account(httpx_mock: HTTPXMock) -> None:
    project(httpx_mock, REF_A)
    httpx_mock.add_response(url=f"{API}/{REF_B}/billing/addons", status_code=503, is_reusable=True)
    config = config_for(supabase.PROVIDER, env=env(REF_A, REF_B))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert not outcome.ok
    assert outcome.error_reason == "http_5xx"
    assert REF_B in (outcome.error_message or "")


async def test_a_timeout_fails_with_reason_timeout(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), is_reusable=True)
    config = config_for(supabase.PROVIDER, env=env(REF_A))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.error_reason == "timeout"


async def test_the_base_url_can_point_at_a_fake_server(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=f"http://fake.test:8080/v1/projects/{REF_A}/billing/addons",
        json=fixture_json("supabase", "addons_empty.json"),
    )
    httpx_mock.add_response(
        method="POST",
        url=f"http://fake.test:8080/v1/projects/{REF_A}/database/query/read-only",
        json=fixture_json("supabase", "db_size.json"),
    )
    httpx_mock.add_response(
        url=f"http://fake.test:8080/v1/projects/{REF_A}/config/disk/util",
        json=fixture_json("supabase", "disk_util.json"),
    )
    config = config_for(
        supabase.PROVIDER, env=env(REF_A, SUPABASE_BASE_URL="http://fake.test:8080/")
    )
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message


@pytest.mark.parametrize(
    ("refs", "complaint"),
    [
        ("abcdefghijklmnopqrst,NOT-A-REF", "'NOT-A-REF' is not a project ref"),
        ("abcdefghijklmnopqrst,abcdefghijklmnopqrst", "listed twice"),
        (" , ", "at least 1 item"),
    ],
)
def test_project_refs_are_checked_one_by_one(refs: str, complaint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_for(
            supabase.PROVIDER, env={"SUPABASE_ACCESS_TOKEN": TOKEN, "SUPABASE_PROJECT_REF": refs}
        )
    assert complaint in str(caught.value)
    assert "project_refs" in str(caught.value)


def test_the_enterprise_plan_needs_a_price(tmp_path: Path) -> None:
    accounts = [{"token_env": "SB", "project_refs": [REF_A], "plan": "enterprise"}]
    with pytest.raises(ConfigError, match="plan_price"):
        config_for(supabase.PROVIDER, accounts, env={"SB": TOKEN}, tmp_path=tmp_path)


def test_the_token_never_lives_in_the_config_file(tmp_path: Path) -> None:
    accounts = [{"token": TOKEN, "project_refs": [REF_A]}]
    with pytest.raises(ConfigError) as caught:
        config_for(supabase.PROVIDER, accounts, tmp_path=tmp_path)
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ({"interval": "hourly", "amount": 0.01344}, Decimal("0.01344") * 24 * 22),
        ({"interval": "monthly", "amount": "4"}, Decimal(4) * 22 / 30),
        ({"interval": "hourly", "amount": 1}, Decimal(0)),
    ],
)
def test_prices_accrue_over_completed_days(price: dict[str, Any], expected: Decimal) -> None:
    days = 0 if expected == 0 else 22
    assert supabase.accrued(price, days, 30) == expected


def test_database_size_reads_one_row_and_refuses_anything_else() -> None:
    assert supabase.database_size([{"bytes": 10}]) == Decimal(10)
    assert supabase.database_size([{"bytes": "10"}]) == Decimal(10)
    assert supabase.database_size([]) is None
    assert supabase.database_size([{"bytes": None}]) is None
    assert supabase.database_size([{"bytes": -1}]) is None
    with pytest.raises(CollectorError):
        supabase.database_size({"error": "bad"})


def test_disk_figures_leave_out_what_is_missing() -> None:
    figures = supabase.disk_figures({"metrics": {"fs_used_bytes": 5}})
    assert figures == {"disk_used_bytes": Decimal(5), "disk_size_bytes": None}
    with pytest.raises(CollectorError):
        supabase.disk_figures({"timestamp": "2026-11-22T09:00:00Z"})


async def test_addon_costs_name_unknown_types_after_themselves() -> None:
    http = fast_http()
    ctx = Context(http=http, now=NOW)
    body = {
        "selected_addons": [
            {"type": "new_thing", "variant": {"price": {"interval": "monthly", "amount": 30}}}
        ]
    }
    assert supabase.addon_costs(body, 22, 30, ctx) == {"new_thing": Decimal(22)}
    await http.aclose()
