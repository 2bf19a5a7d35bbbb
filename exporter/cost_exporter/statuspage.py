"""The cost view on `/`: what the month costs, where, what is near a cap, how fresh.

Server-rendered from a `summary.Summary` (the same object `/api/summary`
serialises) by the Jinja2 templates in `templates/`. Templates rather than
Python strings, so the markup reads as markup and every value is escaped by
default (autoescape on): provider error texts, account names and service names
come from outside, and a value that forgot its escape cannot slip through a
hand-written call. `StrictUndefined` makes a misspelt name an error in the tests
rather than a silently empty cell. What stays here is Python: the words and
numbers (money, ages, usage in words, the sparkline's points), registered as
filters and globals; no Python function returns markup.

The style and the script are the files `static/status.css` and
`static/status.js`, inlined into the page: the exporter often runs offline, so
nothing (no CDN, font, image or file of its own) is loaded from elsewhere. The
Content-Security-Policy allows only that style and that script, by the sha256 of
their bytes, computed once when this module is imported from the very bytes the
page inlines, so an injected `<script>` could not run even if escaping were ever
missed, and editing a file cannot leave a stale hash behind. Bars and the
sparkline are inline SVG sized by attributes, because the policy forbids
`style=` attributes.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources

import jinja2
from markupsafe import Markup

from cost_exporter import __version__
from cost_exporter.periods import days_in_month
from cost_exporter.summary import Summary, Usage

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
DEMO_BANNER = (
    "Demo data: every figure on this page comes from built-in fake providers, "
    "not from your accounts."
)


# --- the inlined style and script, and the policy that allows only them -------------


def _static(name: str, tag: str) -> bytes:
    data = (resources.files("cost_exporter") / "static" / name).read_bytes()
    # Inlined unescaped (escaping would change the bytes the hash covers), so the file must
    # not close its own element early.
    if f"</{tag}".encode() in data.lower():
        raise ValueError(f"static/{name} contains </{tag}: it cannot be inlined in <{tag}>")
    return data


def _sha256(data: bytes) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode() + "'"


STYLE = _static("status.css", "style")
SCRIPT = _static("status.js", "script")

# Hashes rather than nonces: the style and the script never change while the process runs,
# and the script's DOMParser copy of a re-fetched page inherits this policy, which a
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


# --- words and numbers (the templates' filters) ------------------------------------


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


def _utc(moment: datetime | float) -> datetime:
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC)


def when(moment: datetime | float) -> str:
    return _utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def iso(moment: datetime | float) -> str:
    return _utc(moment).isoformat(timespec="seconds")


def duration(seconds: float) -> str:
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


def percent(pct: Decimal | None) -> str:
    # Rounded down, so a bar never reads a threshold's percentage (the warning ratio's,
    # 100%) before the threshold is reached.
    return "-" if pct is None else f"{int(pct):,}%"


def change(pct: Decimal) -> str:
    """+12% / -3%: how the forecast compares with the previous month."""
    return f"{pct:+,.0f}%"


def bar_width(pct: Decimal | None) -> float:
    """How much of a 100-wide bar to fill: `pct` capped at 100 (the words carry the number)."""
    return 0 if pct is None else max(0, min(100, round(float(pct), 1)))


# The sparkline's box (its CSS size too) and the margin above and below its line.
SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 120, 28, 2


@dataclass(frozen=True)
class Sparkline:
    points: str
    """The polyline's `x,y` pairs in a SPARK_WIDTH x SPARK_HEIGHT box."""
    label: str
    width: int = SPARK_WIDTH
    height: int = SPARK_HEIGHT
    pad: int = SPARK_PAD


def sparkline(days: tuple[tuple[date, Decimal], ...], currency: str) -> Sparkline | None:
    """This month's daily spend over the month's days; None before a second day."""
    if len(days) < 2:
        return None
    month_days = days_in_month(days[0][0])
    values = [v for _, v in days]
    low, high = min(Decimal(0), *values), max(values)
    span = (high - low) or Decimal(1)
    points = " ".join(
        f"{(day.day - 1) / max(1, month_days - 1) * SPARK_WIDTH:.1f},"
        f"{SPARK_PAD + float((high - value) / span) * (SPARK_HEIGHT - 2 * SPARK_PAD):.1f}"
        for day, value in days
    )
    first, last = days[0], days[-1]
    label = (
        f"Daily spend {first[0]:%d %b} to {last[0]:%d %b}: highest {money(high, currency)}, "
        f"last day {money(last[1], currency)}"
    )
    return Sparkline(points, label)


# --- the templates ------------------------------------------------------------------

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("cost_exporter", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    # Block tags on lines of their own leave no blank lines or indentation in the page.
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENVIRONMENT.filters.update(
    money=money,
    usage_words=usage_words,
    when=when,
    iso=iso,
    duration=duration,
    age=age,
    percent=percent,
    change=change,
    bar_width=bar_width,
    sparkline=sparkline,
)
_ENVIRONMENT.globals.update(
    SOURCE_WORDS=SOURCE_WORDS,
    STATE_WORDS=STATE_WORDS,
    CAP_WORDS=CAP_WORDS,
    SPEND_COLUMNS=SPEND_COLUMNS,
    COLLECTOR_COLUMNS=COLLECTOR_COLUMNS,
    DEMO_BANNER=DEMO_BANNER,
    version=__version__,
    # Unescaped: these are the package's own files, and escaping would change the bytes the
    # policy's hashes cover (_static refuses a file that would close its element).
    style=Markup(STYLE.decode()),  # noqa: S704 - our static file, not input
    script=Markup(SCRIPT.decode()),  # noqa: S704 - our static file, not input
)
_PAGE = _ENVIRONMENT.get_template("status.html")


def render(summary: Summary) -> str:
    return _PAGE.render(s=summary, now=summary.generated_at, month=_utc(summary.generated_at))
