from __future__ import annotations

import io
import json
import os
import pty
import select
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from agrochat.__main__ import main
from agrochat.config import Config
from agrochat.credentials import SECRETS_FILE, ensure_credentials
from agrochat.errors import ConfigError
from tests._served import Served


@pytest.fixture
def usual_umask() -> Iterator[None]:
    # The modes asserted below must come from agrochat, not from a strict umask of the runner.
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _read_until(fd: int, text: str, timeout_s: float = 10.0) -> str:
    """What the terminal shows up to ``text``: a pty hands a write over in pieces."""
    shown = ""
    while text not in shown:
        ready, _, _ = select.select([fd], [], [], timeout_s)
        if not ready:
            break
        shown += os.read(fd, 4096).decode()
    return shown


def test_unset_credentials_are_generated_once_and_shown_once_on_a_terminal(tmp_path) -> None:
    config = Config(data_dir=str(tmp_path))
    controller, terminal_fd = pty.openpty()
    with open(terminal_fd, "w") as terminal:
        first = ensure_credentials(config, announce=terminal)
        assert len(first.api_key) >= 32 and len(first.operator_token) >= 32
        assert first.api_key != first.operator_token
        shown = _read_until(controller, first.operator_token)
        assert first.api_key in shown and first.operator_token in shown

        second = ensure_credentials(config, announce=terminal)
        assert (second.api_key, second.operator_token) == (first.api_key, first.operator_token)
        terminal.write("end\n")
        terminal.flush()
        assert _read_until(controller, "end").strip() == "end"  # nothing shown again
    os.close(controller)


def test_new_keys_are_not_written_to_a_stream_that_is_not_a_terminal(tmp_path) -> None:
    out = io.StringIO()
    config = ensure_credentials(Config(data_dir=str(tmp_path)), announce=out)
    assert config.api_key and out.getvalue() == ""
    stored = json.loads((tmp_path / SECRETS_FILE).read_text())
    assert stored == {"api_key": config.api_key, "operator_token": config.operator_token}


def test_secrets_file_is_private(tmp_path) -> None:
    ensure_credentials(Config(data_dir=str(tmp_path)))
    assert mode(tmp_path / SECRETS_FILE) == 0o600


def test_credentials_from_the_environment_are_kept(tmp_path) -> None:
    config = Config(data_dir=str(tmp_path), api_key="from-env-key", operator_token="from-env-op")
    assert ensure_credentials(config) == config
    assert not (tmp_path / SECRETS_FILE).exists()


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"", b"[]", b'{"api_key": 5}', b'{"api_key": "\xff\xfe"}'],
    ids=["broken-json", "empty", "not-an-object", "not-a-string", "not-utf8"],
)
def test_malformed_secrets_file_stops_and_is_left_untouched(tmp_path, content: bytes) -> None:
    path = tmp_path / SECRETS_FILE
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=r"secrets\.json"):
        ensure_credentials(Config(data_dir=str(tmp_path)))
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == [SECRETS_FILE]


def test_unreadable_secrets_file_stops_and_is_left_untouched(tmp_path) -> None:
    # A directory in its place: unreadable as a file whoever runs the test (root reads any file).
    (tmp_path / SECRETS_FILE).mkdir()
    with pytest.raises(ConfigError, match="cannot read"):
        ensure_credentials(Config(data_dir=str(tmp_path)))
    assert (tmp_path / SECRETS_FILE).is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == [SECRETS_FILE]


def test_serve_with_a_malformed_secrets_file_exits_non_zero_with_a_clear_error(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / SECRETS_FILE).write_text('{"api_key": "old-key-the-bridges-use"')
    served = Served(tmp_path)
    try:
        assert served.process.wait(timeout=30) == 1
    finally:
        served.stop()
    assert "secrets.json is not a JSON object" in served.log_path.read_text()
    assert (data / SECRETS_FILE).read_text() == '{"api_key": "old-key-the-bridges-use"'


def test_secrets_are_written_through_a_fresh_file_never_a_planted_symlink(tmp_path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("someone else's file")
    data = tmp_path / "data"
    data.mkdir()
    for name in ("secrets.tmp", ".secrets.json.tmp"):
        (data / name).symlink_to(victim)
    config = ensure_credentials(Config(data_dir=str(data)))
    assert victim.read_text() == "someone else's file"
    assert json.loads((data / SECRETS_FILE).read_text())["api_key"] == config.api_key
    assert not (data / SECRETS_FILE).is_symlink()


def _admin_add(monkeypatch: pytest.MonkeyPatch, data: Path) -> None:
    monkeypatch.setenv("AGROCHAT_DATA_DIR", str(data))
    monkeypatch.delenv("AGROCHAT_DATABASE_URL", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("tierra-fertil-2026\n"))
    assert main(["admin", "add", "ana", "--password-stdin"]) == 0


def test_data_dir_and_database_are_created_private(
    tmp_path, monkeypatch: pytest.MonkeyPatch, usual_umask: None, cheap_password_hashes: None
) -> None:
    data = tmp_path / "data"
    _admin_add(monkeypatch, data)
    assert mode(data) == 0o700
    database = data / "agrochat.db"
    assert mode(database) == 0o600
    for sidecar in data.glob("agrochat.db-*"):  # SQLite's -wal and -shm copy the file's mode
        assert mode(sidecar) == 0o600


def test_a_world_readable_data_dir_and_database_are_made_private(
    tmp_path, monkeypatch: pytest.MonkeyPatch, usual_umask: None, cheap_password_hashes: None
) -> None:
    data = tmp_path / "data"
    _admin_add(monkeypatch, data)
    data.chmod(0o755)
    for path in data.glob("agrochat.db*"):
        path.chmod(0o644)
    _admin_add(monkeypatch, data)
    assert mode(data) == 0o700
    assert {p.name: mode(p) for p in data.glob("agrochat.db*")} == {
        p.name: 0o600 for p in data.glob("agrochat.db*")
    }
