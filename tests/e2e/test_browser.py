"""The status page in a real Chromium, served by a real exporter process.

Starts `python -m cost_exporter` with the bundled example bills (no
credentials, no network), opens `/` in headless Chromium through Playwright
(the system browser at /usr/bin/chromium: nothing is downloaded), checks the
visible totals, budgets and badges, clicks "Refresh now" and reads the outcome,
and saves screenshots under the test's tmp dir. `UPDATE_SCREENSHOT=1` also
writes docs/screenshot-status-page.png for the README. One more page, rendered
with the demo banner and hostile strings, is served to Chromium with the page's
headers: nothing injected may run.

Skips without Chromium or Playwright; with `CI` set it fails instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import binaries
from tests.e2e.harness import Process
from tests.helpers import NOW

# One worker launches Chromium once for the whole module (make test: --dist loadgroup).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOT = ROOT / "docs" / "screenshot-status-page.png"
# The example bills in USD at the configured 1.08 EUR rate:
# IONOS 6 EUR + Hostinger 5 EUR + OVH 250 EUR + Supabase 25 USD + Claude Max 185 EUR.
EXAMPLE_TOTAL = "506.68 USD"
START_TIMEOUT_S = 20
MONTH_TO_DATE_LINE = re.compile(r"^cost_month_to_date\{[^}]*\} (\S+)$", re.M)


def _unavailable(reason: str) -> None:
    if binaries.in_ci():
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - depends on the machine
        _unavailable("playwright for Python is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@contextlib.contextmanager
def exporter(tmp_path: Path, **env: str) -> Iterator[str]:
    """A real exporter on a free port (the example bills unless `env` names another config),
    once its first collection is published; yields its base URL. It runs under libfaketime
    at the tests' NOW (23 November 2026, 01:00 UTC: 22 complete days, so sparklines have
    points), whatever day the suite runs; the fake providers' data is dated at NOW too."""
    port = _free_port()
    log_path = tmp_path / f"exporter-{port}" / "exporter.log"
    log_path.parent.mkdir()
    environment = {
        **os.environ,
        "COST_CONFIG_FILE": str(ROOT / "exporter" / "config.example.yml"),
        "COST_STATE_DIR": str(tmp_path / f"state-{port}"),
        "COST_EXPORTER_HOST": "127.0.0.1",
        "COST_EXPORTER_PORT": str(port),
        "COST_LOG_FORMAT": "console",
        **env,
    }
    process = Process("exporter", binaries.exporter_at(NOW), environment, log_path)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if not process.running:
                pytest.fail(f"the exporter exited:\n{process.tail()}")
            with contextlib.suppress(OSError):
                _, body = _get(f"{base}/healthz")
                # Past "starting", the first collection has been published.
                if json.loads(body)["status"] != "starting":
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"no healthy exporter within {START_TIMEOUT_S} s:\n{process.tail()}")
            time.sleep(0.1)
        yield base
    finally:
        process.stop()


def _metrics_total(base: str) -> str:
    _, text = _get(f"{base}/metrics")
    total = sum((Decimal(v) for v in MONTH_TO_DATE_LINE.findall(text)), Decimal(0))
    return f"{total:,.2f} USD"


def _spend_row(page: Any, provider: str) -> Any:
    """The spend table's row of one provider (its row header names it)."""
    rows = page.locator("#spend tbody tr")
    header = page.get_by_role("rowheader", name=re.compile(rf"^{re.escape(provider)} "))
    return rows.filter(has=header)


def _expect(locator: Any) -> Any:
    """Playwright's auto-waiting assertions (imported late: Playwright is optional)."""
    from playwright.sync_api import expect

    return expect(locator)


def _open(browser: Any, url: str, **context: Any) -> tuple[Any, list[str]]:
    """A page on `url`, and the script errors and CSP violations it reports.

    (Failed fetches are logged too: the 401 and 429 answers are expected.)
    """
    page = browser.new_context(**context).new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    response = page.goto(url)
    assert response is not None and response.status == 200
    return page, errors


def test_the_page_shows_totals_budgets_and_badges_and_refreshes_with_429_after(
    browser: Any, tmp_path: Path
) -> None:
    with exporter(tmp_path, COST_REFRESH_MIN_INTERVAL_S="3600") as base:
        page, errors = _open(browser, base + "/", viewport={"width": 1280, "height": 900})
        total = page.locator("#total")
        assert total.inner_text() == EXAMPLE_TOTAL == _metrics_total(base)

        ovh = _spend_row(page, "ovh")
        assert "270.00 USD" in ovh.inner_text()
        assert "90% of 300.00 USD" in ovh.inner_text()
        assert "near the cap" in ovh.inner_text()
        assert ovh.locator(".badge").inner_text() == "manual"
        assert "via manual/default" in ovh.inner_text()
        vercel = _spend_row(page, "vercel")
        assert "not reported this month" in vercel.inner_text()
        assert "function invocations not reported of 1,000,000" in vercel.inner_text()
        collectors = page.locator("#collectors tbody tr")
        assert collectors.count() == 1
        assert collectors.locator(".state").inner_text() == "ok"

        page.screenshot(
            path=str(tmp_path / "status-page-1280.png"), full_page=True, caret="initial"
        )
        if os.environ.get("UPDATE_SCREENSHOT") == "1":
            page.screenshot(path=str(SCREENSHOT), full_page=True, caret="initial")

        outcome = page.locator("#refresh-outcome")
        page.get_by_role("button", name="Refresh now").click()
        _expect(outcome).to_contain_text("done")
        assert outcome.inner_text() == "Started a collection; done: all 1 collector ok."
        assert page.locator("#total").inner_text() == EXAMPLE_TOTAL  # the figures reloaded

        page.get_by_role("button", name="Refresh now").click()
        _expect(outcome).to_contain_text("Wait")
        assert re.fullmatch(r"Wait 3[56]\d\d s: .*rate-limited\.", outcome.inner_text())
        assert errors == [], f"script errors or CSP violations: {errors}"

        narrow, narrow_errors = _open(
            browser, base + "/", viewport={"width": 360, "height": 780}, color_scheme="dark"
        )
        assert narrow.locator("#total").inner_text() == EXAMPLE_TOTAL
        narrow.screenshot(
            path=str(tmp_path / "status-page-360-dark.png"), full_page=True, caret="initial"
        )
        assert narrow_errors == []


def test_the_page_asks_for_the_token_and_works_without_javascript(
    browser: Any, tmp_path: Path
) -> None:
    with exporter(
        tmp_path, COST_REFRESH_TOKEN="browser-test-token", COST_REFRESH_MIN_INTERVAL_S="0"
    ) as base:
        page, errors = _open(browser, base + "/")
        outcome = page.locator("#refresh-outcome")
        page.get_by_role("button", name="Refresh now").click()
        _expect(outcome).to_contain_text("Token")
        assert outcome.inner_text() == "Token required."

        page.get_by_label("Refresh token").fill("browser-test-token")
        page.get_by_role("button", name="Refresh now").click()
        _expect(outcome).to_contain_text("done")
        assert outcome.inner_text() == "Started a collection; done: all 1 collector ok."
        assert "browser-test-token" not in page.content()
        storage = page.evaluate("[localStorage.length, sessionStorage.length, document.cookie]")
        assert storage == [0, 0, ""]
        assert errors == []

        static, _ = _open(browser, base + "/", java_script_enabled=False)
        assert static.locator("#total").inner_text() == EXAMPLE_TOTAL
        assert static.locator("noscript").count() == 1


def test_real_collectors_fill_the_page_with_sparklines_badges_and_a_failing_collector(
    browser: Any, tmp_path: Path
) -> None:
    from tests.fake_providers import FakeProviders

    budgets = [
        {"provider": "vercel", "monthly": 30, "usage_limits": {"function_invocations": 1000000}},
        {"provider": "ovh", "monthly": 300},
    ]
    with FakeProviders(clock=lambda: NOW) as fake:
        fake.fail("cloudflare", 401)
        env = fake.exporter_env(tmp_path, budgets, COST_HTTP_MAX_ATTEMPTS="1")
        with exporter(tmp_path, **env) as base:
            page, errors = _open(browser, base + "/", viewport={"width": 1280, "height": 900})
            assert page.locator("#total").inner_text() == _metrics_total(base)
            vercel = _spend_row(page, "vercel")
            assert vercel.get_by_role("img", name=re.compile("^Daily spend")).count() == 1
            assert "function invocations" in vercel.inner_text()
            badges = set(page.locator("#spend .badge").all_inner_texts())
            assert badges == {"provider-reported", "estimated", "manual"}
            # Exactly the `cloudflare` collector, not `cloudflare_ai_gateway`.
            cloudflare = page.locator("#collectors tbody tr").filter(
                has=page.get_by_text("cloudflare", exact=True)
            )
            assert cloudflare.locator(".state").inner_text() == "failing"
            assert "auth: 1" in cloudflare.inner_text() and "HTTP 401" in cloudflare.inner_text()
            page.screenshot(
                path=str(tmp_path / "status-page-providers.png"), full_page=True, caret="initial"
            )
            assert errors == []


def test_a_demo_page_full_of_hostile_strings_shows_its_banner_and_runs_nothing_injected(
    browser: Any, tmp_path: Path
) -> None:
    """The page as rendered, served with its headers to Chromium: the demo banner is visible,
    the hostile strings are text, and no injected script or handler runs."""
    from cost_exporter import statuspage
    from tests.fakes import make_config
    from tests.test_statuspage import CONFIG, EVIL_PROVIDER, build, hostile_snapshot

    demo = build(hostile_snapshot(), make_config(tmp_path, CONFIG), demo=True)
    html = statuspage.render(demo)
    page = browser.new_context().new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: errors.append(f"{d.type}: {d.message}"))
    headers = {**statuspage.HEADERS, "Content-Type": "text/html; charset=utf-8"}
    page.route("http://demo.test/", lambda route: route.fulfill(body=html, headers=headers))
    page.goto("http://demo.test/")
    banner = page.locator("#demo")
    assert banner.is_visible()
    assert banner.inner_text() == (
        "Demo data: every figure on this page comes from built-in fake providers, "
        "not from your accounts."
    )
    row_headers = page.locator("th[scope=row]").all_inner_texts()
    assert [h for h in row_headers if h.startswith(EVIL_PROVIDER)] != []  # shown as text
    page.locator("#spend tbody tr").first.hover()  # where an injected onmouseover would fire
    assert errors == [], f"console messages, script errors or dialogs: {errors}"
