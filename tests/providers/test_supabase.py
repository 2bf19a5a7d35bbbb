from __future__ import annotations

import subprocess
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from cost_exporter import catalog, exposition, figures
from cost_exporter.errors import CollectorError, ConfigError
from cost_exporter.providers import supabase
from cost_exporter.providers.base import Context
from cost_exporter.samples import Sample
from cost_exporter.snapshot import AccountState, Snapshot
from tests.e2e.binaries import PROMTOOL, require
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


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def project(
    httpx_mock: HTTPXMock,
    ref: str,
    addons: str | None = "addons.json",
    db: str = "db_size.json",
    disk: str = "disk_util.json",
    tables: str = "table_rows.json",
    api: str | None = "api_counts.json",
    functions: str | None = "functions_empty.json",
) -> None:
    """Every request one project's collection makes, in order (`api`, `functions`: None
    when the config turns them off)."""
    if addons:
        httpx_mock.add_response(
            url=f"{API}/{ref}/billing/addons",
            match_headers=AUTH,
            json=fixture_json("supabase", addons),
        )
    for query, fixture in ((supabase.DB_SIZE_QUERY, db), (supabase.TABLE_ROWS_QUERY, tables)):
        httpx_mock.add_response(
            method="POST",
            url=f"{API}/{ref}/database/query/read-only",
            match_headers=AUTH,
            match_json={"query": query},
            status_code=201,
            json=fixture_json("supabase", fixture),
        )
    httpx_mock.add_response(
        url=f"{API}/{ref}/config/disk/util", match_headers=AUTH, json=fixture_json("supabase", disk)
    )
    if api:
        httpx_mock.add_response(
            url=f"{API}/{ref}/analytics/endpoints/usage.api-counts?interval=7day",
            match_headers=AUTH,
            json=fixture_json("supabase", api),
        )
    if functions:
        httpx_mock.add_response(
            url=f"{API}/{ref}/functions",
            match_headers=AUTH,
            json=fixture_json("supabase", functions),
        )


def function_stats(httpx_mock: HTTPXMock, ref: str, function_id: str, fixture: str) -> None:
    httpx_mock.add_response(
        url=f"{API}/{ref}/analytics/endpoints/functions.combined-stats"
        f"?interval=1day&function_id={function_id}",
        match_headers=AUTH,
        json=fixture_json("supabase", fixture),
    )


def spend(
    samples: tuple[Sample, ...], family: catalog.Family = catalog.MONTH_TO_DATE
) -> dict[str, Decimal]:
    return {s.label("service_name") or "": s.value for s in samples if s.family is family}


def usage(samples: tuple[Sample, ...]) -> dict[str, Decimal]:
    return {s.label("metric") or "": s.value for s in samples if s.family is catalog.USAGE}


def rows(samples: Iterable[Sample]) -> dict[str, Decimal]:
    return {s.label("table") or "": s.value for s in samples if s.family is catalog.TABLE_ROWS}


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
        "database_rows": Decimal(1100000 + 52000 + 4200 + 2750),
    }
    assert outcome.skipped_records == 0


async def test_several_projects_sum_into_one_series_per_service_and_metric(
    httpx_mock: HTTPXMock,
) -> None:
    project(httpx_mock, REF_A)
    project(
        httpx_mock,
        REF_B,
        "addons_second.json",
        "db_size_string.json",
        "disk_util_second.json",
        tables="table_rows_second.json",
    )
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
    assert usage(samples)["database_rows"] == Decimal(1158950 + 250800)
    # The same table name in two projects is one series: the account is the organisation.
    assert rows(samples)["public.events"] == Decimal(1100000 + 250000)
    assert len(values(samples, catalog.USAGE)) == 4
    requested = [(r.method, r.url.path) for r in httpx_mock.get_requests()]
    analytics = f"/v1/projects/{REF_A}/analytics/endpoints"
    assert requested[:7] == [
        ("GET", f"/v1/projects/{REF_A}/billing/addons"),
        ("POST", f"/v1/projects/{REF_A}/database/query/read-only"),
        ("POST", f"/v1/projects/{REF_A}/database/query/read-only"),
        ("GET", f"/v1/projects/{REF_A}/config/disk/util"),
        ("GET", f"{analytics}/usage.api-counts"),
        ("GET", f"/v1/projects/{REF_A}/functions"),
        ("GET", f"/v1/projects/{REF_B}/billing/addons"),
    ]
    assert len(requested) == 12


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
    assert set(usage(samples)) == {
        "database_size_bytes",
        "disk_used_bytes",
        "disk_size_bytes",
        "database_rows",
    }


async def test_the_free_plan_costs_nothing_and_skips_the_add_on_request(
    httpx_mock: HTTPXMock,
) -> None:
    project(httpx_mock, REF_A, addons=None)
    config = config_for(supabase.PROVIDER, env=env(REF_A, SUPABASE_PLAN="free"))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    assert spend(outcome.samples or ()) == {"Plan": Decimal(0)}
    assert len(httpx_mock.get_requests()) == 5


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
    assert len(httpx_mock.get_requests()) == 7


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
    fake = "http://fake.test:8080/v1/projects"
    httpx_mock.add_response(
        url=f"{fake}/{REF_A}/billing/addons", json=fixture_json("supabase", "addons_empty.json")
    )
    for query, fixture in (
        (supabase.DB_SIZE_QUERY, "db_size.json"),
        (supabase.TABLE_ROWS_QUERY, "table_rows.json"),
    ):
        httpx_mock.add_response(
            method="POST",
            url=f"{fake}/{REF_A}/database/query/read-only",
            match_json={"query": query},
            json=fixture_json("supabase", fixture),
        )
    httpx_mock.add_response(
        url=f"{fake}/{REF_A}/config/disk/util", json=fixture_json("supabase", "disk_util.json")
    )
    httpx_mock.add_response(
        url=f"{fake}/{REF_A}/analytics/endpoints/usage.api-counts?interval=7day",
        json=fixture_json("supabase", "api_counts.json"),
    )
    httpx_mock.add_response(url=f"{fake}/{REF_A}/functions", json=[])
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


# --- rows per table ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("live", "estimated", "rows"),
    [
        (1200, 1180.0, Decimal(1200)),  # statistics: the live rows
        ("1200", "1180", Decimal(1200)),  # numbers as strings
        (0, 2750.4, Decimal(2750)),  # statistics reset: the planner's estimate
        (None, 512.0, Decimal(512)),  # no statistics row at all
        (0, -1, Decimal(0)),  # never analysed and nothing written since: empty
        (0, 0, Decimal(0)),  # an empty table
    ],
)
def test_rows_come_from_the_statistics_and_from_the_planner_where_they_hold_nothing(
    live: Any, estimated: Any, rows: Decimal
) -> None:
    assert supabase.row_count(live, estimated) == rows


@pytest.mark.parametrize(("live", "estimated"), [(None, None), (None, -1), (-3, 5), ("n/a", 5)])
def test_a_row_count_that_means_nothing_is_refused(live: Any, estimated: Any) -> None:
    with pytest.raises(ValueError):
        supabase.row_count(live, estimated)


async def test_rows_per_table_are_schema_qualified_with_their_total_as_usage(
    httpx_mock: HTTPXMock,
) -> None:
    project(httpx_mock, REF_A)
    config = config_for(supabase.PROVIDER, env=env(REF_A))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    samples = outcome.samples or ()
    assert rows(samples) == {
        "public.events": Decimal(1100000),
        "public.orders": Decimal(52000),
        "auth.users": Decimal(4200),
        "storage.objects": Decimal(2750),  # no statistics: the estimate
        "public.audit_log": Decimal(0),
        "public.new_feature": Decimal(0),
    }
    assert usage(samples)["database_rows"] == sum(rows(samples).values())


async def test_an_empty_database_has_zero_rows_and_no_table_series(httpx_mock: HTTPXMock) -> None:
    project(httpx_mock, REF_A, tables="table_rows_empty.json")
    config = config_for(supabase.PROVIDER, env=env(REF_A))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    assert rows(outcome.samples or ()) == {}
    assert usage(outcome.samples or ())["database_rows"] == 0


async def test_hostile_table_names_are_kept_verbatim_or_skipped_never_fatal(
    httpx_mock: HTTPXMock,
) -> None:
    project(httpx_mock, REF_A, tables="table_rows_hostile.json")
    config = config_for(supabase.PROVIDER, env=env(REF_A))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    assert rows(outcome.samples or ()) == {
        'public.we"ird\\name': Decimal(10),
        "Tenant Schema.line\nbreak": Decimal(20),
        "public.表格-ünïcödé": Decimal(30),
        "a.b.c": Decimal(3),  # schema "a.b" table "c" and schema "a" table "b.c": one name
    }
    # Too long for Postgres, no name, a name that is a number, negative, not a number, no
    # count at all, not an object: skipped, and the total would be short, so it is left out.
    assert outcome.skipped_records == 7
    assert "database_rows" not in usage(outcome.samples or ())


async def test_hostile_table_names_render_as_valid_exposition(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    project(httpx_mock, REF_A, tables="table_rows_hostile.json")
    config = config_for(supabase.PROVIDER, env=env(REF_A))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    state = AccountState("supabase", "default").after(outcome)
    text = exposition.render(
        figures.derive(Snapshot({state.key: state}), config, NOW)
    ).text.decode()
    assert 'table="public.we\\"ird\\\\name"' in text
    assert 'table="Tenant Schema.line\\nbreak"' in text
    promtool_check_metrics(text)


def promtool_check_metrics(text: str) -> None:
    check = subprocess.run(
        [require(PROMTOOL), "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


async def test_the_top_tables_keep_a_series_and_the_rest_sum_into_other(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    project(httpx_mock, REF_A, tables="table_rows.json")
    accounts = [{"token_env": "SB", "project_refs": [REF_A], "top_tables": 2}]
    config = config_for(supabase.PROVIDER, accounts, env={"SB": TOKEN}, tmp_path=tmp_path)
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    samples = outcome.samples or ()
    assert rows(samples) == {
        "public.events": Decimal(1100000),
        "public.orders": Decimal(52000),
        "other": Decimal(4200 + 2750),
    }
    assert usage(samples)["database_rows"] == sum(rows(samples).values())


async def test_a_table_with_a_usage_limit_is_never_folded_and_gets_its_usage_series(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    project(httpx_mock, REF_A, tables="table_rows.json")
    accounts = [{"token_env": "SB", "project_refs": [REF_A], "top_tables": 1}]
    limits = {"database_rows": 2_000_000, "database_rows:auth.users": 5000}
    budgets = [{"provider": "supabase", "usage_limits": limits}]
    config = config_for(
        supabase.PROVIDER, accounts, env={"SB": TOKEN}, tmp_path=tmp_path, budgets=budgets
    )
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    samples = outcome.samples or ()
    assert rows(samples) == {
        "public.events": Decimal(1100000),
        "auth.users": Decimal(4200),  # outside the top 1, kept for its limit
        "other": Decimal(52000 + 2750),
    }
    # The key of the limit is the metric of its usage: BudgetWarning compares them as is.
    assert usage(samples)["database_rows:auth.users"] == Decimal(4200)
    assert usage(samples)["database_rows"] == Decimal(1158950)
    series = figures.derive(
        Snapshot({("supabase", "default"): AccountState("supabase", "default").after(outcome)}),
        config,
        NOW,
    )
    key = ("supabase", "default", "database_rows:auth.users")
    assert series[catalog.USAGE][key] == 4200
    assert series[catalog.USAGE_LIMIT][key] == 5000


async def test_a_limit_on_a_table_that_does_not_exist_exports_no_usage(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    project(httpx_mock, REF_A)
    budgets = [{"provider": "supabase", "usage_limits": {"database_rows:public.typo": 1}}]
    config = config_for(supabase.PROVIDER, env=env(REF_A), tmp_path=tmp_path, budgets=budgets)
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    assert "database_rows:public.typo" not in usage(outcome.samples or ())


# --- API requests ---------------------------------------------------------------------


COVERED, MISSING = "covered", "missing"


def api(samples: Iterable[Sample]) -> dict[str, Decimal]:
    """The request figures by family name, day coverage by its label value."""
    families = (catalog.SUPABASE_API_REQUESTS_7D, catalog.SUPABASE_API_REQUESTS_MONTH_TO_DATE)
    found = {s.family.name: s.value for s in samples if s.family in families}
    coverage = catalog.SUPABASE_API_REQUESTS_DAY_COVERAGE
    found |= {s.label("coverage") or "": s.value for s in samples if s.family is coverage}
    return found


WINDOW_REQUESTS = Decimal(1000 + 3649 + 3800 + 3500 + 3000 + 4200 + 158)
COMPLETE_DAYS = {"2026-11-17": 3649, "2026-11-18": 3800, "2026-11-19": 3500}


@pytest.mark.parametrize(
    ("plan", "twentieth"),
    [("pro", Decimal(0)), ("team", Decimal(0)), (None, None), ("free", None)],
)
async def test_the_complete_days_of_the_window_are_recorded_and_a_day_without_a_row_too_on_paid_plans(
    httpx_mock: HTTPXMock, plan: str | None, twentieth: Decimal | None
) -> None:
    project(httpx_mock, REF_A, addons=None if plan == "free" else "addons.json")
    extra = {"SUPABASE_PLAN": plan} if plan else {}
    config = config_for(supabase.PROVIDER, env=env(REF_A, **extra))
    [entry] = config.accounts
    http = fast_http()
    ctx = Context(http=http, now=NOW)
    samples = await supabase.collect(entry.config, ctx)  # type: ignore[arg-type]
    await http.aclose()
    days = ctx.ledger[f"api_requests:{REF_A}"]
    # 01:00 on the 23rd: the 16th is cut by the window, the 23rd still running.
    expected = {**COMPLETE_DAYS, "2026-11-21": 3000, "2026-11-22": 4200}
    if twentieth is not None:
        expected["2026-11-20"] = int(twentieth)
    assert days == {day: Decimal(count) for day, count in expected.items()}
    figures = api(samples)
    assert figures[catalog.SUPABASE_API_REQUESTS_7D.name] == WINDOW_REQUESTS
    assert figures[catalog.SUPABASE_API_REQUESTS_MONTH_TO_DATE.name] == sum(days.values())
    assert figures[COVERED] == len(days)
    assert figures[MISSING] == 22 - len(days)
    sources = {s.label("source") for s in samples if s.label("source") is not None}
    assert "estimated" in sources


async def test_buckets_that_are_not_days_record_no_day_but_keep_the_window_figure(
    httpx_mock: HTTPXMock,
) -> None:
    project(httpx_mock, REF_A, api="api_counts_hourly.json")
    config = config_for(supabase.PROVIDER, env=env(REF_A, SUPABASE_PLAN="pro"))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    figures = api(outcome.samples or ())
    assert figures[catalog.SUPABASE_API_REQUESTS_7D.name] == 33
    assert catalog.SUPABASE_API_REQUESTS_MONTH_TO_DATE.name not in figures
    assert figures[MISSING] == 22


async def test_an_analytics_error_fails_the_account_and_keeps_the_last_values(
    httpx_mock: HTTPXMock,
) -> None:
    project(httpx_mock, REF_A, api="api_counts_error.json", functions=None)
    config = config_for(supabase.PROVIDER, env=env(REF_A))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.error_reason == "parse"
    assert "usage.api-counts" in (outcome.error_message or "")


async def test_api_requests_and_functions_can_be_turned_off(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    project(httpx_mock, REF_A, api=None, functions=None)
    accounts = [{"token_env": "SB", "project_refs": [REF_A], "api_requests": False}]
    accounts[0]["functions"] = False
    config = config_for(supabase.PROVIDER, accounts, env={"SB": TOKEN}, tmp_path=tmp_path)
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    assert api(outcome.samples or ()) == {}
    assert len(httpx_mock.get_requests()) == 4


# --- Edge Functions -------------------------------------------------------------------

SEND_EMAIL, STRIPE, RESIZE = (f"6bd0f4a3-7a7c-4c4e-9d5e-2f1c3c1e0a0{n}" for n in (1, 2, 3))


def invocations(samples: Iterable[Sample]) -> dict[str, Decimal]:
    family = catalog.SUPABASE_FUNCTION_INVOCATIONS_24H
    return {s.label("function") or "": s.value for s in samples if s.family is family}


async def test_each_function_is_read_once_for_the_last_24_hours(httpx_mock: HTTPXMock) -> None:
    project(httpx_mock, REF_A, functions="functions.json")
    function_stats(httpx_mock, REF_A, RESIZE, "function_stats_empty.json")
    function_stats(httpx_mock, REF_A, SEND_EMAIL, "function_stats_send_email.json")
    function_stats(httpx_mock, REF_A, STRIPE, "function_stats_stripe_webhook.json")
    config = config_for(supabase.PROVIDER, env=env(REF_A))
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    # A throttled function still counts; a removed one is not asked about.
    assert invocations(outcome.samples or ()) == {
        "resize-image": Decimal(0),
        "send-email": Decimal(1000),
        "stripe-webhook": Decimal(45),
    }
    assert len(httpx_mock.get_requests()) == 6 + 3


async def test_the_top_functions_keep_a_series_and_the_rest_sum_into_other(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    project(httpx_mock, REF_A, functions="functions.json")
    function_stats(httpx_mock, REF_A, RESIZE, "function_stats_empty.json")
    function_stats(httpx_mock, REF_A, SEND_EMAIL, "function_stats_send_email.json")
    function_stats(httpx_mock, REF_A, STRIPE, "function_stats_stripe_webhook.json")
    accounts = [{"token_env": "SB", "project_refs": [REF_A], "top_functions": 1}]
    config = config_for(supabase.PROVIDER, accounts, env={"SB": TOKEN}, tmp_path=tmp_path)
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert invocations(outcome.samples or ()) == {
        "send-email": Decimal(1000),
        "other": Decimal(45),
    }


async def test_functions_past_the_request_budget_are_skipped_and_other_is_left_out(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    project(httpx_mock, REF_A, functions="functions.json")
    function_stats(httpx_mock, REF_A, RESIZE, "function_stats_empty.json")
    # 6 requests for the project itself, 1 left: resize-image only (by slug).
    accounts = [
        {"token_env": "SB", "project_refs": [REF_A], "request_budget": 7, "top_functions": 1}
    ]
    config = config_for(supabase.PROVIDER, accounts, env={"SB": TOKEN}, tmp_path=tmp_path)
    [outcome] = await run_provider(supabase.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    assert len(httpx_mock.get_requests()) == 7
    assert outcome.skipped_records == 2
    assert invocations(outcome.samples or ()) == {"resize-image": Decimal(0)}


def test_a_budget_too_small_for_any_function_is_a_config_warning(tmp_path: Path) -> None:
    refs = [REF_A, REF_B]
    accounts = [{"token_env": "SB", "project_refs": refs, "request_budget": 12}]
    config = config_for(supabase.PROVIDER, accounts, env={"SB": TOKEN}, tmp_path=tmp_path)
    [entry] = config.accounts
    [warning] = supabase.PROVIDER.config_warnings(entry.config)
    assert "12 requests" in warning and "request_budget of 12" in warning
    roomy = config_for(supabase.PROVIDER, env=env(*refs))
    assert supabase.PROVIDER.config_warnings(roomy.accounts[0].config) == []


def test_a_function_named_other_is_counted_in_other() -> None:
    counts = {"other": Decimal(5), "a": Decimal(10), "b": Decimal(1)}
    assert supabase.capped(counts, 5, set()) == {
        "a": Decimal(10),
        "b": Decimal(1),
        "other": Decimal(5),
    }
    assert supabase.capped(counts, 1, set()) == {"a": Decimal(10), "other": Decimal(6)}
