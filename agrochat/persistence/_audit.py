"""The audit trail: who changed what, written in the same transaction as the change."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from agrochat.persistence._database import Database, utcnow
from agrochat.persistence._schema import audit


def record_audit(
    db: Database,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> None:
    """One audit row; inside a caller's ``db.tx()`` it commits (or not) with the change."""
    with db.tx() as conn:
        conn.execute(
            audit.insert().values(
                at=now or utcnow(),
                actor=actor[:64],
                action=action[:64],
                target=target[:200] if target else None,
                details=json.dumps(details, ensure_ascii=False) if details is not None else None,
            )
        )
