"""What belongs together is committed together (issue 12, item 12): a reply (its inbound message
marked answered) and its outbox row; a profile edit in the panel and its audit row. The failure
is injected by the database itself (a trigger that refuses the second write), and the gateway is
told only once the commit is visible to everyone. Both databases."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from agrochat.config import Config
from agrochat.messages import Send
from agrochat.persistence import Database, MessageStore, ProducerStore
from tests.schema import audit, messages, outbox
from tests.session.conftest import PHONE, ConversationFactory, incoming

QUESTION = "¿Cada cuánto riego la papa?"
Refuse = Callable[[sa.Table], None]


@pytest.fixture
def conversations(database: Database, config: Config) -> ConversationFactory:
    return ConversationFactory(database, config)


@pytest.fixture
def refuse_inserts(database: Database) -> Iterator[Refuse]:
    """``refuse_inserts(table)``: from now on the database refuses rows for ``table``."""
    created: list[str] = []

    def refuse(table: sa.Table) -> None:
        name = f"refuse_{table.name}"
        with database.tx() as conn:
            if database.is_postgres:
                conn.execute(
                    sa.text(
                        "CREATE OR REPLACE FUNCTION refuse_insert() RETURNS trigger AS $$ "
                        "BEGIN RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql"
                    )
                )
                conn.execute(
                    sa.text(
                        f"CREATE TRIGGER {name} BEFORE INSERT ON {table.name} "
                        "FOR EACH ROW EXECUTE FUNCTION refuse_insert()"
                    )
                )
            else:
                conn.execute(
                    sa.text(
                        f"CREATE TRIGGER {name} BEFORE INSERT ON {table.name} "
                        "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                    )
                )
        created.append(name)

    yield refuse
    with database.tx() as conn:
        for name in created:
            table = name.removeprefix("refuse_")
            on = f" ON {table}" if database.is_postgres else ""
            conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {name}{on}"))


def _count(db: Database, table: sa.Table) -> int:
    with db.tx() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)


def test_a_reply_whose_outbox_row_cannot_be_written_is_not_stored_either(
    database: Database, conversations: ConversationFactory, refuse_inserts: Refuse
) -> None:
    told: list[Send] = []
    conversation = conversations(send=told.append)
    refuse_inserts(outbox)
    with pytest.raises(sa.exc.DBAPIError):
        conversation.handle(incoming(QUESTION, message_id="wamid.1", source="waha"))
    producer = ProducerStore(database).get(PHONE)
    assert producer is not None
    # The message was accepted (stored as received, answered on the next activation); no reply
    # without its outbox row, and the gateway heard of nothing.
    history = MessageStore(database).history(producer.id, limit=10).messages
    assert [(m.direction, m.status) for m in history] == [("in", "received")]
    assert _count(database, outbox) == 0 and told == []


def test_a_reply_and_its_outbox_row_are_committed_before_the_gateway_is_told(
    database: Database, conversations: ConversationFactory
) -> None:
    # Another connection (another process) sees the rows when the gateway is told.
    other = sa.create_engine(database.url)
    seen: list[tuple[int, int]] = []

    def send(message: Send) -> None:
        with other.connect() as conn:
            replies = conn.execute(
                sa.select(sa.func.count())
                .select_from(messages)
                .where(messages.c.direction == "out")
            ).scalar()
            rows = conn.execute(
                sa.select(sa.func.count())
                .select_from(outbox)
                .where(outbox.c.id == message.outbox_id)
            ).scalar()
        seen.append((int(replies or 0), int(rows or 0)))

    try:
        conversation = conversations(send=send)
        conversation.handle(incoming(QUESTION, message_id="wamid.1", source="waha"))
    finally:
        other.dispose()
    assert seen == [(1, 1)]


def test_a_profile_edit_whose_audit_row_cannot_be_written_changes_nothing(
    database: Database, conversations: ConversationFactory, refuse_inserts: Refuse
) -> None:
    conversation = conversations()
    conversation.update_form({"cultivo": "papa"}, source="admin", author="admin:ana")
    refuse_inserts(audit)
    with pytest.raises(sa.exc.DBAPIError):
        conversation.update_form(
            {"cultivo": "maíz", "distrito": "Jauja"}, source="admin", author="admin:ana"
        )
    producer = ProducerStore(database).get(PHONE)
    assert producer is not None
    assert ProducerStore(database).fields(producer.id) == {"cultivo": "papa"}


def test_a_profile_edit_in_the_panel_is_audited_with_what_it_changed(
    database: Database, conversations: ConversationFactory
) -> None:
    conversation = conversations()
    conversation.update_form({"cultivo": "papa"}, source="api")
    conversation.update_form({"cultivo": "maíz"}, source="admin", author="admin:ana")
    with database.tx() as conn:
        rows = conn.execute(sa.select(audit).order_by(audit.c.id)).all()
    producer = ProducerStore(database).get(PHONE)
    assert producer is not None
    assert [(r.actor, r.action, r.target) for r in rows] == [
        ("admin:ana", "producer.profile_update", f"producer:{producer.id}")
    ]
    assert rows[0].details == '{"fields": {"cultivo": "maíz"}, "before": {"cultivo": "papa"}}'
