"""Routes of this module are added by the issue that owns them."""

from __future__ import annotations

import bottle

from agrochat.http._context import AppContext


def install(app: bottle.Bottle, ctx: AppContext) -> None:
    """No routes yet."""
