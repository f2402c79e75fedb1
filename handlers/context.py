"""What every handler is given: the database, the forms, the wording, the rules, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from handlers.calendar import WorkCalendar
from handlers.clock import Clock, SystemClock, as_clock, utc_now
from handlers.limits import ChatGuard
from handlers.quiet_hours import QuietHours
from handlers.texts import Texts
from storage.db import Database
from storage.uow import UnitOfWork
from survey_forms.catalog import Catalog

__all__ = ["Clock", "Policy", "QuietHours", "Services", "slip_line", "utc_now"]

SLIP_LOCALE = "vi"  # Thông tư 01/2018/TT-VPCP: the apology slip is a Vietnamese official document


@cache
def _texts() -> Texts:
    return Texts.load()


def slip_line(key: str) -> str:
    """A line of the printed apology slip a deployment may set (SIPAS_APOLOGY_*), as the slip catalog ships it.

    In Vietnamese, the slip's language by law; ``{unit}`` is left for the issuing unit's name.
    """
    return _texts()(SLIP_LOCALE, f"slip.{key}", unit="{unit}")


@dataclass(frozen=True)
class Policy:
    """The product's rules as configured (README, "Configuration")."""

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Ho_Chi_Minh"))
    default_form: str = "sipas-2022"
    survey_delay: timedelta = timedelta(minutes=60)
    quiet_hours: QuietHours | None = field(default_factory=lambda: QuietHours(time(21), time(7)))
    invitation_ttl: timedelta = timedelta(days=7)
    reminder_after: timedelta = timedelta(hours=24)
    retention_days: int = 365
    zns_rating_template: str | None = None  # set: invitations reach a phone by ZNS when no chat can be used
    zns_apology_template: str | None = None  # set: apologies also reach the phone by ZNS
    public_url: str = "http://127.0.0.1:8080"  # links people open (the printable slip)
    # the printed slip's lines a deployment may set; by default the slip catalog's (slip_line)
    apology_title: str = field(default_factory=lambda: slip_line("title"))
    # the issuing authority printed on the slip, "|" between lines, "{unit}" the issuing unit's name
    apology_authority: str = field(default_factory=lambda: slip_line("authority"))
    # the signature block's position lines: this one, then the next
    apology_signer: str = field(default_factory=lambda: slip_line("signer"))
    apology_signer_position: str = field(default_factory=lambda: slip_line("signer_position"))
    apology_signer_name: str = ""  # "" leaves the name blank, to be written in by hand
    apology_number_symbol: str = "PXL"  # the slip's number: "01/PXL"
    digest_time: time = time(7, 30)  # local time of the daily digest
    # apologies (docs/METHOD.md): the first at-risk warning this many working days before the last permitted
    # day is over (2: the day before it, then the day itself); the printed title of an error apology
    apology_warn_working_days: int = 2
    apology_error_title: str = field(default_factory=lambda: slip_line("error_title"))

    def local_date(self, moment: datetime) -> date:
        """The local calendar date of ``moment``."""
        return moment.astimezone(self.timezone).date()

    def digest_day(self, moment: datetime) -> date | None:
        """The local date of ``moment`` once that day's digest time has come; None before it (the sends wait)."""
        local = moment.astimezone(self.timezone)
        return local.date() if local.time() >= self.digest_time else None

    def day_start(self, day: date) -> datetime:
        """Local midnight starting ``day``, as UTC."""
        return datetime.combine(day, time(0), tzinfo=self.timezone).astimezone(UTC)

    def show(self, moment: datetime) -> str:
        """A moment as people read it: dd/mm/yyyy HH:MM local time."""
        return moment.astimezone(self.timezone).strftime("%d/%m/%Y %H:%M")

    def show_date(self, moment: datetime) -> str:
        """A moment's local date: dd/mm/yyyy."""
        return moment.astimezone(self.timezone).strftime("%d/%m/%Y")

    def allowed_at(self, moment: datetime) -> datetime:
        """The earliest moment at or after ``moment`` outside the quiet hours."""
        return self.quiet_hours.next_allowed(moment, self.timezone) if self.quiet_hours else moment

    def is_quiet(self, moment: datetime) -> bool:
        """Whether ``moment`` falls in the quiet hours."""
        return self.allowed_at(moment) != moment


@dataclass
class Services:
    """Shared by every handler; built once by the composition root."""

    database: Database
    catalog: Catalog
    texts: Texts
    policy: Policy = field(default_factory=Policy)
    clock: Clock = field(default_factory=SystemClock)  # calling it: now; a plain function is paced in real time
    on_commit: Callable[[], None] = lambda: None
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    guard: ChatGuard = field(default_factory=ChatGuard)  # guesses typed in chats, counted in this process
    # who acts when no chat or API key does, as the audit log names it: "service" for `sipasbot run`,
    # "cli:<operating-system user>" for the command line (set by bot.cli)
    actor: str = "service"

    def __post_init__(self) -> None:
        self.clock = as_clock(self.clock)

    def uow(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work."""
        return UnitOfWork(self.database, read_only=read_only, on_commit=self.on_commit)
