from __future__ import annotations

import pytest

from agrochat.errors import Unprocessable
from agrochat.persistence import AdminStore, Database


def test_admin_password_is_verified_and_stored_hashed(database: Database) -> None:
    store = AdminStore(database)
    store.set_password("maria", "correct horse battery")
    assert store.verify("maria", "correct horse battery")
    assert not store.verify("maria", "wrong password!!")
    assert not store.verify("nobody", "correct horse battery")
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
