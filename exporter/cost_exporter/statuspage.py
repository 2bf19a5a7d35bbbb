"""The small server-rendered page on `/`: what each collector did, and the totals.

Plain HTML, no script, escaped everywhere: error texts come from providers.
"""

from __future__ import annotations

import html
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from cost_exporter import __version__, catalog
from cost_exporter.exposition import collect_series
from cost_exporter.settings import Config
from cost_exporter.snapshot import AccountState, Snapshot

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328}
table{border-collapse:collapse;margin:1rem 0}
th,td{border:1px solid #d0d7de;padding:.35rem .7rem;text-align:left}
th{background:#f6f8fa}.ok{color:#1a7f37}.failed{color:#cf222e}.never{color:#6e7781}
td.num{text-align:right;font-variant-numeric:tabular-nums}
"""


def _age(ts: float | None, now: datetime) -> str:
    if ts is None:
        return "never"
    seconds = int(now.timestamp() - ts)
    when = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
    if seconds < 120:
        return f"{when} ({seconds}s ago)"
    if seconds < 7200:
        return f"{when} ({seconds // 60} min ago)"
    return f"{when} ({seconds // 3600} h ago)"


def _state_word(state: AccountState) -> tuple[str, str]:
    if state.last_attempt is None:
        return "never", "not collected yet"
    return ("ok", "ok") if state.up else ("failed", "failing")


def _month_to_date_by_provider(
    snapshot: Snapshot, config: Config, now: datetime
) -> dict[str, Decimal]:
    series = collect_series(snapshot, config, now)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    index = catalog.MONTH_TO_DATE.labels.index("provider")
    for labels, value in series.get(catalog.MONTH_TO_DATE, {}).items():
        totals[labels[index]] += value
    return dict(sorted(totals.items()))


def render(snapshot: Snapshot, config: Config, now: datetime) -> str:
    esc = html.escape
    rows = []
    for state in sorted(snapshot.accounts.values(), key=lambda s: s.key):
        css, word = _state_word(state)
        rows.append(
            f"<tr><td>{esc(state.provider)}</td><td>{esc(state.account)}</td>"
            f'<td class="{css}">{word}</td><td>{esc(_age(state.last_success, now))}</td>'
            f"<td>{esc(state.last_error or '')}</td></tr>"
        )
    totals = _month_to_date_by_provider(snapshot, config, now)
    currency = esc(config.reporting_currency)
    total_rows = [
        f'<tr><td>{esc(p)}</td><td class="num">{v:,.2f} {currency}</td></tr>'
        for p, v in totals.items()
    ]
    grand = sum(totals.values(), Decimal(0))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cost-exporter</title>
<style>{STYLE}</style></head><body>
<h1>cost-exporter</h1>
<p>Version {esc(__version__)}. Metrics: <a href="/metrics">/metrics</a>,
health: <a href="/healthz">/healthz</a>. Figures are a daily snapshot.</p>
<h2>Collectors</h2>
<table><tr><th>provider</th><th>account</th><th>state</th><th>last success</th>
<th>last error</th></tr>
{"".join(rows) or '<tr><td colspan="5">no provider configured</td></tr>'}
</table>
<h2>Month to date</h2>
<table><tr><th>provider</th><th>spend</th></tr>
{"".join(total_rows)}
<tr><th>total</th><th class="num">{grand:,.2f} {currency}</th></tr>
</table>
</body></html>
"""
