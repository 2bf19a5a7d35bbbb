"""When to collect, and the single place a new snapshot is made.

The refresher owns the current snapshot and its rendering. Collections run
all due provider accounts concurrently; a refresh that is already running is
joined, never doubled, so fifty `POST /refresh` calls cost one collection.
An account is due when the schedule (`schedule.Schedule.next_due`) says so:
the refresh interval after a success, the shorter retry interval after a
failure, at once when it was never collected, and just after a new calendar
month starts, so the 1st starts from zero, not from last month's total.
It is due at once, too, when its usage limits changed since its last success
(a reload or a restart with another config): a collector keeps an item that has a
limit of its own out of a capped breakdown's `other`, so its samples depend on them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from cost_exporter import exposition, figures, health
from cost_exporter import snapshot as snapshots
from cost_exporter.exposition import Rendered
from cost_exporter.figures import Figures
from cost_exporter.http_client import HttpClient
from cost_exporter.providers import REGISTRY
from cost_exporter.providers.base import Context
from cost_exporter.schedule import Schedule
from cost_exporter.settings import AccountEntry, Config, ExporterSettings
from cost_exporter.snapshot import Key, Snapshot

log = structlog.get_logger("cost_exporter.refresher")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def usage_limit_keys(config: Config, provider: str, account: str) -> frozenset[str]:
    """The `metric` keys of the usage limits configured for one account."""
    return frozenset(
        metric
        for budget in config.budgets
        if (budget.provider, budget.account) == (provider, account)
        for metric in budget.usage_limits
    )


@dataclass(frozen=True)
class RefreshResult:
    started_at: datetime
    accounts: tuple[health.Outcome, ...]

    def summary(self) -> list[dict[str, object]]:
        return [
            {
                "provider": o.provider,
                "account": o.account,
                "ok": o.ok,
                "reason": o.error_reason,
                "samples": len(o.samples or ()),
                "duration_s": round(o.duration_s, 3),
            }
            for o in self.accounts
        ]


class Refresher:
    def __init__(
        self,
        settings: ExporterSettings,
        config: Config,
        http: HttpClient,
        clock: Clock = utc_now,
        *,
        persist: bool = True,
        demo: bool = False,
    ) -> None:
        self.settings = settings
        # Only `cost-exporter demo` sets it (no setting or config key can): its data is fake.
        # The views read it here: the build info's demo label, the status page's banner.
        self.demo = demo
        self.schedule = Schedule.of(settings)
        self.persist = persist
        self.http = http
        self.clock = clock
        self.config = config
        self._snapshot = Snapshot().for_accounts(e.key for e in config.accounts)
        self.figures: Figures = figures.derive(self._snapshot, config, clock(), self.schedule)
        self.rendered: Rendered = exposition.render(self.figures, demo=demo)
        self._inflight: asyncio.Task[RefreshResult] | None = None
        self._inflight_keys: frozenset[Key] = frozenset()
        self._wake = asyncio.Event()

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def state_path(self) -> Path:
        return self.settings.state_dir / snapshots.FILE_NAME

    @property
    def refreshing(self) -> bool:
        return self._inflight is not None and not self._inflight.done()

    # --- snapshot life cycle -----------------------------------------------------

    def restore(self) -> None:
        restored = snapshots.load(self.state_path)
        self._publish(restored.for_accounts(e.key for e in self.config.accounts), persist=False)
        log.info("snapshot_restored", accounts=len(restored.accounts), path=str(self.state_path))

    def reload(self, config: Config) -> None:
        """Apply a new config: caps show at once; new accounts become due."""
        self.config = config
        self._publish(self._snapshot.for_accounts(e.key for e in config.accounts), persist=False)
        self._wake.set()

    def _publish(self, snapshot: Snapshot, persist: bool = True) -> None:
        self._snapshot = snapshot
        # Derived once per snapshot (or config): every view reads these same figures.
        self.figures = figures.derive(snapshot, self.config, self.clock(), self.schedule)
        self.rendered = exposition.render(self.figures, demo=self.demo)
        if persist and self.persist:
            try:
                snapshots.save(snapshot, self.state_path)
            except OSError as exc:
                # Serving stays correct; only the restart-survival is at risk.
                log.error("snapshot_not_saved", path=str(self.state_path), error=exc.strerror)

    # --- collection --------------------------------------------------------------

    def due(self, now: datetime | None = None) -> list[AccountEntry]:
        now = now or self.clock()
        return [e for e in self.config.accounts if self._next_due(e.key) <= now]

    def next_wakeup(self) -> datetime:
        dues = [self._next_due(e.key) for e in self.config.accounts]
        return min(dues, default=self.clock() + timedelta(seconds=self.settings.refresh_interval_s))

    def _next_due(self, key: Key) -> datetime:
        state = self._snapshot.accounts.get(key)
        # Only after a success: a failed collection waits for its retry interval as usual.
        limits = None if state is None or not state.up else state.usage_limits
        if limits is not None and limits != usage_limit_keys(self.config, *key):
            return datetime.min.replace(tzinfo=UTC)
        due = self.schedule.next_due(state)
        return datetime.min.replace(tzinfo=UTC) if due is None else due

    def start(self, providers: Iterable[str] | None = None) -> asyncio.Task[RefreshResult]:
        """Start a collection (all accounts, or the named providers'), or join the one
        in flight when it covers them. Synchronous, so callers racing in the same
        event-loop tick see the same task."""
        wanted = frozenset(
            e.key for e in self.config.accounts if providers is None or e.provider in providers
        )
        return self._start(wanted)

    async def refresh(self, providers: Iterable[str] | None = None) -> RefreshResult:
        return await asyncio.shield(self.start(providers))

    async def refresh_due(self) -> RefreshResult | None:
        keys = frozenset(e.key for e in self.due())
        return await asyncio.shield(self._start(keys)) if keys else None

    def _start(self, keys: frozenset[Key]) -> asyncio.Task[RefreshResult]:
        current = self._inflight if self.refreshing else None
        if current is not None and keys <= self._inflight_keys:
            return current
        self._inflight_keys = keys
        self._inflight = asyncio.create_task(self._run_after(current, keys))
        return self._inflight

    async def _run_after(
        self, previous: asyncio.Task[RefreshResult] | None, keys: frozenset[Key]
    ) -> RefreshResult:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        return await self._run(keys)

    async def _run(self, keys: frozenset[Key]) -> RefreshResult:
        started = self.clock()
        entries = [e for e in self.config.accounts if e.key in keys]
        config = self.config
        outcomes = await asyncio.gather(*(self._run_one(e, config, started) for e in entries))
        self._publish(
            self._snapshot.for_accounts(e.key for e in config.accounts).with_outcomes(outcomes)
        )
        log.info(
            "refresh_finished",
            accounts=len(outcomes),
            failed=sum(not o.ok for o in outcomes),
        )
        return RefreshResult(started, tuple(outcomes))

    async def _run_one(self, entry: AccountEntry, config: Config, now: datetime) -> health.Outcome:
        spec = REGISTRY[entry.provider]
        state = self._snapshot.accounts.get(entry.key)
        ctx = Context(
            http=self.http.for_provider(entry.provider),
            now=now,
            usage_limits=usage_limit_keys(config, *entry.key),
            ledger={name: dict(days) for name, days in (state.ledger if state else {}).items()},
        )
        ctx.log = ctx.log.bind(provider=entry.provider, account=entry.config.account)
        last_good = None
        if state is not None and state.last_success is not None:
            last_good = health.LastGood(state.samples, state.last_success)
        return await health.run(
            spec, entry, ctx, config, self.settings.collector_timeout_s, last_good
        )

    # --- the scheduler -------------------------------------------------------------

    async def run_forever(self) -> None:
        """Collect whatever is due, then sleep until the next account is due."""
        while True:
            try:
                await self.refresh_due()
            except Exception:
                log.exception("scheduler_iteration_failed")
            delay = (self.next_wakeup() - self.clock()).total_seconds()
            # Re-check at least hourly so a changed clock or a missed wake-up heals.
            delay = min(max(delay, 1.0), 3600.0)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
