"""The quiet hours: a daily window in which no unsolicited message goes to a citizen.

Apart from handlers/context.py so that the settings (bot/config.py), which check SIPAS_QUIET_HOURS, load it
without the database and the forms; ``handlers.context.QuietHours`` is the same class.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietHours:
    """A daily window (local time) in which no unsolicited message goes to a citizen; may wrap midnight."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        """``"21:00-07:00"`` → QuietHours; empty → None; ValueError when malformed."""
        text = text.strip()
        if not text:
            return None
        try:
            start_text, end_text = text.split("-")
            start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
        except ValueError:
            raise ValueError(f"expected HH:MM-HH:MM, got {text!r}") from None
        if start == end:
            raise ValueError("the quiet window starts and ends at the same time")
        return cls(start, end)

    def contains(self, local: time) -> bool:
        """Whether a local time of day falls inside the window."""
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_allowed(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """``moment`` itself, or the end of the quiet window it falls in (UTC)."""
        local = moment.astimezone(zone)
        if not self.contains(local.time().replace(tzinfo=None)):
            return moment
        end = datetime.combine(local.date(), self.end, tzinfo=zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=zone)
        return end.astimezone(UTC)
