"""``agrochat serve`` killed with SIGKILL between storing a reply and sending it: on restart the
reply goes out, once. A real process against the fake WAHA on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa

from tests._served import Served
from tests.schema import outbox
from tests.whatsapp.fake_waha import API_KEY, FakeWaha, chat_of

ROSA = "51987654321"


def _pending_rows(database: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            query = sa.select(sa.func.count()).where(outbox.c.status == "pending")
            return int(conn.execute(query.select_from(outbox)).scalar() or 0)
    except sa.exc.OperationalError:  # not created yet
        return 0
    finally:
        engine.dispose()


def test_a_reply_stored_but_not_sent_when_killed_goes_out_once_after_restart(
    tmp_path: Path, fake_waha: FakeWaha
) -> None:
    env = {
        "AGROCHAT_WHATSAPP": "waha",
        "AGROCHAT_WAHA_URL": fake_waha.url,
        "AGROCHAT_WAHA_API_KEY": API_KEY,
        "AGROCHAT_MODEL_PATH": str(tmp_path / "no-model.gguf"),
        "AGROCHAT_API_KEY": "k" * 24,
        "AGROCHAT_OPERATOR_TOKEN": "o" * 24,
    }
    first = Served(tmp_path, **env)
    try:
        first.first_health(timeout_s=30)
        assert fake_waha.wait_connected(timeout_s=30)
        # The start's catch-up is done before WAHA turns slow.
        assert fake_waha.wait_until(
            lambda: bool(fake_waha.calls_to("/api/default/chats/overview")), timeout_s=30
        )
        # WAHA hangs on every call now: the WhatsApp actor is stuck on the read receipt while
        # the session stores its reply and the outbox row behind it.
        fake_waha.delay_s = 60
        fake_waha.push_message(ROSA, "¿Cómo controlo la rancha en mi papa?")
        database = first.data_dir / "agrochat.db"
        deadline = time.monotonic() + 30
        while _pending_rows(database) == 0:
            # Another process's database: nothing to wait on but the file itself.
            assert time.monotonic() < deadline, first.log_path.read_text()
            time.sleep(0.05)
        first.kill()
    finally:
        if first.process.poll() is None:
            first.kill()
    assert fake_waha.sent_texts == []

    fake_waha.delay_s = 0
    second = Served(tmp_path, log_name="serve-after-kill.log", **env)
    try:
        assert fake_waha.wait_sent(1, timeout_s=60), second.log_path.read_text()
        # A later message's answer follows the recovered one; nothing is sent twice.
        fake_waha.push_message(ROSA, "gracias")
        assert fake_waha.wait_sent(2, timeout_s=30)
        texts = [s["text"] for s in fake_waha.sent_texts if s["chatId"] == chat_of(ROSA)]
        assert len(texts) == 2
        assert "rancha" in texts[0].lower() and texts[1].startswith("¡De nada")
    finally:
        assert second.stop() == 0
