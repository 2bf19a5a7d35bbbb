"""One module per `cost-exporter` command; `cli` parses the arguments and dispatches.

What several commands share lives here: reading the settings and config once (and
telling the log which secrets to mask), the HTTP client every collection uses, and
the config warnings both `check-config` and `serve` report.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

import structlog

from cost_exporter import logs
from cost_exporter.errors import ConfigError
from cost_exporter.http_client import Budget, HttpClient, RetryPolicy, budgets
from cost_exporter.providers import config_warnings, env_specs
from cost_exporter.settings import Config, ExporterSettings, load_config, load_exporter_settings

log = structlog.get_logger("cost_exporter")


def load(env: Mapping[str, str], args: argparse.Namespace) -> tuple[ExporterSettings, Config]:
    overrides = {"host": args.host, "port": args.port, "config_file": args.config}
    settings = load_exporter_settings(env, overrides)
    config = load_config(env, settings.config_file, env_specs())
    http_budgets(config)  # a rate_limits: mistake fails here, at start-up or on SIGHUP
    secrets = set(config.secrets)
    if settings.refresh_token is not None:
        secrets.add(settings.refresh_token.get_secret_value())
    logs.REDACT.set_secrets(secrets)
    return settings, config


def http_budgets(config: Config) -> dict[str, Budget]:
    """The per-provider request budgets: the documented defaults, `rate_limits:` over them."""
    overrides = {k: v.model_dump(exclude_none=True) for k, v in config.rate_limits.items()}
    try:
        return budgets(overrides)
    except ValueError as exc:
        raise ConfigError(f"{config.source}: rate_limits: {exc}") from None


def http_client(settings: ExporterSettings, config: Config) -> HttpClient:
    return HttpClient(
        timeout_s=settings.http_timeout_s,
        retry=RetryPolicy(max_attempts=settings.http_max_attempts),
        budgets=http_budgets(config),
    )


def log_config_warnings(config: Config) -> None:
    """What the configured accounts will not see, logged once per (re)load."""
    for (provider, account), text in config_warnings(config):
        log.warning("config_warning", provider=provider, account=account, warning=text)
