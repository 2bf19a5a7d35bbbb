"""What an attribution rule can match, per provider, and where each value's spend comes from.

A rule (`attribution.rules` in the config) matches a piece of one provider account's bill by
`provider`, `account` and at most one *dimension*. Every provider has `service_name`, the
label of `cost_month_to_date`. Some also report a breakdown of this month's spend, which a
rule may match instead:

| provider   | dimension   | read from                                                     |
|------------|-------------|---------------------------------------------------------------|
| vercel     | `project`   | cost_project_month_to_date                                    |
| openai     | `project`   | cost_ai_spend_by_project                                      |
| openai     | `api_key`   | cost_ai_spend_by_api_key                                      |
| anthropic  | `workspace` | cost_ai_spend_by_project (Anthropic's workspaces)             |
| anthropic  | `api_key`   | cost_ai_spend_by_api_key (an estimate from tokens)            |
| openrouter | `api_key`   | cost_ai_spend_by_api_key                                      |
| wasabi     | `bucket`    | cost_bucket_usage: stored bytes share the storage spend       |
| cloudflare | `bucket`    | cost_bucket_usage: R2 bytes share the "R2 Storage" spend      |
| cloudflare | `zone`      | cost_zone_month_to_date (charges without a zone: the rest)    |
| cloudflare | `script`    | cost_worker_usage: requests share the "Workers*" spend        |
| manual     | `vendor`    | the provider a bill names (`ionos`), for bills read from CSV  |
| focus      | `vendor`    | the provider of a FOCUS row (`ovhcloud`)                      |

Supabase reports nothing per project: its bill is matched by `service_name` (or split by
weights). A money breakdown is a share of the month-to-date total; a usage breakdown shares
the spend of the services it describes in proportion to the usage. In both, a top-N `other`
row is not a value a rule can name: it stays with what the breakdown does not cover.
"""

from __future__ import annotations

from dataclasses import dataclass

from cost_exporter import catalog
from cost_exporter.catalog import Family

SERVICE_NAME = "service_name"
VENDOR = "vendor"


@dataclass(frozen=True)
class Breakdown:
    """Where the values of one dimension come from."""

    family: Family
    label: str
    metrics: tuple[str, ...] = ()
    """Usage families only: the `metric` values whose sum weighs each value."""
    services: str = "*"
    """Usage families only: a glob of the `service_name`s whose spend the usage shares."""


BREAKDOWNS: dict[str, dict[str, Breakdown]] = {
    "vercel": {"project": Breakdown(catalog.PROJECT_MONTH_TO_DATE, "project")},
    "openai": {
        "project": Breakdown(catalog.AI_SPEND_BY_PROJECT, "project"),
        "api_key": Breakdown(catalog.AI_SPEND_BY_API_KEY, "api_key"),
    },
    "anthropic": {
        "workspace": Breakdown(catalog.AI_SPEND_BY_PROJECT, "project"),
        "api_key": Breakdown(catalog.AI_SPEND_BY_API_KEY, "api_key"),
    },
    "openrouter": {"api_key": Breakdown(catalog.AI_SPEND_BY_API_KEY, "api_key")},
    "wasabi": {
        "bucket": Breakdown(
            catalog.BUCKET_USAGE,
            "bucket",
            metrics=("padded_storage_bytes", "metadata_storage_bytes", "deleted_storage_bytes"),
        )
    },
    "cloudflare": {
        "bucket": Breakdown(
            catalog.BUCKET_USAGE, "bucket", metrics=("r2_storage_bytes",), services="R2 Storage*"
        ),
        "zone": Breakdown(catalog.ZONE_MONTH_TO_DATE, "zone"),
        "script": Breakdown(
            catalog.WORKER_USAGE, "script", metrics=("requests",), services="Workers*"
        ),
    },
}
VENDOR_COLLECTORS = frozenset({"manual", "focus"})
"""Collectors whose spend carries the provider label of the vendor it pays."""


def dimensions(collector: str) -> tuple[str, ...]:
    """The dimensions a rule for this collector may match, besides provider and account."""
    found = (SERVICE_NAME, *BREAKDOWNS.get(collector, {}))
    return (*found, VENDOR) if collector in VENDOR_COLLECTORS else found
