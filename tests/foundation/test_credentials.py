from __future__ import annotations

import io
import stat

from agrochat.config import Config
from agrochat.credentials import SECRETS_FILE, ensure_credentials


def test_unset_credentials_are_generated_once_and_announced_once(tmp_path) -> None:
    config = Config(data_dir=str(tmp_path))
    first_out = io.StringIO()
    first = ensure_credentials(config, announce=first_out)
    assert len(first.api_key) >= 32 and len(first.operator_token) >= 32
    assert first.api_key != first.operator_token
    assert first.api_key in first_out.getvalue()

    second_out = io.StringIO()
    second = ensure_credentials(config, announce=second_out)
    assert (second.api_key, second.operator_token) == (first.api_key, first.operator_token)
    assert second_out.getvalue() == ""


def test_secrets_file_is_private(tmp_path) -> None:
    ensure_credentials(Config(data_dir=str(tmp_path)))
    mode = stat.S_IMODE((tmp_path / SECRETS_FILE).stat().st_mode)
    assert mode == 0o600


def test_credentials_from_the_environment_are_kept(tmp_path) -> None:
    config = Config(data_dir=str(tmp_path), api_key="from-env-key", operator_token="from-env-op")
    assert ensure_credentials(config) == config
    assert not (tmp_path / SECRETS_FILE).exists()
