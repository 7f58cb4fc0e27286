"""Which actors agrochat runs and how each is built: the child specs, in dependency order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agrochat.supervisor import ChildSpec

if TYPE_CHECKING:
    from agrochat.app import Agrochat


def children(app: Agrochat) -> list[ChildSpec]:
    return []
