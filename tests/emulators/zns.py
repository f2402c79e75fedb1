"""The ZNS ("ZBS Template Message") part of the Zalo OA emulator, for tests (loopback HTTP only).

Not used alone: ``ZaloOAEmulator`` composes one ``ZnsService`` as ``emu.zns`` and serves its routes under
``emu.zns_url`` (``…/business``) with the OA's access token (an expired one answers -124 here)::

    emu.zns.add_template("350001", params=[("ho_ten", 30), ("ma_ho_so", 30), ("ngay_tra", 20)], rating=True)
    r = emu.zns.recipient("84912345678")       # a phone with a Zalo account
    emu.zns.no_zalo("84900000000")              # sends to it answer -118
    ...                                         # the product POSTs {emu.zns_url}/message/template
    await r.wait_for(lambda r: r.last.tracking_id == "survey-HS123-1")
    await r.rate(5, feedbacks=["Đúng hẹn"], note="Cán bộ tận tình")   # a signed user_feedback push

Interface: ``add_template(template_id, params, *, rating=False, name=None, tag="CUSTOMER_CARE", status="ENABLE",
permitted=True, daily_quota=None)`` → ``Template``; ``recipient(phone)`` → ``Recipient`` (``messages`` /
``last`` as ``ZnsMessage``: ``template_id``, ``template_data``, ``tracking_id``, ``msg_id``, ``sent_time``,
``mode``; ``rate(...)``, ``refuse(code=-139)``, ``accept()``, ``wait_for``); ``no_zalo(phone)``;
``daily_quota`` (settable), ``remaining``, ``used_today``, ``reset_quota()``; ``auto_received`` /
``received_delay`` / ``received_shape``; ``unknown_phones_have_zalo``; ``sent`` (every message); ``ratings``
(``RatingRecord``); ``errors``.

Routes (``zns_url`` = ``http://127.0.0.1:PORT/business``):
- ``POST /message/template`` JSON ``{"phone", "template_id", "template_data", "tracking_id", "mode"?}`` →
  ``{"error":0,"message":"Success","data":{"msg_id","sent_time","sending_mode":null,"quota":{"dailyQuota",
  "remainingQuota"}}}`` (numbers as strings, as in Zalo's samples); then, with ``auto_received`` (default), a
  signed ``user_received_message`` push ``received_delay`` seconds after the answer is written.
- ``GET`` or ``POST /rating/get?template_id=&from_time=&to_time=&offset=&limit=`` (query, JSON or form) →
  ``{"error":0,"message":"Success","data":{"total":n,"data":[{"note","rate","submitDate","msgId","feedbacks",
  "trackingId"}]}}``, newest first; ``from_time`` / ``to_time`` in epoch ms (inclusive), ``limit`` default 10;
  a missing or unknown ``template_id`` answers -117, a number that is not one -122.
- ``GET /template/info/v2?template_id=`` → the template's ``listParams`` (``name``, ``require``, ``type``,
  ``maxLength``, ``minLength``, ``acceptNull``) and ``status``.

Checks of a send, in this order (HTTP 200 ``{"error": code, "message": text}``; overridable through ``errors``):

=========================  =====  ======================================================================================
case (``errors`` key)      error  when
=========================  =====  ======================================================================================
``token_invalid``          -124   ``access_token`` missing, unknown, expired (checked by the OA emulator first)
``body_invalid``           -122   body not a JSON object; ``phone`` or ``template_id`` missing; bad rating/get
                                  numbers (code unverified)
``phone_invalid``          -108   ``phone`` does not match ``phone_pattern`` (``^84\\d{9}$``: no ``+``, no 0)
``template_not_allowed``   -117   unknown template, not ``permitted``, or ``status`` other than ``ENABLE``
``template_data_invalid``  -112   ``template_data`` not an object, a required parameter missing or empty, a value
                                  not a string or number, or longer than its ``maxLength``
``no_zalo``                -118   the phone was declared ``no_zalo`` (or is unknown and
                                  ``unknown_phones_have_zalo`` is False)
``refused``                -139   the recipient was given ``refuse()`` (``refuse(-140)`` / ``refuse(-141)``: those)
``oa_quota``               -144   the OA's ``daily_quota`` is used up (resets with ``reset_quota()`` or when the
                                  emulator clock passes midnight Asia/Ho_Chi_Minh)
``template_quota``         -147   the template's own ``daily_quota`` is used up (same reset)
=========================  =====  ======================================================================================

Simplifications, on purpose: failed sends never use quota; ``mode`` is recorded, never checked; extra
``template_data`` keys are ignored; ``tracking_id`` is optional and unchecked; sends by user id
(``/v3.0/oa/message/template``), template lists, journeys and ``user_click_response_button`` are not emulated. A
rating belongs to the recipient's latest message of a ``rating=True`` template unless ``msg_id`` is given; a
recipient may rate a message more than once (each rating is pushed and listed: duplicates are the product's to
handle).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from tests.emulators.loopback import Watched
from tests.emulators.zalo_oa import ApiError, ErrorSpec, Handler, JSONDict, SignatureMode, _Context, new_hex

if TYPE_CHECKING:
    from tests.emulators.zalo_oa import ZaloOAEmulator

ReceivedShape = Literal["message", "top_level"]

#: Where the daily quotas reset (at local midnight).
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
PHONE_PATTERN = r"^84\d{9}$"
DEFAULT_DAILY_QUOTA = 500

#: ZNS error answers by case (module docstring); override any through ``emu.zns.errors``.
DEFAULT_ZNS_ERRORS: dict[str, ErrorSpec] = {
    "token_invalid": ErrorSpec(-124, "Access token invalid"),
    "body_invalid": ErrorSpec(-122, "Body format invalid: {detail}"),
    "phone_invalid": ErrorSpec(-108, "Phone number invalid"),
    "template_not_allowed": ErrorSpec(-117, "OA or App does not have permission to access this template"),
    "template_data_invalid": ErrorSpec(-112, "Template data invalid: {detail}"),
    "no_zalo": ErrorSpec(-118, "Zalo account not existed"),
    "refused": ErrorSpec(-139, "User refused to receive ZNS messages"),
    "oa_quota": ErrorSpec(-144, "OA has exceeded the daily quota for ZNS messages"),
    "template_quota": ErrorSpec(-147, "Template has exceeded the daily quota"),
}
#: Messages for the refusal codes a recipient can be given (``Recipient.refuse``).
REFUSAL_MESSAGES: dict[int, str] = {
    -139: "User refused to receive ZNS messages",
    -140: "OA does not have permission to send ZNS to this user",
    -141: "User is not eligible to receive this ZNS message",
}


# --------------------------------------------------------------------------------------------------------------------
# Records the tests read


@dataclass(frozen=True)
class TemplateParam:
    """One parameter of a template (``listParams``)."""

    name: str
    max_length: int
    required: bool = True
    type: str = "STRING"
    min_length: int = 0

    def to_api(self) -> JSONDict:
        """The ``listParams`` entry."""
        return {
            "name": self.name,
            "require": self.required,
            "type": self.type,
            "maxLength": self.max_length,
            "minLength": self.min_length,
            "acceptNull": not self.required,
        }


@dataclass
class Template:
    """An approved (or not) ZNS template of the OA."""

    template_id: str
    params: list[TemplateParam]
    rating: bool = False  # a service-rating template (type 5): recipients can ``rate`` its messages
    name: str = ""
    tag: str = "CUSTOMER_CARE"
    status: str = "ENABLE"
    permitted: bool = True  # False: the OA/app may not use it (-117)
    daily_quota: int | None = None  # None: only the OA's quota applies
    used_today: int = 0


@dataclass
class ZnsMessage:
    """A template message delivered to a phone."""

    msg_id: str
    phone: str
    template_id: str
    template_data: JSONDict
    tracking_id: str
    mode: str | None
    sent_time: int  # epoch ms, emulator clock
    request: JSONDict  # the request body as received
    received_pushed: bool = False  # its user_received_message was pushed


@dataclass(frozen=True)
class RatingRecord:
    """A rating a recipient gave (what rating/get lists)."""

    template_id: str
    msg_id: str
    tracking_id: str
    phone: str
    rate: int
    feedbacks: tuple[str, ...]
    note: str
    submit_time: int  # epoch ms, emulator clock

    def to_api(self) -> JSONDict:
        """The rating/get entry."""
        return {
            "note": self.note,
            "rate": self.rate,
            "submitDate": str(self.submit_time),
            "msgId": self.msg_id,
            "feedbacks": list(self.feedbacks),
            "trackingId": self.tracking_id,
        }


# --------------------------------------------------------------------------------------------------------------------
# Recipients


class Recipient(Watched[ZnsMessage]):
    """A phone number with a Zalo account: what it received, and what its owner does. Create with ``recipient``."""

    def __init__(self, service: ZnsService, phone: str) -> None:
        super().__init__()
        self._zns = service
        self.phone = phone
        self.refused: int | None = None  # a refusal code (-139, -140, -141) sends answer, or None

    def refuse(self, code: int = -139) -> None:
        """From now on, sends to this phone answer ``code`` (-139 refused, -140, -141 not eligible)."""
        self.refused = code

    def accept(self) -> None:
        """End ``refuse``."""
        self.refused = None

    async def rate(
        self,
        rate: int,
        feedbacks: Iterable[str] = (),
        note: str = "",
        *,
        msg_id: str | None = None,
        rating_type: str = "csat",
        option: str = "five_emotions",
        signature: SignatureMode = "valid",
    ) -> JSONDict:
        """Rate the latest rating-template message (or ``msg_id``): a signed ``user_feedback`` push; returns it.

        The event carries ``message.tracking_id`` and ``msg_id``, never the phone (docs/CHANNELS.md, ZNS). The rating is
        also listed by rating/get.
        """
        if not 1 <= rate <= 5:
            raise ValueError(f"a rate is 1 to 5, not {rate}")
        message = self._rated_message(msg_id)
        zns, emu = self._zns, self._zns._emu
        now = emu.now_ms()
        record = RatingRecord(
            message.template_id, message.msg_id, message.tracking_id, self.phone, rate, tuple(feedbacks), note, now
        )
        zns.ratings.append(record)
        emu.stats.ratings += 1
        event: JSONDict = {
            "event_name": "user_feedback",
            "app_id": emu.app_id,
            "oa_id": emu.oa_id,
            "timestamp": str(now),
            "message": {
                "rating_type": rating_type,
                "option": option,
                "rate": rate,
                "note": note,
                "feedbacks": list(feedbacks),
                "submit_time": str(now),
                "msg_id": message.msg_id,
                "tracking_id": message.tracking_id,
            },
        }
        return await emu._emit(event, signature=signature)

    def _rated_message(self, msg_id: str | None) -> ZnsMessage:
        for message in reversed(self._messages):
            if msg_id is not None:
                if message.msg_id == msg_id:
                    return message
                continue
            template = self._zns.templates.get(message.template_id)
            if template is not None and template.rating:
                return message
        wanted = f"message {msg_id}" if msg_id is not None else "message of a rating template"
        raise LookupError(f"{self.phone} has received no {wanted}")

    def _who(self) -> str:
        return self.phone

    def _line(self, message: ZnsMessage) -> str:
        return f"{message.msg_id}: {message.template_id} {message.tracking_id!r} {message.template_data}"


# --------------------------------------------------------------------------------------------------------------------
# The service


class ZnsService:
    """ZNS for the OA of ``emulator`` (its clock, tokens, webhook and stats).

    Attributes (settable):
        daily_quota: ZNS messages the OA may send per local day.
        auto_received: push ``user_received_message`` after each successful send.
        received_delay: seconds between the answer and that push.
        received_shape: ``"message"`` (fields in ``message``, as Chatwoot reads them) or ``"top_level"`` (also
            ``msg_id`` / ``tracking_id`` / ``delivery_time`` at the top level, as one doc puts them).
        unknown_phones_have_zalo: a well-formed phone never declared is a Zalo user (else -118).
        phone_pattern: what a valid ``phone`` matches.
    """

    def __init__(self, emulator: ZaloOAEmulator) -> None:
        self._emu = emulator
        self.daily_quota = DEFAULT_DAILY_QUOTA
        self.auto_received = True
        self.received_delay = 0.01
        self.received_shape: ReceivedShape = "message"
        self.unknown_phones_have_zalo = True
        self.phone_pattern = PHONE_PATTERN
        self.errors: dict[str, ErrorSpec] = dict(DEFAULT_ZNS_ERRORS)
        self.templates: dict[str, Template] = {}
        self.recipients: dict[str, Recipient] = {}
        self.without_zalo: set[str] = set()
        self.sent: list[ZnsMessage] = []  # every message delivered, in order
        self.ratings: list[RatingRecord] = []
        self.used_today = 0
        self._day = self._today()

    # --- the test side

    def add_template(
        self,
        template_id: str,
        params: Iterable[TemplateParam | tuple[str, int] | tuple[str, int, bool]] = (),
        *,
        rating: bool = False,
        name: str | None = None,
        tag: str = "CUSTOMER_CARE",
        status: str = "ENABLE",
        permitted: bool = True,
        daily_quota: int | None = None,
    ) -> Template:
        """Declare a template; ``params`` as ``(name, maxLength)``, ``(name, maxLength, required)`` or objects."""
        specs = [p if isinstance(p, TemplateParam) else TemplateParam(*p) for p in params]
        template = Template(
            str(template_id), specs, rating, name or f"Mẫu {template_id}", tag, status, permitted, daily_quota
        )
        self.templates[template.template_id] = template
        return template

    def recipient(self, phone: str) -> Recipient:
        """The phone ``phone`` (84xxxxxxxxx) as a Zalo user (the same object again for a known phone)."""
        if phone not in self.recipients:
            self.recipients[phone] = Recipient(self, phone)
        self.without_zalo.discard(phone)
        return self.recipients[phone]

    def no_zalo(self, phone: str) -> None:
        """``phone`` has no Zalo account: sends to it answer -118."""
        self.without_zalo.add(phone)

    @property
    def remaining(self) -> int:
        """ZNS messages the OA may still send today."""
        self._roll_day()
        return max(0, self.daily_quota - self.used_today)

    def reset_quota(self) -> None:
        """A new quota day: the OA's and every template's counts start again."""
        self.used_today = 0
        for template in self.templates.values():
            template.used_today = 0
        self._day = self._today()

    # --- routes

    def routes(self) -> dict[str, tuple[frozenset[str], Handler]]:
        """The business API routes (paths under ``zns_url``) with their HTTP methods."""
        return {
            "/message/template": (frozenset({"POST"}), self._send_template),
            "/rating/get": (frozenset({"GET", "POST"}), self._rating_get),
            "/template/info/v2": (frozenset({"GET"}), self._template_info),
        }

    async def _send_template(self, context: _Context) -> JSONDict:
        emu, body = self._emu, context.body
        if not isinstance(body, dict):
            raise ApiError.of(self.errors["body_invalid"], detail="the body must be a JSON object")
        phone, template_id = body.get("phone"), body.get("template_id")
        if phone is None or template_id is None:
            raise ApiError.of(self.errors["body_invalid"], detail="phone and template_id are required")
        phone = str(phone)
        if not re.fullmatch(self.phone_pattern, phone):
            raise ApiError.of(self.errors["phone_invalid"])
        template = self.templates.get(str(template_id))
        if template is None or not template.permitted or template.status != "ENABLE":
            raise ApiError.of(self.errors["template_not_allowed"])
        data = body.get("template_data")
        self._check_data(template, data)
        assert isinstance(data, dict)
        if phone in self.without_zalo or (phone not in self.recipients and not self.unknown_phones_have_zalo):
            raise ApiError.of(self.errors["no_zalo"])
        recipient = self.recipient(phone)
        if recipient.refused is not None:
            text = REFUSAL_MESSAGES.get(recipient.refused, self.errors["refused"].message)
            raise ApiError(recipient.refused, text)
        self._roll_day()
        if self.used_today >= self.daily_quota:
            emu.stats.quota_errors += 1
            raise ApiError.of(self.errors["oa_quota"])
        if template.daily_quota is not None and template.used_today >= template.daily_quota:
            emu.stats.quota_errors += 1
            raise ApiError.of(self.errors["template_quota"])
        self.used_today += 1
        template.used_today += 1
        mode = body.get("mode")
        message = ZnsMessage(
            new_hex(),
            phone,
            template.template_id,
            copy.deepcopy(data),
            str(body.get("tracking_id") or ""),
            str(mode) if mode is not None else None,
            emu.now_ms(),
            copy.deepcopy(body),
        )
        recipient._messages.append(message)
        self.sent.append(message)
        emu.stats.zns_sent += 1
        await recipient._notify()
        if self.auto_received:
            context.after.append(lambda: emu._later(self.received_delay, lambda: self._push_received(message)))
        return {
            "error": 0,
            "message": "Success",
            "data": {
                "msg_id": message.msg_id,
                "sent_time": str(message.sent_time),
                "sending_mode": None,
                "quota": {"dailyQuota": str(self.daily_quota), "remainingQuota": str(self.remaining)},
            },
        }

    def _check_data(self, template: Template, data: Any) -> None:
        invalid = self.errors["template_data_invalid"]
        if not isinstance(data, dict):
            raise ApiError.of(invalid, detail="template_data must be an object")
        for param in template.params:
            value = data.get(param.name)
            if value is None or (isinstance(value, str) and not value.strip()):
                if param.required:
                    raise ApiError.of(invalid, detail=f"{param.name} is required")
                continue
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise ApiError.of(invalid, detail=f"{param.name} must be a string or a number")
            length = len(str(value))
            if length > param.max_length:
                raise ApiError.of(invalid, detail=f"{param.name} is longer than {param.max_length} characters")
            if length < param.min_length:
                raise ApiError.of(invalid, detail=f"{param.name} is shorter than {param.min_length} characters")

    async def _rating_get(self, context: _Context) -> JSONDict:
        params = context.params
        template = self.templates.get(str(params.get("template_id") or ""))
        if template is None or not template.permitted:
            raise ApiError.of(self.errors["template_not_allowed"])
        from_time = self._number(params, "from_time", 0)
        to_time = self._number(params, "to_time", 2**63)
        offset = self._number(params, "offset", 0)
        limit = self._number(params, "limit", 10)
        chosen = [
            r for r in self.ratings if r.template_id == template.template_id and from_time <= r.submit_time <= to_time
        ]
        chosen.sort(key=lambda r: r.submit_time, reverse=True)
        page = chosen[offset : offset + limit]
        return {
            "error": 0,
            "message": "Success",
            "data": {"total": len(chosen), "data": [r.to_api() for r in page]},
        }

    def _number(self, params: JSONDict, name: str, default: int) -> int:
        value = params.get(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ApiError.of(self.errors["body_invalid"], detail=f"{name} must be an integer") from None
        if number < 0:
            raise ApiError.of(self.errors["body_invalid"], detail=f"{name} must not be negative")
        return number

    async def _template_info(self, context: _Context) -> JSONDict:
        template = self.templates.get(str(context.params.get("template_id") or ""))
        if template is None or not template.permitted:
            raise ApiError.of(self.errors["template_not_allowed"])
        return {
            "error": 0,
            "message": "Success",
            "data": {
                "templateId": template.template_id,
                "templateName": template.name,
                "status": template.status,
                "listParams": [p.to_api() for p in template.params],
                "templateTag": template.tag,
                "templateQuality": "HIGH",
                "price": "200",
                "timeout": 7200000,
            },
        }

    # --- internals

    def _today(self) -> date:
        return datetime.fromtimestamp(self._emu.now(), ZONE).date()

    def _roll_day(self) -> None:
        if self._today() != self._day:
            self.reset_quota()

    async def _push_received(self, message: ZnsMessage) -> None:
        emu = self._emu
        now = str(emu.now_ms())
        fields = {"delivery_time": now, "msg_id": message.msg_id, "tracking_id": message.tracking_id}
        event: JSONDict = {
            "event_name": "user_received_message",
            "app_id": emu.app_id,
            "sender": {"id": emu.oa_id},
            "recipient": {"id": message.phone},
            "message": dict(fields),
            "timestamp": now,
        }
        if self.received_shape == "top_level":
            event.update(fields)
        message.received_pushed = True
        await emu._emit(event)
