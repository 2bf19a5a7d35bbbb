"""A cost over its cap reaches a notification receiver, through the real binaries.

Each test runs its own loopback pipeline (harness.py): the exporter as a
subprocess, `prometheus` with the shipped prometheus.yml and rules (only
addresses, intervals and `for:` shortened) and `prometheus-alertmanager`
with the shipped alertmanager.yml (webhook -> a local sink, group timings
shortened). Assertions are on what the webhook receives.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.conftest import StartStack
from tests.e2e.harness import ALERT_TIMEOUT_S, wait_until
from tests.runbook import RUNBOOK_URL as RUNBOOK

pytestmark = pytest.mark.e2e

OVH_BILL = 250


def bills(ovh_budget: float) -> dict[str, Any]:
    """One fixed OVH bill of 250 USD a month and a monthly OVH budget."""
    return {
        "reporting_currency": "USD",
        "budgets": [{"provider": "ovh", "monthly": ovh_budget}],
        "providers": {
            "manual": [
                {
                    "account": "default",
                    "bills": [
                        {
                            "name": "OVH dedicated server",
                            "provider": "ovh",
                            "service_name": "Dedicated server",
                            "amount": OVH_BILL,
                            "currency": "USD",
                        }
                    ],
                }
            ]
        },
    }


def test_a_bill_over_its_budget_notifies_warning_and_critical_for_that_provider(
    start_stack: StartStack,
) -> None:
    stack = start_stack(bills(ovh_budget=200))

    # BudgetWarning reaches the webhook and Slack, although BudgetExceeded fires too.
    payload, warning = stack.wait_for_notification("BudgetWarning", provider="ovh")
    assert payload["receiver"] == "costs"
    assert warning["labels"]["severity"] == "warning"
    assert warning["labels"]["cap"] == "monthly_budget"
    assert warning["annotations"] == {
        "summary": "Month-to-date spend is above 80% of the monthly budget.",
        "description": "ovh/default has spent 250.00 USD this month, above 80% of its "
        "monthly budget of 200.00 USD.",
        "runbook_url": f"{RUNBOOK}#budgetwarning",
    }

    wait_until(
        lambda: any(
            warning["annotations"]["description"] in json.dumps(message)
            for message in stack.sink.slack_messages
        ),
        "the BudgetWarning message on Slack",
        ALERT_TIMEOUT_S,
        stack.diagnostics,
    )

    payload, exceeded = stack.wait_for_notification("BudgetExceeded", provider="ovh")
    assert payload["receiver"] == "costs"
    assert exceeded["labels"]["severity"] == "critical"
    assert "over its monthly budget of 200.00 USD" in exceeded["annotations"]["description"]
    # Grouped by provider: the warning and the critical alert share one notification.
    together = wait_until(
        lambda: [
            p
            for p in stack.sink.payloads
            if p["groupLabels"].get("provider") == "ovh"
            and {"BudgetWarning", "BudgetExceeded"}
            <= {a["labels"]["alertname"] for a in p["alerts"] if a["status"] == "firing"}
        ],
        "one notification holding ovh's BudgetWarning and BudgetExceeded",
        ALERT_TIMEOUT_S,
        stack.diagnostics,
    )
    assert together[0]["receiver"] == "costs"

    # The forecast (250 > 200) is quiet until the 4th of the month; from then on it
    # fires in Prometheus but BudgetExceeded inhibits it in Alertmanager.
    if datetime.now(UTC).day >= 4:
        suppressed = wait_until(
            lambda: [
                alert
                for alert in stack.alertmanager_alerts("BudgetForecastOverrun")
                if alert["status"]["state"] == "suppressed" and alert["status"]["inhibitedBy"]
            ],
            "BudgetForecastOverrun to be inhibited by BudgetExceeded",
            ALERT_TIMEOUT_S,
            stack.diagnostics,
        )
        assert suppressed[0]["labels"]["provider"] == "ovh"
    assert stack.sink.find("BudgetForecastOverrun") == []


def test_changing_the_cap_with_sighup_fires_and_then_resolves_the_alert(
    start_stack: StartStack,
) -> None:
    stack = start_stack(bills(ovh_budget=1000))
    wait_until(
        lambda: stack.query('provider_account:cost_budget_used:ratio{provider="ovh"} == 0.25'),
        "the recording rules to relate the 250 USD bill to the 1000 USD budget",
        ALERT_TIMEOUT_S,
        stack.diagnostics,
    )
    assert stack.query('ALERTS{alertname=~"Budget.*"}') == []

    # Lower the cap below the bill: the warning fires.
    stack.reload_exporter(bills(ovh_budget=200), "cost_budget", 200, provider="ovh")
    stack.wait_for_notification("BudgetWarning", provider="ovh")
    stack.wait_for_notification("BudgetExceeded", provider="ovh")

    # Lift it again: both resolve. (Only the warning's "resolved" is awaited: a
    # critical group's second notification waits for the test's unreachable SMTP
    # server to time out, see harness.alertmanager_config_copy.)
    stack.reload_exporter(bills(ovh_budget=1000), "cost_budget", 1000, provider="ovh")
    payload, resolved = stack.wait_for_notification("BudgetWarning", "resolved", provider="ovh")
    # The payload is ovh's group: BudgetExceeded in it may resolve a moment later, so the
    # payload's own status can still say "firing"; the warning itself is resolved.
    assert payload["groupLabels"]["provider"] == "ovh"
    assert resolved["status"] == "resolved"
    assert resolved["endsAt"] > resolved["startsAt"]
    assert stack.query('ALERTS{alertname=~"BudgetWarning|BudgetExceeded"}') == []


def test_stopping_the_exporter_fires_cost_exporter_down(start_stack: StartStack) -> None:
    stack = start_stack(bills(ovh_budget=1000))
    assert stack.sink.find("CostExporterDown") == []

    stack.exporter.stop()

    payload, down = stack.wait_for_notification("CostExporterDown")
    assert payload["receiver"] == "costs"
    assert down["labels"]["job"] == "cost-exporter"
    assert down["labels"]["instance"] == f"127.0.0.1:{stack.exporter_port}"
    assert down["annotations"]["runbook_url"] == f"{RUNBOOK}#costexporterdown"


def test_a_vercel_usage_limit_of_1_notifies_budget_warning_and_lifting_it_resolves(
    start_stack: StartStack,
) -> None:
    """The issue's acceptance case, against the fake Vercel API (1.6M invocations)."""
    from tests.fake_providers import VERCEL_FUNCTION_INVOCATIONS, FakeProviders

    def vercel_config(limit: int) -> dict[str, Any]:
        budgets = [{"provider": "vercel", "usage_limits": {"function_invocations": limit}}]
        return fake.config(budgets, manual=False, providers=["vercel"])

    with FakeProviders() as fake:
        stack = start_stack(vercel_config(1), env=fake.env(["vercel"]))
        usage = stack.exporter_value("cost_usage", provider="vercel", metric="function_invocations")
        assert usage == VERCEL_FUNCTION_INVOCATIONS

        payload, warning = stack.wait_for_notification(
            "BudgetWarning", provider="vercel", metric="function_invocations"
        )
        assert payload["receiver"] == "costs"
        assert warning["labels"]["cap"] == "usage_limit"
        assert warning["annotations"]["description"] == (
            "vercel/default function_invocations is 1.6M this month, above 80% of its limit of 1."
        )

        limit = 10 * VERCEL_FUNCTION_INVOCATIONS
        stack.reload_exporter(vercel_config(limit), "cost_usage_limit", limit, provider="vercel")
        stack.wait_for_notification(
            "BudgetWarning", "resolved", provider="vercel", metric="function_invocations"
        )
