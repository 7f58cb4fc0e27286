"""Several agrochat processes on one database: each process's heartbeat row, and the leases
that let one process at a time own a WAHA session's event stream (the others stand by)."""

from agrochat.actors.membership._actor import MembershipActor
from agrochat.actors.membership._membership import (
    ALIVE_BEATS,
    Facts,
    Membership,
    give_up_margin_s,
    new_process,
)
from agrochat.actors.membership._metrics import render_metrics
from agrochat.actors.membership._ownership import Changes, Ownership, lease_name

__all__ = [
    "ALIVE_BEATS",
    "Changes",
    "Facts",
    "Membership",
    "MembershipActor",
    "Ownership",
    "give_up_margin_s",
    "lease_name",
    "new_process",
    "render_metrics",
]
