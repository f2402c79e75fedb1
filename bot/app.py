"""The composition root: builds everything from Settings, starts and stops it in order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from bot.config import SLIP_LINES, Settings
from bot.form_setting import refuse_unknown_form
from bot.logs import remember_all
from handlers.admin.apikeys import ApiKeyHandler
from handlers.admin.invites import Roles
from handlers.admin.units import UnitHandler
from handlers.calendar import WorkCalendar
from handlers.chat.dispatcher import ChatDispatcher
from handlers.citizen.invitations import InvitationHandler
from handlers.citizen.ratings import RatingHandler
from handlers.clock import Clock, as_clock
from handlers.context import Policy, QuietHours, Services, utc_now
from handlers.intake.dossiers import DossierHandler
from handlers.leader.digest.digests import Digests, digest_time
from handlers.leader.digest.figures import Targets
from handlers.leader.reporting import Reporter
from handlers.leader.reports import PeriodReports
from handlers.leader.workbook.process import WorkbookBuilder
from handlers.limits import ChatGuard
from handlers.staff.alerts import Alerts
from handlers.staff.apologies import Apologies
from handlers.texts import Texts
from storage import schema_state
from storage.db import Database
from survey_forms.catalog import Catalog

if TYPE_CHECKING:
    from bot.metrics import Metrics


class App:
    """Everything the product is made of, wired once. Constructing it reads forms and wording, no more."""

    def __init__(self, settings: Settings, *, clock: Clock | Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        remember_all(settings.secret_values())  # never in a log line or an error message
        catalog = Catalog.load(*([settings.forms_dir] if settings.forms_dir else []))
        refuse_unknown_form(settings.survey_form, catalog)
        policy = Policy(
            timezone=settings.zone,
            default_form=settings.survey_form,
            survey_delay=timedelta(minutes=settings.survey_delay_minutes),
            quiet_hours=QuietHours.parse(settings.quiet_hours),
            retention_days=settings.retention_days,
            zns_rating_template=settings.zns_rating_template_id if settings.zalo_oa_enabled else None,
            zns_apology_template=settings.zns_apology_template_id if settings.zalo_oa_enabled else None,
            public_url=settings.public_url,
            apology_signer_name=settings.apology_signer_name,
            apology_number_symbol=settings.apology_number_symbol,
            apology_warn_working_days=settings.apology_warn_working_days,
            # the slip's lines set (SIPAS_APOLOGY_*); the others are the slip catalog's, Policy's defaults
            **{line: value for line in SLIP_LINES if (value := getattr(settings, line)) is not None},
            digest_time=digest_time(settings.digest_time),
        )
        calendar = WorkCalendar.load(settings.holidays_file)
        self.wakeup = asyncio.Event()
        self.services = Services(
            database=Database(settings.database_url, pool_size=settings.database_pool_size),
            catalog=catalog,
            texts=Texts.load(),
            policy=policy,
            clock=as_clock(clock),
            on_commit=self.wakeup.set,
            calendar=calendar,
            guard=ChatGuard(
                free=settings.chat_guess_free,
                interval=settings.chat_guess_interval,
                lock_after=settings.chat_guess_lock_after,
                lock_seconds=settings.chat_guess_lock_minutes * 60,
            ),
        )
        self.digests = Digests(self.services, Targets(settings.target_satisfaction, settings.target_on_time))
        self.targets = self.digests.goals
        self.citizens = ChatDispatcher(self.services, self.digests)
        self.dossiers = DossierHandler(self.services)
        self.invitations = InvitationHandler(self.services)
        self.ratings = RatingHandler(self.services)
        self.reporter = Reporter(self.services)
        self.units = UnitHandler(self.services)
        self.api_keys = ApiKeyHandler(self.services)
        self.apologies = Apologies(self.services)
        self.roles = Roles(self.services)
        self.alerts = Alerts(self.services)
        self.workbooks = WorkbookBuilder()  # its worker process, if a big workbook started one, ends with close()
        self.period_reports = PeriodReports(self.services, self.digests, self.workbooks)
        self.channel_states: dict[str, Callable[[], str]] = {}  # for /healthz: "ok", or what is wrong
        self.holding: Callable[[], bool] = lambda: False  # whether this instance delivers (set by the service)
        self.heartbeat_seconds: float | None = None  # set by the service: /healthz then checks the deliverer's
        self.bot_username: str | None = None  # the Telegram bot's username, known once the channel has started

    @cached_property
    def metrics(self) -> Metrics:
        """The service's metrics (prometheus_client loads with them: a command at the terminal needs none)."""
        from bot.metrics import Metrics

        return Metrics()

    async def load_attachment(self, reference: dict[str, Any]) -> bytes | None:
        """The bytes of a reply's attachment (the printable apology slip), for the channels that send files."""
        if reference.get("kind") == "apology_slip" and isinstance(reference.get("apology_id"), int):
            return await self.apologies.slip_pdf(reference["apology_id"])
        if reference.get("kind") == "file" and isinstance(reference.get("file_id"), int):
            async with self.services.uow(read_only=True) as uow:
                found = await uow.files.content(file_id=reference["file_id"])
            return found[1] if found else None
        return None

    async def start(self) -> None:
        """Bring the database schema up to date (Alembic is loaded only when there is something to migrate)."""
        await schema_state.bring_up_to_date(self.services.database)

    async def close(self) -> None:
        """Release the database connections and the workbooks' worker process."""
        self.workbooks.close()
        await self.services.database.close()
