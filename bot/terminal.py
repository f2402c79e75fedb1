"""Chatting with the bot in a terminal: `sipasbot shell --as citizen` and `sipasbot demo`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError

from bot.app import App
from bot.channels.console import ConsoleChannel
from bot.config import DEMO_DATABASE_URL
from bot.keyboard import Interrupted, Keyboard, Left
from bot.texts import current_locale, say
from handlers.intake.dossiers import ContactInput, DossierInput
from handlers.leader.reporting import Period, render_text
from handlers.messages import Identity, Inbound, InboundKind, Reply
from storage.values import OutboxMessage

DEMO_UNIT_CODE = "DEMO"  # the sample unit; its name is the catalog's, in the language of the demo's first run
DEFAULT_USERS = {"citizen": "console", "staff": "console-staff", "leader": "console-leader"}  # without --user
WATCH_SECONDS = 0.5  # how often an open shell looks for what the service sent

log = logging.getLogger(__name__)


class TerminalChat:
    """One console chat: what is typed goes through the handlers; what the chat is sent is printed.

    What the chat is sent waits in the console's inbox (``storage.console_inbox``): queued by this
    process, or by `sipasbot run` (an invitation, a digest, an officer's answer) and kept there for the
    shell. Each message is printed once, by whichever shell claims it first.
    """

    def __init__(self, app: App, user: str, stdin: TextIO, stdout: TextIO, files: Path | None = None) -> None:
        self.app = app
        self.identity = Identity("console", user)
        self.stdin = stdin
        self.stdout = stdout
        self.interactive = stdin.isatty()
        self.keyboard = Keyboard(stdin) if self.interactive else None
        self.console = ConsoleChannel(stdout, app.load_attachment, files or app.settings.files_dir)
        self.prompting = False  # "> " is shown and a line awaited: what arrives meanwhile goes above a new one
        self._showing = asyncio.Lock()  # one claim-and-print at a time: the reader's, or the watcher's

    def print(self, text: str) -> None:
        """Show a line that is not a bot message."""
        self.stdout.write(text + "\n")
        self.stdout.flush()

    async def send(self, kind: InboundKind, text: str = "", value: str = "") -> None:
        """Act as the person: type ``text`` or press the button ``value``; show what the bot answers."""
        # a new chat speaks the run's language (--lang, SIPAS_LANG), as a Telegram chat its app's; a known one its own
        inbound = Inbound(
            self.identity,
            event_id=uuid.uuid4().hex,
            kind=kind,
            text=text,
            value=value,
            locale_hint=current_locale(),
        )
        await self.app.citizens.handle(inbound)
        await self.deliver()

    async def deliver(self) -> int:
        """Print every message waiting for this chat, oldest first; how many were printed."""
        services, shown = self.app.services, 0
        async with self._showing:
            while True:
                async with services.uow(read_only=True) as uow:
                    batch = await uow.console_inbox.to_show(self.identity.external_id, services.clock())
                if not batch:
                    break
                for message in batch:
                    shown += await self._show(message)
        if shown and self.prompting:
            self._prompt()
        return shown

    async def open(self) -> None:
        """What came while the shell was closed; else the survey question still waiting for an answer, again."""
        if await self.deliver():
            return
        services, user = self.app.services, self.identity.external_id
        async with services.uow(read_only=True) as uow:
            found = await uow.chats.with_survey(self.identity.channel, user)
            survey = found.invitation if found is not None else None
            if survey is None or survey.cursor is None:
                return
            # a survey's questions are one thread (handlers.citizen.survey.render_question): its latest is the one asked
            asked = await uow.console_inbox.last_shown(user, f"survey:{survey.id}")
        if asked is not None:
            await self.console.send(user, Reply.from_payload(asked.payload))

    async def _show(self, message: OutboxMessage) -> bool:
        """Claim ``message`` and print it; False when another shell of the same chat printed it."""
        services = self.app.services
        async with services.uow() as uow:
            claimed = await uow.console_inbox.claim(message, services.clock())
            await uow.commit()
        if not claimed:
            return False
        reply = Reply.from_payload(message.payload)
        await self.console.send(message.recipient, reply)
        if reply.forget:  # the last word to an erased chat: nothing kept once it is shown
            async with services.uow() as uow:
                await uow.erasure.forget_message(message.id)
                await uow.commit()
        return True

    async def watch(self, stop: asyncio.Event) -> None:
        """Until ``stop``: print what arrives while the person reads or types — no Enter needed."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=WATCH_SECONDS)
            try:
                await self.deliver()
            except (SQLAlchemyError, OSError) as error:  # the database is busy or away: look again later
                log.warning("console inbox not read: %s", type(error).__name__)

    def _prompt(self) -> None:
        self.stdout.write("> ")
        self.stdout.flush()

    async def read_line(self) -> str | None:
        """The next line typed (None at the end of input); at a terminal, ``Interrupted`` on Ctrl-C."""
        if self.keyboard is not None:
            self._prompt()
            self.prompting = True
            try:
                return await self.keyboard.read_line()
            finally:
                self.prompting = False
        line = await asyncio.to_thread(self.stdin.readline)
        if not line:
            return None
        line = line.rstrip("\r\n")
        self.print(f"> {line}")
        return line

    @contextlib.contextmanager
    def ctrl_c(self) -> Iterator[None]:
        """At a terminal, Ctrl-C is this chat's while inside (else it interrupts the command as usual)."""
        if self.keyboard is None:
            yield
            return
        self.keyboard.listen()
        try:
            yield
        finally:
            self.keyboard.release()

    async def interrupted(self) -> None:
        """Ctrl-C: the first ends what is in progress (a staff draft is dropped), a second in a row leaves."""
        assert self.keyboard is not None
        if self.keyboard.interrupts >= 2:
            self.print("\n" + say("cli.shell.left"))
            raise Left
        services = self.app.services
        async with services.uow() as uow:
            chat = await uow.chats.get(self.identity.channel, self.identity.external_id)
            draft = await uow.drafts.get(chat.id) if chat is not None else None
            if chat is not None and draft is not None:
                await uow.drafts.drop(chat.id)
                await uow.commit()
        self.print("\n" + say("cli.shell.flow_ended" if draft is not None else "cli.shell.interrupted"))


async def run_shell(
    app: App,
    user: str | None,
    stdin: TextIO,
    stdout: TextIO,
    *,
    role: str = "citizen",
    unit: str | None = None,
    officer_name: str | None = None,
    files: Path | None = None,
) -> None:
    """Talk to the bot as a citizen (or as a staff member or leader of ``unit``) until the input ends.

    Without ``user`` each role has a chat of its own (``DEFAULT_USERS``): trying the staff shell never
    makes the citizen's chat an officer's. What the service sends meanwhile is printed as it arrives.

    The one at the terminal holds the database: a staff or leader shell joins with a fresh one-time
    code, through the same handlers (and audit log) as a chat would. Attachments are written to ``files``
    (default ``SIPAS_FILES_DIR``).
    """
    user = user or DEFAULT_USERS[role]
    chat = TerminalChat(app, user, stdin, stdout, files)
    if role == "citizen":
        chat.print(app.services.texts(current_locale(), "shell.banner", user=user))
    else:
        assert unit is not None
        code = await app.roles.invite(role, unit, officer_name=officer_name, days=1)
        role_name = app.services.texts(current_locale(), f"role.{role}")
        chat.print(app.services.texts(current_locale(), "shell.banner_staff", user=user, role=role_name, unit=unit))
        await chat.send("text", f"/join {code}")
    await chat.open()  # what came while the shell was closed, or the question that waits
    stop = asyncio.Event()
    watching = asyncio.create_task(chat.watch(stop), name="console-inbox")
    try:
        with chat.ctrl_c():
            while True:
                try:
                    line = await chat.read_line()
                except Interrupted:
                    await chat.interrupted()
                    continue
                if line is None:
                    break
                await chat.send("text", line)
    finally:
        stop.set()  # a message being printed is finished: never claimed and left unprinted
        await watching


async def run_demo(app: App, stdin: TextIO, stdout: TextIO) -> None:
    """A returned sample dossier, the survey played in the terminal, then the unit's report."""
    services, texts = app.services, app.services.texts
    unit = await app.units.ensure(DEMO_UNIT_CODE, say("cli.demo.sample.unit"))
    now = services.clock()
    # the sample visit happens earlier today, so that today's report (this month to date) holds it,
    # even on the first of a month
    received_at = max(services.policy.day_start(services.policy.local_date(now)), now - timedelta(hours=2))
    returned_at = max(received_at, now - services.policy.survey_delay)
    async with services.uow(read_only=True) as uow:
        number = await uow.dossiers.count_for_unit(unit.id) + 1
    code = f"DEMO-{services.policy.local_date(now):%y%m%d}-{uuid.uuid4().hex[:6].upper()}"
    citizen = say("cli.demo.sample.citizen", number=number)
    result = await app.dossiers.upsert(
        DossierInput(
            code=code,
            unit=unit.code,
            procedure=say("cli.demo.sample.procedure"),
            field=say("cli.demo.sample.field"),
            applicant=ContactInput(name=citizen),
            received_at=received_at,
            due_at=now + timedelta(days=1),
            channel="truc_tiep",
        )
    )
    await app.dossiers.add_event(code, "result_ready", received_at + (returned_at - received_at) / 2)
    await app.dossiers.add_event(code, "returned", returned_at)

    user = f"demo-{number}-{code[-6:].lower()}"
    own = app.settings.database_url == DEMO_DATABASE_URL  # the demo's own file: the shell must be told to open it
    command = (
        f"{'SIPAS_DATABASE_URL=' + DEMO_DATABASE_URL + ' ' if own else ''}sipasbot shell --as citizen --user {user}"
    )
    chat = TerminalChat(app, user, stdin, stdout)
    chat.print(texts(current_locale(), "demo.intro", code=code, unit=unit.name, citizen=citizen, user=user))
    chat.print(f"> /start {result.dossier.optin_token}")
    await chat.send("text", f"/start {result.dossier.optin_token}")
    chat.print(texts(current_locale(), "demo.auto_consent"))
    await chat.send("choice", value="c:yes")
    survey_command = say("cli.demo.survey_command")
    chat.print(f"> {survey_command}")
    await chat.send("text", survey_command)
    with chat.ctrl_c():  # the first Ctrl-C ends the survey (kept, to go on with later) and shows the report
        while not await _completed(app, result.dossier.id):
            try:
                line = await chat.read_line()
            except Interrupted:
                chat.print("\n" + say("cli.demo.survey_stopped", command=command))
                break
            if line is None:
                chat.print("\n" + texts(current_locale(), "demo.stdin_ended", command=command))
                break
            await chat.send("text", line)
    report = await app.reporter.satisfaction(unit.code, Period.month_to_date(services.policy.local_date(now)))
    chat.print("\n" + render_text(report, services, current_locale()))
    if report["satisfaction"]["suppressed"]:
        chat.print(texts(current_locale(), "demo.report_note"))


async def _completed(app: App, dossier_id: int) -> bool:
    async with app.services.uow(read_only=True) as uow:
        invitation = await uow.invitations.for_dossier(dossier_id)
    return invitation is not None and invitation.status == "completed"
