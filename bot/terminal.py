"""Chatting with the bot in a terminal: `sipasbot shell --as citizen` and `sipasbot demo`."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from bot.app import App
from bot.channels.console import ConsoleChannel
from bot.keyboard import Interrupted, Keyboard, Left
from bot.outbox import Outbox
from bot.texts import current_locale, say
from handlers.dossiers import ContactInput, DossierInput
from handlers.messages import Identity, Inbound, InboundKind
from handlers.reporting import Period, render_text

DEMO_UNIT = ("DEMO", "Phường Mẫu (đơn vị trình diễn)")


class TerminalChat:
    """One console chat: what is typed goes through the handlers; replies come back through the outbox."""

    def __init__(self, app: App, user: str, stdin: TextIO, stdout: TextIO, files: Path | None = None) -> None:
        self.app = app
        self.identity = Identity("console", user)
        self.stdin = stdin
        self.stdout = stdout
        self.interactive = stdin.isatty()
        self.keyboard = Keyboard(stdin) if self.interactive else None
        console = ConsoleChannel(stdout, app.load_attachment, files or app.settings.files_dir)
        self.outbox = Outbox(app.services, {"console": console})

    def print(self, text: str) -> None:
        """Show a line that is not a bot message."""
        self.stdout.write(text + "\n")
        self.stdout.flush()

    async def send(self, kind: InboundKind, text: str = "", value: str = "") -> None:
        """Act as the person: type ``text`` or press the button ``value``; show what the bot answers."""
        inbound = Inbound(self.identity, event_id=uuid.uuid4().hex, kind=kind, text=text, value=value)
        await self.app.citizens.handle(inbound)
        await self.deliver()

    async def deliver(self) -> None:
        """Print every message waiting for this chat."""
        while await self.outbox.deliver_pending("console", recipient=self.identity.external_id):
            pass

    async def read_line(self) -> str | None:
        """The next line typed (None at the end of input); at a terminal, ``Interrupted`` on Ctrl-C."""
        if self.keyboard is not None:
            self.stdout.write("> ")
            self.stdout.flush()
            return await self.keyboard.read_line()
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
    user: str,
    stdin: TextIO,
    stdout: TextIO,
    *,
    role: str = "citizen",
    unit: str | None = None,
    officer_name: str | None = None,
    files: Path | None = None,
) -> None:
    """Talk to the bot as a citizen (or as a staff member or leader of ``unit``) until the input ends.

    The one at the terminal holds the database: a staff or leader shell joins with a fresh one-time
    code, through the same handlers (and audit log) as a chat would. Attachments are written to ``files``
    (default ``SIPAS_FILES_DIR``).
    """
    chat = TerminalChat(app, user, stdin, stdout, files)
    if role == "citizen":
        chat.print(app.services.texts(current_locale(), "shell.banner", user=user))
    else:
        assert unit is not None
        code = await app.roles.invite(role, unit, officer_name=officer_name, days=1)
        role_name = app.services.texts(current_locale(), f"role.{role}")
        chat.print(app.services.texts(current_locale(), "shell.banner_staff", user=user, role=role_name, unit=unit))
        await chat.send("text", f"/join {code}")
    await chat.deliver()
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


async def run_demo(app: App, stdin: TextIO, stdout: TextIO) -> None:
    """A returned sample dossier, the survey played in the terminal, then the unit's report."""
    services, texts = app.services, app.services.texts
    unit = await app.units.ensure(*DEMO_UNIT)
    now = services.clock()
    # the sample visit happens earlier today, so that today's report (this month to date) holds it,
    # even on the first of a month
    received_at = max(services.policy.day_start(services.policy.local_date(now)), now - timedelta(hours=2))
    returned_at = max(received_at, now - services.policy.survey_delay)
    async with services.uow(read_only=True) as uow:
        number = await uow.dossiers.count_for_unit(unit.id) + 1
    code = f"DEMO-{services.policy.local_date(now):%y%m%d}-{uuid.uuid4().hex[:6].upper()}"
    citizen = f"Người dân mẫu {number}"
    result = await app.dossiers.upsert(
        DossierInput(
            code=code,
            unit=unit.code,
            procedure="Chứng thực bản sao từ bản chính giấy tờ, văn bản",
            field="Chứng thực",
            applicant=ContactInput(name=citizen),
            received_at=received_at,
            due_at=now + timedelta(days=1),
            channel="truc_tiep",
        )
    )
    await app.dossiers.add_event(code, "result_ready", received_at + (returned_at - received_at) / 2)
    await app.dossiers.add_event(code, "returned", returned_at)

    user = f"demo-{number}-{code[-6:].lower()}"
    chat = TerminalChat(app, user, stdin, stdout)
    chat.print(texts(current_locale(), "demo.intro", code=code, unit=unit.name, citizen=citizen, user=user))
    chat.print(f"> /start {result.dossier.optin_token}")
    await chat.send("text", f"/start {result.dossier.optin_token}")
    chat.print(texts(current_locale(), "demo.auto_consent"))
    await chat.send("choice", value="c:yes")
    chat.print("> /khaosat")
    await chat.send("text", "/khaosat")
    with chat.ctrl_c():  # the first Ctrl-C ends the survey (kept, to go on with later) and shows the report
        while not await _completed(app, result.dossier.id):
            try:
                line = await chat.read_line()
            except Interrupted:
                chat.print("\n" + say("cli.demo.survey_stopped", user=user))
                break
            if line is None:
                chat.print("\n" + texts(current_locale(), "demo.stdin_ended", user=user))
                break
            await chat.send("text", line)
    report = await app.reporter.satisfaction(unit.code, Period.month_to_date(services.policy.local_date(now)))
    chat.print("\n" + render_text(report, services))
    if report["satisfaction"]["suppressed"]:
        chat.print(texts(current_locale(), "demo.report_note"))


async def _completed(app: App, dossier_id: int) -> bool:
    async with app.services.uow(read_only=True) as uow:
        invitation = await uow.invitations.for_dossier(dossier_id)
    return invitation is not None and invitation.status == "completed"
