"""Hostile input: whatever a provider, a config file or a client sends, the exporter copes.

* Property tests (hypothesis) on every parser: amounts, timestamps, FOCUS records
  (JSONL lines and CSV rows) and each provider's page parsers, fed answers
  shaped like the real ones with hostile values at every level. A parser may
  refuse a record (the error its caller counts and skips) or a page (a
  `CollectorError`), never raise anything else, and what it accepts is finite.
* Config loading: any mapping in the YAML file gives a Config or a ConfigError
  that names the file and a key.
* `POST /refresh` flood: one collection however many callers; wrong tokens get
  401 and collect nothing.
* A snapshot write that fails or is killed halfway leaves the previous file
  intact and loadable.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cost_exporter import http_client, snapshot
from cost_exporter.app import create_app
from cost_exporter.errors import CollectorError, ConfigError
from cost_exporter.focus_records import parse_record, parse_timestamp
from cost_exporter.http_client import BadPaging, HttpClient, has_more_cursor
from cost_exporter.providers import (
    REGISTRY,
    anthropic,
    cloudflare,
    env_specs,
    focus,
    openai,
    openrouter,
    supabase,
    vercel,
    wasabi,
)
from cost_exporter.providers.base import Context
from cost_exporter.refresher import Refresher
from cost_exporter.samples import BadAmount, BadRecord, Sample, to_decimal
from cost_exporter.settings import load_config
from tests.fakes import Fakes, fake_provider, make_config, make_refresher, spend
from tests.helpers import NOW

QUICK = settings(
    # HOSTILE_EXAMPLES=5000 for a deep, random search; the default run is fast and
    # derandomized, so CI sees the same examples every time (a found bug gets a fixed case).
    max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "150")),
    derandomize="HOSTILE_EXAMPLES" not in os.environ,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
REPO = Path(__file__).resolve().parents[1]


class _Silent:
    def warning(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def debug(self, *_args: Any, **_kwargs: Any) -> None:
        pass


def ctx() -> Context:
    """A collection context whose `skip` only counts (parsers never touch HTTP)."""
    return Context(http=cast(HttpClient, None), now=NOW, log=_Silent())


# --- hostile values -------------------------------------------------------------------------

NASTY_TEXT = [
    "",
    " ",
    "NaN",
    "-Infinity",
    "sNaN",
    "1e999999",
    "-1e999999999",
    "1e-999999999",
    "9" * 5000,
    "0x10",
    "1_000",
    "١٢٣",
    "12.5.6",
    "1,5",
    "\x00",
    "USD",
    "usd",
    "€€€",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2026-02-30",
    "2026-11-01T24:00:00",
    "2026-11-01",
    "2026-11-01T00:00:00Z",
    "hourly",
    "monthly",
    "{}",
    "[1, 2",
]
TEXT = st.one_of(st.text(max_size=12), st.sampled_from(NASTY_TEXT))
NUMBER = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),
    st.decimals(allow_nan=True).map(str),
)
SCALAR = st.one_of(st.none(), st.booleans(), NUMBER, TEXT)
KEYS = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["data", "results", "amount", "value", "Records", "result", "success"]),
)
JSON = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=10,
)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """ISO 8601 with any date and any UTC offset (the year-1 and year-9999 edges included)."""
    moment = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
    minutes = draw(st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59))
    form = draw(st.sampled_from(["aware", "naive", "date", "z"]))
    if form == "naive":
        return moment.isoformat()
    if form == "date":
        return moment.date().isoformat()
    if form == "z":
        return moment.isoformat() + "Z"
    return moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat()


AMOUNT = st.one_of(NUMBER, TEXT, st.none(), st.booleans())
WHEN = st.one_of(timestamps(), TEXT, NUMBER, st.none())


def shaped(template: Any) -> st.SearchStrategy[Any]:
    """Answers shaped like `template` (a dict/list skeleton with strategies as leaves):
    every key may be missing, and at every level the value may be anything at all."""
    if isinstance(template, dict):
        body = st.fixed_dictionaries({}, optional={k: shaped(v) for k, v in template.items()})
    elif isinstance(template, list):
        body = st.lists(shaped(template[0]), max_size=3)
    else:
        return cast(st.SearchStrategy[Any], template)
    return st.one_of(body, body, body, JSON)


FOCUS = {
    "BilledCost": AMOUNT,
    "BillingCurrency": st.one_of(st.sampled_from(["USD", "EUR", "usd"]), TEXT),
    "ChargePeriodStart": WHEN,
    "ChargeCategory": st.one_of(st.sampled_from(["Usage", "Credit", "Tax"]), TEXT),
    "ServiceName": TEXT,
    "ProviderName": TEXT,
    "ServiceProviderName": TEXT,
    "ConsumedQuantity": AMOUNT,
    "ConsumedUnit": st.one_of(st.sampled_from(["GB", "GB-Hours", "Invocations"]), TEXT),
    "Tags": st.one_of(JSON, st.dictionaries(st.just("ProjectName"), TEXT)),
}


def refuses_only(call: Callable[[], Any], *allowed: type[BaseException]) -> Any:
    """Run a parser: a refusal of an allowed type is fine, anything else fails the test."""
    try:
        return call()
    except allowed:
        return None


def assert_finite(samples: list[Sample] | tuple[Sample, ...] | None) -> None:
    for sample in samples or ():
        assert sample.value.is_finite(), sample
        assert abs(float(sample.value)) < float("inf"), sample


# --- amounts and timestamps --------------------------------------------------------------


@QUICK
@given(AMOUNT | JSON)
@example("1e999999")
@example("9" * 5000)
def test_an_amount_is_a_finite_decimal_safe_to_add_up_or_refused(raw: Any) -> None:
    try:
        value = to_decimal(raw)
    except BadAmount:
        return
    assert value.is_finite()
    # What the snapshot and exposition do with it: sum, convert, scale, float.
    total = value * 1000 + value / 3 - value * Decimal("1.1")
    assert abs(float(total)) < float("inf")
    assert abs(float(value)) < float("inf")


@QUICK
@given(WHEN | JSON)
@example("0001-01-01T00:00:00+01:00")
@example("9999-12-31T23:59:59-01:00")
def test_a_timestamp_is_utc_or_refused_as_a_bad_record(raw: Any) -> None:
    moment = refuses_only(lambda: parse_timestamp(raw), BadRecord)
    if moment is not None:
        assert moment.utcoffset() == timedelta(0)


@QUICK
@given(st.one_of(TEXT, st.integers().map(str), st.floats().map(str), st.text(max_size=40)))
def test_a_retry_after_is_a_finite_wait_or_none(raw: str) -> None:
    wait = http_client.parse_retry_after(raw, now=0.0)
    assert wait is None or 0 <= wait < float("inf")


# --- FOCUS records: Vercel's JSONL lines and the import's CSV rows --------------------------


@QUICK
@given(shaped(FOCUS))
def test_a_focus_record_is_read_or_refused_as_a_bad_record(row: Any) -> None:
    if not isinstance(row, dict):
        return
    record = refuses_only(lambda: parse_record(row), BadRecord)
    if record is not None:
        assert record.billed_cost.is_finite() and len(record.currency) == 3
        assert record.charge_period_start.utcoffset() == timedelta(0)


@QUICK
@given(st.one_of(shaped(FOCUS).map(json.dumps), TEXT, st.text()))
def test_a_vercel_jsonl_line_is_a_record_or_a_bad_record(line: str) -> None:
    record = refuses_only(lambda: vercel.parse_line(line), BadRecord)
    if record is not None:
        month = vercel.Month()
        month.add(record)  # what the collector does next
        assert all(v.is_finite() for v in month.spend.values())


@QUICK
@given(TEXT, TEXT)
def test_a_vercel_usage_unit_always_names_a_metric(service: str, unit: str) -> None:
    metric, factor = vercel.usage_metric(service, unit)
    assert isinstance(metric, str) and factor > 0


FOCUS_COLUMNS = list(FOCUS)


@st.composite
def focus_csvs(draw: st.DrawFn) -> bytes:
    columns = draw(st.lists(st.sampled_from(FOCUS_COLUMNS), unique=True, min_size=0))
    columns += draw(st.lists(st.text(max_size=5), max_size=2))
    rows = draw(st.lists(st.tuples(*[SCALAR for _ in columns]), max_size=4))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue().encode()


@QUICK
@given(st.one_of(focus_csvs(), st.binary(max_size=200)), st.booleans())
def test_a_focus_csv_is_summed_or_refused_with_a_parse_error(data: bytes, gz: bool) -> None:
    import gzip

    name = "export.csv.gz" if gz else "export.csv"
    body = gzip.compress(data) if gz and data[:1] != b"\x00" else data
    read = refuses_only(lambda: list(focus.parse_csv(name, body, ctx(), None)), CollectorError)
    for _provider, record in read or ():
        assert record.billed_cost.is_finite()


# --- the providers' page parsers ------------------------------------------------------------

WASABI_RECORD = {
    "StartTime": WHEN,
    "Bucket": TEXT,
    **dict.fromkeys(
        [*wasabi.LEVELS, *wasabi.COUNTERS, "PaddedStorageSizeBytes", "DeletedStorageSizeBytes"],
        AMOUNT,
    ),
}


@QUICK
@given(shaped({"Records": [WASABI_RECORD], "PageInfo": {"PageCount": NUMBER}}), st.booleans())
def test_a_wasabi_page_gives_days_or_a_parse_error(page: Any, bucket: bool) -> None:
    found = refuses_only(lambda: wasabi.records_of(page), CollectorError)
    if found is None:
        return
    days = [
        d
        for raw in found[0]
        if (
            d := refuses_only(lambda r=raw: wasabi.parse_record(r, bucket=bucket), wasabi.BadRecord)
        )
    ]
    first = date(2026, 11, 1)
    kept = wasabi.in_month(days, first)
    wasabi.usage(kept)
    spend = wasabi.estimate_spend(kept, Decimal("6.99"), Decimal(1))
    assert spend.is_finite()
    assert_finite(wasabi.bucket_samples(kept))


CLOUDFLARE_ENVELOPE = {
    "success": st.one_of(st.booleans(), SCALAR),
    "result": JSON,
    "errors": [{"code": NUMBER, "message": TEXT, "error_chain": [{"code": NUMBER}]}],
    "result_info": {"page": NUMBER, "total_pages": NUMBER},
}
CLOUDFLARE_INFO = {
    "covered": st.one_of(st.booleans(), SCALAR),
    "subscriptions": [{"billing_cycle_anchor_timestamp": WHEN}],
}
CLOUDFLARE_GRAPHQL = {
    "errors": st.one_of(st.none(), JSON),
    "data": {
        "viewer": {
            "accounts": [
                {
                    "workers": [{"sum": {"requests": AMOUNT, "cpuTimeUs": AMOUNT}}],
                    "r2Operations": [
                        {"sum": {"requests": AMOUNT}, "dimensions": {"actionType": TEXT}}
                    ],
                    "r2Storage": [
                        {
                            "max": {"payloadSize": AMOUNT, "metadataSize": AMOUNT},
                            "dimensions": {"bucketName": TEXT, "datetime": WHEN},
                        }
                    ],
                }
            ]
        }
    },
}


@QUICK
@given(shaped(CLOUDFLARE_ENVELOPE), shaped(CLOUDFLARE_INFO), st.lists(shaped(FOCUS), max_size=4))
def test_cloudflare_envelopes_info_and_records_parse_or_fail_as_collector_errors(
    envelope: Any, info: Any, records: list[Any]
) -> None:
    refuses_only(lambda: cloudflare.unwrap(envelope, "GET test"), CollectorError)
    refuses_only(lambda: cloudflare.next_page(envelope), BadPaging)
    c = ctx()
    coverage = refuses_only(lambda: cloudflare.parse_info(info, c), CollectorError)
    if coverage is not None:
        cloudflare.window_start(date(2026, 11, 1), coverage.anchor_days)
    month = cloudflare.MonthRecords()
    refuses_only(
        lambda: cloudflare.read_records(records, date(2026, 11, 1), month, c), CollectorError
    )
    assert_finite(cloudflare.spend_samples(cloudflare.catalog.MONTH_TO_DATE, month, "USD"))


@QUICK
@given(shaped(CLOUDFLARE_GRAPHQL))
def test_a_cloudflare_graphql_answer_gives_usage_or_a_collector_error(body: Any) -> None:
    c = ctx()
    account = refuses_only(lambda: cloudflare.graphql_account(body), CollectorError)
    if account is not None:
        assert_finite(refuses_only(lambda: cloudflare.usage_samples(account, c), CollectorError))


OPENAI_COST = {
    "amount": {"value": AMOUNT, "currency": st.one_of(st.just("usd"), TEXT)},
    "line_item": TEXT,
    "project_id": TEXT,
    "api_key_id": TEXT,
}
OPENAI_TOKENS = {
    "input_tokens": AMOUNT,
    "input_cached_tokens": AMOUNT,
    "input_cache_write_tokens": AMOUNT,
    "output_tokens": AMOUNT,
    "num_model_requests": AMOUNT,
    "model": TEXT,
}
OPENAI_ROW_ERRORS = (KeyError, TypeError, AttributeError, BadAmount)


@QUICK
@given(
    shaped(
        {
            "data": [{"start_time": NUMBER, "results": [JSON]}],
            "has_more": SCALAR,
            "next_page": SCALAR,
        }
    ),
    shaped(OPENAI_COST),
    shaped(OPENAI_TOKENS),
)
def test_openai_pages_and_rows_parse_or_fail_the_way_the_collector_expects(
    page: Any, cost: Any, tokens: Any
) -> None:
    refuses_only(lambda: list(openai.results(page, ctx())), CollectorError)
    refuses_only(lambda: has_more_cursor(page), BadPaging)
    parsed = refuses_only(lambda: openai.parse_cost(cost), *OPENAI_ROW_ERRORS)
    if parsed is not None:
        assert parsed.amount.amount.is_finite()
    parsed_tokens = refuses_only(lambda: openai.parse_tokens(tokens), *OPENAI_ROW_ERRORS)
    if parsed_tokens is not None:
        _model, counted = parsed_tokens
        assert counted.input >= 0 and counted.total.is_finite()


ANTHROPIC_COST = {
    "amount": AMOUNT,
    "currency": st.one_of(st.just("USD"), TEXT),
    "description": TEXT,
    "cost_type": TEXT,
    "model": TEXT,
    "workspace_id": TEXT,
}
ANTHROPIC_USAGE = {
    "uncached_input_tokens": AMOUNT,
    "cache_read_input_tokens": AMOUNT,
    "output_tokens": AMOUNT,
    "cache_creation": {"ephemeral_5m_input_tokens": AMOUNT, "ephemeral_1h_input_tokens": AMOUNT},
    "model": TEXT,
    "api_key_id": TEXT,
}


@QUICK
@given(
    shaped({"data": [{"starting_at": WHEN, "results": [ANTHROPIC_COST]}]}),
    shaped({"data": [{"starting_at": WHEN, "results": [ANTHROPIC_USAGE]}]}),
)
def test_anthropic_reports_parse_or_fail_as_collector_errors(cost: Any, usage: Any) -> None:
    rows = refuses_only(lambda: anthropic.parse_cost_page(cost, ctx()), CollectorError)
    month, previous = NOW.replace(day=1, hour=0), datetime(2026, 10, 1, tzinfo=UTC)
    assert_finite(anthropic.cost_samples(rows or [], month, previous, 5))
    usage_rows = refuses_only(lambda: anthropic.parse_usage_page(usage, ctx()), CollectorError)
    prices = anthropic.pricing.prices_for("anthropic", {})
    assert_finite(anthropic.usage_samples(usage_rows or [], prices, 5))


@QUICK
@given(
    shaped({"data": {"total_credits": AMOUNT, "total_usage": AMOUNT}}),
    shaped(
        {
            "data": [
                {
                    "date": WHEN,
                    "usage": AMOUNT,
                    "model": TEXT,
                    "prompt_tokens": AMOUNT,
                    "completion_tokens": AMOUNT,
                    "requests": AMOUNT,
                }
            ]
        }
    ),
    st.lists(shaped({"usage_monthly": AMOUNT, "name": TEXT, "hash": TEXT}), max_size=4),
)
def test_openrouter_credits_activity_and_keys_parse_or_fail_as_collector_errors(
    credits: Any, activity: Any, keys: list[Any]
) -> None:
    data = refuses_only(lambda: openrouter._data(credits, "/credits"), CollectorError)
    if data is not None:
        refuses_only(lambda: openrouter.credit_balance(data), CollectorError)
    rows = refuses_only(lambda: openrouter._data(activity, "/activity"), CollectorError)
    months = refuses_only(lambda: openrouter.activity_by_month(rows, ctx()), CollectorError)
    for month in (months or {}).values():
        assert_finite(openrouter.breakdown_samples(month))
    assert all(v.is_finite() for v in openrouter.key_spend(keys, ctx()).values())


SUPABASE_ADDONS = {
    "selected_addons": [
        {
            "type": TEXT,
            "variant": {
                "price": {"amount": AMOUNT, "interval": st.sampled_from(["hourly", "monthly", "x"])}
            },
        }
    ]
}


@QUICK
@given(
    shaped(SUPABASE_ADDONS),
    shaped([{"bytes": AMOUNT}]),
    shaped({"metrics": {"fs_used_bytes": AMOUNT, "fs_size_bytes": AMOUNT}}),
)
def test_supabase_answers_parse_or_fail_as_collector_errors(
    addons: Any, db: Any, disk: Any
) -> None:
    costs = refuses_only(lambda: supabase.addon_costs(addons, 22, 30, ctx()), CollectorError)
    assert all(v.is_finite() for v in (costs or {}).values())
    size = refuses_only(lambda: supabase.database_size(db), CollectorError)
    assert size is None or size.is_finite()
    refuses_only(lambda: supabase.disk_figures(disk), CollectorError)


@QUICK
@given(st.binary(max_size=300))
@example(b"[" * 100_000)
@example(b"1" * 5000)
@example(b"")
@example(b" \n ")
def test_any_body_decodes_to_json_or_a_parse_or_empty_error(body: bytes) -> None:
    request = httpx.Request("GET", "https://api.example.test/v1/x")
    response = httpx.Response(200, content=body, request=request)
    try:
        http_client.decode_json(response)
    except CollectorError as exc:
        assert exc.reason in ("parse", "empty")


@QUICK
@given(st.text(alphabet="ab\r\n{}", max_size=60), st.lists(st.integers(1, 7), max_size=12))
def test_streamed_lines_are_the_same_however_the_body_is_chunked(
    text: str, cuts: list[int]
) -> None:
    chunks, rest = [], text.encode()
    for cut in cuts:
        chunks.append(rest[:cut])
        rest = rest[cut:]
    chunks.append(rest)

    class Body(httpx.AsyncByteStream):
        async def __aiter__(self) -> Any:
            for chunk in chunks:
                yield chunk

    async def lines() -> list[str]:
        transport = httpx.MockTransport(lambda _request: httpx.Response(200, stream=Body()))
        http = HttpClient(httpx.AsyncClient(transport=transport))
        try:
            return [line async for line in http.iter_lines("https://api.example.test/x")]
        finally:
            await http.aclose()

    expected = [line.removesuffix("\r") for line in text.split("\n")]
    if expected and expected[-1] == "":
        expected.pop()
    assert asyncio.run(lines()) == expected


# --- config loading -----------------------------------------------------------------------------

PROVIDER_NAMES = sorted(REGISTRY)
FIELD_NAMES = sorted(
    {name for spec in REGISTRY.values() for name in spec.config_model.model_fields}
    | {f"{name}_{kind}" for name in ("token", "admin_key", "api_key") for kind in ("env", "file")}
)


@st.composite
def config_files(draw: st.DrawFn) -> Any:
    account = st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), TEXT), JSON, max_size=4)
    providers = st.dictionaries(
        st.one_of(st.sampled_from(PROVIDER_NAMES), TEXT),
        st.one_of(st.lists(account, max_size=2), JSON),
        max_size=3,
    )
    budget = st.dictionaries(
        st.sampled_from(["provider", "account", "monthly", "usage_limits", "x"]), JSON, max_size=4
    )
    top = st.fixed_dictionaries(
        {},
        optional={
            "reporting_currency": st.one_of(st.just("USD"), TEXT, JSON),
            "fx_rates": st.one_of(st.dictionaries(TEXT, NUMBER, max_size=3), JSON),
            "budgets": st.one_of(st.lists(budget, max_size=2), JSON),
            "providers": st.one_of(providers, JSON),
            "surprise": JSON,
        },
    )
    return draw(st.one_of(top, top, JSON))


@QUICK
@given(config_files())
def test_any_config_file_loads_or_fails_with_an_error_naming_the_file_and_a_key(
    tmp_path_factory: pytest.TempPathFactory, data: Any
) -> None:
    folder = tmp_path_factory.mktemp("config")
    (folder / "binary.secret").write_bytes(b"\xff\xfe\x00secret")
    path = folder / "config.yml"

    def local(value: Any) -> Any:  # `*_file` paths stay inside the test folder
        if isinstance(value, dict):
            return {
                k: (str(folder / "binary.secret") if str(k).endswith("_file") else local(v))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [local(v) for v in value]
        return value

    path.write_text(yaml.safe_dump(local(data), allow_unicode=True))
    try:
        load_config({}, path, env_specs())
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith(str(path)), message
        assert len(message.split(": ")) >= 2, message


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("providers: {vercel: [{token_file: 'a\\0b'}]}", "token_file"),
        ("providers: {vercel: [{token_env: X}]}", "token_env"),
        ("budgets: [{provider: vercel, monthly: -1}]", "budgets.0.monthly"),
        ("fx_rates: {EUR: .nan}", "fx_rates"),
        ("providers: {nope: []}", "providers.nope"),
        ("providers: [1, 2]", "providers"),
    ],
)
def test_hostile_config_values_name_the_key(tmp_path: Path, text: str, names: str) -> None:
    path = tmp_path / "config.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config({}, path, env_specs())
    assert names in str(caught.value) and str(path) in str(caught.value)


def test_a_secret_file_that_is_not_text_is_a_config_error(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_bytes(b"\xff\xfe binary")
    path = tmp_path / "config.yml"
    path.write_text(f"providers: {{vercel: [{{token_file: {secret}}}]}}")
    with pytest.raises(ConfigError, match="token_file"):
        load_config({}, path, env_specs())


# --- POST /refresh under a flood --------------------------------------------------------------

FLOOD = 300


async def flood(refresher: Refresher, headers: dict[str, str]) -> list[httpx.Response]:
    app = create_app(refresher, run_scheduler=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://exporter") as client:
        return list(
            await asyncio.gather(*(client.post("/refresh", headers=headers) for _ in range(FLOOD)))
        )


def slow(fakes: Fakes, account: str, samples: list[Sample]) -> None:
    async def behaviour(_config: Any, _ctx: Context) -> list[Sample]:
        await asyncio.sleep(0.05)
        return samples

    fakes.behaviours[account] = behaviour


async def test_a_refresh_flood_runs_one_collection_and_joins_or_refuses_the_rest(
    tmp_path: Path,
) -> None:
    with fake_provider() as fakes:
        slow(fakes, "a", spend("1"))
        config = make_config(tmp_path, "providers:\n  fake:\n    - {account: a}\n")
        refresher = make_refresher(tmp_path, config, COST_REFRESH_MIN_INTERVAL_S="300")
        responses = await flood(refresher, {})
    assert fakes.calls == {"a": 1}
    codes = {r.status_code for r in responses}
    assert codes <= {200, 429} and 200 in codes
    for response in responses:
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) > 0
        else:
            assert response.json()["accounts"][0]["ok"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Bearer flood-token-0123456789x"},
        {"Authorization": "Basic flood-token-0123456789"},
        {"Authorization": "flood-token-0123456789"},
        {"Authorization": "Bearer " + "a" * 10_000},
        {"Authorization": "Bearer flood-token-\u00e9".encode("latin-1")},
    ],
    ids=["missing", "wrong", "longer", "basic", "no-scheme", "huge", "non-ascii"],
)
async def test_a_flood_with_a_wrong_or_missing_token_is_refused_and_collects_nothing(
    tmp_path: Path, headers: dict[str, str]
) -> None:
    with fake_provider() as fakes:
        slow(fakes, "a", spend("1"))
        config = make_config(tmp_path, "providers:\n  fake:\n    - {account: a}\n")
        refresher = make_refresher(tmp_path, config, COST_REFRESH_TOKEN="flood-token-0123456789")
        responses = await flood(refresher, headers)
        assert {r.status_code for r in responses} == {401}
        assert all(r.headers["WWW-Authenticate"] == "Bearer" for r in responses)
        assert fakes.calls == {}
        good = await flood(refresher, {"Authorization": "Bearer flood-token-0123456789"})
    assert fakes.calls == {"a": 1} and 200 in {r.status_code for r in good}


# --- a snapshot write that fails halfway ------------------------------------------------------


async def saved_refresher(tmp_path: Path, fakes: Fakes) -> Refresher:
    fakes.returns("a", spend("7"))
    config = make_config(tmp_path, "providers:\n  fake:\n    - {account: a}\n")
    refresher = make_refresher(tmp_path, config)
    await refresher.refresh()
    assert refresher.state_path.exists()
    return refresher


@pytest.mark.parametrize(
    "failing", ["files.os.replace", "files.os.fsync", "files.os.chmod", "snapshot.json.dumps"]
)
async def test_a_failing_snapshot_write_keeps_the_previous_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    with fake_provider() as fakes:
        refresher = await saved_refresher(tmp_path, fakes)
        before = refresher.state_path.read_bytes()

        def broken(*_args: Any, **_kwargs: Any) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(f"cost_exporter.{failing}", broken)
        fakes.returns("a", spend("8"))
        result = await refresher.refresh()
        monkeypatch.undo()
    assert result.accounts[0].ok
    assert b"} 8.0" in refresher.rendered.text  # serving goes on with the new values
    assert refresher.state_path.read_bytes() == before
    assert not list(refresher.state_path.parent.glob(".snapshot.json-*"))
    restored = snapshot.load(refresher.state_path)
    [state] = restored.accounts.values()
    assert state.up and any(s.value == 7 for s in state.samples)


KILL_MID_WRITE = """
import os, signal, sys
from pathlib import Path
from cost_exporter import files, snapshot
path = Path(sys.argv[1])
old = snapshot.load(path)
real_fsync = os.fsync
def fsync(fd):
    # Half the bytes reach the disk, then the process dies before the rename.
    size = os.fstat(fd).st_size
    os.ftruncate(fd, size // 2)
    real_fsync(fd)
    os.kill(os.getpid(), signal.SIGKILL)
files.os.fsync = fsync
snapshot.save(old, path)
"""


async def test_a_kill_in_the_middle_of_a_snapshot_write_leaves_yesterdays_snapshot(
    tmp_path: Path,
) -> None:
    with fake_provider() as fakes:
        refresher = await saved_refresher(tmp_path, fakes)
        before = refresher.state_path.read_bytes()
        env = {**os.environ, "PYTHONPATH": str(REPO / "exporter")}
        killed = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            KILL_MID_WRITE,
            str(refresher.state_path),
            env=env,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(killed.communicate(), timeout=60)
        assert killed.returncode == -9, stderr
        leftovers = list(refresher.state_path.parent.glob(".snapshot.json-*.tmp"))
        assert leftovers, "the kill should leave a half-written temp file behind"
        assert refresher.state_path.read_bytes() == before
        restarted = make_refresher(tmp_path, refresher.config)
        restarted.restore()
    assert b'cost_month_to_date{account="a"' in restarted.rendered.text
    assert restarted.due() == []
