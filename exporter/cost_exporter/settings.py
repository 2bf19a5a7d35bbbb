"""Configuration and secrets enter here, and only here.

Two sources, validated in one pass:

* environment variables (`COST_*` for the exporter itself, and each
  provider's simple-case variables such as `VERCEL_API_TOKEN`), every one of
  them also accepted as `NAME_FILE` for Docker secrets;
* the YAML file named by `COST_CONFIG_FILE` for everything richer: several
  accounts per provider, budgets and usage limits, fixed bills, FX rates.

Secrets never live in YAML: a secret field is given as `<field>_env: NAME`
or `<field>_file: /path`, or falls back to the provider's environment
variable. Every problem raises `ConfigError` naming the file, the key and
the reason, so a bad config fails at start-up and never at 3 a.m.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from cost_exporter.dimensions import BREAKDOWNS, VENDOR, dimensions
from cost_exporter.errors import ConfigError

DEFAULT_CURRENCY = "USD"
DEFAULT_WARNING_RATIO = Decimal("0.8")
"""The share of a cap above which BudgetWarning and AppBudgetWarning fire and the status page
turns a cap amber: late enough not to cry wolf on an ordinary month, early enough to act on."""
# AI list prices change every few months; six weeks leaves time to check them before an
# estimate drifts far.
DEFAULT_PRICE_TABLE_MAX_AGE_DAYS = 45


# --- secrets ------------------------------------------------------------------


def read_env(env: Mapping[str, str], name: str) -> str | None:
    """`NAME` or the contents of the file named by `NAME_FILE` (not both)."""
    direct, file_name = env.get(name), env.get(f"{name}_FILE")
    if direct and file_name:
        raise ConfigError(f"environment: {name}: set either {name} or {name}_FILE, not both")
    if file_name:
        return _read_secret_file(f"environment: {name}_FILE", file_name)
    return direct or None


def _read_secret_file(where: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        # The path is not secret; the content is never printed.
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror}") from None
    except ValueError:  # not UTF-8 text, or a NUL in the path
        raise ConfigError(f"{where}: {path!r} is not a readable text file") from None


# --- exporter settings (environment only) ----------------------------------------


class ExporterSettings(BaseModel):
    """The exporter's own knobs: `COST_*`, `COST_EXPORTER_HOST`/`PORT`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "0.0.0.0"  # noqa: S104 - an exporter listens for Prometheus on all interfaces
    port: int = Field(9210, ge=1, le=65535)
    config_file: Path | None = None
    state_dir: Path = Path("/var/lib/cost-exporter")
    refresh_interval_s: float = Field(86400, gt=0)
    retry_interval_s: float = Field(3600, gt=0)
    collector_timeout_s: float = Field(120, gt=0)
    refresh_min_interval_s: float = Field(300, ge=0)
    refresh_token: SecretStr | None = None
    http_max_attempts: int = Field(4, ge=1, le=10)
    http_timeout_s: float = Field(30, gt=0)
    log_level: str = "info"
    log_format: str = Field("json", pattern="^(json|console)$")
    grafana_url: str | None = Field(None, pattern="^https?://")


_SETTINGS_ENV = {
    "host": "COST_EXPORTER_HOST",
    "port": "COST_EXPORTER_PORT",
    "config_file": "COST_CONFIG_FILE",
    "state_dir": "COST_STATE_DIR",
    "refresh_interval_s": "COST_REFRESH_INTERVAL_S",
    "retry_interval_s": "COST_RETRY_INTERVAL_S",
    "collector_timeout_s": "COST_COLLECTOR_TIMEOUT_S",
    "refresh_min_interval_s": "COST_REFRESH_MIN_INTERVAL_S",
    "refresh_token": "COST_REFRESH_TOKEN",
    "http_max_attempts": "COST_HTTP_MAX_ATTEMPTS",
    "http_timeout_s": "COST_HTTP_TIMEOUT_S",
    "log_level": "COST_LOG_LEVEL",
    "log_format": "COST_LOG_FORMAT",
    "grafana_url": "COST_GRAFANA_URL",
}


def load_exporter_settings(
    env: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> ExporterSettings:
    raw: dict[str, Any] = {}
    for key, name in _SETTINGS_ENV.items():
        value = read_env(env, name)
        if value is not None:
            raw[key] = value
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return ExporterSettings(**raw)
    except ValidationError as exc:
        names = {**_SETTINGS_ENV}
        raise ConfigError(_describe(exc, "environment", lambda loc: names.get(loc, loc))) from None


# --- the YAML file ---------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccountConfig(Strict):
    """Base of every provider's per-account config."""

    account: str = Field("default", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")

    def vendors(self) -> frozenset[str]:
        """Provider labels this account's spend carries instead of its collector's name (a
        `manual` bill names the vendor it pays); attribution rules may name them."""
        return frozenset()


class HttpAccountConfig(AccountConfig):
    """An account reached over HTTP: its base URL defaults to the official API."""

    base_url: str

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class Budget(Strict):
    """Absolute caps for one provider account: money per month and per day, usage limits."""

    provider: str
    account: str = "default"
    monthly: Decimal | None = Field(None, ge=0)
    daily: Decimal | None = Field(None, ge=0)
    """Cap on the spend of one complete UTC day (cost_daily_budget); off unless set."""
    credit_balance_min: Decimal | None = Field(None, ge=0)
    """Alert when a prepaid balance falls below this (cost_credit_balance_min); off unless set."""
    usage_limits: dict[str, Decimal] = Field(default_factory=dict)

    @field_validator("usage_limits")
    @classmethod
    def _non_negative(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for metric, limit in value.items():
            if limit < 0:
                raise ValueError(f"{metric}: a limit cannot be negative")
        return value


# --- attribution: provider bills mapped to the user's apps ------------------------

APP_LABEL = r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$"
OPTIONAL_LABEL = r"^([A-Za-z0-9][A-Za-z0-9_.:/-]{0,63})?$"
UNALLOCATED = "unallocated"
"""The app of spend no rule matches; no rule may name it."""


class AppShare(Strict):
    """Where (a share of) the spend a rule matches goes."""

    app: str = Field(pattern=APP_LABEL)
    team: str = Field("", pattern=OPTIONAL_LABEL)
    app_env: str = Field("", pattern=OPTIONAL_LABEL)
    weight: Decimal = Field(Decimal(1), gt=0, le=1)


class AttributionRule(Strict):
    """`match` a piece of a bill, then give it to `app` (+ `team`, `app_env`) or `split` it.

    `match` holds `provider`, optionally `account`, and at most one dimension of that
    provider (cost_exporter.dimensions); values are exact or globs (`shop-*`).
    """

    match: dict[str, str]
    app: str | None = Field(None, pattern=APP_LABEL)
    team: str | None = Field(None, pattern=OPTIONAL_LABEL)
    app_env: str | None = Field(None, pattern=OPTIONAL_LABEL)
    split: list[AppShare] | None = None

    @property
    def provider(self) -> str:
        return self.match.get("provider", "")

    @property
    def shares(self) -> tuple[AppShare, ...]:
        if self.split is not None:
            return tuple(self.split)
        return (AppShare(app=self.app or "", team=self.team or "", app_env=self.app_env or ""),)


class Attribution(Strict):
    """The `attribution:` section. Without it the exporter publishes no allocated series."""

    rules: list[AttributionRule] = Field(default_factory=list)
    app_budgets: dict[str, Decimal] = Field(default_factory=dict)

    @field_validator("app_budgets")
    @classmethod
    def _non_negative_budgets(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for app, amount in value.items():
            if amount < 0:
                raise ValueError(f"{app}: a budget cannot be negative")
        return value

    def breakdown(self, provider: str) -> str | None:
        """The breakdown dimension the rules for `provider` match, if any (at most one)."""
        for rule in self.rules:
            if rule.provider == provider:
                for key in rule.match:
                    if key in BREAKDOWNS.get(provider, {}):
                        return key
        return None


class RateLimit(Strict):
    """`rate_limits.<provider>`: the HTTP client's budget for that provider's API, shared
    by its accounts (defaults: cost_exporter.http_client.DEFAULT_BUDGETS)."""

    concurrency: int | None = Field(None, ge=1, le=64)
    requests: int | None = Field(None, ge=1)
    per_seconds: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _window(self) -> RateLimit:
        if (self.requests is None) != (self.per_seconds is None):
            raise ValueError("give requests and per_seconds together")
        return self


class FileConfig(Strict):
    reporting_currency: str = Field(DEFAULT_CURRENCY, pattern="^[A-Z]{3}$")
    warning_ratio: Decimal = DEFAULT_WARNING_RATIO
    fx_rates: dict[str, Decimal] = Field(default_factory=dict)
    budgets: list[Budget] = Field(default_factory=list)
    providers: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    attribution: Attribution | None = None
    ai_price_table_max_age_days: int = Field(DEFAULT_PRICE_TABLE_MAX_AGE_DAYS, gt=0)
    """Days after which the shipped AI price table counts as stale (AIPriceTableStale)."""
    rate_limits: dict[str, RateLimit] = Field(default_factory=dict)

    @field_validator("fx_rates")
    @classmethod
    def _positive_rates(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for code, rate in value.items():
            if len(code) != 3 or not code.isupper():
                raise ValueError(f"{code}: currency codes are three capital letters (ISO 4217)")
            if rate <= 0:
                raise ValueError(f"{code}: a rate must be positive")
        return value

    @field_validator("warning_ratio")
    @classmethod
    def _a_share(cls, value: Decimal) -> Decimal:
        if not 0 < value < 1:
            raise ValueError(
                f"{value} is not a share of a cap: give a number between 0 and 1, both "
                "excluded (0.75 warns above 75% of each cap)"
            )
        return value

    @model_validator(mode="after")
    def _unique_budgets(self) -> FileConfig:
        seen: set[tuple[str, str]] = set()
        for budget in self.budgets:
            key = (budget.provider, budget.account)
            if key in seen:
                raise ValueError(f"budget for {key[0]}/{key[1]} is given twice")
            seen.add(key)
        return self


# --- the validated whole ---------------------------------------------------------


@dataclass(frozen=True)
class AccountEntry:
    """One configured collector: a provider name and its validated account config."""

    provider: str
    config: AccountConfig

    @property
    def key(self) -> tuple[str, str]:
        return (self.provider, self.config.account)


@dataclass(frozen=True)
class Config:
    source: str
    reporting_currency: str
    fx_rates: Mapping[str, Decimal]
    budgets: tuple[Budget, ...]
    accounts: tuple[AccountEntry, ...]
    secrets: frozenset[str] = field(default_factory=frozenset, repr=False)
    attribution: Attribution | None = None
    """Off (no allocated series) unless the file has an `attribution:` section."""
    warning_ratio: Decimal = DEFAULT_WARNING_RATIO
    """Published as cost_budget_warning_ratio; the rules, dashboard and status page read that."""
    ai_price_table_max_age_days: int = DEFAULT_PRICE_TABLE_MAX_AGE_DAYS
    rate_limits: Mapping[str, RateLimit] = field(default_factory=dict)

    def convert(self, amount: Decimal, currency: str) -> Decimal:
        """Amount in the reporting currency, with the configured fixed rates."""
        if currency == self.reporting_currency:
            return amount
        return amount * self.fx_rates[currency]


class ProviderEnv(BaseModel):
    """What the registry tells the loader about a provider's environment variables."""

    model_config = ConfigDict(frozen=True)

    name: str
    config_model: type[AccountConfig]
    env: Mapping[str, str]
    """config field -> environment variable (simple case, and defaults for the YAML)."""


def load_config(
    env: Mapping[str, str],
    config_file: Path | None,
    providers: Mapping[str, ProviderEnv],
) -> Config:
    source = str(config_file) if config_file else "environment"
    raw = _read_yaml(config_file) if config_file else {}
    try:
        file_config = FileConfig(**raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
    except TypeError:
        raise ConfigError(f"{source}: the top level must be a mapping") from None

    secrets: set[str] = set()
    accounts: list[AccountEntry] = []
    for name, items in file_config.providers.items():
        if name not in providers:
            known = ", ".join(sorted(providers))
            raise ConfigError(f"{source}: providers.{name}: unknown provider (known: {known})")
        for index, item in enumerate(items):
            where = f"providers.{name}[{index}]"
            accounts.append(_account(providers[name], item, env, source, where, secrets))
    configured = {entry.provider for entry in accounts}
    for spec in providers.values():
        if spec.name not in configured and _enabled_by_env(spec, env):
            accounts.append(_account(spec, {}, env, "environment", spec.name, secrets))

    _check_unique_accounts(accounts, source)
    _check_currencies(file_config, source)
    for name in file_config.rate_limits:
        if name not in providers:
            known = ", ".join(sorted(providers))
            raise ConfigError(f"{source}: rate_limits.{name}: unknown provider (known: {known})")
    if file_config.attribution is not None:
        _check_attribution(file_config.attribution, accounts, providers, source)
    return Config(
        source=source,
        reporting_currency=file_config.reporting_currency,
        fx_rates=dict(file_config.fx_rates),
        budgets=tuple(file_config.budgets),
        accounts=tuple(accounts),
        secrets=frozenset(s for s in secrets if len(s) >= 4),
        attribution=file_config.attribution,
        warning_ratio=file_config.warning_ratio,
        ai_price_table_max_age_days=file_config.ai_price_table_max_age_days,
        rate_limits=dict(file_config.rate_limits),
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"{path}:{where} not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def _secret_fields(model: type[AccountConfig]) -> list[str]:
    return [
        name
        for name, info in model.model_fields.items()
        if info.annotation in (SecretStr, SecretStr | None)
    ]


def _enabled_by_env(spec: ProviderEnv, env: Mapping[str, str]) -> bool:
    names = [n for key, n in spec.env.items() if key != "base_url"]
    return any(env.get(n) or env.get(f"{n}_FILE") for n in names)


def _account(
    spec: ProviderEnv,
    item: Any,
    env: Mapping[str, str],
    source: str,
    where: str,
    secrets: set[str],
) -> AccountEntry:
    if not isinstance(item, dict):
        raise ConfigError(f"{source}: {where}: each account must be a mapping")
    values = dict(item)
    for key in _secret_fields(spec.config_model):
        values[key] = _resolve_secret(spec, key, values, env, source, where)
        if values[key] is None:
            del values[key]
        else:
            secrets.add(values[key])
    for key, env_name in spec.env.items():
        if key in values or key in _secret_fields(spec.config_model):
            continue
        value = read_env(env, env_name)
        if value is not None:
            values[key] = value
    try:
        config = spec.config_model(**values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, prefix=where)) from None
    return AccountEntry(spec.name, config)


def _resolve_secret(
    spec: ProviderEnv,
    key: str,
    values: dict[str, Any],
    env: Mapping[str, str],
    source: str,
    where: str,
) -> str | None:
    if key in values:
        raise ConfigError(
            f"{source}: {where}.{key}: secrets never live in the config file; "
            f"use {key}_env: VARIABLE or {key}_file: /run/secrets/NAME"
        )
    env_name = values.pop(f"{key}_env", None)
    file_name = values.pop(f"{key}_file", None)
    if env_name and file_name:
        raise ConfigError(f"{source}: {where}: give {key}_env or {key}_file, not both")
    if file_name:
        return _read_secret_file(f"{source}: {where}.{key}_file", str(file_name))
    if env_name:
        value = read_env(env, str(env_name))
        if value is None:
            raise ConfigError(
                f"{source}: {where}.{key}_env: environment variable {env_name} is not set"
            )
        return value
    default = spec.env.get(key)
    return read_env(env, default) if default else None


def _check_unique_accounts(accounts: list[AccountEntry], source: str) -> None:
    seen: set[tuple[str, str]] = set()
    for entry in accounts:
        if entry.key in seen:
            raise ConfigError(
                f"{source}: providers.{entry.provider}: account {entry.config.account!r} "
                "is listed twice; give each account its own name"
            )
        seen.add(entry.key)


def _check_currencies(file_config: FileConfig, source: str) -> None:
    if file_config.reporting_currency in file_config.fx_rates:
        raise ConfigError(
            f"{source}: fx_rates.{file_config.reporting_currency}: "
            "the reporting currency needs no rate"
        )


def _check_attribution(
    attribution: Attribution,
    accounts: list[AccountEntry],
    providers: Mapping[str, ProviderEnv],
    source: str,
) -> None:
    """What pydantic cannot see alone: providers, dimensions, weights, budgets' apps."""
    collectors: dict[str, set[str]] = {name: {name} for name in providers}
    for entry in accounts:
        for vendor in entry.config.vendors():
            collectors.setdefault(vendor, set()).add(entry.provider)
    breakdowns: dict[str, tuple[str, int]] = {}
    apps: set[str] = set()
    for index, rule in enumerate(attribution.rules):
        where = f"{source}: attribution.rules.{index}"
        _check_match(rule, collectors, where)
        for key in rule.match:
            if key in BREAKDOWNS.get(rule.provider, {}):
                dim, first = breakdowns.setdefault(rule.provider, (key, index))
                if dim != key:
                    raise ConfigError(
                        f"{where}.match.{key}: rules.{first} already attributes {rule.provider} "
                        f"by {dim}; one provider is attributed by one breakdown"
                    )
        _check_target(rule, where)
        apps.update(share.app for share in rule.shares)
    for app in attribution.app_budgets:
        if app not in apps:
            raise ConfigError(
                f"{source}: attribution.app_budgets.{app}: no rule attributes spend to this app"
            )


def _check_match(rule: AttributionRule, collectors: Mapping[str, set[str]], where: str) -> None:
    provider = rule.match.get("provider")
    if not provider:
        raise ConfigError(f"{where}.match.provider: required (the provider label of the spend)")
    if provider not in collectors:
        known = ", ".join(sorted(collectors))
        raise ConfigError(
            f"{where}.match.provider: unknown provider {provider!r} (known: {known}; a vendor "
            "only seen in a CSV or FOCUS file is matched as provider: manual or focus with "
            "vendor: NAME)"
        )
    allowed = {dim for name in collectors[provider] for dim in dimensions(name)}
    named = []
    for key, value in rule.match.items():
        if not value:
            raise ConfigError(f"{where}.match.{key}: empty; give a value or a glob such as '*'")
        if key in ("provider", "account"):
            continue
        if key not in allowed:
            known = ", ".join(["account", *sorted(allowed)])
            raise ConfigError(f"{where}.match.{key}: unknown dimension for {provider} ({known})")
        if key != VENDOR:
            named.append(key)
    if len(named) > 1:
        raise ConfigError(
            f"{where}.match: matches {' and '.join(named)}; a rule matches one dimension"
        )


def _check_target(rule: AttributionRule, where: str) -> None:
    if rule.split is None:
        if rule.app is None:
            raise ConfigError(f"{where}: give app (with team, app_env) or split")
    else:
        if rule.app is not None or rule.team is not None or rule.app_env is not None:
            raise ConfigError(
                f"{where}.split: give app, team and app_env inside each share, not next to split"
            )
        if not rule.split:
            raise ConfigError(f"{where}.split: empty; give at least one share")
        total = sum((share.weight for share in rule.split), Decimal(0))
        if total != 1:
            raise ConfigError(f"{where}.split: weights add up to {total}; they must add up to 1")
    for share in rule.shares:
        if share.app == UNALLOCATED:
            raise ConfigError(f"{where}: app {UNALLOCATED!r} is reserved for spend no rule matches")


def _describe(
    exc: ValidationError,
    source: str,
    rename: Any = None,
    prefix: str = "",
) -> str:
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        if rename and loc:
            loc[0] = rename(loc[0])
        key = ".".join(([prefix] if prefix else []) + loc) or "(top level)"
        lines.append(f"{source}: {key}: {error['msg']}")
    return "\n".join(lines)


def missing_rate(config: Config, currency: str) -> bool:
    return currency != config.reporting_currency and currency not in config.fx_rates


def environ() -> Mapping[str, str]:
    return dict(os.environ)
