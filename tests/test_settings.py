"""Bad config fails at start-up naming the file, the key and the reason."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cost_exporter.errors import ConfigError
from cost_exporter.settings import load_exporter_settings, read_env
from tests.fakes import fake_provider, make_config


@pytest.fixture(autouse=True)
def _fake_registered():  # type: ignore[no-untyped-def]
    with fake_provider() as fakes:
        yield fakes


def error_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, text, env)
    return str(caught.value)


def test_an_unknown_key_names_file_key_and_reason(tmp_path: Path) -> None:
    message = error_of(tmp_path, "providers:\n  fake:\n    - {account: a, colour: blue}\n")
    assert "config.yml" in message
    assert "providers.fake[0].colour" in message
    assert "Extra inputs are not permitted" in message


def test_a_negative_budget_is_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, "budgets:\n  - {provider: fake, monthly: -5}\n")
    assert "budgets.0.monthly" in message
    assert "greater than or equal to 0" in message


def test_the_warning_ratio_defaults_to_80_percent_and_takes_a_share_of_a_cap(
    tmp_path: Path,
) -> None:
    assert make_config(tmp_path, "").warning_ratio == Decimal("0.8")
    assert make_config(tmp_path, "warning_ratio: 0.65\n").warning_ratio == Decimal("0.65")


@pytest.mark.parametrize("value", ["0", "1", "80", "-0.2"])
def test_a_warning_ratio_outside_0_to_1_names_file_key_and_reason(
    tmp_path: Path, value: str
) -> None:
    message = error_of(tmp_path, f"warning_ratio: {value}\n")
    assert message.startswith(f"{tmp_path / 'config.yml'}: warning_ratio: ")
    assert "between 0 and 1" in message


def test_an_unknown_provider_lists_the_known_ones(tmp_path: Path) -> None:
    message = error_of(tmp_path, "providers:\n  nosuch: [{}]\n")
    assert "providers.nosuch: unknown provider" in message
    assert "manual" in message


def test_a_secret_written_in_yaml_is_refused_without_echoing_it(tmp_path: Path) -> None:
    message = error_of(tmp_path, "providers:\n  fake:\n    - {token: hunter2-secret}\n")
    assert "providers.fake[0].token" in message
    assert "secrets never live in the config file" in message
    assert "hunter2-secret" not in message


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, "budgets:\n  - {provider: fake\n")
    assert "config.yml" in message
    assert "line" in message


def test_same_account_twice_is_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, "providers:\n  fake:\n    - {account: a}\n    - {account: a}\n")
    assert "account 'a' is listed twice" in message


def test_an_unset_token_env_is_named(tmp_path: Path) -> None:
    message = error_of(tmp_path, "providers:\n  fake:\n    - {token_env: NOPE_TOKEN}\n")
    assert "providers.fake[0].token_env" in message
    assert "NOPE_TOKEN is not set" in message


def test_secrets_come_from_env_file_and_token_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text("from-a-file-123\n")
    config = make_config(
        tmp_path, f"providers:\n  fake:\n    - {{account: a, token_file: {secret_file}}}\n"
    )
    assert config.accounts[0].config.token.get_secret_value() == "from-a-file-123"  # type: ignore[attr-defined]
    assert "from-a-file-123" in config.secrets
    config = make_config(tmp_path, "", env={"FAKE_TOKEN_FILE": str(secret_file)})
    assert [e.key for e in config.accounts] == [("fake", "default")]


def test_name_and_name_file_together_are_refused() -> None:
    with pytest.raises(ConfigError, match="FAKE_TOKEN: set either"):
        read_env({"FAKE_TOKEN": "a", "FAKE_TOKEN_FILE": "/x"}, "FAKE_TOKEN")


def test_env_enables_a_provider_and_supplies_its_base_url(tmp_path: Path) -> None:
    config = make_config(
        tmp_path, "", env={"FAKE_TOKEN": "abcd1234", "FAKE_BASE_URL": "http://127.0.0.1:9/"}
    )
    [entry] = config.accounts
    assert entry.config.base_url == "http://127.0.0.1:9"  # type: ignore[attr-defined]


def test_a_base_url_must_be_http(tmp_path: Path) -> None:
    message = error_of(tmp_path, "providers:\n  fake:\n    - {base_url: ftp://x}\n")
    assert "providers.fake[0].base_url" in message


def test_exporter_settings_errors_name_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_exporter_settings({"COST_EXPORTER_PORT": "ninety"})
    assert "COST_EXPORTER_PORT" in str(caught.value)
    with pytest.raises(ConfigError, match="COST_REFRESH_INTERVAL_S"):
        load_exporter_settings({"COST_REFRESH_INTERVAL_S": "-1"})


def test_listen_address_defaults_and_overrides() -> None:
    settings = load_exporter_settings({})
    assert (settings.host, settings.port) == ("0.0.0.0", 9210)
    settings = load_exporter_settings({"COST_EXPORTER_PORT": "9999"}, {"port": 9300})
    assert settings.port == 9300
