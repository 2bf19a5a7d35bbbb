"""A local fake of every billing API the HTTP collectors call: the tests' end-to-end
provider, the benchmarks' load target and the data behind `cost-exporter demo`.

One real HTTP server on 127.0.0.1 (a free port, stdlib `ThreadingHTTPServer` in a daemon
thread) answers Vercel, Supabase, Wasabi (Stats API), Cloudflare, Cloudflare AI Gateway (its
GraphQL analytics), OpenAI, Anthropic and OpenRouter, each under its own path prefix
(`http://127.0.0.1:PORT/vercel`, ...). Every body is shaped like the provider's official API
documentation (and the fixtures in `tests/fixtures/<provider>/`): field names, paging,
cursors, error envelopes and status codes. That is the point of the fake: the collectors
run unchanged against it, through the same HTTP client, retries and budgets as in
production, so a test or a demo exercises the real code path and only the data is made up.

Nothing is read from static files: every answer is built at request time from the fake's
clock (default: now, UTC), with records dated in the current month (spread over the
1st..yesterday; on the 1st, today) and in the previous month. The amounts are round and
fixed per month, so a test can write down the month-to-date it expects.
`FakeProviders(daily_variation=True)` (the demo only) spreads each usage charge over the days
of its month with a weekday pattern instead, each month's total unchanged.

    with FakeProviders() as fake:
        fake.env()                                      # credentials + <PROVIDER>_BASE_URL
        fake.requests_for("vercel")                     # requests counted per path
        fake.fail("cloudflare", 500)                    # every Cloudflare request answers 500
        fake.latency_s = 0.05                           # per-request delay, for benchmarks

`FakeProviders(limits=DOCUMENTED_LIMITS)` enforces each provider's documented rate limit over
all its accounts together (stricter than the providers, who count per user or token) and
answers 429 with `Retry-After` past it, counting those answers in `throttled`.

Requests must carry the credentials `env()` hands out (401 otherwise): dummy values, valid
only here. Injected 429/5xx answers carry `Retry-After: 0`, so the exporter's retries cost
no time. Wasabi's S3 bucket inventory (boto3: ListBuckets, GetBucketLocation) is served too,
under `/wasabi-s3` (`WASABI_ENDPOINT_URL`). OpenRouter has two workspaces (`/workspaces`);
`/keys` lists the default one's keys unless given a `workspace_id`, as the real API does.
The AI Gateway's own spend estimate covers AI traffic billed upstream. Supabase also answers
its read-only table query (SUPABASE_TABLES), `usage.api-counts?interval=7day` (a bucket per
UTC day of the 7 days before its clock) and its Edge Functions with
`functions.combined-stats` (hourly buckets of the last 24 hours).
"""

from __future__ import annotations

import base64
import calendar
import json
import math
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar, cast
from urllib.parse import parse_qs, urlsplit

PROVIDERS = (
    "vercel",
    "supabase",
    "wasabi",
    "cloudflare",
    "cloudflare_ai_gateway",
    "openai",
    "anthropic",
    "openrouter",
)
WASABI_S3 = "wasabi-s3"  # the path prefix of Wasabi's S3 endpoint (bucket inventory)
# Below http://127.0.0.1:PORT/<provider>, the path each official base URL has.
BASE_PATHS = {
    WASABI_S3: "",
    "vercel": "",
    "supabase": "",
    "wasabi": "",
    "cloudflare": "/client/v4",
    "cloudflare_ai_gateway": "/client/v4",
    "openai": "/v1",
    "anthropic": "",
    "openrouter": "/api/v1",
}

# Dummy credentials: the fake checks that each request carries them.
VERCEL_TOKEN = "fake-vercel-token-0001"
VERCEL_TEAM_ID = "team_fake0001"
SUPABASE_TOKEN = "sbp_fake000000000000000000000000000000000001"
SUPABASE_REF = "fakeprojectrefabcdef"
SUPABASE_PLAN = "pro"
WASABI_ACCESS_KEY = "FAKEWASABIACCESSKEY1"
WASABI_SECRET_KEY = "fake-wasabi-secret-key-0001"
CLOUDFLARE_TOKEN = "fake-cloudflare-token-0001"
CLOUDFLARE_ACCOUNT_ID = "0123456789abcdef0123456789abcdef"
AI_GATEWAY_TOKEN = "fake-cloudflare-ai-gateway-token-0001"
AI_GATEWAY_ACCOUNT_ID = "fedcba9876543210fedcba9876543210"
AI_GATEWAY_METADATA_KEYS = "feature,tenant"
OPENAI_ADMIN_KEY = "sk-admin-fake-openai-0001"
ANTHROPIC_ADMIN_KEY = "sk-ant-admin01-fake-0001"
OPENROUTER_API_KEY = "sk-or-v1-fake-management-0001"

CURRENT, PREVIOUS = "current", "previous"
TB = 1024**4
GIB = 1024**3
MIB = 1024**2
Json = Any


# --- the calendar: where records land --------------------------------------------------


def month_first(today: date) -> date:
    return today.replace(day=1)


def previous_month_first(today: date) -> date:
    return (month_first(today) - timedelta(days=1)).replace(day=1)


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def completed_days(today: date) -> int:
    return today.day - 1


def record_day(today: date, month: str, n: int) -> date:
    """The n-th (0-based) day of a month, clamped: current month to yesterday (or the 1st)."""
    if month == CURRENT:
        return month_first(today) + timedelta(days=min(n, max(0, today.day - 2)))
    first = previous_month_first(today)
    return first + timedelta(days=min(n, days_in_month(first) - 1))


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def iso_z(moment: datetime, millis: bool = False) -> str:
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.000Z" if millis else f"{text}Z"


def number(amount: str) -> float | int:
    """A JSON number for a decimal string, as the providers send them."""
    value = Decimal(amount)
    return int(value) if value == value.to_integral_value() else float(value)


# --- the data: round amounts, fixed per month ------------------------------------------
# Each row names its month (CURRENT or PREVIOUS) and `n`, its day (see `record_day`).


@dataclass(frozen=True)
class VercelCharge:
    month: str
    n: int
    service: str
    category: str  # FOCUS ChargeCategory
    cost: str
    quantity: float | None
    unit: str | None
    project: str | None
    service_category: str


@dataclass(frozen=True)
class CloudflareCharge:
    month: str
    n: int
    service: str | None
    family: str | None
    category: str
    cost: str
    quantity: float | None
    unit: str
    zone: str | None = None  # ZoneName; account-level charges have none


@dataclass(frozen=True)
class AiGatewayTraffic:
    gateway: str
    upstream: str
    model: str
    metadata: dict[str, Any] | None  # the cf-aig-metadata header; None: not sent
    requests: int
    cached: int
    cost: str
    tokens_in: int  # uncached
    tokens_out: int


@dataclass(frozen=True)
class OpenAICost:
    month: str
    n: int
    line_item: str
    project_id: str
    api_key_id: str
    amount: str
    quantity: int | None


@dataclass(frozen=True)
class OpenAIUsage:
    n: int
    model: str
    input_tokens: int  # cached tokens included, as OpenAI counts them
    cached: int
    output: int
    requests: int


@dataclass(frozen=True)
class AnthropicCost:
    month: str
    n: int
    description: str
    cost_type: str
    model: str | None
    token_type: str | None
    workspace_id: str | None
    cents: str


@dataclass(frozen=True)
class AnthropicUsage:
    n: int
    model: str
    api_key_id: str | None
    uncached: int
    cache_5m: int
    cache_1h: int
    cache_read: int
    output: int


@dataclass(frozen=True)
class OpenRouterActivity:
    month: str
    n: int
    model: str
    permaslug: str
    endpoint_id: str
    provider: str
    usage: str
    requests: int
    prompt: int
    completion: int
    reasoning: int


C, P = CURRENT, PREVIOUS
VERCEL_PROJECTS = {"web": "prj_fakeweb0001", "api": "prj_fakeapi0002"}
SONNET, OPUS = "claude-sonnet-4-20250514", "claude-opus-4-6"
SONNET_IN, SONNET_OUT = (
    "Claude Sonnet 4 Usage - Input Tokens",
    "Claude Sonnet 4 Usage - Output Tokens",
)
WS_A, WS_B = "wrkspc_fakeAAAA", "wrkspc_fakeBBBB"
GPT41, GPT41_SLUG = "openai/gpt-4.1", "openai/gpt-4.1-2025-04-14"
CLAUDE, CLAUDE_SLUG = "anthropic/claude-sonnet-4.5", "anthropic/claude-4.5-sonnet-20250929"
MINI, GPT4O = "gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06"

# fmt: off
# Current month 26.50 (credit -1.00 on invocations), previous month 27.50.
VERCEL_CHARGES = tuple(VercelCharge(*row) for row in (
    (C, 0, "Pro Plan", "Purchase", "20", 1, "Seats", None, "Other"),
    (C, 0, "Function Invocations", "Usage", "1.80", 1_200_000, "Invocations", "web", "Compute"),
    (C, 1, "Function Invocations", "Usage", "0.60", 400_000, "Invocations", "api", "Compute"),
    (C, 1, "Fast Data Transfer", "Usage", "0", 12.5, "GB", "web", "Networking"),
    (C, 2, "Fast Data Transfer", "Usage", "1.50", 10, "GB", "api", "Networking"),
    (C, 2, "Function Duration", "Usage", "3.60", 20, "GB-Hours", "web", "Compute"),
    (C, 3, "Edge Requests", "Usage", "0", 250_000, "Requests", "web", "Networking"),
    (C, 3, "Function Invocations", "Credit", "-1.00", None, None, None, "Compute"),
    (P, 0, "Pro Plan", "Purchase", "20", 1, "Seats", None, "Other"),
    (P, 9, "Function Invocations", "Usage", "5", 3_000_000, "Invocations", "web", "Compute"),
    (P, 10, "Fast Data Transfer", "Usage", "2.50", 125, "GB", "web", "Networking"),
))

# Current month 8.00, previous month 7.50 (credit -2.50). Billing-cycle anchor: the 5th.
# Per zone this month: shop.example.com 0.75, blog.example.com 1.20 (the rest has no zone).
CF_SHOP, CF_BLOG = "shop.example.com", "blog.example.com"
CLOUDFLARE_ZONES = {
    CF_SHOP: "9a7806061c88ada191ed06f989cc3dac",
    CF_BLOG: "372e67954025e0ba6aaa6d586b9e0b59",
}
CLOUDFLARE_ANCHOR = datetime(2025, 3, 5, 14, 22, 10, tzinfo=UTC)
CLOUDFLARE_CHARGES = tuple(CloudflareCharge(*row) for row in (
    (C, 4, "Workers Paid", "Workers", "Usage", "5", 1, ""),
    (C, 1, "Workers Standard Requests", "Workers", "Usage", "0.30", 1_000_000, "Requests", CF_SHOP),
    (C, 2, "Workers Standard Requests", "Workers", "Usage", "0.45", 1_000_000, "Requests", CF_SHOP),
    (C, 3, "Workers Standard CPU Time", "Workers", "Usage", "1.20", 60_000_000, "CPU milliseconds", CF_BLOG),
    (C, 1, "R2 Storage", "R2", "Usage", "0.15", 10, "GB-months"),
    (C, 4, "R2 Class A Operations", "R2", "Usage", "0.90", 1_200_000, "Requests"),
    (P, 4, "Workers Paid", "Workers", "Usage", "5", 1, ""),
    (P, 9, "Workers Standard Requests", "Workers", "Usage", "5.00", 1_000_000, "Requests"),
    (P, 40, None, None, "Credit", "-2.50", None, ""),
))
CLOUDFLARE_PAGE_SIZE = 4

# This month's AI Gateway traffic (the GraphQL dataset aggregates; no day split): $8.00.
AI_GATEWAY_TRAFFIC = tuple(AiGatewayTraffic(*row) for row in (
    ("shop", "openai", MINI, {"feature": "chat", "tenant": "acme"}, 1000, 200, "2.00",
     2_000_000, 300_000),
    ("shop", "openai", MINI, {"feature": "search", "tenant": "globex"}, 500, 100, "1.00",
     1_000_000, 150_000),
    ("shop", "anthropic", SONNET, {"feature": "chat", "tenant": "acme"}, 200, 0, "3.00",
     600_000, 80_000),
    ("shop", "anthropic", SONNET, None, 50, 0, "0.50", 100_000, 10_000),
    ("support", "openai", GPT4O, {"feature": "triage"}, 300, 60, "1.50", 400_000, 90_000),
))

# Current month 8.00, previous month 40.00.
OPENAI_COSTS = tuple(OpenAICost(*row) for row in (
    (C, 0, f"{MINI}, input", "proj_fake1", "key_fakeA", "1.25", 8_333_333),
    (C, 0, f"{MINI}, output", "proj_fake1", "key_fakeA", "0.75", 1_250_000),
    (C, 1, "web search tool calls", "proj_fake1", "key_fakeB", "0.50", None),
    (C, 2, f"{GPT4O}, input", "proj_fake2", "key_fakeC", "2.25", 900_000),
    (C, 3, f"{GPT4O}, output", "proj_fake2", "key_fakeC", "3.25", 325_000),
    (P, 0, f"{GPT4O}, input", "proj_fake2", "key_fakeC", "10.50", 4_200_000),
    (P, 1, f"{GPT4O}, output", "proj_fake2", "key_fakeC", "24.00", 2_400_000),
    (P, 1, f"{GPT4O}, input", "proj_fake2", "key_fakeC", "4.50", 1_800_000),
    (P, 2, "web search tool calls", "proj_fake1", "key_fakeB", "1", None),
))
OPENAI_USAGE = tuple(OpenAIUsage(*row) for row in (
    (0, MINI, 2_000_000, 800_000, 300_000, 120),
    (2, MINI, 1_500_000, 400_000, 200_000, 80),
    (1, GPT4O, 900_000, 0, 310_000, 40),
))

# Amounts in cents, as the cost report sends them. Current month 56.00, previous 76.00.
ANTHROPIC_COSTS = tuple(AnthropicCost(*row) for row in (
    (C, 1, SONNET_IN, "tokens", SONNET, "uncached_input_tokens", WS_A, "1250"),
    (C, 1, SONNET_OUT, "tokens", SONNET, "output_tokens", WS_A, "2500"),
    (C, 2, "Claude Sonnet 4 Usage - Cache Read Input Tokens", "tokens", SONNET,
     "cache_read_input_tokens", None, "250"),
    (C, 3, "Claude Opus 4.6 Usage - Input Tokens", "tokens", OPUS, "uncached_input_tokens", WS_B,
     "500"),
    (C, 3, "Claude Opus 4.6 Usage - Output Tokens", "tokens", OPUS, "output_tokens", WS_B, "950"),
    (C, 4, "Web Search Usage", "web_search", None, None, WS_B, "100"),
    (C, 5, "Code Execution Usage", "code_execution", None, None, None, "50"),
    (P, 4, SONNET_IN, "tokens", SONNET, "uncached_input_tokens", WS_A, "4500"),
    (P, 4, SONNET_OUT, "tokens", SONNET, "output_tokens", WS_A, "3000"),
    (P, 19, "Web Search Usage", "web_search", None, None, None, "100"),
))
ANTHROPIC_USAGE = tuple(AnthropicUsage(*row) for row in (
    (1, SONNET, "apikey_fakeSONNET", 1_000_000, 200_000, 0, 2_000_000, 300_000),
    (1, SONNET, None, 50_000, 0, 0, 0, 10_000),
    (3, OPUS, "apikey_fakeOPUS", 400_000, 0, 100_000, 1_000_000, 80_000),
))

# Current month 7.00 (none on the 1st: /activity holds completed days only).
OPENROUTER_ACTIVITY = tuple(OpenRouterActivity(*row) for row in (
    (C, 0, GPT41, GPT41_SLUG, "fake-endpoint-openai", "OpenAI", "2.50", 20, 40_000, 8_000, 0),
    (C, 0, GPT41, GPT41_SLUG, "fake-endpoint-azure", "Azure", "1.25", 5, 9_000, 1_500, 0),
    (C, 1, CLAUDE, CLAUDE_SLUG, "fake-endpoint-anthropic", "Anthropic", "3.25", 12, 50_000, 6_000,
     1_200),
    (P, 9, GPT41, GPT41_SLUG, "fake-endpoint-openai", "OpenAI", "1.25", 10, 10_000, 2_000, 0),
    (P, 40, CLAUDE, CLAUDE_SLUG, "fake-endpoint-anthropic", "Anthropic", "0.875", 4, 12_000, 1_500,
     0),
))
# fmt: on
OPENROUTER_CREDITS = {"total_credits": 100, "total_usage": 25.25}  # balance 74.75
# id -> (name, slug). `/keys` without workspace_id lists the first (default) one only.
OPENROUTER_WORKSPACES = {
    "00000000-0000-4000-8000-00000000f001": ("Default", "default"),
    "00000000-0000-4000-8000-00000000f002": ("Research", "research"),
}
OPENROUTER_DEFAULT_WORKSPACE, OPENROUTER_RESEARCH_WORKSPACE = OPENROUTER_WORKSPACES
# (name, usage_monthly, disabled, workspace); OpenRouter pages /keys by `offset`.
OPENROUTER_KEYS = (
    ("prod-backend", "5.20", False, OPENROUTER_DEFAULT_WORKSPACE),
    ("staging", "1.05", False, OPENROUTER_DEFAULT_WORKSPACE),
    ("leaked-laptop", "1.40", True, OPENROUTER_DEFAULT_WORKSPACE),
    ("ci", "0.03", False, OPENROUTER_DEFAULT_WORKSPACE),
    ("", "0", False, OPENROUTER_DEFAULT_WORKSPACE),
    ("research-agent", "2.75", False, OPENROUTER_RESEARCH_WORKSPACE),
)
OPENROUTER_KEYS_PAGE = 3
OPENROUTER_WORKSPACES_LIMIT_MAX = 100
ACTIVITY_DAYS = 30

# Supabase: one Micro compute add-on per project. Its hourly price (x 24 x days) never
# exceeds the Pro plan's compute credits ($10 x days / days in month), so compute and
# credits cancel exactly and the month-to-date is the plan fee, whatever the date.
SUPABASE_COMPUTE_HOURLY = "0.01344"
SUPABASE_PLAN_FEE = Decimal(25)
SUPABASE_DB_BYTES = 52_428_800
SUPABASE_DISK = {"fs_size_bytes": 8 * GIB, "fs_avail_bytes": 6 * GIB, "fs_used_bytes": 2 * GIB}
# (schema, table, n_live_tup, reltuples): storage.objects has no statistics (a reset), so its
# rows are the planner's estimate; 1,209,300 rows in all.
SUPABASE_TABLES = (
    ("public", "events", 1_100_000, 1_098_000.0),
    ("public", "orders", 52_000, 51_873.0),
    ("auth", "users", 4_200, 4_180.0),
    ("storage", "objects", 0, 53_100.0),
    ("public", "new_feature", 0, -1.0),
)
# usage.api-counts: one bucket per UTC day of the last 7 days; a bucket cut by the window
# (its first day, today) holds the share of the day inside it.
SUPABASE_API_SHARE = {  # per day: total_<kind>_requests
    "auth": 100,
    "realtime": 5,
    "rest": 3_000,
    "storage": 50,
}


# Edge Functions (GET /functions) and their invocations per hour (functions.combined-stats).
SUPABASE_FUNCTIONS = (
    # (id, slug, status, invocations per hour)
    ("5f0c7a52-3f5e-4d7e-9a55-0c6b2b9f0001", "send-email", "ACTIVE", 40),
    ("5f0c7a52-3f5e-4d7e-9a55-0c6b2b9f0002", "stripe-webhook", "ACTIVE", 3),
    ("5f0c7a52-3f5e-4d7e-9a55-0c6b2b9f0003", "old-cron", "REMOVED", 0),
)

# Wasabi: per completed day 2 TB active + 0.5 TB deleted, over two buckets.
WASABI_PRICE_PER_TB_MONTH = Decimal("6.99")
WASABI_BUCKETS = {
    # bucket: (active bytes, metadata bytes, deleted bytes, objects, API calls)
    "backups": (3 * TB // 2, 512 * MIB, TB // 2, 30_000, 800),
    "media": (TB // 2, 512 * MIB, 0, 120_000, 200),
}
WASABI_PAGE_SIZE_MAX = 100
# The S3 bucket inventory (ListBuckets, GetBucketLocation): "" is S3's us-east-1.
WASABI_BUCKET_REGIONS = {"backups": "", "media": "eu-central-1"}

# --- requests and replies ----------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """How one FakeProviders instance shapes its answers (see `FakeProviders`)."""

    daily_variation: bool = False
    cloudflare_page_size: int = CLOUDFLARE_PAGE_SIZE
    openrouter_keys_page: int = OPENROUTER_KEYS_PAGE


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    """The path below the provider's base URL, e.g. `/v1/billing/charges`."""
    query: Mapping[str, list[str]]
    headers: Message
    body: bytes
    now: datetime
    options: Options = Options()

    @property
    def today(self) -> date:
        return self.now.date()

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Json:
        return json.loads(self.body or b"null")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, data: Json, status: int = 200) -> Reply:
        return cls(status, json.dumps(data).encode())


def not_found(req: Request) -> Reply:
    return Reply.json({"error": f"fake: no route for {req.method} {req.path}"}, 404)


def bad_request(message: str) -> Reply:
    return Reply.json({"error": f"fake: {message}"}, 400)


def parse_date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw[:10]) if raw else None
    except ValueError:
        return None


def parse_time(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def day_range(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


# --- daily variation (the demo) ------------------------------------------------------------
# Round amounts on a few fixed days keep the tests' arithmetic simple, but draw a flat line
# with spikes. With `daily_variation`, a usage row is spread over every day of its month
# (current month: the 1st..yesterday) with more on weekdays than at weekends, and its
# amounts and counts are split so that the parts add up exactly to the row: every month's
# total is the same as without variation.

# Monday..Sunday: a working-week service, quieter at the weekend.
WEEKDAY_WEIGHTS = tuple(
    Decimal(w) for w in ("1.15", "1.25", "1.30", "1.20", "1.05", "0.55", "0.50")
)


def day_weight(day: date) -> Decimal:
    """The weekday pattern, wobbled by up to 10 % by the day of the month (deterministic)."""
    wobble = Decimal((day.day * 7) % 5 - 2) / 20
    return WEEKDAY_WEIGHTS[day.weekday()] * (1 + wobble)


def month_days(today: date, month: str) -> list[date]:
    if month == CURRENT:
        return list(day_range(month_first(today), max(month_first(today), today - timedelta(1))))
    first = previous_month_first(today)
    return list(day_range(first, first + timedelta(days=days_in_month(first) - 1)))


def split_units(total: int, weights: Sequence[Decimal]) -> list[int]:
    """`total` split in proportion to `weights`, in whole units that add up to `total`
    (largest remainders get the units left over)."""
    sign, whole = (-1 if total < 0 else 1), abs(total)
    weight_sum = sum(weights, Decimal(0))
    exact = [whole * w / weight_sum for w in weights]
    parts = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in by_remainder[: whole - sum(parts)]:
        parts[i] += 1
    return [sign * part for part in parts]


def split_amount(amount: str, weights: Sequence[Decimal]) -> list[str]:
    """A decimal string split like `split_units`, in cents or the amount's own finer unit."""
    value = Decimal(amount)
    exponent = value.as_tuple().exponent
    quantum = Decimal(1).scaleb(min(-2, exponent if isinstance(exponent, int) else -2))
    units = split_units(int(value / quantum), weights)
    return [str(unit * quantum) for unit in units]


def split_quantity(quantity: float | None, weights: Sequence[Decimal]) -> list[float | None]:
    if quantity is None or isinstance(quantity, int):
        ints = split_units(quantity, weights) if quantity is not None else None
        return list(ints) if ints is not None else [None] * len(weights)
    weight_sum = sum(weights, Decimal(0))
    return [round(quantity * float(w / weight_sum), 6) for w in weights]


Row = TypeVar("Row")


def placed(
    req: Request,
    rows: Iterable[Row],
    *,
    amounts: Sequence[str] = (),
    counts: Sequence[str] = (),
    fixed: Callable[[Row], bool] = lambda _row: False,
) -> list[tuple[date, Row]]:
    """Each row with the day it lands on (`record_day`). With the demo's daily variation, a
    row that is not `fixed` (a plan fee, a credit) becomes one row per day of its month, its
    `amounts` (decimal strings) and `counts` (numbers) split by `day_weight`."""
    out: list[tuple[date, Row]] = []
    for row in rows:
        month = str(getattr(row, "month", CURRENT))
        n = int(getattr(row, "n"))  # noqa: B009 - rows of several dataclasses
        if not req.options.daily_variation or fixed(row):
            out.append((record_day(req.today, month, n), row))
            continue
        days = month_days(req.today, month)
        weights = [day_weight(day) for day in days]
        columns: dict[str, Sequence[object]] = {}
        for name in amounts:
            columns[name] = split_amount(getattr(row, name), weights)
        for name in counts:
            columns[name] = split_quantity(getattr(row, name), weights)
        for i, day in enumerate(days):
            changes = {name: parts[i] for name, parts in columns.items()}
            out.append((day, cast(Row, replace(cast(Any, row), **changes))))
    return out


# --- Vercel ------------------------------------------------------------------------------


def vercel_record(charge: VercelCharge, day: date) -> dict[str, Any]:
    start = midnight(day)
    cost = number(charge.cost)
    record: dict[str, Any] = {
        "BilledCost": cost,
        "BillingCurrency": "USD",
        "ChargeCategory": charge.category,
        "ChargePeriodStart": iso_z(start, millis=True),
        "ChargePeriodEnd": iso_z(start + timedelta(days=1), millis=True),
        "ConsumedQuantity": charge.quantity,
        "ConsumedUnit": charge.unit,
        "EffectiveCost": cost,
    }
    if charge.project:
        record |= {"RegionId": "iad1", "RegionName": "Washington, D.C., USA"}
    record |= {
        "ServiceName": charge.service,
        "ServiceCategory": charge.service_category,
        "ServiceProviderName": "Vercel",
        "Tags": (
            {"ProjectId": VERCEL_PROJECTS[charge.project], "ProjectName": charge.project}
            if charge.project
            else {}
        ),
        "PricingCategory": "Other" if charge.category == "Credit" else "Standard",
        "PricingCurrency": "USD",
        "PricingQuantity": 1 if charge.quantity is None else charge.quantity,
        "PricingUnit": "Credit" if charge.category == "Credit" else charge.unit,
    }
    return record


def vercel(req: Request) -> Reply:
    if req.method != "GET" or req.path != "/v1/billing/charges":
        return not_found(req)
    start, end = parse_time(req.param("from")), parse_time(req.param("to"))
    if start is None or end is None:
        return bad_request("from and to are required ISO 8601 times")
    if req.param("teamId") != VERCEL_TEAM_ID:
        return Reply.json({"error": {"code": "forbidden", "message": "Not authorized"}}, 403)
    charges = placed(
        req,
        VERCEL_CHARGES,
        amounts=("cost",),
        counts=("quantity",),
        fixed=lambda charge: charge.category != "Usage",
    )
    lines = [
        json.dumps(vercel_record(charge, day), separators=(",", ":"))
        for day, charge in charges
        if start <= midnight(day) < end
    ]
    body = "".join(line + "\n" for line in lines).encode()
    return Reply(200, body, "application/jsonl")


# --- Supabase ----------------------------------------------------------------------------


def supabase(req: Request) -> Reply:
    parts = req.path.strip("/").split("/")
    if len(parts) < 4 or parts[:2] != ["v1", "projects"]:
        return not_found(req)
    ref, rest = parts[2], "/".join(parts[3:])
    if ref != SUPABASE_REF:
        return Reply.json({"message": "Project not found"}, 404)
    if req.method == "GET" and rest == "billing/addons":
        price = SUPABASE_COMPUTE_HOURLY
        return Reply.json(
            {
                "selected_addons": [
                    {
                        "type": "compute_instance",
                        "variant": {
                            "id": "ci_micro",
                            "name": "Micro",
                            "price": {
                                "description": f"${price}/hour",
                                "type": "usage",
                                "interval": "hourly",
                                "amount": number(price),
                            },
                        },
                    }
                ],
                "available_addons": [
                    {
                        "type": "ipv4",
                        "name": "Dedicated IPv4 address",
                        "variants": [
                            {
                                "id": "ipv4_default",
                                "name": "Dedicated IPv4 address",
                                "price": {
                                    "description": "$0.0055/hour",
                                    "type": "usage",
                                    "interval": "hourly",
                                    "amount": 0.0055,
                                },
                            }
                        ],
                    }
                ],
            }
        )
    if req.method == "POST" and rest == "database/query/read-only":
        try:
            query = req.json().get("query", "")
        except (ValueError, AttributeError):
            return bad_request("body must be a JSON object with a query")
        if "pg_database_size" in str(query):
            return Reply.json([{"bytes": SUPABASE_DB_BYTES}], 201)
        if "pg_stat_user_tables" in str(query):
            return Reply.json([supabase_table(*table) for table in SUPABASE_TABLES], 201)
        return bad_request(f"unexpected query {query!r}")
    if req.method == "GET" and rest == "config/disk/util":
        stamp = req.now.replace(minute=0, second=0, microsecond=0)
        return Reply.json({"timestamp": iso_z(stamp), "metrics": SUPABASE_DISK})
    if req.method == "GET" and rest == "analytics/endpoints/usage.api-counts":
        if req.param("interval") != "7day":
            return bad_request("this fake answers interval=7day only")
        return Reply.json({"result": supabase_api_counts(req.now)})
    if req.method == "GET" and rest == "functions":
        return Reply.json([supabase_function(*f[:3]) for f in SUPABASE_FUNCTIONS])
    if req.method == "GET" and rest == "analytics/endpoints/functions.combined-stats":
        per_hour = {f[0]: f[3] for f in SUPABASE_FUNCTIONS}
        if req.param("interval") not in ("15min", "1hr", "3hr", "1day"):
            return bad_request("interval and function_id are required")
        if req.param("function_id") not in per_hour:
            return bad_request("unknown function_id")
        return Reply.json(
            {"result": supabase_function_stats(req.now, per_hour[req.param("function_id") or ""])}
        )
    return not_found(req)


def supabase_table(schema: str, table: str, live: int, estimated: float) -> dict[str, Any]:
    return {
        "schema_name": schema,
        "table_name": table,
        "live_rows": live,
        "estimated_rows": estimated,
    }


def supabase_api_counts(now: datetime) -> list[dict[str, Any]]:
    """Day buckets of the 7 days before `now`, each cut to the part inside the window."""
    start = now - timedelta(days=7)
    rows = []
    for day in day_range(start.date(), now.date()):
        begin, end = max(midnight(day), start), min(midnight(day) + timedelta(days=1), now)
        share = Decimal((end - begin).total_seconds()) / 86400
        if share <= 0:
            continue
        row: dict[str, Any] = {"timestamp": iso_z(midnight(day), millis=True)}
        for kind, per_day in sorted(SUPABASE_API_SHARE.items()):
            whole = per_day + (10 * day.day if kind == "rest" else 0)
            row[f"total_{kind}_requests"] = int(whole * share)
        rows.append(row)
    return rows


def supabase_function(function_id: str, slug: str, status: str) -> dict[str, Any]:
    return {
        "id": function_id,
        "slug": slug,
        "name": slug,
        "status": status,
        "version": 3,
        "created_at": 1_790_000_000_000,
        "updated_at": 1_793_000_000_000,
        "verify_jwt": True,
        "import_map": False,
        "entrypoint_path": f"file:///src/supabase/functions/{slug}/index.ts",
        "ezbr_sha256": "0" * 64,
    }


def supabase_function_stats(now: datetime, per_hour: int) -> list[dict[str, Any]]:
    """Hourly buckets of the 24 hours before `now`; an hour without invocations has none."""
    if not per_hour:
        return []
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    return [
        {
            "timestamp": iso_z(first + timedelta(hours=n), millis=True),
            "requests_count": per_hour,
            "success_count": per_hour,
            "redirect_count": 0,
            "client_err_count": 0,
            "server_err_count": 0,
            "avg_execution_time": 120.5,
            "max_execution_time": 900,
            "log_count": per_hour,
            "log_info_count": per_hour,
            "log_warn_count": 0,
            "log_error_count": 0,
        }
        for n in range(24)
    ]


# --- Wasabi (Stats API) ------------------------------------------------------------------


def wasabi_record(day: date, bucket: str | None) -> dict[str, Any]:
    rows = [WASABI_BUCKETS[bucket]] if bucket else list(WASABI_BUCKETS.values())
    active = sum(r[0] for r in rows)
    metadata = sum(r[1] for r in rows)
    deleted = sum(r[2] for r in rows)
    objects = sum(r[3] for r in rows)
    calls = sum(r[4] for r in rows)
    upload, download = GIB * len(rows), 2 * GIB * len(rows)
    start = midnight(day)
    record: dict[str, Any] = {
        "AcctNum": 100000042,
        "AcctPlanNum": 14083,
    }
    if bucket:
        index = sorted(WASABI_BUCKETS).index(bucket)
        record = {
            "BucketUtilizationNum": 1_000_000 + day.toordinal() * 10 + index,
            **record,
            "BucketNum": 5512 + index,
            "Bucket": bucket,
            "Region": "us-east-1",
        }
    else:
        record = {"UtilizationNum": day.toordinal(), **record}
    return record | {
        "StartTime": iso_z(start),
        "EndTime": iso_z(start + timedelta(days=1)),
        "CreateTime": iso_z(start + timedelta(days=1, hours=7, minutes=10, seconds=46)),
        "NumBillableObjects": objects,
        "NumBillableDeletedObjects": 12 if deleted else 0,
        "RawStorageSizeBytes": active - metadata - 4096 * len(rows),
        "PaddedStorageSizeBytes": active - metadata,
        "MetadataStorageSizeBytes": metadata,
        "DeletedStorageSizeBytes": deleted,
        "OrphanedStorageSizeBytes": 0,
        "MinStorageChargeBytes": 0,
        "NumAPICalls": calls,
        "UploadBytes": upload,
        "DownloadBytes": download,
        "StorageWroteBytes": upload,
        "StorageReadBytes": download,
        "NumGETCalls": calls // 2,
        "NumPUTCalls": calls // 4,
        "NumDELETECalls": 0,
        "NumLISTCalls": calls - calls // 2 - calls // 4,
        "NumHEADCalls": 0,
        "DeleteBytes": 0,
    }


def wasabi(req: Request) -> Reply:
    if req.method != "GET" or req.path not in (
        "/v1/standalone/utilizations",
        "/v1/standalone/utilizations/bucket",
    ):
        return not_found(req)
    first, last = parse_date(req.param("from")), parse_date(req.param("to"))
    if first is None or last is None:
        return bad_request("from and to are required dates")
    try:
        page_num = int(req.param("pageNum") or 0)
        page_size = min(int(req.param("pageSize") or WASABI_PAGE_SIZE_MAX), WASABI_PAGE_SIZE_MAX)
    except ValueError:
        return bad_request("pageNum and pageSize are integers")
    # The Stats API reports a day once it has ended, from the previous month on.
    oldest = previous_month_first(req.today)
    days = [d for d in day_range(max(first, oldest), last) if d < req.today]
    if req.path.endswith("/bucket"):
        records = [wasabi_record(d, b) for d in days for b in sorted(WASABI_BUCKETS)]
    else:
        records = [wasabi_record(d, None) for d in days]
    page = records[page_num * page_size : (page_num + 1) * page_size]
    info = {
        "RecordCount": len(records),
        # Filled in on page 0 only; later pages say 0.
        "PageCount": max(1, math.ceil(len(records) / page_size)) if page_num == 0 else 0,
        "PageSize": page_size,
        "PageNum": page_num,
    }
    return Reply.json({"PageInfo": info, "Records": page})


# --- Wasabi (S3 bucket inventory) --------------------------------------------------------

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def s3_xml(body: str, status: int = 200) -> Reply:
    text = f'<?xml version="1.0" encoding="UTF-8"?>\n{body}'
    return Reply(status, text.encode(), "application/xml")


def s3_error(code: str, status: int) -> Reply:
    return s3_xml(f"<Error><Code>{code}</Code><Message>fake: {code}</Message></Error>", status)


def wasabi_s3(req: Request) -> Reply:
    """ListBuckets and GetBucketLocation, path-style, as boto3 calls them (no signature check)."""
    bucket = req.path.strip("/")
    if req.method == "GET" and not bucket:
        buckets = "".join(
            f"<Bucket><Name>{name}</Name><CreationDate>2025-01-02T03:04:05.000Z</CreationDate>"
            "</Bucket>"
            for name in sorted(WASABI_BUCKET_REGIONS)
        )
        owner = "<Owner><ID>fake-owner</ID><DisplayName>fake</DisplayName></Owner>"
        return s3_xml(
            f'<ListAllMyBucketsResult xmlns="{S3_NS}">{owner}<Buckets>{buckets}</Buckets>'
            "</ListAllMyBucketsResult>"
        )
    if req.method == "GET" and "location" in req.query and "/" not in bucket:
        if bucket not in WASABI_BUCKET_REGIONS:
            return s3_error("NoSuchBucket", 404)
        region = WASABI_BUCKET_REGIONS[bucket]
        return s3_xml(f'<LocationConstraint xmlns="{S3_NS}">{region}</LocationConstraint>')
    return s3_error("NotImplemented", 501)


# --- Cloudflare --------------------------------------------------------------------------


def anchor_day_of(month_day: date) -> int:
    return min(CLOUDFLARE_ANCHOR.day, days_in_month(month_day))


def billing_period_start(day: date) -> date:
    anchor = day.replace(day=anchor_day_of(day))
    if anchor <= day:
        return anchor
    before = day.replace(day=1) - timedelta(days=1)
    return before.replace(day=anchor_day_of(before))


def cloudflare_record(charge: CloudflareCharge, day: date) -> dict[str, Any]:
    start = midnight(day)
    cost = number(charge.cost)
    return {
        "BilledCost": cost,
        "BillingAccountId": CLOUDFLARE_ACCOUNT_ID,
        "BillingAccountName": "Fake Account",
        "BillingCurrency": "USD",
        "BillingPeriodStart": iso_z(midnight(billing_period_start(day))),
        "ChargeCategory": charge.category,
        "ChargeClass": None,
        "ChargeDescription": charge.service,
        "ChargePeriodStart": iso_z(start),
        "ChargePeriodEnd": iso_z(start + timedelta(days=1)),
        "ConsumedQuantity": charge.quantity,
        "ConsumedUnit": charge.unit,
        "ContractedCost": cost,
        "CumulatedContractedCost": cost,
        "CumulatedPricingQuantity": charge.quantity,
        "EffectiveCost": cost,
        "HostProviderName": "Cloudflare",
        "InvoiceIssuerName": "Cloudflare",
        "ListCost": cost,
        "PricingQuantity": charge.quantity,
        "PricingUnit": charge.unit,
        "ServiceName": charge.service,
        "ServiceProviderName": "Cloudflare",
        "ServiceFamilyName": charge.family,
        "SubscriptionId": "fake-subscription",
        "ZoneId": CLOUDFLARE_ZONES.get(charge.zone or ""),
        "ZoneName": charge.zone,
    }


def envelope(result: Json, result_info: Json = None) -> Json:
    body = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return body


def cloudflare_graphql(req: Request) -> Reply:
    try:
        body = req.json()
        query, variables = body["query"], body.get("variables") or {}
    except (ValueError, KeyError, TypeError, AttributeError):
        return Reply.json({"data": None, "errors": [{"message": "failed to parse request"}]})
    if "viewer" not in str(query):
        return Reply.json({"data": None, "errors": [{"message": "unknown query"}]})
    if variables.get("accountTag") != CLOUDFLARE_ACCOUNT_ID:
        return Reply.json({"data": {"viewer": {"accounts": []}}, "errors": None})
    latest = req.now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    operations = {
        "PutObject": 150_000,
        "ListObjects": 20_000,
        "GetObject": 2_500_000,
        "HeadObject": 40_000,
        "DeleteObject": 900,
    }
    storage = (
        ("assets", latest, 5_000_000_000, 1_000_000),
        ("eu_backups", latest - timedelta(hours=1), 200_000_000, 50_000),
        ("assets", latest - timedelta(days=1), 4_000_000_000, 900_000),
    )
    account = {
        "workers": [
            {
                "sum": {"requests": 1_200_000, "cpuTimeUs": 3_500_000},
                "dimensions": {"scriptName": "api"},
            },
            {
                "sum": {"requests": 300_000, "cpuTimeUs": 500_000},
                "dimensions": {"scriptName": "cron"},
            },
        ],
        "r2Operations": [
            {"sum": {"requests": count}, "dimensions": {"actionType": action}}
            for action, count in operations.items()
        ],
        "r2Storage": [
            {
                "max": {"payloadSize": payload, "metadataSize": metadata},
                "dimensions": {"bucketName": bucket, "datetime": iso_z(moment)},
            }
            for bucket, moment, payload, metadata in storage
        ],
    }
    return Reply.json({"data": {"viewer": {"accounts": [account]}}, "errors": None})


def cloudflare(req: Request) -> Reply:
    if req.method == "POST" and req.path == "/graphql":
        return cloudflare_graphql(req)
    account_path = f"/accounts/{CLOUDFLARE_ACCOUNT_ID}"
    if req.method != "GET" or not req.path.startswith(account_path):
        return not_found(req)
    rest = req.path[len(account_path) :]
    if rest == "/billable-usage/info":
        anchor = iso_z(CLOUDFLARE_ANCHOR)
        subscription = {
            "id": "fake-subscription",
            "billing_cycle_anchor_timestamp": anchor,
            "start_timestamp": anchor,
        }
        return Reply.json(envelope({"covered": True, "subscriptions": [subscription]}))
    if rest != "/billable-usage":
        return not_found(req)
    first, last = parse_date(req.param("from")), parse_date(req.param("to"))
    if first is None or last is None:
        return Reply.json(
            {
                "success": False,
                "errors": [{"code": 1001, "message": "from and to are required"}],
                "messages": [],
                "result": None,
            },
            400,
        )
    records: list[dict[str, Any]] = []
    # Cloudflare answers nothing unless the window holds a billing-cycle anchor day.
    if any(d.day == anchor_day_of(d) for d in day_range(first, last)):
        charges = placed(
            req,
            CLOUDFLARE_CHARGES,
            amounts=("cost",),
            counts=("quantity",),
            # The Workers Paid subscription is a monthly fee, charged on one day.
            fixed=lambda c: c.category != "Usage" or c.service == "Workers Paid",
        )
        for day, charge in charges:
            if first <= day <= last:
                records.append(cloudflare_record(charge, day))
        records.sort(key=lambda r: str(r["ChargePeriodStart"]))
    try:
        page = max(1, int(req.param("page") or 1))
    except ValueError:
        page = 1
    size = req.options.cloudflare_page_size
    total_pages = max(1, math.ceil(len(records) / size))
    chunk = records[(page - 1) * size : page * size]
    info = {
        "page": page,
        "per_page": size,
        "count": len(chunk),
        "total_count": len(records),
        "total_pages": total_pages,
    }
    return Reply.json(envelope(chunk, info))


# --- Cloudflare AI Gateway (GraphQL analytics) --------------------------------------------


def ai_gateway_group(rows: Iterable[AiGatewayTraffic], dimensions: Json) -> Json:
    rows = list(rows)
    cost = sum((Decimal(r.cost) for r in rows), Decimal(0))
    return {
        "count": sum(r.requests for r in rows),
        "sum": {
            "cost": number(str(cost)),
            "cachedRequests": sum(r.cached for r in rows),
            "uncachedTokensIn": sum(r.tokens_in for r in rows),
            "uncachedTokensOut": sum(r.tokens_out for r in rows),
        },
        "dimensions": dimensions,
    }


def cloudflare_ai_gateway(req: Request) -> Reply:
    if req.method != "POST" or req.path != "/graphql":
        return not_found(req)
    try:
        body = req.json()
        query, variables = str(body["query"]), body.get("variables") or {}
    except (ValueError, KeyError, TypeError, AttributeError):
        return Reply.json({"data": None, "errors": [{"message": "failed to parse request"}]})
    if "aiGatewayRequestsAdaptiveGroups" not in query or "byModel:" not in query:
        return Reply.json({"data": None, "errors": [{"message": "unknown query"}]})
    if not parse_time(variables.get("start")) or not parse_time(variables.get("end")):
        return Reply.json({"data": None, "errors": [{"message": "start and end are Time"}]})
    if variables.get("accountTag") != AI_GATEWAY_ACCOUNT_ID:
        return Reply.json({"data": {"viewer": {"accounts": []}}, "errors": None})
    wanted = variables.get("gateways") if "gateway_in" in query else None
    traffic = [t for t in AI_GATEWAY_TRAFFIC if wanted is None or t.gateway in wanted]
    models: dict[tuple[str, str, str], list[AiGatewayTraffic]] = defaultdict(list)
    metadata: dict[tuple[str, str], list[AiGatewayTraffic]] = defaultdict(list)
    for t in traffic:
        models[(t.gateway, t.upstream, t.model)].append(t)
        raw = json.dumps(t.metadata, separators=(",", ":")) if t.metadata else ""
        metadata[(t.gateway, raw)].append(t)
    account: Json = {
        "byModel": [
            ai_gateway_group(rows, {"gateway": g, "provider": p, "model": m})
            for (g, p, m), rows in models.items()
        ]
    }
    if "byMetadata:" in query:
        groups = [
            ai_gateway_group(rows, {"gateway": g, "metadataRaw": raw})
            for (g, raw), rows in metadata.items()
        ]
        account["byMetadata"] = sorted(groups, key=lambda group: -group["sum"]["cost"])
    return Reply.json({"data": {"viewer": {"accounts": [account]}}, "errors": None})


# --- OpenAI ------------------------------------------------------------------------------


def day_buckets(
    req: Request, default_limit: int, max_limit: int
) -> tuple[list[datetime], str | None] | Reply:
    """The 1-day buckets of one OpenAI page (start_time/end_time/limit/page) and the next cursor."""
    try:
        start = datetime.fromtimestamp(int(req.param("start_time") or ""), UTC)
        end_raw = req.param("end_time")
        end = datetime.fromtimestamp(int(end_raw), UTC) if end_raw else req.now
        limit = min(int(req.param("limit") or default_limit), max_limit)
    except ValueError:
        return bad_request("start_time (and end_time, limit) are unix seconds / integers")
    if req.param("bucket_width") not in (None, "1d"):
        return bad_request("the fake only serves bucket_width=1d")
    cursor = req.param("page")
    if cursor:
        try:
            start = datetime.fromtimestamp(int(base64.b64decode(cursor[5:]).decode()), UTC)
        except ValueError:
            return bad_request("unknown page cursor")
    starts: list[datetime] = []
    moment = start
    while moment < end and len(starts) <= limit:
        starts.append(moment)
        moment += timedelta(days=1)
    if len(starts) > limit:
        following = starts.pop()
        token = base64.b64encode(str(int(following.timestamp())).encode()).decode()
        return starts, f"page_{token}"
    return starts, None


def openai_page(buckets: list[tuple[datetime, list[Json]]], next_page: str | None) -> Json:
    return {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": int(start.timestamp()),
                "end_time": int((start + timedelta(days=1)).timestamp()),
                "results": results,
            }
            for start, results in buckets
        ],
        "has_more": next_page is not None,
        "next_page": next_page,
    }


def openai_costs(req: Request, starts: list[datetime]) -> list[tuple[datetime, list[Json]]]:
    group_by = set(req.query.get("group_by", []))
    buckets = []
    costs_by_day = placed(req, OPENAI_COSTS, amounts=("amount",), counts=("quantity",))
    for start in starts:
        groups: dict[tuple[str | None, ...], list[OpenAICost]] = defaultdict(list)
        for day, cost in costs_by_day:
            if day == start.date():
                key = tuple(
                    getattr(cost, name) if name in group_by else None
                    for name in ("line_item", "project_id", "api_key_id")
                )
                groups[key].append(cost)
        results = []
        for (line_item, project_id, api_key_id), costs in groups.items():
            quantities = [c.quantity for c in costs]
            quantity = None if None in quantities else sum(q or 0 for q in quantities)
            amount = sum((Decimal(c.amount) for c in costs), Decimal(0))
            results.append(
                {
                    "object": "organization.costs.result",
                    "amount": {"value": number(str(amount)), "currency": "usd"},
                    "line_item": line_item,
                    "project_id": project_id,
                    "api_key_id": api_key_id,
                    "quantity": quantity if line_item else None,
                    "quantity_unit": "tokens" if line_item and quantity is not None else None,
                }
            )
        buckets.append((start, results))
    return buckets


def openai_completions(req: Request, starts: list[datetime]) -> list[tuple[datetime, list[Json]]]:
    group_by = set(req.query.get("group_by", []))
    buckets = []
    usage_by_day = placed(
        req, OPENAI_USAGE, counts=("input_tokens", "cached", "output", "requests")
    )
    for start in starts:
        groups: dict[str | None, list[OpenAIUsage]] = defaultdict(list)
        for day, usage in usage_by_day:
            if day == start.date():
                groups[usage.model if "model" in group_by else None].append(usage)
        results = [
            {
                "object": "organization.usage.completions.result",
                "input_tokens": sum(u.input_tokens for u in rows),
                "input_cached_tokens": sum(u.cached for u in rows),
                "output_tokens": sum(u.output for u in rows),
                "num_model_requests": sum(u.requests for u in rows),
                "project_id": None,
                "user_id": None,
                "api_key_id": None,
                "model": model,
                "batch": None,
            }
            for model, rows in groups.items()
        ]
        buckets.append((start, results))
    return buckets


def openai(req: Request) -> Reply:
    if req.method != "GET":
        return not_found(req)
    if req.path == "/organization/costs":
        page = day_buckets(req, default_limit=7, max_limit=180)
        build = openai_costs
    elif req.path == "/organization/usage/completions":
        page = day_buckets(req, default_limit=7, max_limit=31)
        build = openai_completions
    else:
        return not_found(req)
    if isinstance(page, Reply):
        return page
    starts, next_page = page
    return Reply.json(openai_page(build(req, starts), next_page))


# --- Anthropic ---------------------------------------------------------------------------


def anthropic_buckets(req: Request) -> tuple[list[datetime], str | None] | Reply:
    start, end = parse_time(req.param("starting_at")), parse_time(req.param("ending_at"))
    if start is None:
        return bad_request("starting_at is required (RFC 3339)")
    end = end or req.now
    try:
        limit = min(int(req.param("limit") or 7), 31)
    except ValueError:
        return bad_request("limit is an integer")
    if req.param("bucket_width") not in (None, "1d"):
        return bad_request("the fake only serves bucket_width=1d")
    cursor = req.param("page")
    if cursor:
        try:
            resumed = parse_time(base64.b64decode(cursor[5:]).decode())
        except ValueError:
            resumed = None
        if resumed is None:
            return bad_request("unknown page cursor")
        start = resumed
    starts: list[datetime] = []
    moment = midnight(start.date())
    while moment < end and len(starts) <= limit:
        starts.append(moment)
        moment += timedelta(days=1)
    if len(starts) > limit:
        following = starts.pop()
        return starts, "page_" + base64.b64encode(iso_z(following).encode()).decode()
    return starts, None


def anthropic_cost_row(cost: AnthropicCost) -> Json:
    return {
        "amount": cost.cents,
        "context_window": "0-200k" if cost.model else None,
        "cost_type": cost.cost_type,
        "currency": "USD",
        "description": cost.description,
        "inference_geo": "global" if cost.model else None,
        "model": cost.model,
        "service_tier": "standard" if cost.model else None,
        "token_type": cost.token_type,
        "workspace_id": cost.workspace_id,
    }


def anthropic_usage_row(usage: AnthropicUsage) -> Json:
    return {
        "account_id": None,
        "api_key_id": usage.api_key_id,
        "cache_creation": {
            "ephemeral_1h_input_tokens": usage.cache_1h,
            "ephemeral_5m_input_tokens": usage.cache_5m,
        },
        "cache_read_input_tokens": usage.cache_read,
        "context_window": None,
        "inference_geo": None,
        "model": usage.model,
        "output_tokens": usage.output,
        "server_tool_use": {"web_search_requests": 0},
        "service_account_id": None,
        "service_tier": None,
        "uncached_input_tokens": usage.uncached,
        "workspace_id": None,
    }


def anthropic(req: Request) -> Reply:
    if req.headers.get("anthropic-version") is None:
        return Reply.json(
            {"type": "error", "error": {"type": "invalid_request_error", "message": "version"}},
            400,
        )
    if req.method != "GET" or req.path not in (
        "/v1/organizations/cost_report",
        "/v1/organizations/usage_report/messages",
    ):
        return not_found(req)
    page = anthropic_buckets(req)
    if isinstance(page, Reply):
        return page
    starts, next_page = page
    data = []
    costs = placed(req, ANTHROPIC_COSTS, amounts=("cents",))
    usage = placed(
        req,
        ANTHROPIC_USAGE,
        counts=("uncached", "cache_5m", "cache_1h", "cache_read", "output"),
    )
    for start in starts:
        if req.path.endswith("cost_report"):
            results = [anthropic_cost_row(c) for day, c in costs if day == start.date()]
        else:
            results = [anthropic_usage_row(u) for day, u in usage if day == start.date()]
        data.append(
            {
                "starting_at": iso_z(start),
                "ending_at": iso_z(start + timedelta(days=1)),
                "results": results,
            }
        )
    return Reply.json({"data": data, "has_more": next_page is not None, "next_page": next_page})


# --- OpenRouter --------------------------------------------------------------------------


def openrouter_workspace(ident: str, name: str, slug: str) -> Json:
    return {
        "created_at": "2026-01-20T11:00:00Z",
        "created_by": "user_fake0001",
        "default_guardrail_id": "00000000-0000-5000-8000-00000000a001",
        "default_image_model": None,
        "default_provider_sort": None,
        "default_text_model": None,
        "description": None,
        "id": ident,
        "include_byok_in_budgets": False,
        "io_logging_api_key_ids": None,
        "io_logging_sampling_rate": 1,
        "is_data_discount_logging_enabled": False,
        "is_observability_broadcast_enabled": False,
        "is_observability_io_logging_enabled": False,
        "name": name,
        "slug": slug,
        "updated_at": None,
    }


def openrouter_key(index: int, name: str, monthly: str, disabled: bool, workspace: str) -> Json:
    digest = f"{index + 1:02d}" * 32
    return {
        "hash": digest,
        "name": name,
        "label": f"sk-or-v1-{digest[:3]}...{digest[-4:]}",
        "disabled": disabled,
        "limit": None,
        "limit_remaining": None,
        "limit_reset": None,
        "include_byok_in_limit": False,
        "usage": number(monthly) * 3,
        "usage_daily": 0,
        "usage_weekly": 0,
        "usage_monthly": monthly if index % 2 else number(monthly),
        "byok_usage": 0,
        "byok_usage_daily": 0,
        "byok_usage_weekly": 0,
        "byok_usage_monthly": 0,
        "created_at": "2026-01-20T11:00:00Z",
        "updated_at": "2026-01-20T11:00:00Z",
        "creator_user_id": "user_fake0001",
        "expires_at": None,
        "workspace_id": workspace,
    }


def openrouter(req: Request) -> Reply:
    if req.method != "GET":
        return not_found(req)
    if req.path == "/credits":
        return Reply.json({"data": OPENROUTER_CREDITS})
    if req.path == "/activity":
        # The last 30 completed UTC days; today is not included.
        window = (req.today - timedelta(days=ACTIVITY_DAYS), req.today - timedelta(days=1))
        rows = []
        activity = placed(
            req,
            OPENROUTER_ACTIVITY,
            amounts=("usage",),
            counts=("requests", "prompt", "completion", "reasoning"),
        )
        for day, item in activity:
            if window[0] <= day <= window[1]:
                rows.append(
                    {
                        "date": day.isoformat(),
                        "model": item.model,
                        "model_permaslug": item.permaslug,
                        "endpoint_id": item.endpoint_id,
                        "provider_name": item.provider,
                        "usage": number(item.usage),
                        "byok_usage_inference": 0,
                        "requests": item.requests,
                        "prompt_tokens": item.prompt,
                        "completion_tokens": item.completion,
                        "reasoning_tokens": item.reasoning,
                    }
                )
        return Reply.json({"data": rows})
    try:
        offset = int(req.param("offset") or 0)
        limit = int(req.param("limit") or 50)
    except ValueError:
        return bad_request("offset and limit are integers")
    if req.path == "/workspaces":
        if not 1 <= limit <= OPENROUTER_WORKSPACES_LIMIT_MAX:
            return bad_request("limit is between 1 and 100")
        listed = [openrouter_workspace(i, *named) for i, named in OPENROUTER_WORKSPACES.items()]
        return Reply.json({"data": listed[offset : offset + limit], "total_count": len(listed)})
    if req.path == "/keys":
        # Without workspace_id, the keys of the default workspace only.
        workspace = req.param("workspace_id") or OPENROUTER_DEFAULT_WORKSPACE
        keys = [
            openrouter_key(i, name, monthly, disabled, in_workspace)
            for i, (name, monthly, disabled, in_workspace) in enumerate(OPENROUTER_KEYS)
            if in_workspace == workspace
            and (req.param("include_disabled") == "true" or not disabled)
        ]
        return Reply.json({"data": keys[offset : offset + req.options.openrouter_keys_page]})
    return not_found(req)


HANDLERS: dict[str, Callable[[Request], Reply]] = {
    WASABI_S3: wasabi_s3,
    "vercel": vercel,
    "supabase": supabase,
    "wasabi": wasabi,
    "cloudflare": cloudflare,
    "cloudflare_ai_gateway": cloudflare_ai_gateway,
    "openai": openai,
    "anthropic": anthropic,
    "openrouter": openrouter,
}

CREDENTIALS: dict[str, tuple[str, str]] = {
    "vercel": ("Authorization", f"Bearer {VERCEL_TOKEN}"),
    "supabase": ("Authorization", f"Bearer {SUPABASE_TOKEN}"),
    "wasabi": ("Authorization", f"{WASABI_ACCESS_KEY}:{WASABI_SECRET_KEY}"),
    "cloudflare": ("Authorization", f"Bearer {CLOUDFLARE_TOKEN}"),
    "cloudflare_ai_gateway": ("Authorization", f"Bearer {AI_GATEWAY_TOKEN}"),
    "openai": ("Authorization", f"Bearer {OPENAI_ADMIN_KEY}"),
    "anthropic": ("x-api-key", ANTHROPIC_ADMIN_KEY),
    "openrouter": ("Authorization", f"Bearer {OPENROUTER_API_KEY}"),
}


def authorised(provider: str, headers: Message) -> bool:
    if provider == WASABI_S3:  # AWS Signature V4: only the access key id is checked
        return f"Credential={WASABI_ACCESS_KEY}/" in (headers.get("Authorization") or "")
    header, expected = CREDENTIALS[provider]
    return headers.get(header) == expected


def unauthorised(provider: str) -> Reply:
    if provider == WASABI_S3:
        return s3_error("InvalidAccessKeyId", 403)
    if provider in ("cloudflare", "cloudflare_ai_gateway"):
        error = {"code": 10000, "message": "Authentication error"}
        return Reply.json(
            {"success": False, "errors": [error], "messages": [], "result": None}, 403
        )
    return Reply.json({"error": {"message": "fake: missing or wrong credentials"}}, 401)


# --- rate limits -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """At most `requests` in any `per_s` seconds (sliding), of the requests whose path ends
    with `paths` ("" = every request)."""

    requests: int
    per_s: float
    paths: str = ""


# Each provider's documented limit, the source next to the number; keyed by whose limit a
# request spends (LIMIT_GROUPS). Vercel (/v1/billing/charges), OpenAI (organization costs and
# usage), OpenRouter (credits, activity, keys) and Wasabi (Stats API) document none for the
# endpoints collected: cost_exporter.http_client.DEFAULT_BUDGETS names the pages read.
DOCUMENTED_LIMITS: dict[str, tuple[Window, ...]] = {
    # 120 requests per minute per user and project/organisation:
    # https://supabase.com/docs/reference/api/introduction#rate-limits
    "supabase": (Window(120, 60),),
    "cloudflare": (
        # 1200 requests per 5 minutes per user or account token; GraphQL at most 320 per
        # 5 minutes: https://developers.cloudflare.com/fundamentals/api/reference/limits/
        Window(1200, 300),
        Window(320, 300, paths="/graphql"),
    ),
    # "polling once per minute for sustained use", bursts for paging acceptable: 60 an hour.
    # https://docs.anthropic.com/en/api/usage-cost-api (FAQ: recommended polling frequency)
    "anthropic": (Window(60, 3600),),
}
LIMIT_GROUPS = {"cloudflare_ai_gateway": "cloudflare"}


class RateLimiter:
    """The fake's side of DOCUMENTED_LIMITS: sliding windows of accepted requests."""

    def __init__(self, limits: Mapping[str, Sequence[Window]], clock: Callable[[], float]) -> None:
        self.limits = {name: tuple(windows) for name, windows in limits.items()}
        self.clock = clock
        self._seen: dict[tuple[str, int], list[float]] = defaultdict(list)

    def retry_after(self, provider: str, path: str) -> float | None:
        """None when the request is within every window (and is counted); else the seconds
        until it would be."""
        group = LIMIT_GROUPS.get(provider, provider)
        windows = [
            (i, w)
            for i, w in enumerate(self.limits.get(group, ()))
            if not w.paths or path.endswith(w.paths)
        ]
        now = self.clock()
        waits = []
        for index, window in windows:
            seen = self._seen[(group, index)]
            seen[:] = [t for t in seen if t > now - window.per_s]
            if len(seen) >= window.requests:
                waits.append(seen[0] + window.per_s - now)
        if waits:
            return max(waits)
        for index, _ in windows:
            self._seen[(group, index)].append(now)
        return None


# --- the server ----------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls
    timeout = 30  # an idle keep-alive connection ends after this
    server: _Server

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.fake.handle(self.command, self.path, self.headers, body)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeProviders

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # the client hung up (e.g. a timeout in a fault test): not news
        super().handle_error(request, client_address)


class FakeProviders:
    """The fake billing APIs of every HTTP provider, on one local port.

    Options (attributes, change them at any time):
      latency_s  seconds every request waits before it is answered (benchmarks), default 0;
      clock      returns "now" (UTC); the data is dated from it. Default: the real time.
    Answers (fixed at construction): `daily_variation` spreads each usage charge over its
    month's days with a weekday pattern (the demo; tests keep the round, known days);
    `cloudflare_page_size` and `openrouter_keys_page` are the page sizes of those lists
    (small by default so that the collectors' paging is exercised; benchmarks raise them).
    `bind` is the listening address (default 127.0.0.1; the container test binds 0.0.0.0 so
    that containers reach the fake through their network's gateway).
    Methods: `fail(provider, status)` / `heal()`, `requests_for(provider)`, `reset_counts()`,
    `base_url(provider)`, `env()`, `accounts()`.
    """

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        clock: Callable[[], datetime] | None = None,
        bind: str = "127.0.0.1",
        limits: Mapping[str, Sequence[Window]] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        daily_variation: bool = False,
        cloudflare_page_size: int = CLOUDFLARE_PAGE_SIZE,
        openrouter_keys_page: int = OPENROUTER_KEYS_PAGE,
    ) -> None:
        self.bind = bind
        self.options = Options(daily_variation, cloudflare_page_size, openrouter_keys_page)
        self.latency_s = latency_s
        self.clock = clock or (lambda: datetime.now(UTC))
        self.requests: Counter[str] = Counter()
        """Requests per path (without the query), e.g. `/vercel/v1/billing/charges`."""
        self.rate_limiter = RateLimiter(limits or {}, monotonic)
        """`limits` (e.g. DOCUMENTED_LIMITS) on the clock `monotonic`: 429 past them."""
        self.throttled: Counter[str] = Counter()
        """429 answers per provider, given because a rate limit was exceeded."""
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> FakeProviders:
        if self._server is not None:
            return self
        server = _Server((self.bind, 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-providers",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeProviders:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # addresses

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake provider server is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def base_url(self, provider: str) -> str:
        """What `<PROVIDER>_BASE_URL` should be: the collector appends the API path to it."""
        return f"{self.url}/{provider}{BASE_PATHS[provider]}"

    # options

    @property
    def total_throttled(self) -> int:
        with self._lock:
            return sum(self.throttled.values())

    def fail(self, provider: str, status: int = 500) -> None:
        """Answer every request of `provider` with `status` (429/5xx carry Retry-After: 0).

        "wasabi" covers its S3 inventory too."""
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r} (known: {', '.join(PROVIDERS)})")
        with self._lock:
            self._failures[provider] = status

    def heal(self, provider: str | None = None) -> None:
        """Stop failing `provider` (all providers when None)."""
        with self._lock:
            if provider is None:
                self._failures.clear()
            else:
                self._failures.pop(provider, None)

    def requests_for(self, provider: str) -> int:
        prefix = f"/{provider}/"
        with self._lock:
            return sum(n for path, n in self.requests.items() if path.startswith(prefix))

    @property
    def total_requests(self) -> int:
        with self._lock:
            return sum(self.requests.values())

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()

    # configuration for the exporter

    def env(self, providers: Iterable[str] = PROVIDERS) -> dict[str, str]:
        """Environment variables that point `providers` at this server, with dummy credentials."""
        wanted = set(providers)
        unknown = wanted - set(PROVIDERS)
        if unknown:
            raise ValueError(f"unknown providers {sorted(unknown)}")
        per_provider = {
            "vercel": {
                "VERCEL_API_TOKEN": VERCEL_TOKEN,
                "VERCEL_TEAM_ID": VERCEL_TEAM_ID,
                "VERCEL_BASE_URL": self.base_url("vercel"),
            },
            "supabase": {
                "SUPABASE_ACCESS_TOKEN": SUPABASE_TOKEN,
                "SUPABASE_PROJECT_REF": SUPABASE_REF,
                "SUPABASE_PLAN": SUPABASE_PLAN,
                "SUPABASE_BASE_URL": self.base_url("supabase"),
            },
            "wasabi": {
                "WASABI_ACCESS_KEY": WASABI_ACCESS_KEY,
                "WASABI_SECRET_KEY": WASABI_SECRET_KEY,
                "WASABI_STATS_URL": self.base_url("wasabi"),
                "WASABI_ENDPOINT_URL": f"{self.url}/{WASABI_S3}",
            },
            "cloudflare": {
                "CLOUDFLARE_API_TOKEN": CLOUDFLARE_TOKEN,
                "CLOUDFLARE_ACCOUNT_ID": CLOUDFLARE_ACCOUNT_ID,
                "CLOUDFLARE_BASE_URL": self.base_url("cloudflare"),
            },
            "cloudflare_ai_gateway": {
                "CLOUDFLARE_AI_GATEWAY_API_TOKEN": AI_GATEWAY_TOKEN,
                "CLOUDFLARE_AI_GATEWAY_ACCOUNT_ID": AI_GATEWAY_ACCOUNT_ID,
                "CLOUDFLARE_AI_GATEWAY_METADATA_KEYS": AI_GATEWAY_METADATA_KEYS,
                "CLOUDFLARE_AI_GATEWAY_BASE_URL": self.base_url("cloudflare_ai_gateway"),
            },
            "openai": {
                "OPENAI_ADMIN_KEY": OPENAI_ADMIN_KEY,
                "OPENAI_BASE_URL": self.base_url("openai"),
            },
            "anthropic": {
                "ANTHROPIC_ADMIN_KEY": ANTHROPIC_ADMIN_KEY,
                "ANTHROPIC_BASE_URL": self.base_url("anthropic"),
            },
            "openrouter": {
                "OPENROUTER_API_KEY": OPENROUTER_API_KEY,
                "OPENROUTER_BASE_URL": self.base_url("openrouter"),
            },
        }
        env: dict[str, str] = {}
        for provider in PROVIDERS:
            if provider in wanted:
                env |= per_provider[provider]
        return env

    def accounts(
        self, providers: Iterable[str] = PROVIDERS, *, wasabi_inventory: bool = False
    ) -> dict[str, list[dict[str, Any]]]:
        """The `providers:` section of a config that points `providers` at this server: one
        account each with its `base_url` (credentials and the rest come from `env()`). Wasabi
        gets `inventory: false` unless `wasabi_inventory`: the fake answers the S3 inventory
        too, but importing boto3 makes a collection about 0.5 s slower."""
        chosen = set(providers)
        accounts: dict[str, list[dict[str, Any]]] = {}
        for provider in PROVIDERS:
            if provider in chosen:
                account: dict[str, Any] = {"base_url": self.base_url(provider)}
                if provider == "wasabi":
                    account["inventory"] = wasabi_inventory
                accounts[provider] = [account]
        return accounts

    # answering

    def handle(self, method: str, raw_path: str, headers: Message, body: bytes) -> Reply:
        parts = urlsplit(raw_path)
        path = parts.path
        provider = path.split("/")[1] if path.startswith("/") else ""
        with self._lock:
            self.requests[path] += 1
            failures = dict(self._failures)
            wait = self.rate_limiter.retry_after(provider, path)
            if wait is not None:
                self.throttled[provider] += 1
        if wait is not None:
            body_ = json.dumps({"error": f"fake: rate limit of {provider} exceeded"}).encode()
            return Reply(429, body_, headers=(("Retry-After", str(math.ceil(wait))),))
        if self.latency_s > 0:
            time.sleep(self.latency_s)
        prefix = f"/{provider}{BASE_PATHS.get(provider, '')}"
        request = Request(
            method=method,
            path=path[len(prefix) :] if path.startswith(prefix) else path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=headers,
            body=body,
            now=self.clock().astimezone(UTC),
            options=self.options,
        )
        if provider not in HANDLERS or not (path == prefix or path.startswith(prefix + "/")):
            return not_found(request)
        failing = "wasabi" if provider == WASABI_S3 else provider
        if failing in failures:
            status = failures[failing]
            retry = (("Retry-After", "0"),) if status == 429 or status >= 500 else ()
            body_ = json.dumps({"error": f"fake: injected HTTP {status}"}).encode()
            return Reply(status, body_, headers=retry)
        if not authorised(provider, headers):
            return unauthorised(provider)
        try:
            return HANDLERS[provider](request)
        except Exception as exc:  # a bug in the fake: say so instead of hanging up
            return Reply.json({"error": f"fake: {type(exc).__name__}: {exc}"}, 500)
