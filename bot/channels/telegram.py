"""The Telegram channel on python-telegram-bot 22: updates in, messages out, nothing else.

Updates become neutral ``Inbound`` events for the handlers; ``Reply`` values become messages with
inline keyboards (a survey question is edited in place). Every error the Bot API can give is mapped
to a shared delivery outcome (those conversions are ``bot.channels.telegram_wire``'s). An update is
handled — committed — before it is acknowledged: in polling mode the next ``getUpdates`` offset moves
past it only afterwards; in webhook mode the HTTP answer waits for it (a failure answers 500 and
Telegram delivers it again; the update id makes the second delivery change nothing).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from telegram import (
    Bot,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ApplicationBuilder

from bot.channels.base import AttachmentLoader, Delivery, no_attachments, secret_matches
from bot.channels.plain import with_links
from bot.channels.runtime import OK, Retry
from bot.channels.starting import CredentialsRefused
from bot.channels.telegram_http import AiohttpRequest
from bot.channels.telegram_wire import (
    EDIT_GONE,
    NAME,
    NOT_MODIFIED,
    outcome_of,
    render_keyboard,
    render_text,
    retry_seconds,
    to_inbound,
)
from bot.texts import say
from bot.web.server import error_response
from handlers.clock import Clock, SystemClock
from handlers.messages import Inbound, Outcome, Reply

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
POLL_TIMEOUT_SECONDS = 25
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret

InboundHandler = Callable[[Inbound], Awaitable[Outcome]]


@dataclass(frozen=True)
class TelegramConfig:
    """What the channel needs from the settings."""

    token: str
    api_url: str = "https://api.telegram.org/bot"
    mode: str = "polling"
    webhook_secret: str | None = None
    public_url: str = "http://127.0.0.1:8080"
    webhook_connections: int = 40
    timeout_seconds: float = 10.0

    @property
    def file_url(self) -> str:
        """The Bot API's file base, next to its method base."""
        base = self.api_url.rstrip("/")
        return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file"


async def send_file(bot: Bot, attachments: AttachmentLoader, chat_id: int, reply: Reply) -> Delivery | None:
    """A reply that carries a file: the document, its text as the caption; None when the file is gone."""
    attachment = reply.attachments[0]
    content = await attachments(attachment)
    if content is None:
        return None
    upload = InputFile(content, filename=str(attachment.get("filename") or "tep.pdf"))
    caption = reply.text[:1024] or None
    if str(attachment.get("media_type", "")).startswith("image/"):  # a chart: shown in the chat
        message = await bot.send_photo(chat_id=chat_id, photo=upload, caption=caption)
    else:
        message = await bot.send_document(chat_id=chat_id, document=upload, caption=caption)
    return Delivery("delivered", platform_message_id=str(message.message_id))


async def edit(
    bot: Bot, recipient: str, message_id: str, text: str, keyboard: InlineKeyboardMarkup | None
) -> Delivery | None:
    """Edit the message in place; None when it cannot be edited any more (then a new one is sent)."""
    try:
        result = await bot.edit_message_text(
            text=text,
            chat_id=int(recipient),
            message_id=int(message_id),
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
        )
    except BadRequest as error:
        lowered = str(error).lower()
        if NOT_MODIFIED in lowered:
            return Delivery("delivered", platform_message_id=message_id)
        if any(marker in lowered for marker in EDIT_GONE):
            return None
        raise
    edited_id = result.message_id if isinstance(result, Message) else int(message_id)
    return Delivery("delivered", platform_message_id=str(edited_id))


class TelegramChannel:
    """Telegram through python-telegram-bot's Application and Bot."""

    name = NAME

    def __init__(
        self,
        config: TelegramConfig,
        on_inbound: InboundHandler,
        attachments: AttachmentLoader = no_attachments,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()  # the flood wait and the poller's pauses
        self.on_inbound = on_inbound
        self.refused: Callable[[], None] = lambda: None  # a refused webhook delivery (metrics)
        self.attachments = attachments
        timeout = config.timeout_seconds
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(config.token)
            .base_url(config.api_url)
            .base_file_url(config.file_url)
            .updater(None)
            .request(AiohttpRequest(connections=32, timeout=timeout))
            .get_updates_request(AiohttpRequest(connections=2, timeout=timeout))
            .build()
        )
        self._chat_locks: dict[str, asyncio.Lock] = {}
        self._flood_until = 0.0  # after a 429, every request waits until then (Telegram limits the whole bot)

    def _flooded(self) -> float:
        """Seconds left of a flood wait (0 when none)."""
        return max(0.0, self._flood_until - self.clock.monotonic())

    def _note(self, error: TelegramError) -> None:
        if isinstance(error, RetryAfter):
            self._flood_until = max(self._flood_until, self.clock.monotonic() + retry_seconds(error))

    @property
    def bot(self) -> Bot:
        """The Bot API client."""
        bot: Bot = self.application.bot
        return bot

    @property
    def username(self) -> str:
        """The bot's @username (known after ``start``)."""
        return self.bot.username

    async def start(self) -> None:
        """Initialise (getMe); in webhook mode register our webhook, in polling mode make sure none is set.

        Tried again (``bot.channels.starting``) while Telegram cannot be reached: each step may run again.
        A refused token raises ``CredentialsRefused``, which names the setting and never the token.
        """
        try:
            await self.application.initialize()
        except InvalidToken:  # its text quotes the token: the operator gets the setting's name instead
            raise CredentialsRefused(say("cli.run.telegram_token_refused")) from None
        if not self.application.running:
            await self.application.start()
        if self.config.mode == "webhook":
            assert self.config.webhook_secret, "webhook mode needs a secret"
            await self.bot.set_webhook(
                url=self.config.public_url.rstrip("/") + WEBHOOK_PATH,
                secret_token=self.config.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
                max_connections=self.config.webhook_connections,
            )
        else:
            await self.bot.delete_webhook(drop_pending_updates=False)

    async def stop(self) -> None:
        """Release the HTTP clients."""
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    def health(self) -> str:
        """Nothing to report once started: ``ok``."""
        return OK

    # --- inbound

    async def process(self, update: Update) -> None:
        """Handle one update fully (committed), then acknowledge a button press."""
        inbound = to_inbound(update)
        if inbound is None:
            return
        lock = self._chat_locks.setdefault(inbound.identity.external_id, asyncio.Lock())
        async with lock:  # one chat's updates one after the other, whatever the webhook concurrency
            outcome = await self.on_inbound(inbound)
        if update.callback_query is not None:
            await self._answer_callback(update.callback_query.id, outcome.ack)

    async def _answer_callback(self, query_id: str, text: str | None) -> None:
        if self._flooded():  # the answer is a courtesy: Telegram clears the button's spinner by itself
            log.info("callback query not answered during a flood wait")
            return
        try:
            await self.bot.answer_callback_query(query_id, text=text)
        except BadRequest as error:  # a re-delivered update: the query was answered the first time
            log.info("callback query not answered: %s", error)
        except (NetworkError, RetryAfter) as error:
            self._note(error)
            log.warning("callback query not answered: %s", error)

    async def poll(self, stop: asyncio.Event) -> None:
        """Poll getUpdates until ``stop``; the offset moves past an update only once it is committed."""
        offset: int | None = None
        retry = Retry(self.clock)
        while not stop.is_set():
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT_SECONDS, allowed_updates=ALLOWED_UPDATES
                )
                for update in updates:
                    await self.process(update)
                    offset = update.update_id + 1
                retry.succeeded()
            except Conflict as error:
                log.error("another instance is polling this bot: %s", error)
                await retry.pause(stop, 5.0)
            except InvalidToken as error:
                log.error("Telegram refused the bot token: %s", error)
                await retry.pause(stop, 60.0)
            except (NetworkError, RetryAfter) as error:
                wait = retry.failed()
                wait = retry_seconds(error) if isinstance(error, RetryAfter) else wait
                log.warning("polling Telegram failed (%s); again in %.1f s", error, wait)
                await retry.pause(stop, wait)
            except Exception:  # a handler failure: the update stays unconfirmed and comes again
                log.exception("handling a Telegram update failed")
                await retry.after_failure(stop)

    def setup_webhook(self, web_app: web.Application) -> None:
        """Register ``POST /webhooks/telegram`` on our aiohttp server."""
        web_app.router.add_post(WEBHOOK_PATH, self._webhook)

    async def _webhook(self, request: web.Request) -> web.Response:
        if not secret_matches(request.headers.get(SECRET_HEADER, ""), self.config.webhook_secret):
            self.refused()  # counted: forged or misdirected deliveries
            return error_response(403, "forbidden", "wrong or missing secret token")
        raw = await request.read()  # a body over the size limit is a 413, answered by the middleware
        try:
            data = json.loads(raw)
            update = Update.de_json(data, self.bot) if isinstance(data, dict) else None
        except Exception:  # noqa: BLE001 - PTB's parsing raises whatever a malformed update provokes (OverflowError…)
            update = None
        if update is None:
            return error_response(400, "bad_request", "not a Telegram update")
        await self.process(update)
        return web.json_response({"ok": True})

    # --- outbound

    async def send(self, recipient: str, reply: Reply, *, replace: str | None = None) -> Delivery:
        """Send, or edit in place when ``replace`` names the thread's earlier message."""
        wait = self._flooded()
        if wait:
            return Delivery("retry_later", retry_after=wait, error="waiting for Telegram's flood control")
        text = render_text(reply)
        keyboard = render_keyboard(reply.options)
        try:
            if replace is not None:
                edited = await edit(self.bot, recipient, replace, text, keyboard)
                if edited is not None:
                    return edited
            markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = keyboard
            if reply.request_contact and keyboard is None:
                markup = ReplyKeyboardMarkup(
                    [[KeyboardButton(reply.request_contact, request_contact=True)]],
                    resize_keyboard=True,
                    one_time_keyboard=True,
                )
            if reply.attachments:
                sent = await send_file(self.bot, self.attachments, int(recipient), reply)
                if sent is not None:
                    return sent
                text = render_text(with_links(reply))  # the file cannot be read: its link instead
            message = await self.bot.send_message(
                chat_id=int(recipient), text=text, parse_mode=ParseMode.HTML, reply_markup=markup
            )
            return Delivery("delivered", platform_message_id=str(message.message_id))
        except TelegramError as error:
            self._note(error)
            return outcome_of(error)
        except ValueError as error:  # a recipient that is not a chat id
            return Delivery("unreachable", error=str(error))
