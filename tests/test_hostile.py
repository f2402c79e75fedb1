"""Hostile input: every parser of outside data fed arbitrary and adversarial input (hypothesis), and the HTTP edges
fed oversized bodies, deep JSON, invalid UTF-8 and decomposed Vietnamese. Nothing may raise but its documented
refusal, return something invalid, answer a 500 or leave an unhandled exception in the log.

Hypothesis is synchronous; the database-backed properties run it in a worker thread and run each example to the
end on the test's own event loop (which owns the fixtures), one example after the other: each example measures
what it asserts about (the rows before and after), so the state earlier examples leave does not matter.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import logging
import re
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from telegram import Bot, Update

from bot.app import App
from bot.channels import zalo_bot, zalo_oa, zns
from bot.channels.telegram import TelegramChannel, TelegramConfig
from bot.channels.telegram_wire import to_inbound as telegram_inbound
from bot.channels.zalo_api import ZaloApi, ZaloOAConfig
from bot.channels.zalo_bot import ZaloBotChannel, ZaloBotConfig
from bot.channels.zalo_oa import ZaloOAChannel, signature
from bot.channels.zns import ZnsEvents
from bot.web.api import PREFIX, setup_api
from bot.web.routes.common import ApiError, parse_json_object
from bot.web.server import MAX_BODY_BYTES, build_web_app
from handlers.admin.invites import Roles
from handlers.chat.dispatcher import ChatDispatcher
from handlers.citizen.ratings import Rating
from handlers.citizen.survey import Back, Chosen, NotUnderstood, Skip, interpret
from handlers.contacts import normalize_phone
from handlers.context import Services
from handlers.intake.dossiers import DossierHandler
from handlers.intake.imports import cells as cell_readers
from handlers.intake.imports.header_aliases import fold_header
from handlers.intake.imports.importer import DossierImporter
from handlers.intake.imports.report import ImportReport
from handlers.messages import Identity, Inbound, Outcome, Reply
from storage.models import (
    AnswerRow,
    ApologyRow,
    AuditRow,
    DossierRow,
    DraftRow,
    FeedbackRow,
    FieldRow,
    IdentityRow,
    InvitationRow,
    InviteRow,
    PersonRow,
    RoleRow,
)
from survey_forms.catalog import Catalog
from survey_forms.schema import Form, Question
from tests.conftest import Clock
from tests.emulators.telegram import TelegramEmulator
from tests.helpers import Person, add_unit, returned_dossier, sample_dossier
from tests.helpers import snapshot as rows_of

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]

# every property runs the same examples on every run (CI must not be flaky), and keeps no example database
FIXED = settings(deadline=None, derandomize=True, database=None)
TOKEN = "123456:TEST-token"
SECRET = "s3cr3t_Token-1"
APP_ID = "1234567890"
SECRET_KEY = "oa-secret-key"
NOW = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)
PUBLIC_URL = "https://sipas.example.vn"
ERROR_SHAPE_KEYS = {"error"}
ID_RE = re.compile(r"[\x21-\x7e]{1,128}")
INBOUND_KINDS = {"text", "choice", "contact", "blocked", "unblocked", "unsupported"}


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


# ------------------------------------------------------------------------------------------- strategies

VIETNAMESE = [
    "Rất hài lòng",
    "Hài lòng",
    "Bình thường",
    "Không hài lòng",
    "Rất không hài lòng",
    "bỏ qua",
    "quay lại",
    "Đồng ý",
    "Không đồng ý",
    "Nguyễn Văn An",
    "Hộ tịch",
    "Đăng ký khai sinh",
    "Cán bộ hướng dẫn tận tình",
    "Trần Thị Bình",
    "Đã trả kết quả",
    "trực tuyến",
]
ODD = [
    "\u200b",  # zero-width space
    "\u200c",
    "\u200d",
    "\ufeff",  # byte order mark
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\u2066",
    "\x00",
    "\x07",
    "\x1b[31m",
    "\r",
    "\n\n",
    "\t",
    "\u0301",  # a combining acute with nothing to combine with
    "\u0323",
    "²",  # str.isdigit() but not int()
    "٣",  # an Arabic-Indic three
    "１２",  # full-width digits
    "Ⅻ",
    "\ud800",  # lone surrogates (JSON can carry them)
    "\udcff",
    "😀",
    "ﬁ",
    "İ",
    "ß",
    "0",
    "00",
    "1,2",
    "1, 3;5",
    " ",
    "/",
    ":",
    "%",
    "-1",
    "99999999999999999999999",
]
long_text = st.tuples(st.sampled_from(["9", "a", "ầ", "\u0301", "1 ", "Hài lòng "]), st.integers(600, 12_000)).map(
    lambda pair: pair[0] * pair[1]
)
text_piece = st.one_of(
    st.text(max_size=12),
    st.sampled_from(VIETNAMESE),
    st.sampled_from(VIETNAMESE).map(nfd),
    st.sampled_from(ODD),
    st.integers(-(10**6), 10**6).map(str),
)
hostile_text = st.one_of(
    st.lists(text_piece, max_size=6).map("".join),
    st.sampled_from(VIETNAMESE).map(nfd),
    long_text,
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12), st.sampled_from(ODD)
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The well-typed value most of the time, else anything JSON can carry."""
    return st.one_of(strategy, strategy, junk)


def clean(text: str) -> bool:
    """Storable in every database: no NUL, no lone surrogate."""
    return "\x00" not in text and not any("\ud800" <= c <= "\udfff" for c in text)


def assert_inbound(inbound: Inbound | None, channel: str) -> None:
    """A neutral event the handlers can take as it is: ids, kind and text all well formed."""
    if inbound is None:
        return
    assert isinstance(inbound, Inbound)
    assert inbound.identity.channel == channel
    assert ID_RE.fullmatch(inbound.identity.external_id), inbound
    assert ID_RE.fullmatch(inbound.event_id) or len(inbound.event_id) <= 300, inbound
    assert clean(inbound.event_id), inbound
    assert inbound.kind in INBOUND_KINDS
    for text in (inbound.text, inbound.value, inbound.phone):
        assert isinstance(text, str)
        assert clean(text), inbound
        assert unicodedata.is_normalized("NFC", inbound.text)
    assert inbound.locale_hint is None or isinstance(inbound.locale_hint, str)


@dataclass
class Logged:
    """Error records (and any record with a traceback) logged while a test ran."""

    records: list[logging.LogRecord]

    def assert_clean(self) -> None:
        bad = [r for r in self.records if r.levelno >= logging.ERROR or r.exc_info]
        assert not bad, [f"{r.name}: {r.getMessage()} {r.exc_info!r}" for r in bad]


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged() -> Iterator[Logged]:
    """Every warning and error logged, from any thread, while the test runs."""
    collector = _Collector()
    root = logging.getLogger()
    root.addHandler(collector)
    try:
        yield Logged(collector.records)
    finally:
        root.removeHandler(collector)


async def for_all(strategy: st.SearchStrategy[Any], check: Callable[[Any], Awaitable[None]], *, examples: int) -> None:
    """Check ``check`` on ``examples`` values of ``strategy``, each run to the end on this test's event loop."""
    loop = asyncio.get_running_loop()

    @settings(FIXED, max_examples=examples)
    @given(strategy)
    def run(value: Any) -> None:
        asyncio.run_coroutine_threadsafe(check(value), loop).result(timeout=120)

    await asyncio.to_thread(run)


# ------------------------------------------------------------------------------------------- Telegram

tg_user = st.fixed_dictionaries(
    {"id": maybe(st.integers(1, 10**10)), "is_bot": maybe(st.booleans()), "first_name": maybe(hostile_text)},
    optional={"language_code": maybe(st.sampled_from(["vi", "en", "en-US", "", "VI"]))},
)
tg_chat = st.fixed_dictionaries(
    {"id": maybe(st.integers(-(10**12), 10**12)), "type": maybe(st.sampled_from(["private", "group", "channel"]))}
)
tg_message = st.fixed_dictionaries(
    {"message_id": maybe(st.integers(1, 10**6)), "date": maybe(st.integers(0, 2 * 10**9)), "chat": maybe(tg_chat)},
    optional={
        "from": maybe(tg_user),
        "text": maybe(hostile_text),
        "caption": maybe(hostile_text),
        "contact": maybe(
            st.fixed_dictionaries(
                {"phone_number": maybe(hostile_text), "first_name": maybe(st.text(max_size=5))},
                optional={"user_id": maybe(st.integers(1, 10**10))},
            )
        ),
        "entities": st.just([{"offset": 0, "length": 6, "type": "bot_command"}]),
    },
)
tg_member = st.fixed_dictionaries(
    {"user": maybe(tg_user), "status": maybe(st.sampled_from(["member", "kicked", "left", "administrator"]))}
)
tg_update = st.fixed_dictionaries(
    {"update_id": maybe(st.integers(0, 10**12))},
    optional={
        "message": maybe(tg_message),
        "callback_query": maybe(
            st.fixed_dictionaries(
                {
                    "id": maybe(st.text(max_size=10)),
                    "from": maybe(tg_user),
                    "chat_instance": maybe(st.text(max_size=5)),
                },
                optional={"data": maybe(hostile_text), "message": maybe(tg_message)},
            )
        ),
        "my_chat_member": maybe(
            st.fixed_dictionaries(
                {
                    "chat": maybe(tg_chat),
                    "from": maybe(tg_user),
                    "date": maybe(st.integers(0, 2 * 10**9)),
                    "old_chat_member": maybe(tg_member),
                    "new_chat_member": maybe(tg_member),
                }
            )
        ),
    },
)
TELEGRAM_BOT = Bot(TOKEN)  # de_json needs a bot; nothing here reaches the network


@settings(FIXED, max_examples=600)
@given(tg_update)
def test_a_telegram_update_becomes_a_valid_event_or_nothing(data: dict[str, Any]) -> None:
    try:
        update = Update.de_json(data, TELEGRAM_BOT)
    except Exception:  # the webhook answers 400 for what PTB cannot read (tested below); nothing to map then
        return
    assert_inbound(telegram_inbound(update), "telegram")


# ------------------------------------------------------------------------------------------- Zalo OA

oa_ids = st.one_of(st.sampled_from(["2468458835296117922", "5521", "cb31dff1c39642cc1b83"]), st.integers(1, 10**18))
oa_event = st.fixed_dictionaries(
    {
        "event_name": maybe(
            st.sampled_from(
                [
                    "user_send_text",
                    "user_click_button",
                    "user_send_image",
                    "user_send_sticker",
                    "follow",
                    "unfollow",
                    "user_feedback",
                    "user_received_message",
                    "oa_send_text",
                ]
            )
        ),
    },
    optional={
        "app_id": maybe(st.just(APP_ID)),
        "timestamp": maybe(st.just("1763434800000")),
        "sender": maybe(st.fixed_dictionaries({"id": maybe(oa_ids)})),
        "follower": maybe(st.fixed_dictionaries({"id": maybe(oa_ids)})),
        "recipient": maybe(st.fixed_dictionaries({"id": maybe(oa_ids)})),
        "message": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "msg_id": maybe(oa_ids),
                    "text": maybe(hostile_text),
                    "payload": maybe(hostile_text.map(lambda t: "#sipas " + t)),
                    "rate": maybe(st.integers(-2, 8) | st.floats() | st.sampled_from(["5", "4.0", "1e999", "²"])),
                    "note": maybe(hostile_text),
                    "feedbacks": maybe(st.lists(maybe(hostile_text), max_size=3)),
                    "tracking_id": maybe(
                        st.sampled_from(["sipas-1", "sipas-99999999999999999999", "x"]) | hostile_text
                    ),
                },
            )
        ),
        "msg_id": maybe(oa_ids),
        "tracking_id": maybe(hostile_text),
    },
)


@settings(FIXED, max_examples=500)
@given(oa_event | st.dictionaries(st.text(max_size=8), junk, max_size=5))
def test_a_zalo_oa_event_becomes_a_valid_event_or_nothing(event: dict[str, Any]) -> None:
    assert_inbound(zalo_oa.to_inbound(event), "zalo_oa")


@settings(FIXED, max_examples=500)
@given(oa_event | st.dictionaries(st.text(max_size=8), junk, max_size=5))
def test_a_zns_event_gives_a_valid_rating_or_none(event: dict[str, Any]) -> None:
    rating = zns.rating_of(event)
    if rating is None:
        return
    assert isinstance(rating, Rating)
    assert type(rating.rate) is int
    assert 1 <= rating.rate <= 5
    assert ID_RE.fullmatch(rating.message_id)
    assert rating.tracking_id is None or ID_RE.fullmatch(rating.tracking_id)
    assert all(isinstance(chip, str) and chip.strip() and clean(chip) for chip in rating.chips)
    assert rating.note is None or (isinstance(rating.note, str) and clean(rating.note))


def oa_channel(services: Services, on_inbound: Callable[[Inbound], Awaitable[Outcome]] | None = None) -> ZaloOAChannel:
    config = ZaloOAConfig(app_id=APP_ID, app_secret="app-secret", secret_key=SECRET_KEY)
    api = ZaloApi(config, services)
    return ZaloOAChannel(api, on_inbound or ChatDispatcher(services).handle, clock=lambda: NOW.timestamp())


def signed(event: Any) -> tuple[bytes, str]:
    """An event as the OA's app would send it: its raw body and a valid signature."""
    raw = json.dumps(event, ensure_ascii=False).encode("utf-8", "surrogatepass")
    timestamp = str(event.get("timestamp") or "") if isinstance(event, dict) else ""
    app_id = str(event.get("app_id") or "") if isinstance(event, dict) else ""
    try:
        mac = signature(app_id, raw, timestamp, SECRET_KEY)
    except UnicodeEncodeError:
        mac = "0" * 64
    return raw, f"mac={mac}"


headers_text = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.sampled_from(["mac=", "mac=" + "0" * 64, "\udcff\udcfe", "mac=\ud800", " mac=ab "]),
)


@settings(FIXED, max_examples=400)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.sampled_from([b"[" * 5000, b"{" * 5000, b'{"app_id": "' + APP_ID.encode() + b'"', b"\xff\xfe", b"null"]),
        junk.map(lambda value: json.dumps(value).encode()),
    ),
    headers_text,
)
def test_verifying_an_oa_event_refuses_with_a_permission_error_only(raw: bytes, header: str | None) -> None:
    channel = oa_channel(cast(Services, object()))  # verify() reads only the configuration and the clock
    try:
        event = channel.verify(raw, header)
    except PermissionError:
        return
    assert isinstance(event, dict)


@settings(FIXED, max_examples=300)
@given(oa_event | junk.map(lambda value: {"app_id": APP_ID, "timestamp": "1763434800000", "x": value}))
def test_a_validly_signed_event_of_any_shape_is_verified_or_refused(event: dict[str, Any]) -> None:
    channel = oa_channel(cast(Services, object()))
    raw, header = signed(event)
    try:
        verified = channel.verify(raw, header)
    except PermissionError:
        return
    assert verified == json.loads(raw)


# ------------------------------------------------------------------------------------------- Zalo Bot

zb_ids = st.sampled_from(["6ede9afa66b88fe6d6a9", "2d758cb5e222177a4e35", "1459232241454765289"])
zb_message = st.fixed_dictionaries(
    {
        "from": maybe(
            st.fixed_dictionaries(
                {"id": maybe(zb_ids)},
                optional={"display_name": maybe(hostile_text), "is_bot": maybe(st.booleans())},
            )
        ),
        "chat": maybe(
            st.fixed_dictionaries(
                {"id": maybe(zb_ids)}, optional={"chat_type": maybe(st.sampled_from(["PRIVATE", "GROUP"]))}
            )
        ),
        "message_id": maybe(zb_ids),
    },
    optional={"text": maybe(hostile_text), "date": maybe(st.integers())},
)
zb_update = st.fixed_dictionaries(
    {
        "event_name": maybe(
            st.sampled_from(["message.text.received", "message.image.received", "message.sticker.received"])
        ),
        "message": maybe(zb_message),
    }
)
zb_updates = st.one_of(
    zb_update,
    zb_update.map(lambda update: {"ok": True, "result": update}),
    st.dictionaries(st.text(max_size=8), junk, max_size=4),
    junk.map(lambda value: {"ok": True, "result": value}),
)


@settings(FIXED, max_examples=500)
@given(zb_updates)
def test_a_zalo_bot_update_becomes_a_valid_event_or_nothing(update: dict[str, Any]) -> None:
    assert_inbound(zalo_bot.to_inbound(update), "zalo_bot")


# ------------------------------------------------------------------------------------------- typed answers


def every_question(catalog: Catalog) -> list[tuple[Form, Question]]:
    return [(form, question) for form in map(catalog.get, catalog.ids()) for question in form.questions]


def assert_interpretation(form: Form, question: Question, typed: str, result: object) -> None:
    assert isinstance(result, Chosen | Skip | Back | NotUnderstood), result
    if not isinstance(result, Chosen):
        return
    if question.type == "text":
        assert result.value is None
        assert result.text == typed
        assert len(typed) <= question.max_length
        return
    values = [option.value for option in form.options_of(question)]
    assert result.value, result
    chosen = result.value.split(",")
    assert all(value in values for value in chosen), (result, values)
    assert len(set(chosen)) == len(chosen)
    if question.type != "multi_choice":
        assert len(chosen) == 1


@settings(FIXED, max_examples=600)
@given(st.data())
def test_typed_text_is_an_answer_a_skip_a_back_or_not_understood(catalog: Catalog, data: st.DataObject) -> None:
    form, question = data.draw(st.sampled_from(every_question(catalog)), label="question")
    typed = data.draw(hostile_text, label="typed")
    for text in (typed, Inbound(Identity("console", "x"), "e", "text", text=typed).text):
        assert_interpretation(form, question, text, interpret(form, question, text))


def test_every_option_typed_decomposed_means_the_same_as_composed(catalog: Catalog) -> None:
    for form, question in every_question(catalog):
        for option in form.options_of(question):
            for label in (option.label.vi, option.label.vi.upper(), f"  {option.label.vi}. "):
                assert interpret(form, question, nfd(label)) == interpret(form, question, label) == Chosen(option.value)


# ------------------------------------------------------------------------------------------- imported cells

cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(10**30), 10**30),
    st.floats(),
    st.datetimes(),
    st.datetimes(timezones=st.timezones()),
    st.dates(),
    st.times(),
    st.timedeltas(),
    hostile_text,
    st.sampled_from(
        [
            "18/11/2026",
            "18/11/2026 09:30",
            "09:30 18/11/2026",
            "2026-11-18",
            "2026-11-18T09:30:00+07:00",
            "31/02/2026",
            "01/01/0001",
            "31/12/9999 23:59",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-12:00",
            "10 - Đã trả kết quả",
            "99",
            "Đang xử lý",
            "0912 345 678",
            "+84 912 345 678",
            "84912345678",
            "０９１２３４５６７８",
            "０912345678",
            "09¹2345678",
            "Trực tuyến",
            "Mã hồ sơ",
        ]
    ),
)


@settings(FIXED, max_examples=800)
@given(cells)
def test_every_cell_reader_gives_a_value_or_its_documented_refusal(value: object) -> None:
    text = cell_readers.cell_text(value)
    assert text is None or (text == text.strip() and text and unicodedata.is_normalized("NFC", text))
    assert isinstance(fold_header(text or ""), str)
    try:
        moment = cell_readers.parse_moment(value)
    except (ValueError, OverflowError):  # the row error "… không phải là ngày"
        moment = None
    assert moment is None or isinstance(moment, date)
    try:
        status = cell_readers.parse_status(value)
    except ValueError:
        status = None
    assert status is None or (type(status) is int and status in cell_readers.STATUS_STATES)
    try:
        channel = cell_readers.parse_channel(value)
    except ValueError:
        channel = None
    assert channel in (None, "truc_tiep", "truc_tuyen", "buu_chinh")
    try:
        phone = cell_readers.parse_phone(value)
    except ValueError:
        phone = None
    assert phone is None or re.fullmatch(r"84[1-9][0-9]{8,9}", phone), phone


@settings(FIXED, max_examples=400)
@given(hostile_text)
def test_a_phone_number_is_canonical_or_refused(text: str) -> None:
    try:
        phone = normalize_phone(text)
    except ValueError:
        return
    assert re.fullmatch(r"84[1-9][0-9]{8,9}", phone), phone


HEADERS = [
    "Mã hồ sơ",
    "Thủ tục",
    "Lĩnh vực",
    "Ngày tiếp nhận",
    "Ngày hẹn trả",
    "Ngày trả kết quả",
    "Trạng thái",
    "Chủ hồ sơ",
    "Số điện thoại",
    "Cán bộ xử lý",
]
# a row of usable cells (some in the odd but readable ways exports have), then that row with one cell spoilt
usable_cells = [
    st.sampled_from(["P8-1", "P8-2", "HS/2026/3", "P8-4"]),
    st.sampled_from(["Đăng ký khai sinh", nfd("Đăng ký kết hôn"), "Chứng\x00 thực", "\ufeffCấp bản sao\u200b"]),
    st.sampled_from(["Hộ tịch", nfd("Đất đai"), "Hộ\x00 tịch", "Chứng thực\u202e"]),
    st.sampled_from(["10/11/2026", "2026-11-10 08:00", "10/11/2026 07:30", "2026-11-10T08:00:00+07:00"]),
    st.sampled_from(["20/11/2026", "2026-11-20", "20/11/2026 17:00"]),
    st.sampled_from(["", "18/11/2026", "2026-11-18 15:00"]),
    st.sampled_from(["", "10", "9 - Đã xử lý xong", "Đang xử lý", "Hủy", "2"]),
    st.sampled_from(["Nguyễn Văn An", nfd("Lê Thị Hoà"), "Lê\x00 Thị Hoà", "\ufeffĐỗ Văn Em\u200b"]),
    st.sampled_from(["0912 345 678", "", "+84 977 111 222"]),
    st.sampled_from(["Trần Thị Bình", "", "Trần\x00 Thị Bình", nfd("Phạm Văn Đức")]),
]
spoilt_cells = [
    st.sampled_from(["", "bad code!", "x" * 60, "P8-1\x00"]),
    st.sampled_from(["", "x" * 400]),
    st.sampled_from(["", "x" * 150]),
    st.sampled_from(["01/01/0001", "31/12/1899", "0001-01-01T00:00:00+14:00", "hôm qua", "31/02/2026", "", "1e9"]),
    st.sampled_from(["31/12/9999 23:59", "01/01/3000", "9999-12-31T23:59:59-12:00", "05/11/2026", "", "nan"]),
    st.sampled_from(["01/01/0001", "9999-12-31T23:59:59-12:00", "01/11/2026", "24:00 18/11/2026"]),
    st.sampled_from(["42", "inf", "nan", "-1", "Không rõ", "10.5"]),
    st.sampled_from(["", "\x00", "\u200b"]),
    st.sampled_from(["12345", "０９１２３４５６７８", "09¹2345678", "0912 345 678 ext 2", "inf"]),
    st.sampled_from(["x" * 150]),
]
usable_row = st.tuples(*usable_cells)


def _spoil(row: tuple[str, ...], index: int) -> st.SearchStrategy[tuple[str, ...]]:
    return st.one_of(spoilt_cells[index], hostile_text).map(lambda cell: (*row[:index], cell, *row[index + 1 :]))


spoilt_row = st.tuples(usable_row, st.integers(0, len(HEADERS) - 1)).flatmap(lambda pair: _spoil(*pair))
import_rows = st.lists(st.one_of(usable_row, spoilt_row, spoilt_row), min_size=1, max_size=6)
_files = itertools.count()


def write_csv(folder: Path, rows: list[tuple[str, ...]]) -> Path:
    path = folder / f"export-{next(_files)}.csv"
    with path.open("w", encoding="utf-8", errors="replace", newline="") as file:  # a file that is UTF-8
        writer = csv.writer(file)
        writer.writerow(HEADERS)
        writer.writerows(rows)
    return path


def write_xlsx(folder: Path, rows: list[tuple[str, ...]]) -> Path:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    path = folder / f"export-{next(_files)}.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADERS)
    for row in rows:
        # a workbook cannot hold control characters or lone surrogates: what Excel could write, no more
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", cell).encode("utf-8", "replace").decode() for cell in row])
    workbook.save(path)
    return path


async def test_an_import_of_any_small_file_reports_rows_never_raises(
    services: Services, clock: Clock, tmp_path: Path, logged: Logged
) -> None:
    await add_unit(services)
    importer = DossierImporter(services)

    async def check(case: tuple[str, list[tuple[str, ...]]]) -> None:
        kind, rows = case
        path = (write_csv if kind == "csv" else write_xlsx)(tmp_path, rows)
        report = await importer.run(path, unit="P8")
        assert isinstance(report, ImportReport)
        assert report.rows == len(rows)
        assert report.imported + len(report.errors) <= report.rows
        assert all(2 <= error.row <= len(rows) + 1 for error in report.errors)

    await for_all(st.tuples(st.sampled_from(["csv", "xlsx"]), import_rows), check, examples=30)
    logged.assert_clean()


async def test_an_imported_decomposed_name_is_stored_composed(services: Services, tmp_path: Path) -> None:
    await add_unit(services)
    row = ("P8-1", nfd("Đăng ký khai sinh"), nfd("Hộ tịch"), "10/11/2026", "20/11/2026", "", "", nfd("Lê Thị Hoà"))
    report = await DossierImporter(services).run(write_csv(tmp_path, [(*row, "", nfd("Trần Thị Bình"))]), unit="P8")
    assert report.errors == ()
    assert report.created == 1
    stored = await stored_texts(services)
    assert stored == {"Đăng ký khai sinh", "Hộ tịch", "Lê Thị Hoà", "Trần Thị Bình"} | (stored - set(map(str, row)))
    assert all(unicodedata.is_normalized("NFC", text) for text in stored)


async def stored_texts(services: Services) -> set[str]:
    """Every name, procedure, field and officer stored."""
    async with services.uow(read_only=True) as uow:
        connection = uow.connection
        texts = set((await connection.execute(select(PersonRow.name))).scalars())
        texts |= set((await connection.execute(select(DossierRow.procedure_name))).scalars())
        texts |= set((await connection.execute(select(DossierRow.handler))).scalars())
        texts |= set((await connection.execute(select(FieldRow.name))).scalars())
    return {text for text in texts if text}


# ------------------------------------------------------------------------------------------- button values

STATE_TABLES = (
    AnswerRow,
    InvitationRow,
    ApologyRow,
    FeedbackRow,
    DraftRow,
    RoleRow,
    InviteRow,
    IdentityRow,
    PersonRow,
    DossierRow,
    AuditRow,
)


async def snapshot(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    """What a button press could change: every row of these tables (not the inbound log, not the outbox)."""
    return await rows_of(services, STATE_TABLES)


def small(text: str) -> bool:
    return len(text.encode("utf-8", "surrogatepass")) <= 64  # Telegram's limit for callback data


def offered(person: Person) -> set[str]:
    return {option.value for reply in person.seen for option in reply.options}


@dataclass
class Desk:
    """A citizen in the middle of a survey, an officer in the middle of an apology, a complaint waiting."""

    citizen: Person
    officer: Person
    stranger: Identity
    ids: list[str]
    codes: list[str]


@pytest.fixture
async def desk(services: Services, clock: Clock) -> Desk:
    await add_unit(services)
    token = await returned_dossier(services, sample_dossier(), clock.now - timedelta(hours=2))
    citizen = Person(services, "citizen-1")
    await citizen.link(token)
    await citizen.press_label("Bắt đầu khảo sát")
    await citizen.press_label("Hài lòng")
    officer = Person(services, "officer-1")
    code = await Roles(services).invite("staff", "P8", "Trần Thị Bình")
    await officer.type(f"/join {code}")
    late = sample_dossier(
        code="P8-2", due_at=clock.now + timedelta(hours=20), received_at=clock.now - timedelta(days=3)
    )
    await DossierHandler(services).upsert(late)
    await officer.type("/xinloi P8-2")
    # a complaint: another citizen writes what is not an answer; the officer is told, with the complaint's buttons
    other = await DossierHandler(services).upsert(sample_dossier(code="P8-3", phone="0977 111 222", name="Đỗ Văn Em"))
    writer = Person(services, "citizen-2")
    await writer.link(other.dossier.optin_token)
    await writer.type("Cán bộ hướng dẫn chưa rõ ràng")
    await writer.press_label("Có")  # sent as a complaint, by the citizen's own choice
    async with services.uow(read_only=True) as uow:
        ids = [str(i) for i in (await uow.connection.execute(select(InvitationRow.id))).scalars()]
        ids += [str(i) for i in (await uow.connection.execute(select(DossierRow.id))).scalars()]
        ids += [str(i) for i in (await uow.connection.execute(select(FeedbackRow.id))).scalars()]
        codes = [str(c) for c in (await uow.connection.execute(select(AnswerRow.question_code))).scalars()]
        codes += [str(c) for c in (await uow.connection.execute(select(InvitationRow.cursor))).scalars() if c]
    await officer.receive()
    return Desk(citizen, officer, Identity("console", "stranger-1"), ids, codes)


def forged_values(desk: Desk) -> st.SearchStrategy[str]:
    """Button values nobody was offered: made up, truncated, of someone else, with look-alike or oversized ids."""
    ids = st.one_of(
        st.sampled_from(desk.ids),
        st.sampled_from(desk.ids).map(lambda i: "0" + i),
        st.sampled_from(desk.ids).map(lambda i: "".join(chr(0x660 + int(d)) for d in i)),  # Arabic-Indic digits
        st.sampled_from(desk.ids).map(lambda i: "".join(chr(0xFF10 + int(d)) for d in i)),  # full-width digits
        st.sampled_from(["0", "-1", "²", "¹²", "99999999999999999999", "9" * 40, "", " 1", "1 ", "1.0"]),
    )
    parts = st.one_of(
        ids,
        st.sampled_from(desk.codes),
        st.sampled_from(["1", "2", "3", "4", "5", "r", "c", "d", "s", "ok", "no", "other", "yes", "start"]),
        st.sampled_from(["20261120", "20261119", "2026111", "99991231", "20260230", "２０２６１１２０"]),
        st.text(max_size=6),
        st.sampled_from(ODD),
    )
    structured = st.tuples(
        st.sampled_from(["a", "m", "d", "s", "b", "c", "e", "k", "x", "f", "q", "", "A", "a "]),
        st.lists(parts, max_size=4),
    ).map(lambda pair: ":".join([pair[0], *pair[1]]))
    free = st.one_of(st.text(max_size=64), st.sampled_from(ODD), hostile_text)
    return st.one_of(structured, structured, free).filter(small)


async def test_a_forged_button_value_is_answered_and_changes_nothing(
    services: Services, desk: Desk, logged: Logged
) -> None:
    handler = ChatDispatcher(services)
    events = itertools.count()
    genuine = {
        desk.citizen.identity: offered(desk.citizen),
        desk.officer.identity: offered(desk.officer),
        desk.stranger: set(),
    }
    assert any(value.startswith("a:") for value in genuine[desk.citizen.identity])
    assert any(value.startswith("x:") for value in genuine[desk.officer.identity])
    assert any(value.startswith("f:") for value in genuine[desk.officer.identity])

    async def check(case: tuple[Identity, str]) -> None:
        identity, value = case
        if value in genuine[identity]:
            return
        before = await snapshot(services)
        outcome = await handler.handle(Inbound(identity, f"forged-{next(events)}", "choice", value=value))
        assert isinstance(outcome, Outcome)
        assert not outcome.duplicate
        assert outcome.replies or outcome.ack, (identity, value)
        assert all(isinstance(reply, Reply) for reply in outcome.replies)
        assert await snapshot(services) == before, (identity, value)

    who = st.sampled_from([desk.citizen.identity, desk.officer.identity, desk.stranger])
    await for_all(st.tuples(who, forged_values(desk)), check, examples=200)
    logged.assert_clean()


async def test_any_typed_text_is_answered_without_an_error(services: Services, desk: Desk, logged: Logged) -> None:
    handler = ChatDispatcher(services)
    events = itertools.count()

    async def check(case: tuple[Identity, str]) -> None:
        identity, text = case
        outcome = await handler.handle(Inbound(identity, f"typed-{next(events)}", "text", text=text))
        assert isinstance(outcome, Outcome)

    who = st.sampled_from([desk.citizen.identity, desk.officer.identity, desk.stranger])
    texts = st.one_of(
        hostile_text, hostile_text.map(lambda t: "/" + t), st.sampled_from(["/start", "/xinloi", "/hoso"])
    )
    texts = st.one_of(
        texts, st.tuples(st.sampled_from(["/start ", "/hoso ", "/join ", "/lang "]), hostile_text).map("".join)
    )
    await for_all(st.tuples(who, texts), check, examples=120)
    logged.assert_clean()


# ------------------------------------------------------------------------------------------- the web edges


@pytest.fixture
async def key(sipas: App) -> str:
    return await sipas.api_keys.create("t", ["dossiers:write", "reports:read", "apologies:write"], ["all"])


@dataclass
class Webhooks:
    """The web app with the REST API and the three webhooks, as `sipasbot run` serves them."""

    client: Client
    telegram: TelegramChannel


@pytest.fixture
async def web_edges(sipas: App, aiohttp_client: ClientFactory) -> AsyncIterator[Webhooks]:
    async with TelegramEmulator(token=TOKEN, username="sipas_test_bot") as emulator:
        config = TelegramConfig(token=TOKEN, api_url=emulator.api_url, webhook_secret=SECRET)
        telegram = TelegramChannel(config, sipas.citizens.handle)
        await telegram.start()
        oa = oa_channel(sipas.services, sipas.citizens.handle)
        oa.on_other = ZnsEvents(sipas.ratings)
        bot = ZaloBotChannel(ZaloBotConfig(token=TOKEN, webhook_secret=SECRET), sipas.citizens.handle)
        parts = [setup_api, telegram.setup_webhook, oa.setup_webhook, bot.setup_webhook]
        client = await aiohttp_client(build_web_app(sipas, parts))
        try:
            yield Webhooks(client, telegram)
        finally:
            await telegram.stop()


@dataclass
class Answer:
    status: int
    body: Any
    content_type: str


async def send(
    client: Client, method: str, path: str, raw: bytes | None = None, headers: dict[str, str] | None = None
) -> Answer:
    data: bytes | io.BytesIO | None = io.BytesIO(raw) if raw is not None and len(raw) > 1_000_000 else raw
    async with client.request(method, path, data=data, headers=headers or {}) as response:
        content = await response.read()
        body: Any = content
        if response.content_type == "application/json":
            body = json.loads(content)
        return Answer(response.status, body, response.content_type)


def assert_error_shape(answer: Answer) -> None:
    assert 400 <= answer.status < 500, (answer.status, answer.body)
    assert answer.content_type == "application/json", answer
    assert isinstance(answer.body, dict)
    assert set(answer.body) == ERROR_SHAPE_KEYS, answer.body
    error = answer.body["error"]
    assert set(error) == {"code", "message"}, answer.body
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)


def assert_api_answer(answer: Answer) -> None:
    if answer.status in (200, 201, 202):
        assert answer.content_type == "application/json"
        return
    assert_error_shape(answer)


json_bodies = st.one_of(
    junk,
    st.dictionaries(
        st.sampled_from(
            [
                "unit",
                "procedure",
                "field",
                "applicant",
                "received_at",
                "due_at",
                "channel",
                "handler",
                "type",
                "at",
                "note",
                "reason",
                "new_due_at",
                "issued_by",
                "items",
                "op",
                "code",
                "dossier",
                "event",
                "processing_days",
                "zalo_optin",
                "representative",
            ]
        ),
        junk,
        max_size=8,
    ),
)


def dossier_like() -> st.SearchStrategy[dict[str, Any]]:
    """A dossier body that is almost right: each field the expected kind of value, or something else."""
    moments = st.sampled_from(
        ["2026-11-10T09:00:00+07:00", "2026-11-20", "2026-11-10 09:00", "0001-01-01", "9999-12-31T23:59:59-12:00"]
    )
    return st.fixed_dictionaries(
        {
            "unit": maybe(st.sampled_from(["P8", "XX", nfd("Phường 8")])),
            "procedure": maybe(hostile_text),
            "field": maybe(hostile_text),
            "applicant": maybe(
                st.fixed_dictionaries({"name": maybe(hostile_text)}, optional={"phone": maybe(hostile_text)})
            ),
            "received_at": maybe(moments),
            "due_at": maybe(moments),
            "channel": maybe(st.sampled_from(["truc_tiep", "truc_tuyen", "buu_chinh"])),
        },
        optional={"handler": maybe(hostile_text), "processing_days": maybe(st.integers(-5, 400)), "zalo_optin": junk},
    )


def encoded_body(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


codes = st.one_of(st.sampled_from(["P8-1", "HS/2026/1", "A" * 51]), st.text(min_size=1, max_size=60))
api_calls = st.one_of(
    st.tuples(
        st.just("PUT"), codes.map(lambda c: f"{PREFIX}/dossiers/{quote(c, safe='')}"), dossier_like() | json_bodies
    ),
    st.tuples(st.just("POST"), codes.map(lambda c: f"{PREFIX}/dossiers/{quote(c, safe='')}/events"), json_bodies),
    st.tuples(st.just("POST"), codes.map(lambda c: f"{PREFIX}/dossiers/{quote(c, safe='')}/apology"), json_bodies),
    st.tuples(
        st.just("POST"),
        st.just(f"{PREFIX}/dossiers:batch"),
        st.one_of(
            json_bodies,
            st.lists(
                st.one_of(
                    st.fixed_dictionaries({"op": st.just("upsert"), "code": maybe(codes), "dossier": dossier_like()}),
                    st.fixed_dictionaries({"op": maybe(st.just("event")), "code": maybe(codes), "event": json_bodies}),
                    junk,
                ),
                max_size=4,
            ).map(lambda items: {"items": items}),
        ),
    ),
)


async def test_any_json_body_to_the_api_is_answered_in_the_error_shape_or_accepted(
    sipas: App, key: str, aiohttp_client: ClientFactory, logged: Logged
) -> None:
    client = await aiohttp_client(build_web_app(sipas, [setup_api]))
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def check(call: tuple[str, str, Any]) -> None:
        method, path, body = call
        assert_api_answer(await send(client, method, path, encoded_body(body), auth))

    await for_all(api_calls, check, examples=200)
    logged.assert_clean()


query_values = st.one_of(
    st.sampled_from(["P8", "XX", "2026-11-01", "2026-11-30", "true", "0", "sipas-2022", "danh-gia-ho-so", "", "%FF"]),
    st.text(max_size=12),
    st.sampled_from(ODD),
)
queries = st.one_of(
    st.lists(
        st.tuples(st.sampled_from(["unit", "from", "to", "include_children", "form", "x", "UNIT", ""]), query_values),
        max_size=5,
    ).map(lambda pairs: urlencode(pairs, encoding="utf-8", errors="surrogatepass")),
    st.text(max_size=40).map(lambda text: quote(text, safe="=&")),
    st.sampled_from(["unit=P8&from=%FF%FE", "unit=%C3%28", "unit=P8&to=2026-11-31", "unit=P8&&&", "=", "unit"]),
)


async def test_any_report_query_is_answered_in_the_error_shape_or_reported(
    sipas: App, key: str, aiohttp_client: ClientFactory, logged: Logged
) -> None:
    client = await aiohttp_client(build_web_app(sipas, [setup_api]))

    async def check(query: str) -> None:
        path = f"{PREFIX}/reports/satisfaction?{query}"
        answer = await send(client, "GET", path, headers={"Authorization": f"Bearer {key}"})
        assert answer.status in (200, 422) or answer.status == 400, (query, answer)
        assert_api_answer(answer)

    await for_all(queries, check, examples=150)
    logged.assert_clean()


def test_parse_json_object_gives_an_object_or_an_api_error() -> None:
    @settings(FIXED, max_examples=300)
    @given(
        st.one_of(
            st.binary(max_size=200),
            junk.map(encoded_body),
            st.sampled_from([b"[" * 100_000, b'{"a":' * 50_000, b"NaN", b"-Infinity", b"1e999", b"\xef\xbb\xbf{}"]),
        )
    )
    def check(raw: bytes) -> None:
        refusal: ApiError | None = None
        try:
            value: object = parse_json_object(raw)
        except ApiError as error:
            refusal, value = error, {}
        assert isinstance(value, dict)
        assert refusal is None or (refusal.status in (400, 422) and refusal.message)

    check()


# ------------------------------------------------------------------------------------------- webhooks, fuzzed


def oa_post(event: Any, *, sign: bool) -> tuple[bytes, dict[str, str]]:
    raw, header = signed(event) if sign else (encoded_body(event), "mac=" + "0" * 64)
    return raw, {"X-ZEvent-Signature": header, "Content-Type": "application/json"}


webhook_posts = st.one_of(
    st.tuples(
        st.just("/webhooks/telegram"), tg_update.map(encoded_body), st.just({"X-Telegram-Bot-Api-Secret-Token": SECRET})
    ),
    st.tuples(
        st.just("/webhooks/telegram"), junk.map(encoded_body), st.just({"X-Telegram-Bot-Api-Secret-Token": SECRET})
    ),
    st.tuples(
        st.just("/webhooks/telegram"),
        st.binary(max_size=80),
        st.sampled_from([{}, {"X-Telegram-Bot-Api-Secret-Token": SECRET}]),
    ),
    st.tuples(
        st.just("/webhooks/zalo-oa"),
        oa_event.map(lambda e: {**e, "app_id": APP_ID, "timestamp": str(int(NOW.timestamp() * 1000))}),
        st.booleans(),
    ).map(lambda t: (t[0], *oa_post(t[1], sign=t[2]))),
    st.tuples(st.just("/webhooks/zalo-oa"), st.binary(max_size=80), st.just({"X-ZEvent-Signature": "mac=00"})),
    st.tuples(st.just("/webhooks/zalo-bot"), zb_updates.map(encoded_body), st.just({"X-Bot-Api-Secret-Token": SECRET})),
    st.tuples(st.just("/webhooks/zalo-bot"), junk.map(encoded_body), st.just({"X-Bot-Api-Secret-Token": SECRET})),
    st.tuples(
        st.just("/webhooks/zalo-bot"), st.binary(max_size=80), st.sampled_from([{}, {"X-Bot-Api-Secret-Token": SECRET}])
    ),
)


async def test_a_webhook_answers_200_400_or_403_to_anything(web_edges: Webhooks, logged: Logged) -> None:
    async def check(post: tuple[str, bytes, dict[str, str]]) -> None:
        path, raw, headers = post
        answer = await send(web_edges.client, "POST", path, raw, headers)
        assert answer.status in (200, 400, 403), (path, raw[:200], answer)
        if answer.status != 200:
            assert_error_shape(answer)
        if path == "/webhooks/zalo-oa":
            assert answer.status in (200, 403)

    await for_all(webhook_posts, check, examples=300)
    logged.assert_clean()


# ------------------------------------------------------------------------------------------- explicit cases

ROUTES = [
    ("PUT", f"{PREFIX}/dossiers/P8-1"),
    ("POST", f"{PREFIX}/dossiers/P8-1/events"),
    ("POST", f"{PREFIX}/dossiers/P8-1/apology"),
    ("POST", f"{PREFIX}/dossiers:batch"),
]
WEBHOOKS = [
    ("/webhooks/telegram", {"X-Telegram-Bot-Api-Secret-Token": SECRET}),
    ("/webhooks/zalo-oa", {"X-ZEvent-Signature": "mac=" + "0" * 64}),
    ("/webhooks/zalo-bot", {"X-Bot-Api-Secret-Token": SECRET}),
]


async def test_a_two_megabyte_body_is_too_large_everywhere(web_edges: Webhooks, key: str, logged: Logged) -> None:
    raw = encoded_body({"unit": "P8", "procedure": "x" * (2 * 1024 * 1024)})
    assert len(raw) > 2 * MAX_BODY_BYTES - 100
    for method, path in ROUTES:
        answer = await send(web_edges.client, method, path, raw, {"Authorization": f"Bearer {key}"})
        assert answer.status == 413, (path, answer)
        assert_error_shape(answer)
        assert answer.body["error"]["code"] == "too_large"
    for path, headers in WEBHOOKS:
        answer = await send(web_edges.client, "POST", path, raw, headers)
        assert answer.status in (403, 413), (path, answer)
        assert_error_shape(answer)
    logged.assert_clean()


DEEP = [b"[" * 100_000, b'{"a":' * 100_000, b"[" * 100_000 + b"]" * 100_000]


@pytest.mark.parametrize("raw", DEEP, ids=["open-arrays", "open-objects", "closed-arrays"])
async def test_json_nested_a_hundred_thousand_deep_is_refused_without_an_error_logged(
    web_edges: Webhooks, key: str, logged: Logged, raw: bytes
) -> None:
    for method, path in ROUTES:
        answer = await send(web_edges.client, method, path, raw, {"Authorization": f"Bearer {key}"})
        assert answer.status in (400, 413, 422), (path, answer)
        assert_error_shape(answer)
    for path, headers in WEBHOOKS:
        answer = await send(web_edges.client, "POST", path, raw, headers)
        assert answer.status in (400, 403, 413, 422), (path, answer)
        assert_error_shape(answer)
    logged.assert_clean()
    assert not any("RecursionError" in (record.getMessage() + repr(record.exc_info)) for record in logged.records)


async def test_invalid_utf8_in_a_body_is_refused(web_edges: Webhooks, key: str, logged: Logged) -> None:
    raw = b'{"unit": "Ph\xff\xfeng 8", "type": "\xc3\x28"}'
    for method, path in ROUTES:
        answer = await send(web_edges.client, method, path, raw, {"Authorization": f"Bearer {key}"})
        assert answer.status == 400, (path, answer)
        assert answer.body["error"]["code"] == "bad_encoding"
    for path, headers in WEBHOOKS:
        answer = await send(web_edges.client, "POST", path, raw, headers)
        assert answer.status in (400, 403), (path, answer)
        assert_error_shape(answer)
    logged.assert_clean()


@pytest.mark.parametrize(
    "path",
    [
        f"{PREFIX}/dossiers/%FF%FE",
        f"{PREFIX}/dossiers/P8%C3%28",
        f"{PREFIX}/dossiers/%ED%A0%80",  # an encoded lone surrogate
        f"{PREFIX}/dossiers/%00",
        f"{PREFIX}/dossiers/%FF/events",
        f"{PREFIX}/dossiers/%FF/apology",
        f"{PREFIX}/reports/satisfaction?unit=%FF%FE",
        f"{PREFIX}/reports/satisfaction?unit=P8&from=%C3%28",
        f"{PREFIX}/reports/satisfaction?%FF=1&unit=P8",
        "/qr/%FF.png",
    ],
)
async def test_invalid_utf8_in_a_path_or_query_is_a_client_error(
    web_edges: Webhooks, key: str, logged: Logged, path: str
) -> None:
    method = "PUT" if path.endswith(("%FE", "%28", "%80", "%00")) and "reports" not in path else "GET"
    if path.endswith(("events", "apology")):
        method = "POST"
    body = encoded_body({"type": "returned", "at": "2026-11-18T09:00:00+07:00"}) if method != "GET" else None
    answer = await send(web_edges.client, method, path, body, {"Authorization": f"Bearer {key}"})
    assert_error_shape(answer)
    get = await send(web_edges.client, "GET", path, None, {"Authorization": f"Bearer {key}"})
    assert 400 <= get.status < 500, get
    logged.assert_clean()


async def raw_request(client: Client, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are (no client library would send a header that is not UTF-8)."""
    assert client.server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    try:
        writer.write(request)
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


@pytest.mark.parametrize(
    ("path", "header"),
    [
        ("/webhooks/telegram", b"X-Telegram-Bot-Api-Secret-Token: s3cr3t\xff\xfe"),
        ("/webhooks/zalo-bot", b"X-Bot-Api-Secret-Token: s3cr3t\xff\xfe"),
        ("/webhooks/zalo-oa", b"X-ZEvent-Signature: mac=\xff\xfe"),
        (f"{PREFIX}/dossiers:batch", b"Authorization: Bearer sipas_\xff\xfe"),
        (f"{PREFIX}/dossiers/P8-1/events", b"Idempotency-Key: k\xff\xfe"),
    ],
)
async def test_a_header_that_is_not_utf8_is_a_client_error(
    web_edges: Webhooks, key: str, logged: Logged, path: str, header: bytes
) -> None:
    body = encoded_body({"app_id": APP_ID, "timestamp": "1", "type": "returned", "at": "2026-11-18T09:00:00"})
    auth = b"" if header.startswith(b"Authorization") else f"Authorization: Bearer {key}\r\n".encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n".encode()
        + auth
        + header
        + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    status, answer = await raw_request(web_edges.client, request)
    assert 400 <= status < 500, (status, answer)
    assert set(json.loads(answer)) == ERROR_SHAPE_KEYS
    logged.assert_clean()


async def test_decomposed_vietnamese_in_a_dossier_is_stored_and_returned_composed(
    sipas: App, key: str, aiohttp_client: ClientFactory
) -> None:
    client = await aiohttp_client(build_web_app(sipas, [setup_api]))
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    body = {
        "unit": "P8",
        "procedure": nfd("Đăng ký khai sinh"),
        "field": nfd("Hộ tịch"),
        "applicant": {"name": nfd("Lê Thị Hoà"), "phone": "0912 345 678"},
        "representative": {"name": nfd("Phạm Văn Đức")},
        "received_at": "2026-11-10T09:00:00+07:00",
        "due_at": "2026-11-20",
        "channel": "truc_tiep",
        "handler": nfd("Trần Thị Bình"),
    }
    assert body["field"] != "Hộ tịch"
    put = await send(client, "PUT", f"{PREFIX}/dossiers/P8-1", encoded_body(body), auth)
    assert put.status == 201, put
    batch = {"items": [{"op": "upsert", "code": "P8-2", "dossier": {**body, "field": nfd("Đất đai")}}]}
    assert (await send(client, "POST", f"{PREFIX}/dossiers:batch", encoded_body(batch), auth)).status == 200
    read = await send(client, "GET", f"{PREFIX}/dossiers/P8-1", None, auth)
    for answer in (put.body["dossier"], read.body):
        assert answer["procedure"] == "Đăng ký khai sinh"
        assert answer["field"] == "Hộ tịch"
    stored = await stored_texts(sipas.services)
    assert {"Đăng ký khai sinh", "Hộ tịch", "Đất đai", "Lê Thị Hoà", "Phạm Văn Đức", "Trần Thị Bình"} <= stored
    assert all(unicodedata.is_normalized("NFC", text) for text in stored)


async def test_decomposed_vietnamese_in_an_apology_is_stored_composed(
    sipas: App, key: str, aiohttp_client: ClientFactory, clock: Clock
) -> None:
    client = await aiohttp_client(build_web_app(sipas, [setup_api]))
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    body = {
        "unit": "P8",
        "procedure": "Đăng ký khai sinh",
        "field": "Hộ tịch",
        "applicant": {"name": "Lê Thị Hoà"},
        "received_at": "2026-11-16T09:00:00+07:00",
        "due_at": "2026-11-19",
        "channel": "truc_tiep",
    }
    assert (await send(client, "PUT", f"{PREFIX}/dossiers/P8-1", encoded_body(body), auth)).status == 201
    apology = {"reason": nfd("Cần xác minh thêm"), "new_due_at": "2026-11-25", "issued_by": nfd("Trần Thị Bình")}
    issued = await send(client, "POST", f"{PREFIX}/dossiers/P8-1/apology", encoded_body(apology), auth)
    assert issued.status == 201, issued
    assert issued.body["apology"]["reason"] == "Cần xác minh thêm"
    async with sipas.services.uow(read_only=True) as uow:
        row = (await uow.connection.execute(select(ApologyRow.reason, ApologyRow.issued_by))).one()
    assert tuple(row) == ("Cần xác minh thêm", "Trần Thị Bình")
