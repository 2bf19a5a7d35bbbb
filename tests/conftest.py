from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from cost_exporter import logs


@pytest.fixture(autouse=True)
def _quiet_logs() -> Iterator[None]:
    """Route logs through the real processors into a list tests can read."""
    structlog.reset_defaults()
    yield
    logs.REDACT.set_secrets(())
