"""What more than one revision does with the rows it migrates: read a stored timestamp as Vietnam's local time.

Kept to what the revisions share word for word; a revision's schema steps stay written out in the revision.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def local_moment(value: object) -> datetime:
    """A timestamp as a revision reads it back, in Vietnam's time.

    SQLite hands timestamps back naive (or as text): they are stored in UTC.
    """
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(ZONE)
