"""agrochat: a WhatsApp agricultural advisor for small producers, as one actor-based process."""

__version__ = "0.1.0"
