"""Supabase: plan fee, estimated add-on prices and usage from the Management API.

Supabase publishes no bill, so spend is built from what is known: the plan fee
from the config (`source="manual"`, both months) and, for this month, the
price of each project's add-ons from `GET /v1/projects/{ref}/billing/addons`
accrued over the completed days (`source="estimated"`), less the compute
credits paid plans include. Usage, summed over the projects, comes from
`POST /v1/projects/{ref}/database/query/read-only` (`pg_database_size`, run as
`supabase_read_only_user`) and `GET /v1/projects/{ref}/config/disk/util`.
Credential: a scoped access token (`sbp_...`) for the listed projects with the
read permissions `infra_add_ons_read`, `database_read`, `infra_disk_config_read`.

    cost_month_to_date{provider="supabase",account="default",service_name="Plan",currency="USD",source="manual",charge_frequency="recurring"} 25
    cost_month_to_date{provider="supabase",account="default",service_name="Compute",currency="USD",source="estimated",charge_frequency="usage_based"} 10.88
    cost_usage{provider="supabase",account="default",metric="database_size_bytes"} 5.24288e+07

Left out on purpose (never a figure that means something else):
API request counts (`usage.api-counts` covers at most the last 7 days) and
edge function invocations (`functions.combined-stats` at most the last 24
hours); neither adds up to a month. Overages (egress, storage, MAU) and
add-ons of the previous month are not in the API: `cost_previous_month` holds
the plan fee only.

Requests per refresh: 3 per project (2 on the free plan, which has no paid
add-ons), one project after another, against Supabase's limit of 60 a minute
per user across all of that user's tokens; a 429 waits out its Retry-After.
Any failed request fails the whole account, so the last good values stay. A
figure missing from one project's answer is counted as skipped and leaves that
usage series out: a sum over fewer projects would pass for the total.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from cost_exporter import catalog
from cost_exporter.errors import CollectorError
from cost_exporter.periods import completed_days, days_in_month
from cost_exporter.providers.base import Context, ProviderSpec
from cost_exporter.samples import BadAmount, Money, Sample, to_decimal
from cost_exporter.settings import HttpAccountConfig

USD = "USD"
PROJECT_REF = re.compile(r"[a-z]{20}")
DB_SIZE_QUERY = "select pg_database_size(current_database()) as bytes"
PLAN_PRICES = {"free": Decimal(0), "pro": Decimal(25), "team": Decimal(599)}
# Paid plans include $10 a month of compute, which covers one Micro instance.
COMPUTE_CREDITS = {"pro": Decimal(10), "team": Decimal(10)}
ADDON_SERVICES = {
    "compute_instance": "Compute",
    "pitr": "Point-in-time recovery",
    "custom_domain": "Custom domain",
    "ipv4": "IPv4",
    "auth_mfa_phone": "Auth MFA phone",
    "auth_mfa_web_authn": "Auth MFA WebAuthn",
    "log_drain": "Log drain",
    "etl_pipeline": "ETL pipeline",
}
COMPUTE, COMPUTE_CREDITS_SERVICE, PLAN_SERVICE = "Compute", "Compute credits", "Plan"


class Config(HttpAccountConfig):
    base_url: str = "https://api.supabase.com"
    token: SecretStr
    project_refs: list[str] = Field(min_length=1)
    """One organisation's projects; the environment gives them comma-separated."""
    plan: Literal["free", "pro", "team", "enterprise"] | None = None
    """The organisation's plan; without it (or `plan_price`) no plan fee is exported."""
    plan_price: Decimal | None = Field(None, ge=0)
    """Monthly plan fee in USD; defaults to the list price of `plan`."""
    compute_credits: Decimal | None = Field(None, ge=0)
    """Monthly compute credits in USD; defaults to 10 on pro and team, else 0."""

    @field_validator("project_refs", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("project_refs")
    @classmethod
    def _valid_refs(cls, refs: list[str]) -> list[str]:
        for ref in refs:
            if not PROJECT_REF.fullmatch(ref):
                raise ValueError(f"{ref!r} is not a project ref (20 lowercase letters)")
        if len(set(refs)) != len(refs):
            raise ValueError("a project is listed twice; it would be counted twice")
        return refs

    @model_validator(mode="after")
    def _enterprise_is_priced(self) -> Config:
        if self.plan == "enterprise" and self.plan_price is None:
            raise ValueError("the enterprise plan has no list price: set plan_price")
        return self

    @property
    def monthly_fee(self) -> Decimal | None:
        if self.plan_price is not None:
            return self.plan_price
        return PLAN_PRICES.get(self.plan) if self.plan else None

    @property
    def monthly_compute_credits(self) -> Decimal:
        if self.compute_credits is not None:
            return self.compute_credits
        return COMPUTE_CREDITS.get(self.plan or "", Decimal(0))


def accrued(price: Mapping[str, Any], days: int, month_days: int) -> Decimal:
    """Dollars a price has cost over `days` completed days of a `month_days` month.

    Completed days, like every provider's data up to yesterday, so the
    forecast's run-rate lands on the full monthly price.
    """
    amount, interval = to_decimal(price["amount"]), price["interval"]
    if interval == "hourly":
        return amount * 24 * days
    if interval == "monthly":
        return amount * days / month_days
    raise BadAmount(f"unknown price interval {interval!r}")


def addon_costs(body: Any, days: int, month_days: int, ctx: Context) -> dict[str, Decimal]:
    """service_name -> accrued dollars of one project's selected add-ons."""
    addons = body.get("selected_addons") if isinstance(body, dict) else None
    if not isinstance(addons, list):
        raise CollectorError("parse", "billing/addons: the answer has no selected_addons list")
    costs: dict[str, Decimal] = defaultdict(Decimal)
    for addon in addons:
        try:
            kind = addon["type"]
            if not isinstance(kind, str) or not kind:
                raise TypeError(f"add-on type {kind!r}")
            cost = accrued(addon["variant"]["price"], days, month_days)
        except (KeyError, TypeError, ValueError) as exc:
            ctx.skip("supabase_addon", repr(exc))
            continue
        costs[ADDON_SERVICES.get(kind, kind)] += cost
    return dict(costs)


def _bytes(raw: Any) -> Decimal | None:
    try:
        value = to_decimal(raw)
    except BadAmount:
        return None
    return value if value >= 0 else None


def database_size(body: Any) -> Decimal | None:
    """Bytes from the read-only query's rows; None when the rows hold no size."""
    if not isinstance(body, list):
        raise CollectorError("parse", "database/query/read-only: the answer is not a list of rows")
    if len(body) != 1 or not isinstance(body[0], dict):
        return None
    return _bytes(body[0].get("bytes"))


def disk_figures(body: Any) -> dict[str, Decimal | None]:
    metrics = body.get("metrics") if isinstance(body, dict) else None
    if not isinstance(metrics, dict):
        raise CollectorError("parse", "config/disk/util: the answer has no metrics object")
    return {
        "disk_used_bytes": _bytes(metrics.get("fs_used_bytes")),
        "disk_size_bytes": _bytes(metrics.get("fs_size_bytes")),
    }


def summed_usage(projects: list[dict[str, Decimal | None]]) -> dict[str, Decimal]:
    """metric -> total over the projects; a metric missing for any project is left out."""
    totals: dict[str, Decimal] = {}
    for metric in sorted({name for figures in projects for name in figures}):
        found = [figures.get(metric) for figures in projects]
        if all(value is not None for value in found):
            totals[metric] = sum((v for v in found if v is not None), Decimal(0))
    return totals


def spend(
    config: Config, addons: Mapping[str, Decimal], days: int, month_days: int
) -> list[Sample]:
    samples = []
    fee = config.monthly_fee
    if fee is not None:
        for family in (catalog.MONTH_TO_DATE, catalog.PREVIOUS_MONTH):
            samples.append(
                Sample.of(
                    family,
                    Money(fee, USD),
                    service_name=PLAN_SERVICE,
                    source="manual",
                    charge_frequency=catalog.RECURRING,
                )
            )
    for service, cost in sorted(addons.items()):
        samples.append(
            Sample.of(
                catalog.MONTH_TO_DATE,
                Money(cost, USD),
                service_name=service,
                source="estimated",
                charge_frequency=catalog.USAGE_BASED,
            )
        )
    # Credits pay for compute only, so they never exceed what compute cost. They accrue
    # day by day with the compute they pay for, so they are extrapolated alike: a
    # month-end forecast of compute without its credit would overshoot.
    credit = min(
        addons.get(COMPUTE, Decimal(0)), config.monthly_compute_credits * days / month_days
    )
    if credit > 0:
        samples.append(
            Sample.of(
                catalog.MONTH_TO_DATE,
                Money(-credit, USD),
                service_name=COMPUTE_CREDITS_SERVICE,
                source="estimated",
                charge_frequency=catalog.USAGE_BASED,
            )
        )
    return samples


async def collect(config: Config, ctx: Context) -> list[Sample]:
    headers = {"Authorization": f"Bearer {config.token.get_secret_value()}"}
    days, month_days = completed_days(ctx.now), days_in_month(ctx.now)
    addons: dict[str, Decimal] = defaultdict(Decimal)
    usage: list[dict[str, Decimal | None]] = []
    # One project after another: the 60 requests a minute are shared by every token of the user.
    for ref in config.project_refs:
        project = f"{config.base_url}/v1/projects/{ref}"
        if config.plan != "free":
            body = await ctx.http.get_json(f"{project}/billing/addons", headers=headers)
            for service, cost in addon_costs(body, days, month_days, ctx).items():
                addons[service] += cost
        rows = await ctx.http.post_json(
            f"{project}/database/query/read-only", {"query": DB_SIZE_QUERY}, headers=headers
        )
        figures = {"database_size_bytes": database_size(rows)}
        figures.update(
            disk_figures(await ctx.http.get_json(f"{project}/config/disk/util", headers=headers))
        )
        for metric, value in figures.items():
            if value is None:
                ctx.skip("supabase_usage", f"{ref}: no usable {metric}")
        usage.append(figures)
    usage_samples = [
        Sample.of(catalog.USAGE, value, metric=metric)
        for metric, value in summed_usage(usage).items()
    ]
    return spend(config, addons, days, month_days) + usage_samples


PROVIDER = ProviderSpec(
    name="supabase",
    config_model=Config,
    collect=collect,
    summary="Supabase plan fee, estimated add-on prices, database and disk size per organisation.",
    env={
        "token": "SUPABASE_ACCESS_TOKEN",
        "project_refs": "SUPABASE_PROJECT_REF",
        "plan": "SUPABASE_PLAN",
        "base_url": "SUPABASE_BASE_URL",
    },
)
