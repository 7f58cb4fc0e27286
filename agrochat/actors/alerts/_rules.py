"""Daily rules: alerts made from producer data, written as data (``rules/*.json``), not code.

Two rules per crop:

- **Crop stage**: days after ``fecha_siembra`` give the stage; entering a stage creates one
  reminder for it.
- **Irrigation**: ``ultimo_riego`` plus the crop's interval; every full interval without a new
  ``ultimo_riego`` creates one reminder.

Each alert carries a ``rule_key`` naming the rule, the producer and the data it came from
(sowing date and stage, or irrigation date and interval count). The key is unique in the database,
so running the rules again (another tick, another day, a restart, a second process) never creates
an alert twice.
"""

from __future__ import annotations

import datetime as dt
import json
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agrochat.persistence import LEVELS, NewAlert
from agrochat.text import fold

RULES_DIR = Path(__file__).parent / "rules"
PROFILE_FIELDS = ("cultivo", "fecha_siembra", "ultimo_riego")
_PLACEHOLDERS = {"cultivo", "etapa", "dias", "fecha_siembra", "ultimo_riego", "dias_sin_riego"}


class RuleError(ValueError):
    """A rules file that cannot be used; says which file and which entry."""


def crop_key(name: str) -> str:
    """Crop names compared without case, accents or surrounding spaces ("Maíz " = "maiz")."""
    return fold(name)


@dataclass(frozen=True)
class Stage:
    name: str
    from_day: int
    level: str
    message: str


@dataclass(frozen=True)
class Irrigation:
    interval_days: int
    level: str
    message: str


@dataclass(frozen=True)
class CropRules:
    crop: str
    aliases: tuple[str, ...]
    cycle_days: int
    stages: tuple[Stage, ...]  # by from_day
    irrigation: Irrigation | None

    def stage_on(self, days: int) -> Stage | None:
        """The stage ``days`` after sowing; None before sowing or after the cycle."""
        if days < 0 or days >= self.cycle_days:
            return None
        current = None
        for stage in self.stages:
            if stage.from_day <= days:
                current = stage
        return current


@dataclass(frozen=True)
class RuleBook:
    crops: Mapping[str, CropRules]
    send_time_utc: dt.time = dt.time(12, 0)
    expires_after: dt.timedelta = dt.timedelta(hours=24)

    @classmethod
    def load(cls, paths: Iterable[Path] | None = None) -> RuleBook:
        """Read rule files (default: every ``rules/*.json`` of this package), checking them."""
        files = sorted(RULES_DIR.glob("*.json")) if paths is None else list(paths)
        crops: dict[str, CropRules] = {}
        send_time, expires = dt.time(12, 0), dt.timedelta(hours=24)
        for path in files:
            try:
                data = json.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise RuleError(f"{path}: {exc}") from None
            if not isinstance(data, dict):
                raise RuleError(f"{path}: expected a JSON object")
            if "send_time_utc" in data:
                try:
                    send_time = dt.time.fromisoformat(data["send_time_utc"])
                except (TypeError, ValueError):
                    raise RuleError(f"{path}: send_time_utc must be HH:MM") from None
            if "expires_after_hours" in data:
                expires = dt.timedelta(hours=_number(data["expires_after_hours"], path, "hours"))
            for name, spec in (data.get("crops") or {}).items():
                rules = _crop(name, spec, f"{path}: crops.{name}")
                for key in {crop_key(k) for k in (rules.crop, *rules.aliases)}:
                    if key in crops:
                        raise RuleError(f"{path}: crop {key!r} is defined twice")
                    crops[key] = rules
        return cls(crops=crops, send_time_utc=send_time, expires_after=expires)

    def crop(self, name: str) -> CropRules | None:
        return self.crops.get(crop_key(name))

    def alerts_for(
        self,
        *,
        producer_id: int,
        phone: str,
        profile: Mapping[str, str],
        now: dt.datetime,
    ) -> list[NewAlert]:
        """The alerts the rules give for one producer's profile today (maybe already created:
        their rule keys decide)."""
        crop = self.crop(profile.get("cultivo") or "")
        if crop is None:
            return []
        today = now.date()
        scheduled = max(now, dt.datetime.combine(today, self.send_time_utc))
        values: dict[str, Any] = {"cultivo": (profile.get("cultivo") or crop.crop).strip().lower()}
        result: list[NewAlert] = []

        sown = _date(profile.get("fecha_siembra"))
        stage = None
        if sown is not None:
            days = (today - sown).days
            stage = crop.stage_on(days)
            if days >= crop.cycle_days:
                # The season is over: no reminders about a crop that has been harvested.
                return []
            if stage is not None:
                values.update(etapa=stage.name, dias=days, fecha_siembra=sown.isoformat())
                result.append(
                    self._alert(
                        phone,
                        producer_id,
                        stage.level,
                        stage.message,
                        values,
                        scheduled,
                        f"etapa:{producer_id}:{crop.crop}:{sown.isoformat()}:{stage.name}",
                    )
                )

        watered = _date(profile.get("ultimo_riego"))
        if crop.irrigation is not None and watered is not None:
            dry_days = (today - watered).days
            cycles = dry_days // crop.irrigation.interval_days
            if cycles >= 1:
                values.update(ultimo_riego=watered.isoformat(), dias_sin_riego=dry_days)
                result.append(
                    self._alert(
                        phone,
                        producer_id,
                        crop.irrigation.level,
                        crop.irrigation.message,
                        values,
                        scheduled,
                        f"riego:{producer_id}:{crop.crop}:{watered.isoformat()}:{cycles}",
                    )
                )
        return result

    def _alert(
        self,
        phone: str,
        producer_id: int,
        level: str,
        template: str,
        values: Mapping[str, Any],
        scheduled: dt.datetime,
        rule_key: str,
    ) -> NewAlert:
        return NewAlert(
            phone=phone,
            producer_id=producer_id,
            message=string.Formatter().vformat(template, (), _Missing(values)),
            level=level,
            source="rule",
            scheduled_at=scheduled,
            expires_at=scheduled + self.expires_after,
            rule_key=rule_key[:200],
        )


class _Missing(dict[str, Any]):
    """Placeholders a rule uses but this alert has no value for render as empty text."""

    def __missing__(self, key: str) -> str:
        return ""


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _number(value: Any, path: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise RuleError(f"{path}: {what} must be a whole number above 0, got {value!r}")
    return value


def _level(value: Any, where: str) -> str:
    if value not in LEVELS:
        raise RuleError(f"{where}: level must be one of {', '.join(LEVELS)}, got {value!r}")
    return str(value)


def _message(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"{where}: message must be non-empty text")
    for _, field, _, _ in string.Formatter().parse(value):
        if field is not None and field not in _PLACEHOLDERS:
            raise RuleError(f"{where}: unknown placeholder {{{field}}} in message")
    return value


def _crop(name: str, spec: Any, where: str) -> CropRules:
    if not isinstance(spec, dict):
        raise RuleError(f"{where}: expected an object")
    cycle = _number(spec.get("cycle_days"), where, "cycle_days")
    stages = []
    for i, stage in enumerate(spec.get("stages") or []):
        at = f"{where}.stages[{i}]"
        if not isinstance(stage, dict) or not isinstance(stage.get("name"), str):
            raise RuleError(f"{at}: expected an object with a name")
        from_day = stage.get("from_day")
        if isinstance(from_day, bool) or not isinstance(from_day, int) or from_day < 0:
            raise RuleError(f"{at}: from_day must be a whole number from 0")
        stages.append(
            Stage(
                name=stage["name"],
                from_day=from_day,
                level=_level(stage.get("level", "baja"), at),
                message=_message(stage.get("message"), at),
            )
        )
    stages.sort(key=lambda s: s.from_day)
    if len({s.from_day for s in stages}) != len(stages):
        raise RuleError(f"{where}: two stages start on the same day")
    irrigation = None
    if spec.get("irrigation") is not None:
        at = f"{where}.irrigation"
        raw = spec["irrigation"]
        if not isinstance(raw, dict):
            raise RuleError(f"{at}: expected an object")
        irrigation = Irrigation(
            interval_days=_number(raw.get("interval_days"), at, "interval_days"),
            level=_level(raw.get("level", "media"), at),
            message=_message(raw.get("message"), at),
        )
    aliases = spec.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise RuleError(f"{where}: aliases must be a list of names")
    return CropRules(
        crop=name,
        aliases=tuple(aliases),
        cycle_days=cycle,
        stages=tuple(stages),
        irrigation=irrigation,
    )
