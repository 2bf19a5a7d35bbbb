"""The registry: one line per provider. CLI, docs and tests iterate this table."""

from __future__ import annotations

from typing import Any

from cost_exporter.providers import (
    anthropic,
    cloudflare,
    cloudflare_ai_gateway,
    focus,
    manual,
    openai,
    openrouter,
    supabase,
    vercel,
    wasabi,
)
from cost_exporter.providers.base import ProviderSpec
from cost_exporter.settings import Config

REGISTRY: dict[str, ProviderSpec[Any]] = {
    spec.name: spec
    for spec in (
        manual.PROVIDER,
        vercel.PROVIDER,
        supabase.PROVIDER,
        wasabi.PROVIDER,
        cloudflare.PROVIDER,
        cloudflare_ai_gateway.PROVIDER,
        focus.PROVIDER,
        openai.PROVIDER,
        anthropic.PROVIDER,
        openrouter.PROVIDER,
    )
}


def env_specs() -> dict[str, Any]:
    return {name: spec.env_spec() for name, spec in REGISTRY.items()}


def config_warnings(config: Config) -> list[tuple[tuple[str, str], str]]:
    """((provider, account), sentence) for what each configured account will not see."""
    found = []
    for entry in config.accounts:
        spec = REGISTRY.get(entry.provider)
        if spec is not None:
            found += [(entry.key, text) for text in spec.config_warnings(entry.config)]
    return found
