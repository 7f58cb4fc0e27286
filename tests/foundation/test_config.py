from __future__ import annotations

from pathlib import Path

import pytest

from agrochat.__main__ import main
from agrochat.config import SETTINGS, Config
from agrochat.errors import ConfigError


def test_defaults_need_no_environment() -> None:
    config = Config.from_env({})
    assert config == Config()
    assert config.bind == "127.0.0.1:5000"
    assert config.whatsapp == "none"
    assert config.alert_tick_s == 10.0
    assert config.effective_database_url.startswith("sqlite:///")
    assert config.effective_database_url.endswith("var/agrochat.db")


def test_values_are_read_and_typed() -> None:
    config = Config.from_env(
        {
            "AGROCHAT_BIND": "0.0.0.0:8080",
            "AGROCHAT_ALERT_TICK_S": "2.5",
            "AGROCHAT_WHATSAPP": "waha",
            "AGROCHAT_DATABASE_URL": "postgresql://u@h/db",
        }
    )
    assert (config.host, config.port) == ("0.0.0.0", 8080)
    assert config.alert_tick_s == 2.5
    assert config.whatsapp == "waha"
    assert config.effective_database_url == "postgresql://u@h/db"


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("AGROCHAT_BIND", "5000", "HOST:PORT"),
        ("AGROCHAT_BIND", "localhost:99999", "port"),
        ("AGROCHAT_ALERT_TICK_S", "soon", "number"),
        ("AGROCHAT_ALERT_TICK_S", "0", "greater than 0"),
        ("AGROCHAT_WHATSAPP", "telegram", "none, console, waha, cloud"),
        ("AGROCHAT_DATABASE_URL", "mysql://x/y", "postgresql"),
        ("AGROCHAT_INFERENCE_URL", "ftp://x", "http"),
        ("AGROCHAT_MODEL_THREADS", "two", "whole number"),
    ],
)
def test_bad_value_names_the_variable_and_the_problem(variable, value, complaint) -> None:
    with pytest.raises(ConfigError) as info:
        Config.from_env({variable: value})
    assert str(info.value).startswith(f"{variable}: ")
    assert complaint in str(info.value)


def test_bad_value_stops_start_up_with_one_line(monkeypatch, capsys) -> None:
    monkeypatch.setenv("AGROCHAT_BIND", "nonsense")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["agrochat: AGROCHAT_BIND: expected HOST:PORT, got 'nonsense'"]


def test_model_routes_leave_http_threads_for_health_and_the_panel() -> None:
    assert Config.from_env({}).model_route_slots == 6  # of 8 threads
    config = Config.from_env({"AGROCHAT_HTTP_THREADS": "20", "AGROCHAT_HTTP_MODEL_THREADS": "12"})
    assert config.model_route_slots == 12
    for threads, model in (("8", "8"), ("4", "9"), ("1", "0")):
        with pytest.raises(ConfigError) as info:
            Config.from_env(
                {"AGROCHAT_HTTP_THREADS": threads, "AGROCHAT_HTTP_MODEL_THREADS": model}
            )
        assert str(info.value).startswith("AGROCHAT_HTTP_MODEL_THREADS: must be below")


def test_serve_help_lists_every_variable_with_its_default(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for setting in SETTINGS:
        assert setting.env in out
    assert "[127.0.0.1:5000]" in out


def test_secrets_are_not_in_the_repr() -> None:
    config = Config(api_key="k" * 20, operator_token="t" * 20)
    assert "k" * 20 not in repr(config)
    assert set(config.secrets()) == {"k" * 20, "t" * 20}


def test_readme_configuration_table_lists_every_variable() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [s.env for s in SETTINGS if f"| `{s.env}` |" not in readme]
    assert missing == []


def test_a_heartbeat_not_below_half_the_lease_ttl_is_refused() -> None:
    assert Config.from_env({}).heartbeat_s == 2 and Config.from_env({}).lease_ttl_s == 10
    ok = Config.from_env({"AGROCHAT_HEARTBEAT_S": "1", "AGROCHAT_LEASE_TTL_S": "3"})
    assert (ok.heartbeat_s, ok.lease_ttl_s) == (1, 3)
    with pytest.raises(ConfigError, match="AGROCHAT_HEARTBEAT_S"):
        Config.from_env({"AGROCHAT_HEARTBEAT_S": "5", "AGROCHAT_LEASE_TTL_S": "10"})
