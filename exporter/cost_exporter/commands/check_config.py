"""`cost-exporter check-config`: the config is valid; what it will still not see."""

from __future__ import annotations

from typing import TextIO

from cost_exporter.providers import config_warnings
from cost_exporter.settings import Config


def check_config(config: Config, out: TextIO) -> int:
    accounts = ", ".join(f"{p}/{a}" for p, a in (e.key for e in config.accounts)) or "none"
    print(f"config OK ({config.source}): accounts {accounts}", file=out)
    for (provider, account), text in config_warnings(config):
        print(f"warning: {provider}/{account}: {text}", file=out)
    return 0
