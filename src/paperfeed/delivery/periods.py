"""Digest periods: which period a subscription is due for at a given moment.

A daily digest's period is named by the local date of its send slot
("daily:2026-11-23"), a weekly one by the ISO week of its slot
("weekly:2026-W48"). The slot is the subscriber's send hour on that date in
their time zone; a period is due once its slot has passed. Only the latest due
period is ever composed: after a long outage a subscriber gets one digest, not
a backlog of stale ones (its window still covers the latest papers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# How many days of papers each cadence's digest looks at, ending on the slot's
# date. Windows overlap a little on purpose (arXiv and HF list papers a day or
# two after their date); `sent_papers` keeps overlaps from repeating a paper.
WINDOW_DAYS = {"daily": 2, "weekly": 8}


@dataclass(frozen=True)
class Period:
    """One digest period of one subscription."""

    key: str
    slot_at: datetime  # when it becomes due (aware, UTC)
    first_day: date  # papers whose day lies in [first_day, last_day]
    last_day: date


def valid_timezone(name: str) -> bool:
    """Whether `name` is an IANA time zone this system knows."""
    if name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _slot(day: date, hour: int, tz: ZoneInfo) -> datetime:
    # fold=0 picks the first of two repeated local hours; a skipped (DST) hour
    # maps forward, so a slot always exists.
    local = datetime.combine(day, time(hour), tzinfo=tz)
    return local.astimezone(ZoneInfo("UTC"))


def due_period(
    cadence: str, send_hour: int, send_weekday: int, timezone: str, now: datetime
) -> Period:
    """The latest period of this schedule whose slot is at or before `now`."""
    tz = ZoneInfo(timezone)
    today = now.astimezone(tz).date()
    if cadence == "daily":
        day = today if _slot(today, send_hour, tz) <= now else today - timedelta(days=1)
        key = f"daily:{day.isoformat()}"
    elif cadence == "weekly":
        day = today - timedelta(days=(today.isoweekday() - send_weekday) % 7)
        if _slot(day, send_hour, tz) > now:
            day -= timedelta(days=7)
        year, week, _ = day.isocalendar()
        key = f"weekly:{year}-W{week:02d}"
    else:
        raise ValueError(f"unknown cadence {cadence!r}")
    first = day - timedelta(days=WINDOW_DAYS[cadence] - 1)
    return Period(key=key, slot_at=_slot(day, send_hour, tz), first_day=first, last_day=day)
