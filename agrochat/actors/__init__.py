"""The actors, each a thin shell around plain logic (the Mopidy pattern), and what they share."""

from agrochat.actors._common import ActorId, Peers, Ticker, tell

__all__ = ["ActorId", "Peers", "Ticker", "tell"]
