"""ZNS ("ZBS Template Message", docs/CHANNELS.md, ZNS): approved templates sent by phone number.

The recipient is a phone number as 84xxxxxxxxx; the reply carries the template (id, data and a
``tracking_id`` that ties it to the invitation and stays the same across retries). The rating
template's answer comes back by the app's webhook as ``user_feedback`` — no phone, no user id, only
``tracking_id`` and ``msg_id`` — and is handed to the handlers; ``user_received_message`` marks the
delivery. A daily quota error waits for the next day (local midnight), it never loses the message.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from bot.channels.base import Delivery, json_object, platform_id
from bot.channels.zalo_api import EXPIRED_TOKEN, ZaloApi
from handlers.citizen.ratings import Rating, RatingHandler
from handlers.messages import Reply, storable

log = logging.getLogger(__name__)

NAME = "zns"
UNREACHABLE = (-108, -118, -139, -140, -141)  # phone invalid, no Zalo account, refused / not eligible
QUOTA = (-144, -147)  # the OA's or the template's daily quota


def until_next_day(now: datetime, zone: ZoneInfo) -> float:
    """Seconds from ``now`` to a minute after the next local midnight (when daily quotas reset)."""
    local = now.astimezone(zone)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=1, second=0, microsecond=0)
    return max(60.0, (midnight - local).total_seconds())


def _rate(value: object) -> int | None:
    """The stars of a rating: a whole number (or its digits) from 1 to 5."""
    if isinstance(value, str):
        text = value.strip()
        value = int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        return None
    return value


def _words(value: object) -> str | None:
    return storable(value).strip() or None if isinstance(value, str) else None


def rating_of(event: dict[str, Any]) -> Rating | None:
    """The rating a ``user_feedback`` event carries (fields in ``message``, or at the top level)."""
    message = json_object(event.get("message")) or event
    message_id = platform_id(message.get("msg_id") or event.get("msg_id"))
    rate = _rate(message.get("rate"))
    if message_id is None or rate is None:
        return None
    chips = message.get("feedbacks")
    return Rating(
        message_id=message_id,
        tracking_id=platform_id(message.get("tracking_id") or event.get("tracking_id")),
        rate=rate,
        chips=tuple(chip for chip in map(_words, chips) if chip) if isinstance(chips, list) else (),
        note=_words(message.get("note")),
    )


class ZnsChannel:
    """Template messages by phone number, with the OA's tokens."""

    name = NAME

    def __init__(self, api: ZaloApi, zone: ZoneInfo, url: str) -> None:
        self.api = api
        self.zone = zone
        self.url = url.rstrip("/") + "/message/template"

    async def start(self) -> None:
        """Nothing of its own: the Zalo OA channel's start loads the token pair both use."""

    async def stop(self) -> None:
        """Nothing of its own: the Zalo OA channel releases the client both use."""

    def health(self) -> str:
        """The shared token pair's state: ``ok``, ``reauthorise`` or ``no_tokens``."""
        return self.api.tokens.health()

    async def send(self, recipient: str, reply: Reply, *, replace: str | None = None) -> Delivery:
        """Send the reply's template to the phone number ``recipient``."""
        template = reply.template
        if not template or not template.get("template_id"):
            return Delivery("failed", error="ZNS sends templates only; this reply has none")
        body = {
            "phone": recipient,
            "template_id": template["template_id"],
            "template_data": template.get("data", {}),
            "tracking_id": template.get("tracking_id", ""),
        }
        try:
            answer = await self.api.post(self.url, body)
        except (aiohttp.ClientError, TimeoutError) as error:
            return Delivery("retry_later", error=str(error) or type(error).__name__)
        return self.outcome(answer)

    def outcome(self, answer: dict[str, Any]) -> Delivery:
        """The shared delivery outcome of a ZNS answer (docs/CHANNELS.md, five outcomes)."""
        code = answer.get("error")
        text = f"{code}: {answer.get('message')}"
        if code == 0:
            data = answer.get("data") or {}
            return Delivery("delivered", platform_message_id=str(data.get("msg_id") or ""))
        if code in EXPIRED_TOKEN:
            return Delivery("reauth", error=text)
        if code in UNREACHABLE:
            return Delivery("unreachable", error=text)
        if code in QUOTA:
            wait = until_next_day(self.api.services.clock(), self.zone)
            log.warning("ZNS daily quota reached; sending again in %.0f s", wait)
            return Delivery("retry_later", retry_after=wait, error=text)
        return Delivery("failed", error=text)  # -117, -249, bad template data: our side; parked


class ZnsEvents:
    """ZNS's events on the app's webhook: deliveries and ratings (chat events go to the OA channel)."""

    def __init__(self, ratings: RatingHandler) -> None:
        self.ratings = ratings

    async def __call__(self, event: dict[str, Any]) -> None:
        """Handle one verified event that is not a chat's."""
        name = event.get("event_name")
        if name == "user_feedback":
            rating = rating_of(event)
            if rating is None:
                log.warning("a ZNS rating without a rate or message id was ignored")
                return
            await self.ratings.record(NAME, rating)
        elif name == "user_received_message":
            message = json_object(event.get("message"))
            tracking = platform_id(message.get("tracking_id") or event.get("tracking_id"))
            if tracking:
                await self.ratings.delivered(NAME, tracking, platform_id(message.get("msg_id")) or "")
