"""The immutable snapshot `/metrics` serves, and its file on disk.

A snapshot holds, per provider account, the samples of its last successful
collection and its health. A failed collection replaces the health, never
the samples: the last good numbers stay until a good collection replaces
them. The file is written atomically (temp file, fsync, rename) so a crash
mid-write leaves yesterday's snapshot intact.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog

from cost_exporter import catalog
from cost_exporter.files import write_atomically
from cost_exporter.health import Outcome
from cost_exporter.samples import Sample

FORMAT_VERSION = 1
FILE_NAME = "snapshot.json"
"""The snapshot's file in COST_STATE_DIR."""
log = structlog.get_logger("cost_exporter.snapshot")
Key = tuple[str, str]


def _zero_errors() -> dict[str, int]:
    return dict.fromkeys(catalog.ERROR_REASONS, 0)


@dataclass(frozen=True)
class AccountState:
    provider: str
    account: str
    samples: tuple[Sample, ...] = ()
    up: bool = False
    last_success: float | None = None
    last_attempt: float | None = None
    duration_s: float | None = None
    last_error: str | None = None
    errors: Mapping[str, int] = field(default_factory=_zero_errors)
    skipped_records: int = 0

    @property
    def key(self) -> Key:
        return (self.provider, self.account)

    def after(self, outcome: Outcome) -> AccountState:
        skipped = self.skipped_records + outcome.skipped_records
        if outcome.ok:
            assert outcome.samples is not None
            return replace(
                self,
                samples=outcome.samples,
                up=True,
                last_success=outcome.started_at,
                last_attempt=outcome.started_at,
                duration_s=outcome.duration_s,
                last_error=None,
                skipped_records=skipped,
            )
        errors = dict(self.errors)
        reason = outcome.error_reason or "internal"
        errors[reason] = errors.get(reason, 0) + 1
        return replace(
            self,
            up=False,
            last_attempt=outcome.started_at,
            duration_s=outcome.duration_s,
            last_error=outcome.error_message,
            errors=errors,
            skipped_records=skipped,
        )


@dataclass(frozen=True)
class Snapshot:
    accounts: Mapping[Key, AccountState] = field(default_factory=dict)

    def for_accounts(self, keys: Iterable[Key]) -> Snapshot:
        """The configured accounts only, each present (new ones start empty)."""
        return Snapshot({key: self.accounts.get(key) or AccountState(*key) for key in keys})

    def with_outcomes(self, outcomes: Iterable[Outcome]) -> Snapshot:
        accounts = dict(self.accounts)
        for outcome in outcomes:
            key = (outcome.provider, outcome.account)
            accounts[key] = (accounts.get(key) or AccountState(*key)).after(outcome)
        return Snapshot(accounts)

    # --- persistence -------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "accounts": [_state_to_json(state) for state in self.accounts.values()],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Snapshot:
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported snapshot version {data.get('version')!r}")
        states = [_state_from_json(item) for item in data["accounts"]]
        return cls({state.key: state for state in states})


def _state_to_json(state: AccountState) -> dict[str, Any]:
    return {
        "provider": state.provider,
        "account": state.account,
        "up": state.up,
        "last_success": state.last_success,
        "last_attempt": state.last_attempt,
        "duration_s": state.duration_s,
        "last_error": state.last_error,
        "errors": dict(state.errors),
        "skipped_records": state.skipped_records,
        "samples": [
            {
                "family": s.family.name,
                "labels": dict(s.labels),
                "value": str(s.value),
                "currency": s.currency,
            }
            for s in state.samples
        ],
    }


def _state_from_json(item: Mapping[str, Any]) -> AccountState:
    samples = []
    for raw in item["samples"]:
        family = catalog.BY_NAME.get(raw["family"])
        if family is None:  # a family retired since the snapshot was written
            continue
        samples.append(
            Sample(
                family,
                tuple(sorted(raw["labels"].items())),
                Decimal(raw["value"]),
                raw.get("currency"),
            )
        )
    errors = _zero_errors()
    errors.update({k: int(v) for k, v in item.get("errors", {}).items() if k in errors})
    return AccountState(
        provider=item["provider"],
        account=item["account"],
        samples=tuple(samples),
        up=bool(item["up"]),
        last_success=item.get("last_success"),
        last_attempt=item.get("last_attempt"),
        duration_s=item.get("duration_s"),
        last_error=item.get("last_error"),
        errors=errors,
        skipped_records=int(item.get("skipped_records", 0)),
    )


def save(snapshot: Snapshot, path: Path) -> None:
    body = json.dumps(snapshot.to_json(), separators=(",", ":"))
    write_atomically(path, body.encode("utf-8"))


def load(path: Path) -> Snapshot:
    """The snapshot on disk, or an empty one; a damaged file is set aside, not fatal."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Snapshot.from_json(data)
    except FileNotFoundError:
        return Snapshot()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        aside = path.with_suffix(".corrupt")
        log.error("snapshot_unreadable", path=str(path), error=str(exc), moved_to=str(aside))
        with contextlib.suppress(OSError):
            path.replace(aside)
        return Snapshot()
