"""Alerts: the scheduler actor, its dispatcher logic and the daily rules (data in rules/)."""

from agrochat.actors.alerts._actor import AlertSchedulerActor
from agrochat.actors.alerts._dispatcher import AlertDispatcher, Push, TickReport, backoff
from agrochat.actors.alerts._rules import CropRules, RuleBook, RuleError, Stage, crop_key

__all__ = [
    "AlertDispatcher",
    "AlertSchedulerActor",
    "CropRules",
    "Push",
    "RuleBook",
    "RuleError",
    "Stage",
    "TickReport",
    "backoff",
    "crop_key",
]
