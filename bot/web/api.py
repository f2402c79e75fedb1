"""The REST API under /api/v1 (README: the REST API), and the QR code printed on the citizen's receipt.

Thin: each route checks the key, reads and validates the body, calls a handler, and shapes the
answer. Every refusal has the error shape; bad input is never a 500.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import partial, wraps
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

import segno
from aiohttp import web
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    ValidationError,
    WithJsonSchema,
)

from bot.app import App
from bot.logs import remember_presented
from bot.web.limits import BEARER_RE, api_key_of
from bot.web.linking import link_url, receipt_text, setup_linking, telegram_url
from bot.web.openapi import Answer, Operation, build_document
from bot.web.server import APP, error_response, status_of
from handlers.citizen.linking import LinkCodes
from handlers.errors import HandlerError, InvalidInput, NotFound
from handlers.intake.dossiers import (
    CODE_RE,
    EVENT_TYPES,
    SUBMISSION_CHANNELS,
    ContactInput,
    DossierInput,
    DossierView,
    local_moment,
)
from handlers.leader.reporting import Period
from handlers.messages import nfc
from storage.uow import UnitOfWork
from storage.values import ApiKey, Apology, Dossier, StoredResponse

PREFIX = "/api/v1"
WRITE = "dossiers:write"
READ_REPORTS = "reports:read"
WRITE_APOLOGIES = "apologies:write"
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_RE = re.compile(r"[\x21-\x7e]{1,200}")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
YEARS = range(1900, 3000)  # far enough either way; keeps every conversion clear of datetime's limits
BATCH_LIMIT = 1000
QR_SCALE = 10  # pixels per module: a t.me link (33 modules + border) is ~410 px, 3.5 cm at 300 dpi
QR_CACHE = "private, max-age=3600"  # the token links a chat to a person: no shared caches
OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("sipas_openapi")
_dumps = partial(json.dumps, ensure_ascii=False)

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A refusal of the API layer itself (key, body, query, header), answered in the error shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers

    def inner(self) -> dict[str, str]:
        """The inner object of the error shape."""
        return {"code": self.code, "message": self.message}


# ---------------------------------------------------------------------------------------------- bodies


def _moment(value: object, *, date_allowed: bool = True) -> datetime | date:
    """An ISO 8601 date-time (with or without an offset) or, where allowed, a date alone."""
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 string")
    text = value.strip()
    date_only = DATE_RE.fullmatch(text) is not None
    if date_only and not date_allowed:
        raise ValueError("a date and a time are required, e.g. 2026-11-18T09:30:00+07:00")
    parsed: datetime | date
    try:
        parsed = date.fromisoformat(text) if date_only else datetime.fromisoformat(text)
    except ValueError:
        example = "2026-11-18T09:30:00+07:00" + (" or 2026-11-18" if date_allowed else "")
        kind = "date or date-time" if date_allowed else "date-time"
        raise ValueError(f"not an ISO 8601 {kind} (e.g. {example})") from None
    if parsed.year not in YEARS:
        raise ValueError(f"the year must be between {YEARS.start} and {YEARS.stop - 1}")
    return parsed


def storable(text: str) -> str:
    """``text`` if a database can keep it: no NUL character, no unpaired surrogate (JSON can carry both)."""
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must not contain unpaired surrogates") from None
    return text


Text = Annotated[str, AfterValidator(storable)]

_NAIVE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$"
Moment = Annotated[
    datetime | date,
    PlainValidator(_moment),
    WithJsonSchema(
        {
            "type": "string",
            "anyOf": [{"format": "date-time"}, {"pattern": _NAIVE}, {"format": "date"}],
            "description": (
                "ISO 8601. With an offset it is taken as is; without one it is local time (SIPAS_TIMEZONE). "
                "A date alone means the start of that local day for received_at and its end (23:59:59) for due_at."
            ),
            "examples": ["2026-11-18T09:30:00+07:00", "2026-11-18T09:30:00", "2026-11-18"],
        }
    ),
]
EventMoment = Annotated[
    datetime,
    PlainValidator(partial(_moment, date_allowed=False)),
    WithJsonSchema(
        {
            "type": "string",
            "anyOf": [{"format": "date-time"}, {"pattern": _NAIVE}],
            "description": "ISO 8601 date-time; without an offset it is local time (SIPAS_TIMEZONE).",
            "examples": ["2026-11-20T15:00:00+07:00"],
        }
    ),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactBody(_Body):
    """A person on a dossier: the applicant or the authorised representative."""

    name: Text = Field(description="Full name (≤ 200 characters); stored in Unicode NFC.")
    phone: Text | None = Field(default=None, description="Vietnamese phone number in any usual form: 0912 345 678.")
    email: Text | None = None
    zalo_user_id: Text | None = Field(default=None, description="The person's Zalo user id, if known.")
    kind: Literal["person", "organisation"] | None = Field(
        default=None,
        description="The applicant only: `organisation` for a company, a cooperative or another organisation (the "
        "apology slip is then addressed to it by name), `person` otherwise. Left out: judged from the name "
        '("Công ty …", "HTX …").',
    )


class DossierBody(_Body):
    """A dossier as the one-stop-shop software holds it (docs/METHOD.md); the code is in the path."""

    unit: Text = Field(description="Code of a unit known to SIPAS Bot (`sipasbot units add`).")
    procedure: Text = Field(description="Procedure name (≤ 300 characters).")
    procedure_code: Text | None = Field(default=None, description="National procedure code (mã TTHC), e.g. 1.014390.")
    field: Text = Field(description="Field of the procedure (lĩnh vực), e.g. Hộ tịch (≤ 100 characters).")
    applicant: ContactBody
    representative: ContactBody | None = Field(
        default=None, description="The authorised representative; when present, the survey goes to them."
    )
    received_at: Moment = Field(
        description="When the dossier was received: not in the future (422; a sender's clock may run up to five "
        "minutes fast). ISO 8601: with an offset it is taken as is, without one it is local time (SIPAS_TIMEZONE); "
        "a date alone means the start of that local day."
    )
    due_at: Moment | None = Field(
        default=None, description="The appointment date; may be left out when processing_days is given."
    )
    processing_days: int | None = Field(
        default=None,
        ge=1,
        le=365,
        description="The procedure's time limit in working days: without due_at, the dossier is due at the end "
        "of that working day after reception (weekends and public holidays skipped).",
    )
    channel: Literal["truc_tiep", "truc_tuyen", "buu_chinh"] = Field(
        description="Submission channel: in person, online, or by public post."
    )
    handler: Text | None = Field(default=None, description="The handling officer (never shown publicly).")
    receiver: Text | None = Field(
        default=None,
        description="The receiving officer at the one-stop-shop counter (never shown publicly; leaders only).",
    )
    zalo_optin: StrictBool = Field(default=False, description="The citizen agreed to be reached on Zalo.")


EventType = Literal["supplement_requested", "supplement_received", "result_ready", "returned", "cancelled"]


class EventBody(_Body):
    """A lifecycle event of a dossier; the same (type, at) twice changes nothing the second time."""

    type: EventType = Field(
        description="`returned` (result handed back: the survey follows), `result_ready` (processing finished), "
        "`supplement_requested`, `supplement_received`, `cancelled`."
    )
    at: EventMoment = Field(
        description="When it happened: not in the future (422; a sender's clock may run up to five minutes fast). "
        "ISO 8601 date-time; without an offset it is local time (SIPAS_TIMEZONE)."
    )
    note: Text | None = Field(default=None, description="Free text (≤ 2000 characters).")


class UpsertItem(_Body):
    """A batch item: create or update a dossier, as PUT /dossiers/{code}."""

    op: Literal["upsert"]
    code: Text
    dossier: DossierBody


class EventItem(_Body):
    """A batch item: an event, as POST /dossiers/{code}/events."""

    op: Literal["event"]
    code: Text
    event: EventBody


class BatchBody(_Body):
    """Up to 1000 upserts and events, applied in order, each in its own transaction."""

    items: list[Annotated[UpsertItem | EventItem, Field(discriminator="op")]] = Field(
        min_length=1, max_length=BATCH_LIMIT
    )


class ApologyBody(_Body):
    """An apology (docs/METHOD.md): for a delay (at most one per dossier) or for an error in handling (one more)."""

    kind: Literal["delay", "error"] = Field(
        default="delay",
        description="`delay`: the dossier will run late (a new date is required); `error`: an error (sai sót) "
        "was made in handling a resolved or returned dossier (no new date).",
    )
    reason: Text = Field(
        min_length=1, max_length=500, description="Why the dossier is late, or the error made (printed on the slip)."
    )
    new_due_at: Moment | None = Field(
        default=None,
        description="For a delay: the new appointment, a working day after today and after the original due date "
        "(a date-time counts by its local date). Not given for an error apology.",
    )
    issued_by: Text = Field(
        min_length=1,
        max_length=100,
        description="The officer issuing it. The key's name is kept beside it (`issued_key`): both are shown.",
    )


class _BatchEnvelope(_Body):
    """The batch as first validated: the items are checked one by one, so that one bad item spoils only itself."""

    items: list[Any] = Field(min_length=1, max_length=BATCH_LIMIT)


# ------------------------------------------------------------------------------------------- answers

DATETIME_NOTE = "Local time (SIPAS_TIMEZONE) with its offset."


class DossierOut(BaseModel):
    """Where a dossier stands. Contact data is not echoed back."""

    code: str
    unit: str
    procedure: str
    procedure_code: str | None
    field: str
    channel: str
    state: str = Field(description="received, supplement_requested, result_ready, returned or cancelled.")
    received_at: datetime = Field(description=DATETIME_NOTE)
    due_at: datetime = Field(description=DATETIME_NOTE)
    finished_at: datetime | None = Field(description="When processing finished (result_ready or returned).")
    returned_at: datetime | None
    cancelled_at: datetime | None
    on_time: bool | None = Field(description="Finished on or before the due date (local days); null until finished.")
    zalo_optin: bool


class OptinOut(BaseModel):
    """How the citizen links a chat to the dossier: print the QR code, the code and ``receipt_text`` on the receipt."""

    token: str = Field(description="Opaque, unguessable, no personal data; at most 64 of [A-Za-z0-9_-].")
    telegram_url: str | None = Field(description="https://t.me/<bot>?start=<token>; null when Telegram is off.")
    zalo_url: str | None = Field(
        description="The OA's chat link (SIPAS_ZALO_OA_LINK), where the citizen sends the code: Zalo links carry "
        "no token. Null when not configured."
    )
    link_url: str = Field(
        description="The linking page <public URL>/lien-ket/<token>: one button per configured chat (Zalo first) "
        "and a 6-digit code valid for 10 minutes, to send in the chat. The QR code holds this address."
    )
    code: str = Field(
        description="The printable code, digits only, for people who cannot scan: sent alone (or after /start) "
        "in the Zalo OA, the Zalo Bot, Telegram or any chat. 8 digits, confirmed by the last 4 digits of the "
        "applicant's or representative's phone; 12 digits, sent alone, when the dossier had no phone. The same "
        "code every time the dossier is sent.",
        pattern="^[0-9]{8}$|^[0-9]{12}$",
    )
    receipt_text: str = Field(
        description="The lines to print on the receipt, in Vietnamese, one per line: how to link on Zalo or "
        "Telegram, the linking page's address and the code. Nothing personal."
    )
    qr_url: str = Field(
        description="A PNG QR code for the receipt, no key needed. It encodes link_url, whatever chats are configured."
    )


class UpsertOut(BaseModel):
    """The dossier after PUT, and its opt-in links (the same token every time)."""

    dossier: DossierOut
    optin: OptinOut


class EventOut(BaseModel):
    """The dossier after an event; ``changed`` is false when the same event was applied before."""

    dossier: DossierOut
    changed: bool


class TimelineEntry(BaseModel):
    """One event of the dossier's timeline."""

    type: str
    at: datetime
    note: str | None


class FormRef(BaseModel):
    """A survey form and the version that is asked."""

    id: str
    version: int


class SurveyOut(BaseModel):
    """The dossier's one survey invitation (no answers: they are anonymous statistics)."""

    status: str = Field(description="pending, sent, started, completed, expired or cancelled.")
    form: FormRef
    channel: str | None
    scheduled_at: datetime
    expires_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    closed_at: datetime | None


class ApologyOut(BaseModel):
    """An apology of the dossier: for a delay (phiếu xin lỗi và hẹn lại ngày trả kết quả) or for an error."""

    kind: Literal["delay", "error"]
    number: str | None
    reason: str
    new_due_at: datetime | None = Field(description="The new appointment of a delay apology; null for an error.")
    issued_by: str = Field(description="The officer named as issuing it.")
    issued_key: str | None = Field(
        default=None, description="The name of the API key that issued it; null when an officer issued it in chat."
    )
    issued_at: datetime
    in_time: bool | None = Field(
        description="A delay apology: true when issued no later than the working day before the due date "
        "(docs/METHOD.md), false when late (still issued, reported as a late apology); null for an error apology."
    )


class ApologyIssuedOut(BaseModel):
    """The apology as issued: its number, the new date, and where the citizen was sent it."""

    dossier: str
    apology: ApologyOut
    slip_url: str = Field(description="The printable slip (PDF), under an unguessable address.")
    sent_on: list[str] = Field(description="The channels the citizen was sent it on (empty: print and hand it over).")


class DossierDetailOut(DossierOut):
    """A dossier read back: its state, timeline, new due date, survey and apology."""

    new_due_at: datetime | None = Field(description="The new appointment from the apology; null without one.")
    handler: str | None = Field(description="The handling officer, as last sent; null when not given.")
    receiver: str | None = Field(description="The receiving (counter) officer, as last sent; null when not given.")
    timeline: list[TimelineEntry]
    survey: SurveyOut | None = Field(description="Null until the dossier is returned and a survey is planned.")
    apology: ApologyOut | None = Field(description="The delay apology (with the new date); null without one.")
    error_apology: ApologyOut | None = Field(description="The apology for an error in handling; null without one.")


class ErrorBody(BaseModel):
    """What went wrong: a stable code and a one-line message."""

    code: str
    message: str


class ErrorOut(BaseModel):
    """The error shape of every failure."""

    error: ErrorBody


class BatchResult(BaseModel):
    """The outcome of one batch item: the status and body it would have had as a call of its own."""

    index: int
    status: int
    dossier: DossierOut | None = Field(default=None, description="Present when the item succeeded.")
    optin: OptinOut | None = Field(default=None, description="Present for a successful upsert.")
    changed: bool | None = Field(default=None, description="Present for a successful event.")
    error: ErrorBody | None = Field(default=None, description="Present when the item failed.")


class BatchOut(BaseModel):
    """One result per item, in the order of the items."""

    results: list[BatchResult]


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReportDossiers(_Report):
    """Dossier counts of the period."""

    received: int
    resolved: int
    on_time: int
    late: int
    on_time_rate: float | None
    apologies: int
    late_without_apology: int
    overdue_open: int
    received_online: int = Field(description="received in the period through the online channel (truc_tuyen)")
    online_rate: float | None = Field(description="received_online ÷ received, in percent")
    supplement_repeated: int = Field(description="dossiers asked again (a second or later time) for a supplement")
    apologies_late: int = Field(description="Delay apologies issued in the period that were not in time.")
    apologies_error: int = Field(description="Apologies for an error in handling issued in the period.")


class ReportSurveys(_Report):
    """The survey funnel of the period."""

    offered: int
    delivered: int
    started: int
    completed: int
    response_rate: float | None
    respondents: int = Field(description="people who answered at least one item in the period (all of it scored)")


class ReportOverall(_Report):
    """The overall satisfaction index."""

    index: float | None
    n: int
    ci95: list[float] | None
    suppressed: bool


class ReportFactor(_Report):
    """One factor's index."""

    code: str
    name: str
    index: float | None
    n: int
    ci95: list[float] | None
    suppressed: bool


class ReportCriterion(_Report):
    """One criterion's index and answer counts."""

    code: str
    factor: str | None
    index: float | None
    n: int
    counts: dict[str, int]
    mean: float | None
    alarm_rate: float | None
    ci95: list[float] | None
    suppressed: bool


class ReportPriority(_Report):
    """One priority item's index."""

    code: str
    index: float | None
    n: int
    suppressed: bool


class ReportField(_Report):
    """The overall index within one field."""

    field: str
    index: float | None
    n: int
    suppressed: bool


class ReportProcedure(_Report):
    """The overall index among the answers about one procedure."""

    procedure: str
    index: float | None
    n: int
    suppressed: bool


class ReportChannel(_Report):
    """The overall index among the answers given on one channel (telegram, zalo_oa, zalo_bot, zns…)."""

    channel: str
    name: str = Field(description="the channel as people know it: Telegram, Zalo, Zalo OA, Tin nhắn Zalo (ZNS)…")
    index: float | None
    n: int
    suppressed: bool


class ReportFieldOnTime(_Report):
    """Dossiers of one field resolved in the period (a count: never suppressed)."""

    field: str
    resolved: int
    on_time: int
    late: int
    on_time_rate: float | None


class ReportComplaints(_Report):
    """Complaints received in the period and how many stand answered or closed; handled = answered + closed."""

    received: int
    answered: int
    closed: int
    handled_rate: float | None


class ReportOut(_Report):
    """The satisfaction report (docs/FIGURES.md): rates and indexes in percent (0–100) or null; n < 5 is suppressed."""

    model_config = ConfigDict(populate_by_name=True)

    unit: str
    unit_name: str
    from_: str = Field(alias="from", description="YYYY-MM-DD")
    to: str = Field(description="YYYY-MM-DD")
    include_children: bool
    form: str
    form_title: str = Field(description="the form's title, as the people answering it read it")
    dossiers: ReportDossiers
    surveys: ReportSurveys
    satisfaction: ReportOverall
    factors: list[ReportFactor]
    criteria: list[ReportCriterion]
    priorities: list[ReportPriority]
    by_field: list[ReportField]
    by_procedure: list[ReportProcedure]
    by_channel: list[ReportChannel]
    on_time_by_field: list[ReportFieldOnTime]
    complaints: ReportComplaints


class OpenApiOut(BaseModel):
    """An OpenAPI 3.1 document (this one)."""

    model_config = ConfigDict(extra="allow")

    openapi: str


# ------------------------------------------------------------------------------------- the plumbing


def _json(payload: Mapping[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(payload, status=status, headers=headers, dumps=_dumps)


def _guard(handler: Handler) -> Handler:
    """Answer an ApiError in the error shape (handler errors are the middleware's)."""

    @wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as error:
            return error_response(error.status, error.code, error.message, error.headers)

    return guarded


async def _authorize(request: web.Request, scopes: tuple[str, ...]) -> ApiKey:
    """The caller's live key, holding at least one of ``scopes``; 401 or 403 otherwise."""
    challenge = 'Bearer realm="sipas"'
    header = request.headers.get("Authorization")
    if header is None:
        raise ApiError(401, "unauthorized", "missing Authorization: Bearer <key>", {"WWW-Authenticate": challenge})
    match = BEARER_RE.fullmatch(header)
    invalid = {"WWW-Authenticate": f'{challenge}, error="invalid_token"'}
    if match is None:
        raise ApiError(401, "unauthorized", "the Authorization header must be 'Bearer <key>'", invalid)
    key = await api_key_of(request, match.group(1))
    if key is None:
        raise ApiError(401, "unauthorized", "unknown or revoked API key", invalid)
    remember_presented(match.group(1))  # a live key: never in a log line
    if not key.scopes & set(scopes):
        needed = " or ".join(scopes)
        raise ApiError(
            403,
            "forbidden",
            f"this key lacks the scope {needed}",
            {"WWW-Authenticate": f'{challenge}, error="insufficient_scope", scope="{" ".join(scopes)}"'},
        )
    if not key.all_units and not key.covered:
        raise ApiError(
            403,
            "no_units",
            "this key is bound to no unit: make a new one with sipasbot apikey create NAME --scopes … --units …",
        )
    return key


# ------------------------------------------------------------------------- a key stays inside its units


def _not_found(code: str) -> NotFound:
    """The refusal of a dossier that does not exist, and of one of a unit the key does not cover: the same."""
    return NotFound(f"no dossier {code!r}")


async def _dossier_of_key(uow: UnitOfWork, key: ApiKey, code: str) -> Dossier:
    """The dossier ``code`` if it belongs to a unit the key covers; 404 otherwise (codes cannot be probed)."""
    dossier = await uow.dossiers.get_by_code(code)
    if dossier is None or not key.covers(dossier.unit_id):
        raise _not_found(code)
    return dossier


async def _check_upsert(uow: UnitOfWork, key: ApiKey, code: str, unit_code: str) -> None:
    """A PUT stays inside the key's units.

    Another unit's dossier is 404, a new one of another unit 403, and a dossier never changes unit through
    the API (422 ``unit_change_refused``), whatever the key.
    """
    existing = await uow.dossiers.get_by_code(nfc(code).strip())
    if existing is not None and not key.covers(existing.unit_id):
        raise _not_found(code)
    unit = await uow.units.get_by_code(unit_code)
    if unit is None:
        raise InvalidInput(f"unknown unit {unit_code!r}", code="unknown_unit")
    if existing is not None and existing.unit_id != unit.id:
        held = await uow.units.get(existing.unit_id)
        raise ApiError(
            422,
            "unit_change_refused",
            f"unit: dossier {existing.code!r} belongs to {held.code}; a dossier never changes unit through the API",
        )
    if existing is None and not key.covers(unit.id):
        raise ApiError(403, "forbidden", f"unit: this key does not cover unit {unit.code!r}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object: 400 when it is not UTF-8 or not JSON, 422 when it is not an object."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "bad_encoding", "the body is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ApiError(400, "bad_json", "the body is not valid JSON: nested too deeply") from None
    except ValueError as exc:
        raise ApiError(400, "bad_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(422, "invalid_input", f"the body must be a JSON object, not {_json_kind(value)}")
    return value


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


async def _read_object(request: web.Request) -> dict[str, Any]:
    # a body over MAX_BODY_BYTES (the app's client_max_size) raises 413 here, answered by the middleware
    return parse_json_object(await request.read())


def _existing_code(request: web.Request) -> str:
    """The path's dossier code; one that no dossier can have is not found without asking the database."""
    code = request.match_info["code"]
    if not CODE_RE.fullmatch(code):
        raise ApiError(404, "not_found", f"no dossier {code!r}")
    return code


def _where(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def describe(error: ValidationError, limit: int = 5) -> str:
    """A validation error in one line, each problem prefixed by the field it is about."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        where = _where(tuple(item["loc"]))
        problems.append(f"{where}: {message}" if where else message)
    extra = len(problems) - limit
    return "; ".join(problems[:limit]) + (f"; and {extra} more" if extra > 0 else "")


def _validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "invalid_input", describe(exc)) from None


def _zone(app: App) -> ZoneInfo:
    return app.services.policy.timezone


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return moment.astimezone(zone) if moment is not None else None


def _dossier_fields(dossier: Dossier, unit_code: str, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "code": dossier.code,
        "unit": unit_code,
        "procedure": dossier.procedure_name,
        "procedure_code": dossier.procedure_code,
        "field": dossier.field,
        "channel": dossier.channel,
        "state": dossier.state,
        "received_at": dossier.received_at.astimezone(zone),
        "due_at": dossier.due_at.astimezone(zone),
        "finished_at": _local(dossier.finished_at, zone),
        "returned_at": _local(dossier.returned_at, zone),
        "cancelled_at": _local(dossier.cancelled_at, zone),
        "on_time": dossier.on_time,
        "zalo_optin": dossier.zalo_optin,
    }


def optin_links(app: App, token: str, code: str) -> OptinOut:
    """The opt-in links of a dossier's token, its printed code and the receipt's lines."""
    return OptinOut(
        token=token,
        telegram_url=telegram_url(app, token),
        zalo_url=app.settings.zalo_oa_link,
        link_url=link_url(app, token),
        code=code,
        receipt_text=receipt_text(app, token, code),
        qr_url=f"{app.settings.public_url.rstrip('/')}/qr/{token}.png",
    )


def qr_content(app: App, token: str) -> str:
    """What the receipt's QR code holds: the linking page, whatever chats are configured."""
    return link_url(app, token)


def _dossier_input(code: str, body: DossierBody, zone: ZoneInfo) -> DossierInput:
    def contact(person: ContactBody) -> ContactInput:
        return ContactInput(
            name=person.name, phone=person.phone, email=person.email, zalo_user_id=person.zalo_user_id, kind=person.kind
        )

    return DossierInput(
        code=code,
        unit=body.unit,
        procedure=body.procedure,
        procedure_code=body.procedure_code,
        field=body.field,
        applicant=contact(body.applicant),
        representative=contact(body.representative) if body.representative else None,
        received_at=local_moment(body.received_at, zone),
        due_at=local_moment(body.due_at, zone, end_of_day=True) if body.due_at is not None else None,
        channel=body.channel,
        handler=body.handler,
        receiver=body.receiver,
        zalo_optin=body.zalo_optin,
        processing_days=body.processing_days,
    )


async def _upsert(app: App, key: ApiKey, code: str, body: DossierBody) -> tuple[int, dict[str, Any]]:
    """Create or update a dossier of the key's units (one transaction); the status and body of the answer."""
    zone = _zone(app)
    async with app.services.uow() as uow:
        await _check_upsert(uow, key, code, body.unit)
        result = await app.dossiers.upsert_in(uow, _dossier_input(code, body, zone))
        printed = await LinkCodes(app.services).printed_in(uow, result.dossier)
        await uow.commit()
    answer = UpsertOut(
        dossier=DossierOut(**_dossier_fields(result.dossier, body.unit, zone)),
        optin=optin_links(app, result.dossier.optin_token, printed),
    )
    return (201 if result.created else 200), answer.model_dump(mode="json")


class _Idempotency:
    """An Idempotency-Key and what it is bound to: who asked, what, and a hash of the request."""

    def __init__(self, scope: str, key: str, request_hash: str) -> None:
        self.scope = scope
        self.key = key
        self.request_hash = request_hash

    def replay(self, stored: StoredResponse) -> tuple[int, dict[str, Any], bool]:
        if stored.request_hash != self.request_hash:
            raise ApiError(
                422,
                "idempotency_key_reused",
                f"the {IDEMPOTENCY_HEADER} was already used for a different request",
            )
        return stored.status_code, stored.response, True


def request_hash(method: str, path: str, body: Any) -> str:
    """A hash of the request: method, path and canonical JSON body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


async def _event_in(app: App, uow: UnitOfWork, code: str, body: EventBody) -> tuple[int, dict[str, Any]]:
    zone = _zone(app)
    result = await app.dossiers.add_event_in(uow, code, body.type, local_moment(body.at, zone), body.note)
    unit = await uow.units.get(result.dossier.unit_id)
    answer = EventOut(dossier=DossierOut(**_dossier_fields(result.dossier, unit.code, zone)), changed=result.changed)
    return 202, answer.model_dump(mode="json")


async def _record_event(
    app: App, key: ApiKey, code: str, body: EventBody, idempotency: _Idempotency | None
) -> tuple[int, dict[str, Any], bool]:
    """Apply an event; with a key, its answer is stored in the same transaction. (status, body, replayed)."""
    services = app.services
    async with services.uow() as uow:
        await _dossier_of_key(uow, key, code)
        if idempotency is not None:
            stored = await uow.idempotency.get(idempotency.scope, idempotency.key)
            if stored is not None:
                return idempotency.replay(stored)
        status, answer = await _event_in(app, uow, code, body)
        if idempotency is None or await uow.idempotency.put(
            idempotency.scope, idempotency.key, idempotency.request_hash, status, answer, services.clock()
        ):
            await uow.commit()
            return status, answer, False
        # a concurrent request with the same key stored its answer first: ours is thrown away, theirs is given
        await uow.rollback()
    assert idempotency is not None
    async with services.uow(read_only=True) as uow:
        stored = await uow.idempotency.get(idempotency.scope, idempotency.key)
    assert stored is not None
    return idempotency.replay(stored)


# ------------------------------------------------------------------------------------------- routes


async def put_dossier(request: web.Request) -> web.Response:
    """PUT /dossiers/{code}: create (201) or update (200) a dossier."""
    key = await _authorize(request, (WRITE,))
    code = request.match_info["code"]
    body = _validate(DossierBody, await _read_object(request))
    status, answer = await _upsert(request.app[APP], key, code, body)
    headers = {"Location": f"{PREFIX}/dossiers/{quote(answer['dossier']['code'], safe='')}"} if status == 201 else None
    return _json(answer, status, headers)


async def post_event(request: web.Request) -> web.Response:
    """POST /dossiers/{code}/events: apply a lifecycle event (202); Idempotency-Key honoured."""
    api_key = await _authorize(request, (WRITE,))
    code = _existing_code(request)
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not IDEMPOTENCY_KEY_RE.fullmatch(key):
        raise ApiError(400, "bad_idempotency_key", f"{IDEMPOTENCY_HEADER} must be 1–200 visible ASCII characters")
    data = await _read_object(request)
    body = _validate(EventBody, data)
    idempotency = None
    if key is not None:
        path = f"{PREFIX}/dossiers/{code}/events"
        idempotency = _Idempotency(f"{api_key.id} POST {path}", key, request_hash("POST", path, data))
    status, answer, replayed = await _record_event(request.app[APP], api_key, code, body, idempotency)
    return _json(answer, status, {"Idempotent-Replayed": "true"} if replayed else None)


async def post_apology(request: web.Request) -> web.Response:
    """POST /dossiers/{code}/apology: the dossier's one apology (201); 409 when it has one."""
    key = await _authorize(request, (WRITE_APOLOGIES,))
    code = _existing_code(request)
    body = _validate(ApologyBody, await _read_object(request))
    app = request.app[APP]
    services = app.services
    zone = _zone(app)
    new_due = body.new_due_at.astimezone(zone).date() if isinstance(body.new_due_at, datetime) else body.new_due_at
    now = services.clock()
    async with services.uow() as uow:
        dossier = await _dossier_of_key(uow, key, code)
        issued = await app.apologies.issue(
            uow,
            dossier,
            body.reason,
            new_due,
            body.issued_by,
            now,
            body.kind,
            actor=f"apikey:{key.name}",
            issued_key=key.name,
        )
        await uow.commit()
    apology = issued.apology
    answer = ApologyIssuedOut(
        dossier=dossier.code,
        apology=apology_out(apology, zone),
        slip_url=f"{app.settings.public_url.rstrip('/')}/phieu/{apology.token}.pdf",
        sent_on=list(issued.channels),
    )
    return _json(answer.model_dump(mode="json"), 201)


def _expired(app: App, made_at: datetime) -> bool:
    """Whether a link to a slip or a kept file made at ``made_at`` is past its SIPAS_LINK_DAYS (personal data)."""
    made = made_at if made_at.tzinfo is not None else made_at.replace(tzinfo=UTC)
    return app.services.clock() - made > timedelta(days=app.settings.link_days)


def _link_expired() -> web.Response:
    return error_response(
        410,
        "link_expired",
        "this link has expired: links to slips and files carry personal data and work for SIPAS_LINK_DAYS days;"
        " ask the unit for the document again",
    )


async def get_slip(request: web.Request) -> web.Response:
    """GET /phieu/{token}.pdf: a printable apology slip (no key: the unguessable token is the secret)."""
    app = request.app[APP]
    async with app.services.uow(read_only=True) as uow:
        apology = await uow.apologies.by_token(request.match_info["token"])
    pdf = await app.apologies.slip_pdf(apology.id) if apology is not None else None
    if apology is None or pdf is None:
        return error_response(404, "not_found", "no such slip")
    if _expired(app, apology.issued_at):
        return _link_expired()
    number = (apology.number or "").replace("/", "-")
    headers = {
        "Content-Disposition": f'inline; filename="phieu-xin-loi-{number}.pdf"',
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
    }
    return web.Response(body=pdf, content_type="application/pdf", headers=headers)


async def get_file(request: web.Request) -> web.Response:
    """GET /tep/{token}/{name}: a kept file (a digest's chart, a workbook) — the unguessable token is the secret."""
    app = request.app[APP]
    async with app.services.uow(read_only=True) as uow:
        found = await uow.files.content(token=request.match_info["token"])
    if found is None or found[0].name != request.match_info["name"]:
        return error_response(404, "not_found", "no such file")
    stored, content = found
    if _expired(app, stored.created_at):
        return _link_expired()
    headers = {
        "Content-Disposition": f'attachment; filename="{stored.name}"',
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
    }
    return web.Response(body=content, content_type=stored.media_type, headers=headers)


async def _batch_item(app: App, key: ApiKey, item: Any) -> dict[str, Any]:
    try:
        if not isinstance(item, dict):
            raise ApiError(422, "invalid_input", f"the item must be a JSON object, not {_json_kind(item)}")
        op = item.get("op")
        if op == "upsert":
            upsert = _validate(UpsertItem, item)
            status, answer = await _upsert(app, key, upsert.code, upsert.dossier)
        elif op == "event":
            event = _validate(EventItem, item)
            status, answer, _ = await _record_event(app, key, event.code, event.event, None)
        else:
            raise ApiError(422, "invalid_input", "op: must be 'upsert' or 'event'")
    except ApiError as error:
        return {"status": error.status, "error": error.inner()}
    except HandlerError as error:
        return {"status": status_of(error), "error": {"code": error.code, "message": error.message}}
    return {"status": status, **answer}


async def post_batch(request: web.Request) -> web.Response:
    """POST /dossiers:batch: up to 1000 upserts and events, in order, one transaction and one result each."""
    key = await _authorize(request, (WRITE,))
    envelope = _validate(_BatchEnvelope, await _read_object(request))
    app = request.app[APP]
    results = [{"index": index, **await _batch_item(app, key, item)} for index, item in enumerate(envelope.items)]
    return _json({"results": results})


async def get_dossier(request: web.Request) -> web.Response:
    """GET /dossiers/{code}: state, timeline, due dates, survey status and apology."""
    key = await _authorize(request, (WRITE, READ_REPORTS))
    app = request.app[APP]
    code = _existing_code(request)
    view = await app.dossiers.view(code)
    if not key.covers(view.dossier.unit_id):
        raise _not_found(code)
    return _json(dossier_detail(view, _zone(app)).model_dump(mode="json"))


def dossier_detail(view: DossierView, zone: ZoneInfo) -> DossierDetailOut:
    """The answer of GET /dossiers/{code}."""
    invitation, apology = view.invitation, view.apology
    survey = None
    if invitation is not None:
        survey = SurveyOut(
            status=invitation.status,
            form=FormRef(id=invitation.form_id, version=invitation.form_version),
            channel=invitation.channel,
            scheduled_at=invitation.scheduled_at.astimezone(zone),
            expires_at=invitation.expires_at.astimezone(zone),
            sent_at=_local(invitation.sent_at, zone),
            delivered_at=_local(invitation.delivered_at, zone),
            started_at=_local(invitation.started_at, zone),
            completed_at=_local(invitation.completed_at, zone),
            closed_at=_local(invitation.closed_at, zone),
        )
    return DossierDetailOut(
        **_dossier_fields(view.dossier, view.unit_code, zone),
        new_due_at=_local(view.new_due_at, zone),
        handler=view.dossier.handler,
        receiver=view.dossier.receiver,
        timeline=[TimelineEntry(type=e.type, at=e.at.astimezone(zone), note=e.note) for e in view.events],
        survey=survey,
        apology=apology_out(apology, zone) if apology is not None else None,
        error_apology=apology_out(view.error_apology, zone) if view.error_apology is not None else None,
    )


def apology_out(apology: Apology, zone: ZoneInfo) -> ApologyOut:
    """An apology as the API shows it."""
    return ApologyOut(
        kind="error" if apology.kind == "error" else "delay",
        number=apology.number,
        reason=apology.reason,
        new_due_at=_local(apology.new_due_at, zone),
        issued_by=apology.issued_by,
        issued_key=apology.issued_key,
        issued_at=apology.issued_at.astimezone(zone),
        in_time=apology.in_time,
    )


REPORT_PARAMETERS = ("unit", "from", "to", "include_children", "form")
TRUE_WORDS = {"true": True, "1": True, "false": False, "0": False}


def _query_date(request: web.Request, name: str) -> date | None:
    text = request.query.get(name)
    if text is None:
        return None
    try:
        if not DATE_RE.fullmatch(text):
            raise ValueError
        value = date.fromisoformat(text)
    except ValueError:
        raise ApiError(422, "invalid_input", f"{name}: expected a date as YYYY-MM-DD") from None
    if value.year not in YEARS:
        raise ApiError(422, "invalid_input", f"{name}: the year must be between {YEARS.start} and {YEARS.stop - 1}")
    return value


async def get_report(request: web.Request) -> web.Response:
    """GET /reports/satisfaction: the report of docs/FIGURES.md as JSON."""
    key = await _authorize(request, (READ_REPORTS,))
    query = request.query
    for name in query:
        if name not in REPORT_PARAMETERS:
            raise ApiError(422, "invalid_input", f"{name}: unknown parameter (known: {', '.join(REPORT_PARAMETERS)})")
        if len(query.getall(name)) > 1:
            raise ApiError(422, "invalid_input", f"{name}: given more than once")
        try:
            storable(query[name])
        except ValueError as exc:
            raise ApiError(422, "invalid_input", f"{name}: {exc}") from None
    unit = query.get("unit", "").strip()
    if not unit:
        raise ApiError(422, "invalid_input", "unit: required")
    app = request.app[APP]
    async with app.services.uow(read_only=True) as uow:
        asked = await uow.units.get_by_code(unit)
    if asked is not None and not key.covers(asked.id):
        raise ApiError(403, "forbidden", f"unit: this key does not cover unit {unit!r}")
    policy = app.services.policy
    end = _query_date(request, "to") or policy.local_date(app.services.clock())
    start = _query_date(request, "from") or end.replace(day=1)
    if start > end:
        raise ApiError(422, "invalid_input", f"from: {start.isoformat()} is after to ({end.isoformat()})")
    flag = query.get("include_children", "false").strip().lower()
    if flag not in TRUE_WORDS:
        raise ApiError(422, "invalid_input", "include_children: expected true, false, 1 or 0")
    form = query.get("form", "").strip() or None
    if form is not None and form not in app.services.catalog:
        known = ", ".join(app.services.catalog.ids())
        raise ApiError(422, "invalid_input", f"form: unknown form {form!r} (known: {known})")
    try:
        report = await app.reporter.satisfaction(
            unit, Period(start, end), TRUE_WORDS[flag], form_id=form, breakdowns=True
        )
    except NotFound:
        raise ApiError(422, "unknown_unit", f"unit: unknown unit {unit!r}") from None
    return _json(report)


async def get_openapi(request: web.Request) -> web.Response:
    """GET /openapi.json: this API's OpenAPI 3.1 document."""
    document: dict[str, Any] = request.app[OPENAPI]
    return _json(document)


async def get_qr(request: web.Request) -> web.Response:
    """GET /qr/{token}.png: the receipt's QR code (no key: the token itself is the secret)."""
    app = request.app[APP]
    token = request.match_info["token"]
    async with app.services.uow(read_only=True) as uow:
        dossier = await uow.dossiers.get_by_token(token)
    if dossier is None:
        return error_response(404, "not_found", "no such opt-in code")
    content = qr_content(app, token)
    etag = '"' + hashlib.sha256(content.encode()).hexdigest()[:32] + '"'
    headers = {"Cache-Control": QR_CACHE, "ETag": etag, "X-Content-Type-Options": "nosniff"}
    if etag in {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}:
        return web.Response(status=304, headers=headers)
    return web.Response(body=qr_png(content), content_type="image/png", headers=headers)


def qr_png(content: str) -> bytes:
    """A QR code as PNG, large enough to print on an A4/A5 receipt and scan from a phone."""
    buffer = io.BytesIO()
    segno.make(content, error="m", micro=False).save(buffer, kind="png", scale=QR_SCALE, border=4, dpi=300)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------- the operations

CODE_PARAMETER = {
    "name": "code",
    "in": "path",
    "required": True,
    "description": "The dossier code (mã hồ sơ): 1–50 letters, digits or . _ / - (a / is sent as %2F).",
    "schema": {"type": "string", "pattern": CODE_RE.pattern, "maxLength": 50},
}
_BATCH_ANSWER = Answer(
    "One result per item, in order; `status` is the HTTP status the item would have had on its own.", BatchOut
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "PUT",
        f"{PREFIX}/dossiers/{{code}}",
        put_dossier,
        "putDossier",
        "Create or update a dossier",
        "Sending the same dossier again changes nothing and gives the same opt-in token. "
        f"Submission channels: {', '.join(SUBMISSION_CHANNELS)}. Text is stored in Unicode NFC. "
        "A key creates dossiers only in its units (403 otherwise); a dossier of a unit it does not cover is 404; "
        "a dossier never changes unit through the API, whatever the key (422 `unit_change_refused`). "
        "`received_at` may not be in the future (422).",
        scopes=(WRITE,),
        body=DossierBody,
        parameters=(CODE_PARAMETER,),
        answers={
            200: Answer("The dossier was updated.", UpsertOut),
            201: Answer("The dossier was created.", UpsertOut, headers={"Location": "The dossier's URL."}),
        },
        errors=(404,),
    ),
    Operation(
        "GET",
        f"{PREFIX}/dossiers/{{code}}",
        get_dossier,
        "getDossier",
        "Read a dossier back",
        "State, timeline, due and new due dates, survey status and apology. A key with `dossiers:write` "
        "(the system that sends the dossier) or `reports:read` may read it; no contact data is returned.",
        scopes=(WRITE, READ_REPORTS),
        parameters=(CODE_PARAMETER,),
        answers={200: Answer("The dossier.", DossierDetailOut)},
        errors=(404,),
    ),
    Operation(
        "POST",
        f"{PREFIX}/dossiers/{{code}}/events",
        post_event,
        "postDossierEvent",
        "Apply a lifecycle event",
        f"Event types: {', '.join(EVENT_TYPES)}. The same (type, at) again changes nothing (`changed: false`). "
        f"With an `{IDEMPOTENCY_HEADER}`, the first successful answer is stored with the event and replayed "
        "for the same key and request; the same key with a different request is refused "
        "(422 `idempotency_key_reused`). Refusals are not stored.",
        scopes=(WRITE,),
        body=EventBody,
        parameters=(
            CODE_PARAMETER,
            {
                "name": IDEMPOTENCY_HEADER,
                "in": "header",
                "required": False,
                "description": "1–200 visible ASCII characters; scoped to the API key and this path.",
                "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,200}$"},
            },
        ),
        answers={
            202: Answer(
                "The event was applied (or had been before).",
                EventOut,
                headers={"Idempotent-Replayed": "`true` when this is the stored answer of an earlier request."},
            )
        },
        errors=(404, 409),
    ),
    Operation(
        "POST",
        f"{PREFIX}/dossiers/{{code}}/apology",
        post_apology,
        "postDossierApology",
        "Issue an apology for the dossier",
        "`kind: delay` (the default): the apology and new appointment (phiếu xin lỗi và hẹn lại ngày trả kết quả) "
        "for a dossier that will run late. It is in time when issued no later than the working day before the due "
        "date; a later one is still issued and sent, with `in_time: false`, and reported as a late apology "
        "(`apologies_late`). `kind: error`: an apology for an error (sai sót) made in handling a resolved or "
        "returned dossier, with no new date (`in_time: null`). Both are numbered `01/PXL` per unit and year "
        "(`SIPAS_APOLOGY_NUMBER_SYMBOL`) and "
        "sent to the citizen on every linked chat (a delay apology also by ZNS where configured) with the "
        "printable slip. A dossier gets at most one of each kind: a second is 409 `apology_exists`; a delay "
        "apology for a resolved dossier, or an error apology for one not resolved, is 409 `invalid_transition`; "
        "a delay apology without a new date, or with one that is not a working day after today and after the "
        "due date, and an error apology with a new date, are 422.",
        scopes=(WRITE_APOLOGIES,),
        body=ApologyBody,
        parameters=(CODE_PARAMETER,),
        answers={201: Answer("The apology was issued.", ApologyIssuedOut)},
        errors=(404, 409, 422),
    ),
    Operation(
        "POST",
        f"{PREFIX}/dossiers:batch",
        post_batch,
        "postDossierBatch",
        "Apply many upserts and events",
        f"1–{BATCH_LIMIT} items, applied in order, each in its own transaction: a bad item fails alone. "
        "The call answers 200 unless the envelope itself is bad.",
        scopes=(WRITE,),
        body=_BatchEnvelope,
        body_schema_model=BatchBody,
        answers={200: _BATCH_ANSWER},
    ),
    Operation(
        "GET",
        f"{PREFIX}/reports/satisfaction",
        get_report,
        "getSatisfactionReport",
        "The satisfaction report of a unit",
        "Counts, rates and indexes for local calendar days `from`–`to` (both included). Defaults: `to` is today, "
        "`from` the first day of `to`'s month. An unknown unit is 422 `unknown_unit`.",
        tag="reports",
        scopes=(READ_REPORTS,),
        parameters=(
            {"name": "unit", "in": "query", "required": True, "schema": {"type": "string"}},
            {"name": "from", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}},
            {"name": "to", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}},
            {
                "name": "include_children",
                "in": "query",
                "required": False,
                "description": "Also count the units below this one.",
                "schema": {"type": "string", "enum": ["true", "false", "1", "0"], "default": "false"},
            },
            {
                "name": "form",
                "in": "query",
                "required": False,
                "description": "The form whose answers are scored (default: the unit's survey form). ZNS ratings "
                "are answers to `danh-gia-ho-so`.",
                "schema": {"type": "string"},
            },
        ),
        answers={200: Answer("The report (docs/FIGURES.md).", ReportOut)},
        errors=(422,),
    ),
    Operation(
        "GET",
        f"{PREFIX}/openapi.json",
        get_openapi,
        "getOpenApi",
        "This document",
        tag="meta",
        answers={200: Answer("OpenAPI 3.1.", OpenApiOut)},
    ),
)

QR_PATH = "/qr/{token:[A-Za-z0-9_-]{1,64}}.png"
SLIP_PATH = "/phieu/{token:[A-Za-z0-9_-]{1,64}}.pdf"
FILE_PATH = "/tep/{token:[A-Za-z0-9_-]{1,64}}/{name:[A-Za-z0-9_.-]{1,200}}"


def setup_api(web_app: web.Application) -> None:
    """Register the REST API under /api/v1, its OpenAPI document, the QR route and the linking page it opens."""
    for operation in OPERATIONS:
        web_app.router.add_route(operation.method, operation.path, _guard(operation.handler))
    web_app.router.add_get(QR_PATH, get_qr)
    setup_linking(web_app)
    web_app.router.add_get(SLIP_PATH, get_slip)
    web_app.router.add_get(FILE_PATH, get_file)
    web_app[OPENAPI] = build_document(OPERATIONS, public_url=web_app[APP].settings.public_url, error_model=ErrorOut)
