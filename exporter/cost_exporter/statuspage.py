"""The cost view on `/`: what the month costs, where, what is near a cap, how fresh.

Server-rendered from a `summary.Summary` (the same object `/api/summary`
serialises), with a little inline CSS and one small script that only enhances:
the "Refresh now" button posts `/refresh` without a page reload. No framework,
no CDN, no font or image from elsewhere: the exporter often runs offline.

Every value passes `html.escape` (provider error texts, account names and
service names come from outside). The Content-Security-Policy allows only
the page's own style and script, by hash, so an injected `<script>` could not
run even if escaping were ever missed. Bars and
the sparkline are inline SVG sized by attributes, because the policy forbids
`style=` attributes.
"""

from __future__ import annotations

import base64
import hashlib
import html
from datetime import UTC, date, datetime
from decimal import Decimal

from cost_exporter import __version__
from cost_exporter.periods import days_in_month
from cost_exporter.summary import Collector, SpendRow, Summary, Usage

SOURCE_WORDS = {"api": "provider-reported", "estimated": "estimated", "manual": "manual"}
STATE_WORDS = {
    "ok": "ok",
    "stale": "stale",
    "failing": "failing",
    "never": "never collected",
    "unconfigured": "no collector",
}
CAP_WORDS = {"ok": "", "warning": "near the cap", "exceeded": "over the cap"}
# Unit suffixes of `cost_usage` metric labels, and how to say them.
UNIT_SUFFIXES = (
    ("_bytes", "B"),
    ("_gb_hours", "GB-hours"),
    ("_seconds", "s"),
    ("_tokens", "tokens"),
)
BYTE_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")
SPEND_COLUMNS = ("Provider / account", "Month to date", "Budget", "Usage limits", "Source", "Data")
COLLECTOR_COLUMNS = (
    "Collector",
    "Account",
    "State",
    "Last success",
    "Last attempt",
    "Errors by reason, last error",
)

STYLE = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;
--panel:#f6f8fa;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--track:#e3e8ee;--accent:#0969da;
--button:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;
--line:#3d444d;--panel:#161b22;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--track:#2b323c;
--accent:#58a6ff;--button:#1f6feb}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
background:var(--bg);color:var(--fg)}
a{color:var(--accent)}
header{display:flex;flex-wrap:wrap;gap:.25rem 1.5rem;align-items:baseline;
justify-content:space-between;padding:.7rem 1.25rem;border-bottom:1px solid var(--line)}
.brand{font-weight:650;margin:0;font-size:1rem}
nav ul{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;margin:0;padding:0}
main{max-width:76rem;margin:0 auto;padding:1.25rem}
.top{display:flex;flex-wrap:wrap;gap:1rem 2rem;justify-content:space-between}
#overview{flex:1 1 34rem}
.label{margin:0;color:var(--muted)}
.total{margin:.1rem 0 0;font-size:2.5rem;font-weight:650;line-height:1.15;
font-variant-numeric:tabular-nums}
.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(12.5rem,1fr));
gap:.9rem 1.5rem;margin:1rem 0 0}
dt{color:var(--muted);font-size:.85rem}
dd{margin:0;font-variant-numeric:tabular-nums}
form.refresh{flex:0 1 19rem;display:flex;flex-direction:column;gap:.6rem;
align-self:flex-start;padding:.9rem;border:1px solid var(--line);border-radius:8px;
background:var(--panel)}
form.refresh label{font-size:.85rem;color:var(--muted)}
input,button{font:inherit;color:var(--fg);border:1px solid var(--line);border-radius:6px}
input{padding:.4rem .6rem;background:var(--bg)}
button{padding:.45rem 1rem;background:var(--button);color:#fff;border-color:var(--button);
font-weight:600;cursor:pointer}
button:disabled{opacity:.6;cursor:progress}
.outcome{margin:0;min-height:1.4em;font-size:.9rem}
form.refresh p{margin:0}
h2{font-size:1.1rem;margin:2rem 0 .5rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{padding:.55rem .6rem;border-bottom:1px solid var(--line);text-align:left;
vertical-align:top}
thead th{font-size:.8rem;color:var(--muted);font-weight:600;white-space:nowrap}
tbody th{font-weight:600}
.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.amount{font-weight:600}
.muted{color:var(--muted)}
.small{font-size:.85rem}
.nowrap{white-space:nowrap}
.account{display:block;font-weight:400;color:var(--muted);font-size:.85rem}
.badge{display:inline-block;margin:0 .25rem .2rem 0;padding:0 .5rem;border:1px solid;
border-radius:999px;font-size:.75rem;line-height:1.5;white-space:nowrap}
.badge.api{color:var(--ok)}
.badge.estimated{color:var(--warn)}
.badge.manual{color:var(--muted)}
.state{font-weight:600;white-space:nowrap}
.state.ok{color:var(--ok)}
.state.stale{color:var(--warn)}
.state.failing{color:var(--bad)}
.state.never,.state.unconfigured{color:var(--muted)}
svg.bar{display:block;width:100%;max-width:13rem;height:6px;margin:.3rem 0 .15rem}
svg.bar .track{fill:var(--track)}
svg.bar .ok{fill:var(--ok)}
svg.bar .warning{fill:var(--warn)}
svg.bar .exceeded{fill:var(--bad)}
.cap.warning{color:var(--warn)}
.cap.exceeded{color:var(--bad);font-weight:600}
.trend{display:flex;align-items:center;gap:.5rem;margin-top:.3rem}
svg.spark{display:block;width:120px;height:28px;flex:none}
svg.spark polyline{fill:none;stroke:var(--accent);stroke-width:1.5;
stroke-linejoin:round;vector-effect:non-scaling-stroke}
svg.spark .base{stroke:var(--line);stroke-width:1;vector-effect:non-scaling-stroke}
.usage{margin:0 0 .4rem}
.error{font:.8rem/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere;
max-width:30rem;margin:0}
details summary{cursor:pointer;color:var(--muted);font-size:.85rem}
details ul{margin:.3rem 0 0;padding-left:1.1rem;font-size:.85rem}
footer{margin-top:2rem;color:var(--muted);font-size:.85rem}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);
white-space:nowrap}
@media (max-width:40rem){main{padding:1rem .75rem}.total{font-size:2rem}
form.refresh{flex:1 1 100%}
table.stack thead{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%)}
table.stack tr{display:grid;grid-template-columns:1fr 1fr;gap:.5rem 1rem;padding:.75rem 0;
border-bottom:1px solid var(--line)}
table.stack th,table.stack td{display:block;padding:0;border:0}
table.stack tbody th,table.stack td.wide,table.stack td[colspan]{grid-column:1/-1}
table.stack td[data-label]::before{content:attr(data-label);display:block;font-size:.75rem;
color:var(--muted)}}
"""

SCRIPT = """
(() => {
  const form = document.getElementById("refresh");
  const out = document.getElementById("refresh-outcome");
  const token = document.getElementById("refresh-token");
  const button = form.querySelector("button");
  const count = (n, word) => n + " " + word + (n === 1 ? "" : "s");
  const done = (body) => {
    const accounts = body.accounts || [];
    const failed = accounts.filter((a) => !a.ok).length;
    const how = body.joined ? "Joined the collection already in flight" : "Started a collection";
    const result = failed
      ? count(failed, "collector") + " failed, " + (accounts.length - failed) + " ok"
      : "all " + count(accounts.length, "collector") + " ok";
    return how + "; done: " + result + ".";
  };
  const reload = async () => {
    const response = await fetch("/", {cache: "no-store"});
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const part of document.querySelectorAll("[data-live]")) {
      const replacement = fresh.getElementById(part.id);
      if (replacement) part.replaceWith(document.adoptNode(replacement));
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    out.textContent = "Collecting…";
    const headers = {};
    if (token && token.value) headers.Authorization = "Bearer " + token.value;
    let text;
    try {
      const response = await fetch(form.action, {method: "POST", headers, cache: "no-store"});
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        text = done(body);
        await reload().catch(() => {});
      } else if (response.status === 429) {
        const wait = body.retry_after_s ?? response.headers.get("Retry-After");
        text = "Wait " + wait + " s: a refresh ran recently and billing APIs are rate-limited.";
      } else if (response.status === 401) {
        text = token && token.value ? "Token rejected." : "Token required.";
      } else {
        text = "Refresh failed: HTTP " + response.status + ".";
      }
    } catch (error) {
      text = "Could not reach the exporter.";
    }
    out.textContent = text;
    button.disabled = false;
  });
})();
"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# Hashes rather than nonces: the style and the script never change, and the
# script's DOMParser copy of a re-fetched page inherits this policy, which a
# per-response nonce would make it break.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        f"style-src {_sha256(STYLE)}",
        f"script-src {_sha256(SCRIPT)}",
        "connect-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


# --- words and numbers ------------------------------------------------------------

esc = html.escape


def money(value: Decimal, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def _count(value: Decimal) -> str:
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"


def _bytes(value: Decimal) -> str:
    unit = 0
    while abs(value) >= 1000 and unit < len(BYTE_UNITS) - 1:
        value /= 1000
        unit += 1
    text = f"{value:,.1f}".removesuffix(".0")
    return f"{text} {BYTE_UNITS[unit]}"


def usage_words(usage: Usage) -> str:
    """`function_invocations` -> "function invocations 812,400 of 1,000,000"."""
    name, unit = usage.metric, ""
    for suffix, words in UNIT_SUFFIXES:
        if name.endswith(suffix):
            name, unit = name.removesuffix(suffix), words
            break

    def show(value: Decimal) -> str:
        return _bytes(value) if unit == "B" else f"{_count(value)} {unit}".rstrip()

    used = "not reported" if usage.value is None else show(usage.value)
    return f"{name.replace('_', ' ')} {used} of {show(usage.limit)}"


def when(moment: datetime | float) -> str:
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def age(moment: datetime | float, now: datetime) -> str:
    """ "3 h ago", "in 21 h", "just now"."""
    stamp = moment.timestamp() if isinstance(moment, datetime) else moment
    seconds = now.timestamp() - stamp
    span = abs(seconds)
    if span < 60:
        return "just now"
    if span < 3600:
        words = f"{int(span // 60)} min"
    elif span < 2 * 86400:
        words = f"{int(span // 3600)} h"
    else:
        words = f"{int(span // 86400)} d"
    return f"{words} ago" if seconds > 0 else f"in {words}"


def _time(moment: datetime | float, now: datetime) -> str:
    """A `<time>` saying the age, with the exact UTC time as its tooltip."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    iso = moment.astimezone(UTC).isoformat(timespec="seconds")
    return f'<time datetime="{esc(iso)}" title="{esc(when(moment))}">{esc(age(moment, now))}</time>'


# --- pieces -------------------------------------------------------------------------


def bar(pct: Decimal | None, status: str | None) -> str:
    """A horizontal bar filled to `pct` (capped at 100); the words beside it carry the number."""
    width = 0 if pct is None else max(0, min(100, round(float(pct), 1)))
    return (
        '<svg class="bar" viewBox="0 0 100 6" preserveAspectRatio="none" aria-hidden="true">'
        '<rect class="track" width="100" height="6"/>'
        f'<rect class="{esc(status or "ok")}" width="{width}" height="6"/></svg>'
    )


def sparkline(days: tuple[tuple[date, Decimal], ...], currency: str) -> str:
    """This month's daily spend as a polyline over the month's days; empty before a second day."""
    if len(days) < 2:
        return ""
    width, height, pad = 120, 28, 2
    month_days = days_in_month(days[0][0])
    values = [v for _, v in days]
    low, high = min(Decimal(0), *values), max(values)
    span = (high - low) or Decimal(1)
    points = " ".join(
        f"{(day.day - 1) / max(1, month_days - 1) * width:.1f},"
        f"{pad + float((high - value) / span) * (height - 2 * pad):.1f}"
        for day, value in days
    )
    first, last = days[0], days[-1]
    label = (
        f"Daily spend {first[0]:%d %b} to {last[0]:%d %b}: highest {money(high, currency)}, "
        f"last day {money(last[1], currency)}"
    )
    return (
        f'<div class="trend"><svg class="spark" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="none" role="img" aria-label="{esc(label)}">'
        f"<title>{esc(label)}</title>"
        f'<line class="base" x1="0" y1="{height - pad}" x2="{width}" y2="{height - pad}"/>'
        f'<polyline points="{points}"/></svg>'
        '<span class="small muted nowrap" aria-hidden="true">daily spend</span></div>'
    )


def state_badge(state: str) -> str:
    return f'<span class="state {esc(state)}">{esc(STATE_WORDS.get(state, state))}</span>'


def _cap_words(status: str | None) -> str:
    words = CAP_WORDS.get(status or "", "")
    return f' · <span class="cap {esc(status or "")}">{esc(words)}</span>' if words else ""


def _td(label: str, inner: str, css: str = "") -> str:
    """A cell that names its column in `data-label`, shown when narrow screens stack rows."""
    klass = f' class="{css}"' if css else ""
    return f'<td data-label="{esc(label)}"{klass}>{inner}</td>'


def _percent(pct: Decimal | None) -> str:
    # Rounded down, so a bar never reads a threshold's percentage (the warning ratio's,
    # 100%) before the threshold is reached.
    return "-" if pct is None else f"{int(pct):,}%"


def _spend_cell(row: SpendRow, currency: str) -> str:
    if row.month_to_date is None:
        amount = '<span class="muted">not reported this month</span>'
    else:
        amount = f'<span class="amount num">{esc(money(row.month_to_date, currency))}</span>'
    notes = []
    if row.forecast_month_end is not None:
        notes.append(f"forecast {money(row.forecast_month_end, currency)}")
    if row.previous_month is not None:
        notes.append(f"last month {money(row.previous_month, currency)}")
    details = ""
    if row.services:
        items = "".join(
            f"<li>{esc(s.service_name)}: <span class='num'>"
            f"{esc(money(s.month_to_date, currency))}</span> "
            f"<span class='muted'>({esc(SOURCE_WORDS.get(s.source, s.source))})</span></li>"
            for s in row.services
        )
        count = len(row.services)
        details = (
            f"<details><summary>{count} service{'s' if count != 1 else ''}</summary>"
            f"<ul>{items}</ul></details>"
        )
    note = f'<div class="small muted">{esc(" · ".join(notes))}</div>' if notes else ""
    inner = f"{amount}{note}{sparkline(row.daily, currency)}{details}"
    return _td(SPEND_COLUMNS[1], inner, "wide")


def _budget_cell(row: SpendRow, currency: str) -> str:
    label = SPEND_COLUMNS[2]
    if row.budget is None:
        return _td(label, "no budget", "muted small")
    cap = esc(money(row.budget, currency))
    if row.month_to_date is None:
        return _td(label, f"{bar(Decimal(0), 'ok')}budget {cap}", "small")
    pct = row.budget_used_pct
    inner = (
        f'{bar(pct, row.budget_status)}<span class="num">{_percent(pct)} of {cap}</span>'
        f"{_cap_words(row.budget_status)}"
    )
    return _td(label, inner, "small")


def _usage_cell(row: SpendRow) -> str:
    label = SPEND_COLUMNS[3]
    if not row.usage:
        return _td(label, "no limits", "muted small")
    parts = [
        f'<div class="usage">{bar(u.used_pct, u.status)}'
        f'<span class="num">{esc(usage_words(u))}</span>{_cap_words(u.status)}</div>'
        for u in row.usage
    ]
    return _td(label, "".join(parts), "small wide")


def _source_cell(row: SpendRow) -> str:
    badges = "".join(
        f'<span class="badge {esc(source)}">{esc(SOURCE_WORDS.get(source, source))}</span>'
        for source in row.sources
    )
    return _td(SPEND_COLUMNS[4], badges or '<span class="muted">-</span>')


def _data_cell(row: SpendRow, now: datetime) -> str:
    lines = [state_badge(row.state)]
    if row.last_success is not None:
        lines.append(f'<span class="small">{_time(row.last_success, now)}</span>')
    others = [f"{p}/{a}" for p, a in row.collectors if (p, a) != (row.provider, row.account)]
    if others:
        lines.append(f'<span class="small muted">via {esc(", ".join(others))}</span>')
    return _td(SPEND_COLUMNS[5], "<br>".join(lines))


def _spend_row(row: SpendRow, summary: Summary) -> str:
    return (
        f'<tr><th scope="row">{esc(row.provider)}'
        f'<span class="account">{esc(row.account)}</span></th>'
        f"{_spend_cell(row, summary.currency)}{_budget_cell(row, summary.currency)}"
        f"{_usage_cell(row)}{_source_cell(row)}{_data_cell(row, summary.generated_at)}</tr>"
    )


def _collector_row(c: Collector, now: datetime) -> str:
    success = _time(c.last_success, now) if c.last_success else "never"
    attempt = _time(c.last_attempt, now) if c.last_attempt else "never"
    errors = ", ".join(f"{reason}: {n}" for reason, n in sorted(c.errors.items())) or "none"
    last_error = f'<p class="error">{esc(c.last_error)}</p>' if c.last_error else ""
    _, account, state, success_label, attempt_label, errors_label = COLLECTOR_COLUMNS
    return (
        f'<tr><th scope="row">{esc(c.provider)}</th>{_td(account, esc(c.account))}'
        f"{_td(state, state_badge(c.state))}{_td(success_label, success, 'small')}"
        f"{_td(attempt_label, attempt, 'small')}"
        f"{_td(errors_label, esc(errors) + last_error, 'small wide')}</tr>"
    )


def _header(columns: tuple[str, ...]) -> str:
    cells = "".join(f'<th scope="col">{esc(name)}</th>' for name in columns)
    return f"<thead><tr>{cells}</tr></thead>"


def _overview(summary: Summary) -> str:
    totals, cur, now = summary.totals, summary.currency, summary.generated_at
    month = now.astimezone(UTC).strftime("%B %Y")
    previous = (
        esc(money(totals.previous_month, cur))
        if totals.previous_month is not None
        else '<span class="muted">not reported</span>'
    )
    change = totals.forecast_vs_previous_pct
    forecast = esc(money(totals.forecast_month_end, cur))
    if change is not None:
        forecast += f' <span class="small muted">({change:+,.0f}% vs previous month)</span>'
    if totals.budget is None:
        budget = '<span class="muted">no budget set</span>'
    else:
        pct = totals.forecast_vs_budget_pct
        budget = (
            f"{bar(pct, totals.budget_status)}<span class='small'>{_percent(pct)} of "
            f"{esc(money(totals.budget, cur))}</span>{_cap_words(totals.budget_status)}"
        )
        if summary.budgeted_rows < len(summary.spend):
            budget += (
                f'<div class="small muted">{summary.budgeted_rows} of {len(summary.spend)} '
                "accounts have a budget</div>"
            )
    if summary.newest_success is None:
        collected = '<span class="muted">not collected yet</span>'
    else:
        collected = _time(summary.newest_success, now)
        oldest = summary.oldest_success
        if oldest is not None and age(oldest, now) != age(summary.newest_success, now):
            collected += f' <span class="small muted">(oldest {_time(oldest, now)})</span>'
    if summary.refreshing:
        upcoming = "running now"
    elif summary.next_collection is None:
        upcoming = '<span class="muted">not scheduled</span>'
    elif summary.next_collection <= now:
        upcoming = "due now"
    else:
        upcoming = _time(summary.next_collection, now)
    return f"""<section id="overview" data-live aria-labelledby="total-label">
<p id="total-label" class="label">Month to date, {esc(month)}</p>
<p class="total num" id="total">{esc(money(totals.month_to_date, cur))}</p>
<dl class="facts">
<div><dt>Previous month</dt><dd>{previous}</dd></div>
<div><dt>Month-end forecast</dt><dd>{forecast}</dd></div>
<div><dt>Forecast against the budgets</dt><dd>{budget}</dd></div>
<div><dt>Data collected</dt><dd>{collected}</dd></div>
<div><dt>Next collection</dt><dd>{upcoming}</dd></div>
</dl>
</section>"""


def _refresh_form(summary: Summary) -> str:
    token = ""
    no_script = "your browser then shows the JSON answer of <code>POST /refresh</code>."
    if summary.token_required:
        token = (
            '<label for="refresh-token">Refresh token (sent once, never stored)</label>'
            '<input id="refresh-token" type="password" autocomplete="off" spellcheck="false">'
        )
        no_script = (
            "the token needs JavaScript; use <code>curl -X POST -H 'Authorization: Bearer "
            "$COST_REFRESH_TOKEN' http://HOST:9210/refresh</code>."
        )
    limit = ""
    if summary.refresh_min_interval_s > 0:
        limit = f" At most one forced refresh every {_duration(summary.refresh_min_interval_s)}."
    return f"""<form class="refresh" id="refresh" method="post" action="/refresh"
 aria-label="Collect now">
<p class="small muted">Collect every provider now rather than at the next scheduled
 collection.{esc(limit)}</p>
{token}<button type="submit">Refresh now</button>
<p class="outcome" id="refresh-outcome" role="status"></p>
<noscript><p class="small muted">Without JavaScript, {no_script}</p></noscript>
</form>"""


def _spend_table(summary: Summary) -> str:
    month = summary.generated_at.astimezone(UTC).strftime("%B")
    rows = "".join(_spend_row(row, summary) for row in summary.spend) or (
        f'<tr><td colspan="6" class="muted">No spend reported for {esc(month)} yet.</td></tr>'
    )
    return f"""<section id="spend" data-live aria-labelledby="spend-title">
<h2 id="spend-title">Spend by provider and account</h2>
<div class="scroll" role="region" aria-labelledby="spend-title" tabindex="0">
<table class="stack">
{_header(SPEND_COLUMNS)}
<tbody>{rows}</tbody>
</table></div>
</section>"""


def _collector_table(summary: Summary) -> str:
    now = summary.generated_at
    rows = "".join(_collector_row(c, now) for c in summary.collectors) or (
        '<tr><td colspan="6" class="muted">No collector configured.</td></tr>'
    )
    return f"""<section id="collectors" data-live aria-labelledby="collectors-title">
<h2 id="collectors-title">Collectors</h2>
<div class="scroll" role="region" aria-labelledby="collectors-title" tabindex="0">
<table class="stack">
{_header(COLLECTOR_COLUMNS)}
<tbody>{rows}</tbody>
</table></div>
</section>"""


def _footer(summary: Summary) -> str:
    rates = ", ".join(
        f"1 {code} = {rate} {summary.currency}" for code, rate in summary.fx_rates.items()
    )
    converted = f" Converted with the configured fixed rates: {rates}." if rates else ""
    return (
        f"<footer><p>cost-exporter {esc(__version__)}. Figures are the daily snapshot "
        f"<code>/metrics</code> serves, in {esc(summary.currency)}.{esc(converted)} "
        f"Page rendered {esc(when(summary.generated_at))}.</p></footer>"
    )


def render(summary: Summary) -> str:
    links = [("/metrics", "/metrics"), ("/healthz", "/healthz"), ("/api/summary", "/api/summary")]
    if summary.grafana_dashboard:
        links.append((summary.grafana_dashboard, "Grafana: Costs dashboard"))
    nav = "".join(f'<li><a href="{esc(href)}">{esc(text)}</a></li>' for href, text in links)
    title = f"{money(summary.totals.month_to_date, summary.currency)} this month · cost-exporter"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{esc(title)}</title>
<link rel="icon" href="data:,">
<style>{STYLE}</style>
</head><body>
<header><p class="brand">cost-exporter</p>
<nav aria-label="Endpoints"><ul>{nav}</ul></nav></header>
<main>
<div class="top">
{_overview(summary)}
{_refresh_form(summary)}
</div>
{_spend_table(summary)}
{_collector_table(summary)}
{_footer(summary)}
</main>
<script>{SCRIPT}</script>
</body></html>
"""
