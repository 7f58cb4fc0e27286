"""Admins and their login sessions, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from agrochat.errors import Unprocessable
from agrochat.persistence import AdminSessionStore, AdminStore, Database

DAY = dt.datetime(2026, 9, 15, 8, 0)


def test_admin_password_is_verified_and_stored_hashed(database: Database) -> None:
    store = AdminStore(database)
    store.set_password("maria", "correct horse battery")
    assert store.verify("maria", "correct horse battery") is not None
    assert store.verify("maria", "wrong password!!") is None
    assert store.verify("nobody", "correct horse battery") is None
    with database.tx():
        row = database.table("admins").find_one(username="maria")
    assert "correct horse" not in row["password_hash"]
    assert row["password_hash"].startswith("$argon2")
    assert row["last_login_at"] is not None


def test_setting_a_password_again_replaces_it(database: Database) -> None:
    store = AdminStore(database)
    store.set_password("maria", "first password")
    store.set_password("maria", "second password")
    assert store.verify("maria", "second password")
    assert not store.verify("maria", "first password")
    with database.tx():
        assert database.table("admins").count() == 1


def test_short_password_is_refused_and_nothing_stored(database: Database) -> None:
    with pytest.raises(Unprocessable):
        AdminStore(database).set_password("maria", "short")
    with database.tx():
        assert database.table("admins").count() == 0


def _admin(database: Database, username: str = "ana") -> int:
    store = AdminStore(database)
    store.set_password(username, "tierra-fertil-2026")
    admin_id = store.verify(username, "tierra-fertil-2026")
    assert admin_id is not None
    return admin_id


@pytest.mark.usefixtures("cheap_password_hashes")
def test_sessions_live_until_idle_or_absolute_expiry_and_end(database: Database) -> None:
    admin_id = _admin(database)
    sessions = AdminSessionStore(
        database, idle=dt.timedelta(minutes=30), absolute=dt.timedelta(hours=1)
    )
    token = sessions.create(admin_id, ip="127.0.0.1", user_agent="x" * 500, now=DAY)
    session = sessions.lookup(token, now=DAY + dt.timedelta(minutes=29))
    assert session is not None and session.actor == "admin:ana"
    assert session.expires_at == DAY + dt.timedelta(minutes=59)
    assert sessions.lookup(token, now=DAY + dt.timedelta(minutes=58)) is not None
    assert sessions.lookup(token, now=DAY + dt.timedelta(minutes=61)) is None
    other = sessions.create(admin_id, now=DAY)
    kept = sessions.lookup(other, now=DAY)
    assert kept is not None
    assert sessions.end_others(admin_id, keep=kept.id) == 1
    sessions.end(kept.id)
    assert sessions.lookup(other, now=DAY) is None


@pytest.mark.usefixtures("cheap_password_hashes")
def test_idle_expiry_slides_with_use_but_never_past_the_absolute_limit(
    database: Database,
) -> None:
    sessions = AdminSessionStore(
        database, idle=dt.timedelta(minutes=30), absolute=dt.timedelta(hours=2)
    )
    token = sessions.create(_admin(database), now=DAY)
    assert sessions.lookup(token, now=DAY + dt.timedelta(minutes=31)) is None  # idle too long
    for minutes in range(20, 120, 20):  # used every 20 minutes: stays alive
        assert sessions.lookup(token, now=DAY + dt.timedelta(minutes=minutes)) is not None
    assert sessions.lookup(token, now=DAY + dt.timedelta(minutes=119)) is not None
    assert sessions.lookup(token, now=DAY + dt.timedelta(minutes=121)) is None  # absolute
    assert sessions.lookup("a-token-nobody-was-given") is None


def test_a_new_password_ends_the_admins_sessions_but_the_one_kept(database: Database) -> None:
    admins, sessions = AdminStore(database), AdminSessionStore(database)
    admins.set_password("maria", "first password")
    admins.set_password("jose", "jose's password")
    maria = admins.verify("maria", "first password")
    jose = admins.verify("jose", "jose's password")
    assert maria is not None and jose is not None
    kept, other = sessions.create(maria), sessions.create(maria)
    jose_token = sessions.create(jose)
    current = sessions.lookup(kept)
    assert current is not None
    assert admins.set_password("maria", "second password", keep_session=current.id) == 1
    assert sessions.lookup(kept) is not None and sessions.lookup(other) is None
    assert admins.set_password("maria", "third password") == 1  # a reset keeps none
    assert sessions.lookup(kept) is None
    assert sessions.lookup(jose_token) is not None


def test_removing_an_admin_ends_their_sessions(database: Database) -> None:
    admins, sessions = AdminStore(database), AdminSessionStore(database)
    admins.set_password("maria", "first password")
    maria = admins.verify("maria", "first password")
    assert maria is not None
    token = sessions.create(maria)
    assert admins.remove("maria") == 1
    assert sessions.lookup(token) is None
    assert admins.verify("maria", "first password") is None
    assert admins.remove("maria") is None
