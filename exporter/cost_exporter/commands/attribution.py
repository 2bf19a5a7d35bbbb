"""`cost-exporter attribution`: this month per app from the saved snapshot, and what no
rule matches yet, with the `match:` of a rule that would take each item."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from cost_exporter import attribution
from cost_exporter import snapshot as snapshots
from cost_exporter.figures import derive
from cost_exporter.providers import REGISTRY
from cost_exporter.settings import UNALLOCATED, Attribution, Config, ExporterSettings


def run(
    settings: ExporterSettings,
    config: Config,
    out: TextIO,
    err: TextIO,
    *,
    top: int = 15,
    now: datetime | None = None,
) -> int:
    """Spend per app this month and the largest unallocated items, from the saved snapshot
    and the current config, with the `match:` of a rule that would take each item."""
    saved = read_snapshot(settings.state_dir / snapshots.FILE_NAME, err)
    if saved is None:
        return 1
    snapshot = saved.for_accounts(entry.key for entry in config.accounts)
    newest = max((s.last_success for s in snapshot.accounts.values() if s.last_success), default=0)
    # The report describes the snapshot's own month: read on the 3rd, a snapshot of the
    # 30th still shows that month, not an empty one.
    now = now or datetime.fromtimestamp(newest, UTC)
    collected = [
        (provider, list(rows))
        for (provider, _), rows in derive(snapshot, config, now).published.items()
    ]
    rules = config.attribution or Attribution()
    result = attribution.report(rules, collected)
    when = datetime.fromtimestamp(newest, UTC).strftime("of %Y-%m-%d %H:%M UTC")
    print(
        f"Spend this month per app ({config.reporting_currency}), "
        f"snapshot {when if newest else 'empty'}",
        file=out,
    )
    if config.attribution is None:
        print(
            "The config has no attribution: section, so everything is unallocated and /metrics "
            "publishes no allocated series (README: Attribute costs to apps).",
            file=out,
        )
    print_apps(result, rules, out)
    known = set(REGISTRY) | {v for entry in config.accounts for v in entry.config.vendors()}
    if result.unallocated:
        print("\nLargest unallocated items: a rule with this match takes one", file=out)
        print(f"{'amount':>12}  match", file=out)
        print_items(result.unallocated, lambda i: rules.breakdown(i.collector), known, top, out)
    if result.other_values:
        print(
            "\nOr attribute these bills by a breakdown (the rules of one provider match one "
            "breakdown;\nwhat it does not cover goes to a rule without a dimension):",
            file=out,
        )
        # Up to `top` lines per bill and breakdown, so a provider with several breakdowns
        # (Cloudflare: bucket, script, zone) does not crowd out the providers after it.
        groups: dict[tuple[str, str, str], list[attribution.Item]] = defaultdict(list)
        for breakdown, item in result.other_values:
            groups[(item.collector, item.account, breakdown)].append(item)
        for (_, _, breakdown), items in groups.items():
            print_items(items, lambda _, b=breakdown: b, known, top, out)  # type: ignore[misc]
    return 0


def read_snapshot(path: Path, err: TextIO) -> snapshots.Snapshot | None:
    """The saved snapshot, or None after saying on `err` why there is none."""
    try:
        return snapshots.Snapshot.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        print(f"cost-exporter: no snapshot at {path}: start the exporter first", file=err)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cost-exporter: cannot read the snapshot {path}: {exc}", file=err)
    return None


def print_apps(result: attribution.Report, rules: Attribution, out: TextIO) -> None:
    """Largest app first, its teams and environments together; what no rule takes last."""
    print(
        f"{'app':<20} {'team':<14} {'app_env':<10} {'amount':>12} {'budget':>12} {'used':>5}",
        file=out,
    )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for target, amount in result.apps.items():
        totals[target.app] += amount
    order = sorted(
        result.apps, key=lambda t: (t.app == UNALLOCATED, -totals[t.app], t.app, -result.apps[t], t)
    )
    shown: set[str] = set()
    for target in order:
        budget = rules.app_budgets.get(target.app)
        cap = ""
        if budget is not None and target.app not in shown:  # an app's budget once
            used = f"{totals[target.app] / budget:>5.0%}" if budget else ""
            cap = f"{budget:>12.2f} {used}"
        shown.add(target.app)
        amount = result.apps[target]
        line = f"{target.app:<20} {target.team:<14} {target.app_env:<10} {amount:>12.2f} {cap}"
        print(line.rstrip(), file=out)
    print(f"{'total (= cost_month_to_date)':<46} {result.total:>12.2f}", file=out)


def print_items(
    items: Sequence[attribution.Item],
    breakdown_of: Callable[[attribution.Item], str | None],
    known: set[str],
    top: int,
    out: TextIO,
) -> None:
    """Up to `top` items, each with the `match:` a rule would need to take it."""
    for item in items[:top]:
        note = ""
        if item.dimension is None:
            note = f"  # not covered by its {breakdown_of(item)} breakdown"
        print(f"{item.amount:>12.2f}  {attribution.suggested_match(item, known)}{note}", file=out)
    if len(items) > top:
        print(f"{'':>12}  ... {len(items) - top} more (--top)", file=out)
