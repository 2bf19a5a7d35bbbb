"""Every metric family the exporter publishes, named exactly once.

Metric names and labels are a public API: the dashboard, the alert rules and
users' own queries depend on them. Providers refer to the constants below;
nothing else in the tree spells a metric name. `docs/metrics.md` and the
README table are checked against this module by the test suite.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

CACHED = "Cached; refreshed daily."


class Kind(Enum):
    GAUGE = "gauge"
    COUNTER = "counter"
    INFO = "info"


@dataclass(frozen=True)
class Family:
    """One metric family: the name users query and the labels it carries.

    `money` families always carry a `currency` label and hold amounts already
    converted to the one reporting currency. `provider`, `account` and
    `currency` are filled in by the core, never by a provider.
    """

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...]
    money: bool = False
    monthly: bool = False
    """Figures of one calendar month: hidden once the month they describe is over."""
    internal: bool = False
    """Kept in the snapshot for the core (daily series), never published on /metrics."""

    @property
    def provider_labels(self) -> tuple[str, ...]:
        """The labels a provider sets itself (everything but the generic ones)."""
        generic = {"provider", "account", "currency"}
        return tuple(label for label in self.labels if label not in generic)

    @property
    def exposed_name(self) -> str:
        suffix = {Kind.COUNTER: "_total", Kind.INFO: "_info"}.get(self.kind, "")
        return self.name + suffix


def _money(name: str, help_text: str, *labels: str, monthly: bool = True) -> Family:
    return Family(name, Kind.GAUGE, f"{help_text} {CACHED}", labels, money=True, monthly=monthly)


# --- spend ---------------------------------------------------------------
MONTH_TO_DATE = _money(
    "cost_month_to_date",
    "Spend this calendar month (UTC) in the reporting currency; series never overlap.",
    "provider",
    "account",
    "service_name",
    "currency",
    "source",
    "charge_frequency",
)
PREVIOUS_MONTH = _money(
    "cost_previous_month",
    "Spend of the previous calendar month (UTC) in the reporting currency.",
    "provider",
    "account",
    "service_name",
    "currency",
    "source",
    "charge_frequency",
)
FORECAST_MONTH_END = _money(
    "cost_forecast_month_end",
    "Month-end spend forecast: usage-based spend at its run-rate over completed days, plus "
    "recurring and one-time charges as they are.",
    "provider",
    "account",
    "currency",
)
PROJECT_MONTH_TO_DATE = _money(
    "cost_project_month_to_date",
    "Spend this month per provider project; a breakdown that overlaps cost_month_to_date.",
    "provider",
    "account",
    "project",
    "currency",
)

# --- caps (from the current config, never from a restored snapshot) -------
BUDGET = Family(
    "cost_budget",
    Kind.GAUGE,
    "Configured absolute monthly budget in the reporting currency (from the config file).",
    ("provider", "account", "currency"),
    money=True,
)
USAGE_LIMIT = Family(
    "cost_usage_limit",
    Kind.GAUGE,
    "Configured absolute usage limit for a usage metric (from the config file).",
    ("provider", "account", "metric"),
)
WARNING_RATIO = Family(
    "cost_budget_warning_ratio",
    Kind.GAUGE,
    "Configured share of a cap above which BudgetWarning and AppBudgetWarning fire "
    "(warning_ratio in the config file).",
    (),
)

# --- usage ---------------------------------------------------------------
USAGE = Family(
    "cost_usage",
    Kind.GAUGE,
    f"Usage this calendar month; the unit is part of the metric label value. {CACHED}",
    ("provider", "account", "metric"),
    monthly=True,
)

BUCKET_USAGE = Family(
    "cost_bucket_usage",
    Kind.GAUGE,
    f"Storage usage per bucket (billable bytes, objects, ...); overlaps cost_usage. {CACHED}",
    ("provider", "account", "bucket", "metric"),
    monthly=True,
)
ZONE_MONTH_TO_DATE = _money(
    "cost_zone_month_to_date",
    "Spend this month per zone (a breakdown that overlaps cost_month_to_date; charges without "
    "a zone are left out).",
    "provider",
    "account",
    "zone",
    "currency",
)
WORKER_USAGE = Family(
    "cost_worker_usage",
    Kind.GAUGE,
    f"Usage this month per Worker script (requests, cpu_time_seconds); overlaps cost_usage. {CACHED}",
    ("provider", "account", "script", "metric"),
    monthly=True,
)
TABLE_ROWS = Family(
    "cost_table_rows",
    Kind.GAUGE,
    "Estimated live rows per database table (schema.table): the top N by rows and the rest as "
    "'other', a table with a usage limit of its own never in 'other'; overlaps "
    f'cost_usage{{metric="database_rows"}}. {CACHED}',
    ("provider", "account", "table"),
    monthly=True,
)

# --- Supabase: figures its API only gives for windows relative to now -------
SUPABASE_API_REQUESTS_7D = Family(
    "cost_supabase_api_requests_7d",
    Kind.GAUGE,
    "Supabase API requests (REST, Auth, Storage, Realtime) in the 7 days before the collection: "
    f"a rolling window, not a calendar period. {CACHED}",
    ("provider", "account"),
)
SUPABASE_API_REQUESTS_MONTH_TO_DATE = Family(
    "cost_supabase_api_requests_month_to_date",
    Kind.GAUGE,
    "Supabase API requests this month: the sum of the complete UTC days recorded from 7-day "
    'windows, each day once (source="estimated"); days not recorded are counted in '
    f"cost_supabase_api_requests_day_coverage, never in the sum. {CACHED}",
    ("provider", "account", "source"),
    monthly=True,
)
SUPABASE_API_REQUESTS_DAY_COVERAGE = Family(
    "cost_supabase_api_requests_day_coverage",
    Kind.GAUGE,
    "Complete UTC days of this month by coverage: covered (in "
    "cost_supabase_api_requests_month_to_date) or missing (never recorded: the exporter did not "
    f"run while they were in a 7-day window, or the API had no row for them). {CACHED}",
    ("provider", "account", "coverage"),
    monthly=True,
)
SUPABASE_FUNCTION_INVOCATIONS_24H = Family(
    "cost_supabase_function_invocations_24h",
    Kind.GAUGE,
    "Supabase Edge Function invocations in the 24 hours before the collection (a rolling "
    f"window; top N functions, the rest as 'other'). {CACHED}",
    ("provider", "account", "function"),
)

CREDIT_BALANCE = _money(
    "cost_credit_balance",
    "Prepaid credit left at the provider (alert when it runs low).",
    "provider",
    "account",
    "currency",
    monthly=False,
)

# --- daily burn ------------------------------------------------------------
DAILY_SPEND = Family(
    "cost_daily_spend",
    Kind.GAUGE,
    "Spend of one UTC day (label `day`, YYYY-MM-DD); the core derives cost_last_day and the "
    "status page sparkline from it.",
    ("provider", "account", "day", "currency", "charge_frequency"),
    money=True,
    monthly=False,
    internal=True,
)
DAILY_SERVICE_SPEND = Family(
    "cost_daily_service_spend",
    Kind.GAUGE,
    "Spend of one UTC day per service (label `day`, YYYY-MM-DD), from a provider's history; "
    "the backfill rebuilds cost_month_to_date and cost_previous_month from it.",
    ("provider", "account", "day", "service_name", "currency", "source", "charge_frequency"),
    money=True,
    monthly=False,
    internal=True,
)
LAST_DAY = _money(
    "cost_last_day",
    "Usage-based spend of the last complete UTC day (plan fees and credits left out; see "
    "cost_last_day_timestamp_seconds for which day).",
    "provider",
    "account",
    "currency",
    monthly=False,
)
LAST_DAY_TIMESTAMP = Family(
    "cost_last_day_timestamp_seconds",
    Kind.GAUGE,
    f"Unix time of 00:00 UTC of the day cost_last_day describes. {CACHED}",
    ("provider", "account"),
)
CREDIT_BALANCE_MIN = Family(
    "cost_credit_balance_min",
    Kind.GAUGE,
    "Configured absolute minimum of a prepaid credit balance (from the config file).",
    ("provider", "account", "currency"),
    money=True,
)
DAILY_BUDGET = Family(
    "cost_daily_budget",
    Kind.GAUGE,
    "Configured absolute daily cap in the reporting currency (from the config file).",
    ("provider", "account", "currency"),
    money=True,
)

# --- AI breakdowns (each overlaps cost_month_to_date; never sum across families) --
AI_SPEND_BY_MODEL = _money(
    "cost_ai_spend_by_model",
    "AI spend this month per model.",
    "provider",
    "account",
    "model",
    "currency",
    "source",
)
AI_SPEND_BY_PROJECT = _money(
    "cost_ai_spend_by_project",
    "AI spend this month per project or workspace (top N by spend, the rest as 'other').",
    "provider",
    "account",
    "project",
    "currency",
)
AI_SPEND_BY_API_KEY = _money(
    "cost_ai_spend_by_api_key",
    "AI spend this month per API key (top N by spend, the rest as 'other').",
    "provider",
    "account",
    "api_key",
    "currency",
    "source",
)
AI_TOKENS = Family(
    "cost_ai_tokens",
    Kind.GAUGE,
    "Tokens this month by model and type; input is uncached input, so types never overlap. "
    + CACHED,
    ("provider", "account", "model", "token_type"),
    monthly=True,
)
AI_REQUESTS = Family(
    "cost_ai_requests",
    Kind.GAUGE,
    f"Model requests this month. {CACHED}",
    ("provider", "account", "model"),
    monthly=True,
)
AI_CACHE_SAVINGS = _money(
    "cost_ai_cache_savings",
    "Estimated saving from prompt caching this month: cache-read tokens x (input - cache-read "
    "price), from the shipped price table.",
    "provider",
    "account",
    "model",
    "currency",
)
AI_UNPRICED_TOKENS = Family(
    "cost_ai_unpriced_tokens",
    Kind.GAUGE,
    f"Tokens this month of models missing from the price table (not in any estimate). {CACHED}",
    ("provider", "account", "model"),
    monthly=True,
)

# --- the shipped AI price table: how old its prices are ----------------------------
AI_PRICE_TABLE_AS_OF = Family(
    "cost_ai_price_table_as_of_timestamp_seconds",
    Kind.GAUGE,
    "Unix time of 00:00 UTC of the day the oldest shipped AI price a collection used was "
    "checked; the core publishes its age as cost_ai_price_table_age_seconds.",
    ("provider", "account"),
    internal=True,
)
AI_PRICE_TABLE_AGE = Family(
    "cost_ai_price_table_age_seconds",
    Kind.GAUGE,
    "Age of the shipped AI price table: seconds from the day its oldest price in use was "
    "checked (as_of) to the last refresh; published once a collector has priced with it.",
    (),
)
AI_PRICE_TABLE_MAX_AGE = Family(
    "cost_ai_price_table_max_age_seconds",
    Kind.GAUGE,
    "Configured maximum age of the AI price table (ai_price_table_max_age_days in the config "
    "file); AIPriceTableStale fires above it.",
    (),
)

# --- attribution: provider bills mapped to the user's apps ---------------------
ALLOCATED_MONTH_TO_DATE = Family(
    "cost_allocated_month_to_date",
    Kind.GAUGE,
    "Spend this month attributed to an app by the attribution rules; per provider it sums to "
    f'cost_month_to_date (unmatched spend is app="unallocated"). {CACHED}',
    ("app", "team", "app_env", "provider", "currency"),
    money=True,
    monthly=True,
)
ALLOCATED_PREVIOUS_MONTH = Family(
    "cost_allocated_previous_month",
    Kind.GAUGE,
    f"Spend of the previous month attributed to an app by the attribution rules. {CACHED}",
    ("app", "team", "app_env", "provider", "currency"),
    money=True,
    monthly=True,
)
APP_BUDGET = Family(
    "cost_app_budget",
    Kind.GAUGE,
    "Configured absolute monthly budget of an app (from the config file).",
    ("app", "currency"),
    money=True,
)

# --- Cloudflare AI Gateway: the gateway's own estimates, never in cost_month_to_date --
AI_GATEWAY_SPEND = _money(
    "cost_ai_gateway_spend",
    "AI spend this month through a Cloudflare AI Gateway by upstream provider and model (the "
    "gateway's estimate; the same traffic is billed by the upstream provider).",
    "provider",
    "account",
    "gateway",
    "upstream",
    "model",
    "currency",
    "source",
)
AI_GATEWAY_REQUESTS = Family(
    "cost_ai_gateway_requests",
    Kind.GAUGE,
    f"Requests this month through a Cloudflare AI Gateway by upstream provider and model. {CACHED}",
    ("provider", "account", "gateway", "upstream", "model"),
    monthly=True,
)
AI_GATEWAY_CACHED_REQUESTS = Family(
    "cost_ai_gateway_cached_requests",
    Kind.GAUGE,
    f"Requests this month answered from the AI Gateway cache. {CACHED}",
    ("provider", "account", "gateway", "upstream", "model"),
    monthly=True,
)
AI_GATEWAY_TOKENS = Family(
    "cost_ai_gateway_tokens",
    Kind.GAUGE,
    f"Tokens this month through a Cloudflare AI Gateway (token_type input or output). {CACHED}",
    ("provider", "account", "gateway", "upstream", "model", "token_type"),
    monthly=True,
)
AI_GATEWAY_CACHE_SAVINGS = _money(
    "cost_ai_gateway_cache_savings",
    "Estimated saving of the AI Gateway cache this month (what the cached requests would have "
    "cost).",
    "provider",
    "account",
    "gateway",
    "upstream",
    "model",
    "currency",
    "source",
)
AI_GATEWAY_FEATURE_SPEND = _money(
    "cost_ai_gateway_feature_spend",
    "AI spend this month per value of a configured cf-aig-metadata key (e.g. feature, tenant; "
    "top N by spend, the rest as 'other', missing values as 'unknown').",
    "provider",
    "account",
    "gateway",
    "metadata_key",
    "metadata_value",
    "currency",
    "source",
)
AI_GATEWAY_FEATURE_REQUESTS = Family(
    "cost_ai_gateway_feature_requests",
    Kind.GAUGE,
    f"Requests this month per value of a configured cf-aig-metadata key. {CACHED}",
    ("provider", "account", "gateway", "metadata_key", "metadata_value"),
    monthly=True,
)
AI_GATEWAY_FEATURE_TOKENS = Family(
    "cost_ai_gateway_feature_tokens",
    Kind.GAUGE,
    f"Tokens this month per value of a configured cf-aig-metadata key. {CACHED}",
    ("provider", "account", "gateway", "metadata_key", "metadata_value", "token_type"),
    monthly=True,
)

# --- exporter and collector health ----------------------------------------
COLLECTOR_UP = Family(
    "cost_collector_up",
    Kind.GAUGE,
    "1 if the last collection of this provider account succeeded, else 0.",
    ("provider", "account"),
)
COLLECTOR_LAST_SUCCESS = Family(
    "cost_collector_last_success_timestamp_seconds",
    Kind.GAUGE,
    "Unix time of the last successful collection; the data served is that old.",
    ("provider", "account"),
)
COLLECTOR_LAST_ATTEMPT = Family(
    "cost_collector_last_attempt_timestamp_seconds",
    Kind.GAUGE,
    "Unix time of the last collection attempt, successful or not.",
    ("provider", "account"),
)
COLLECTOR_FAILURES_IN_A_ROW = Family(
    "cost_collector_consecutive_failures",
    Kind.GAUGE,
    "Failed collections since the last success (0 after a success): 2 means the retry failed too.",
    ("provider", "account"),
)
COLLECTOR_NEXT_DUE = Family(
    "cost_collector_next_due_timestamp_seconds",
    Kind.GAUGE,
    "Unix time the next scheduled collection is due: the refresh interval after a success, "
    "the retry interval after a failure, at the latest just after the next month starts.",
    ("provider", "account"),
)
DATA_STALE_AFTER = Family(
    "cost_data_stale_after_seconds",
    Kind.GAUGE,
    "Data whose last successful collection is older than this is stale (two refresh "
    "intervals): CostDataStale, /healthz and the status page go by it.",
    (),
)
COLLECTOR_DURATION = Family(
    "cost_collector_duration_seconds",
    Kind.GAUGE,
    "Wall time of the last collection attempt.",
    ("provider", "account"),
)
COLLECTOR_ERRORS = Family(
    "cost_collector_errors",
    Kind.COUNTER,
    "Failed collections by reason (auth, rate_limited, timeout, connection, http_4xx, "
    "http_5xx, parse, empty, config, internal).",
    ("provider", "account", "reason"),
)
COLLECTOR_SKIPPED_RECORDS = Family(
    "cost_collector_skipped_records",
    Kind.COUNTER,
    "Provider records that could not be parsed and were left out of the figures.",
    ("provider", "account"),
)
BUILD_INFO = Family(
    "cost_exporter_build",
    Kind.INFO,
    "Build information of the running cost-exporter; demo is true when every figure is "
    "made up (`cost-exporter demo`).",
    ("version", "demo"),
)
FX_RATE = Family(
    "cost_fx_rate",
    Kind.GAUGE,
    "Configured fixed exchange rate: one unit of `from` is worth this many units of `to`.",
    ("from", "to"),
)

ERROR_REASONS: tuple[str, ...] = (
    "auth",
    "rate_limited",
    "timeout",
    "connection",
    "http_4xx",
    "http_5xx",
    "parse",
    "empty",
    "config",
    "internal",
)
SOURCES: tuple[str, ...] = ("api", "estimated", "manual")
# `charge_frequency` follows FOCUS ChargeFrequency in snake_case. Only usage-based
# spend grows with use: the forecast extrapolates it and cost_last_day counts it;
# recurring fees (plans, subscriptions) and one-time charges (purchases, credits,
# taxes, adjustments) count as they are.
USAGE_BASED = "usage_based"
RECURRING = "recurring"
ONE_TIME = "one_time"
CHARGE_FREQUENCIES: tuple[str, ...] = (USAGE_BASED, RECURRING, ONE_TIME)
TOKEN_TYPES: tuple[str, ...] = ("input", "cached_input", "cache_write", "output")

ALL: tuple[Family, ...] = (
    MONTH_TO_DATE,
    PREVIOUS_MONTH,
    FORECAST_MONTH_END,
    PROJECT_MONTH_TO_DATE,
    BUDGET,
    USAGE_LIMIT,
    WARNING_RATIO,
    USAGE,
    BUCKET_USAGE,
    ZONE_MONTH_TO_DATE,
    WORKER_USAGE,
    TABLE_ROWS,
    SUPABASE_API_REQUESTS_7D,
    SUPABASE_API_REQUESTS_MONTH_TO_DATE,
    SUPABASE_API_REQUESTS_DAY_COVERAGE,
    SUPABASE_FUNCTION_INVOCATIONS_24H,
    CREDIT_BALANCE,
    CREDIT_BALANCE_MIN,
    DAILY_SPEND,
    DAILY_SERVICE_SPEND,
    LAST_DAY,
    LAST_DAY_TIMESTAMP,
    DAILY_BUDGET,
    AI_SPEND_BY_MODEL,
    AI_SPEND_BY_PROJECT,
    AI_SPEND_BY_API_KEY,
    AI_TOKENS,
    AI_REQUESTS,
    AI_CACHE_SAVINGS,
    AI_UNPRICED_TOKENS,
    AI_PRICE_TABLE_AS_OF,
    AI_PRICE_TABLE_AGE,
    AI_PRICE_TABLE_MAX_AGE,
    ALLOCATED_MONTH_TO_DATE,
    ALLOCATED_PREVIOUS_MONTH,
    APP_BUDGET,
    AI_GATEWAY_SPEND,
    AI_GATEWAY_REQUESTS,
    AI_GATEWAY_CACHED_REQUESTS,
    AI_GATEWAY_TOKENS,
    AI_GATEWAY_CACHE_SAVINGS,
    AI_GATEWAY_FEATURE_SPEND,
    AI_GATEWAY_FEATURE_REQUESTS,
    AI_GATEWAY_FEATURE_TOKENS,
    COLLECTOR_UP,
    COLLECTOR_LAST_SUCCESS,
    COLLECTOR_LAST_ATTEMPT,
    COLLECTOR_FAILURES_IN_A_ROW,
    COLLECTOR_NEXT_DUE,
    DATA_STALE_AFTER,
    COLLECTOR_DURATION,
    COLLECTOR_ERRORS,
    COLLECTOR_SKIPPED_RECORDS,
    BUILD_INFO,
    FX_RATE,
)
BY_NAME: dict[str, Family] = {family.name: family for family in ALL}
COLLECTOR_HEALTH: tuple[Family, ...] = (
    COLLECTOR_UP,
    COLLECTOR_LAST_SUCCESS,
    COLLECTOR_LAST_ATTEMPT,
    COLLECTOR_FAILURES_IN_A_ROW,
    COLLECTOR_NEXT_DUE,
    COLLECTOR_DURATION,
    COLLECTOR_ERRORS,
    COLLECTOR_SKIPPED_RECORDS,
)
"""Each collector's own health: every replica has its own, so they stay per target."""
PUBLISHED: tuple[Family, ...] = tuple(family for family in ALL if not family.internal)
