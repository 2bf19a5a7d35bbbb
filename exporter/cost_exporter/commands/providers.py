"""`cost-exporter providers`: the providers this build supports and their variables."""

from __future__ import annotations

from typing import TextIO

from cost_exporter.providers import REGISTRY


def list_providers(out: TextIO) -> int:
    for name, spec in REGISTRY.items():
        env_names = ", ".join(spec.env.values()) or "(config file only)"
        print(f"{name:<12} {spec.summary}\n{'':<12} env: {env_names}", file=out)
    return 0
