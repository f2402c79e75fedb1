"""The Telegram emulator, driven by the real python-telegram-bot ``Bot`` over loopback HTTP (wire compatibility)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    TelegramObject,
    Update,
)
from telegram.constants import ChatMemberStatus, MessageEntityType, ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import CommandHandler
from telegram.request import HTTPXRequest

from tests.emulators.telegram import TelegramEmulator, parse_html, utf16_len

TOKEN = "123456:TEST-token"
KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("Rất hài lòng", callback_data="a:12:TC1:5")],
        [InlineKeyboardButton("Không hài lòng", callback_data="a:12:TC1:1")],
    ]
)


def leftovers(obj: TelegramObject, path: str = "") -> list[str]:
    """Every ``api_kwargs`` left anywhere in a parsed object: fields PTB 22.8 does not know."""
    here = path or type(obj).__name__
    found = [f"{here}: {dict(obj.api_kwargs)}"] if obj.api_kwargs else []
    for name, value in obj._get_attrs(recursive=False).items():
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, tuple):
                for inner in item:
                    if isinstance(inner, TelegramObject):
                        found += leftovers(inner, f"{here}.{name}")
            elif isinstance(item, TelegramObject):
                found += leftovers(item, f"{here}.{name}")
    return found


def make_bot(emu: TelegramEmulator, **request: Any) -> Bot:
    kwargs: dict[str, Any] = {"base_url": emu.api_url, "base_file_url": emu.file_url}
    if request:
        kwargs["request"] = HTTPXRequest(**request)
    return Bot(TOKEN, **kwargs)


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(token=TOKEN, per_chat=20.0, global_rate=1000.0) as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: TelegramEmulator) -> AsyncIterator[Bot]:
    async with make_bot(emu) as client:  # initialize() calls getMe
        yield client


async def updates(bot: Bot, **kwargs: Any) -> tuple[Update, ...]:
    """getUpdates, each update checked for fields PTB does not know."""
    result = await bot.get_updates(**kwargs)
    for update in result:
        assert leftovers(update) == []
    return result


# --- basics


async def test_get_me_and_initialize(emu: TelegramEmulator, bot: Bot) -> None:
    assert bot.username == "sipas_test_bot"
    me = await bot.get_me()
    assert me.is_bot
    assert me.id == 123456
    assert leftovers(me) == []
    assert emu.stats.requests["getMe"] == 2


async def test_wrong_token_is_invalid_token(emu: TelegramEmulator) -> None:
    request = HTTPXRequest()
    try:
        with pytest.raises(InvalidToken):
            await Bot("999:wrong", base_url=emu.api_url, request=request).get_me()
    finally:
        await request.shutdown()  # Bot.shutdown skips a bot never initialized: close its HTTP client here


async def test_all_four_body_encodings_and_case_insensitive_names(emu: TelegramEmulator) -> None:
    emu.person(1001, started=True)
    base = f"{emu.api_url}{TOKEN}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/getme") as response:
            assert response.status == 200
            assert (await response.json())["result"]["username"] == "sipas_test_bot"
        async with http.get(f"{base}/sendMessage", params={"chat_id": "1001", "text": "query"}) as response:
            assert (await response.json())["result"]["text"] == "query"
        async with http.post(f"{base}/SENDMESSAGE", json={"chat_id": 1001, "text": "json"}) as response:
            assert (await response.json())["result"]["text"] == "json"
        async with http.post(f"{base}/sendMessage", data={"chat_id": "1001", "text": "form"}) as response:
            assert (await response.json())["result"]["text"] == "form"
        form = aiohttp.FormData()
        form.add_field("chat_id", "1001")
        form.add_field("text", "multipart")
        async with http.post(f"{base}/sendMessage", data=form) as response:
            assert (await response.json())["result"]["text"] == "multipart"
        async with http.post(f"{base}/noSuchMethod") as response:
            assert response.status == 404
            assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        async with http.post(f"{emu.api_url}999:wrong/getMe") as response:
            assert response.status == 401
            assert await response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert emu.person(1001).texts == ["query", "json", "form", "multipart"]


# --- sending


async def test_send_message_parses_html_into_entities(emu: TelegramEmulator, bot: Bot) -> None:
    an = emu.person(1001, "An", started=True)
    message = await bot.send_message(
        1001, "<b>Đánh giá</b> 😀 hồ sơ &lt;HS123&gt; &amp; <i>ý kiến</i>\n", parse_mode=ParseMode.HTML
    )
    assert leftovers(message) == []
    assert message.text == "Đánh giá 😀 hồ sơ <HS123> & ý kiến"  # trailing white space trimmed, as Telegram does
    bold, italic = message.entities
    assert (bold.type, bold.offset, bold.length) == (MessageEntityType.BOLD, 0, 8)
    # offsets count UTF-16 units: the emoji is two
    assert (italic.type, italic.offset, italic.length) == (MessageEntityType.ITALIC, utf16_len(message.text) - 6, 6)
    assert message.parse_entity(italic) == "ý kiến"
    assert an.last.text == message.text
    assert an.last.entities == [e.to_dict() for e in message.entities]


@pytest.mark.parametrize(
    "html",
    ["<b>Đánh giá", "<b>x</i>", "<blink>x</blink>", "a < b", "x</b>"],
)
async def test_bad_html_is_refused(emu: TelegramEmulator, bot: Bot, html: str) -> None:
    emu.person(1001, started=True)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(1001, html, parse_mode=ParseMode.HTML)
    assert emu.person(1001).messages == []


async def test_empty_and_too_long_texts_are_refused(emu: TelegramEmulator, bot: Bot) -> None:
    emu.person(1001, started=True)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(1001, "<b> </b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(1001, "<b>" + "ệ" * 4097 + "</b>", parse_mode=ParseMode.HTML)
    await bot.send_message(1001, "<b>" + "ệ" * 4096 + "</b>", parse_mode=ParseMode.HTML)  # the limit is after parsing


def test_parse_html_details() -> None:
    text, entities = parse_html(
        '<a href="https://x.vn/?a=1&amp;b=2">link</a> <pre><code class="language-py">x</code></pre>'
    )
    assert text == "link x"
    assert entities == [
        {"offset": 0, "length": 4, "type": "text_link", "url": "https://x.vn/?a=1&b=2"},
        {"offset": 5, "length": 1, "type": "pre", "language": "py"},
    ]
    assert parse_html("&#272;&#x1EC7; &nbsp;")[0] == "Đệ &nbsp;"  # only the four named entities are decoded


async def test_callback_data_over_64_bytes_is_refused(emu: TelegramEmulator, bot: Bot) -> None:
    emu.person(1001, started=True)
    data = "ệ" * 21 + "xx"  # 23 characters, 65 bytes
    assert len(data.encode()) == 65
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Rất hài lòng", callback_data=data)]])
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(1001, "Câu 1", reply_markup=markup)
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("Rất hài lòng", callback_data=data[:-1])]])  # 64 bytes
    await bot.send_message(1001, "Câu 1", reply_markup=ok)


async def test_unknown_chat_not_started_and_deactivated(emu: TelegramEmulator, bot: Bot) -> None:
    with pytest.raises(BadRequest) as unknown:
        await bot.send_message(424242, "Xin chào")
    assert str(unknown.value) == "Chat not found"  # PTB strips "Bad Request: " and capitalizes
    emu.person(1001, "An")  # known to Telegram, never pressed Start
    with pytest.raises(Forbidden, match=r"(?i)bot can't initiate conversation with a user"):
        await bot.send_message(1001, "Xin chào")
    binh = emu.person(1002, "Bình", started=True)
    binh.deactivate()
    with pytest.raises(Forbidden, match=r"(?i)user is deactivated"):
        await bot.send_message(1002, "Xin chào")


async def test_send_document_keeps_the_bytes_and_name(emu: TelegramEmulator, bot: Bot) -> None:
    an = emu.person(1001, started=True)
    pdf = b"%PDF-1.4\n% bao cao\n%%EOF\n"
    message = await bot.send_document(
        1001, pdf, filename="báo_cáo.pdf", caption="<b>Báo cáo</b> ngày", parse_mode="HTML"
    )
    assert leftovers(message) == []
    assert message.document is not None
    assert message.document.file_name == "báo_cáo.pdf"
    assert message.document.mime_type == "application/pdf"
    assert message.document.file_size == len(pdf)
    assert message.caption == "Báo cáo ngày"
    assert message.caption_entities[0].type == MessageEntityType.BOLD
    assert emu.calls[-1].content_type == "multipart/form-data"
    sent = an.last.document
    assert sent is not None
    assert sent.data == pdf
    assert sent.file_name == "báo_cáo.pdf"
    assert an.last.caption == "Báo cáo ngày"
    downloaded = await (await bot.get_file(message.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == pdf
    photo = await bot.send_photo(1001, b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR\0\0\0\x02\0\0\0\x03" + b"\0" * 20)
    assert leftovers(photo) == []
    assert (photo.photo[-1].width, photo.photo[-1].height) == (2, 3)
    assert an.last.photo is not None
    with pytest.raises(BadRequest):
        await bot.send_document(1001, "not-a-file-id")


async def test_reply_keyboard_with_request_contact_and_shared_contact(emu: TelegramEmulator, bot: Bot) -> None:
    an = emu.person(1001, "An", started=True)
    markup = ReplyKeyboardMarkup(
        [[KeyboardButton("Chia sẻ số điện thoại", request_contact=True)]], one_time_keyboard=True
    )
    message = await bot.send_message(1001, "Xin số điện thoại", reply_markup=markup)
    assert message.reply_markup is None  # Telegram echoes inline keyboards only
    assert an.contact_requested
    assert an.last.requests_contact
    await an.share_contact("+84912345678")
    await an.share_contact("+84987654321", own=False)
    own, other = (u.message for u in await updates(bot))
    assert own is not None
    assert own.contact is not None
    assert own.from_user is not None
    assert own.contact.phone_number == "+84912345678"
    assert own.contact.user_id == own.from_user.id == 1001
    assert other is not None
    assert other.contact is not None
    assert other.contact.user_id is None
    assert not an.contact_requested  # one-time keyboard hidden after use


async def test_delete_message(emu: TelegramEmulator, bot: Bot) -> None:
    an = emu.person(1001, started=True)
    first = await bot.send_message(1001, "một")
    await bot.send_message(1001, "hai")
    assert await bot.delete_message(1001, first.message_id)
    assert an.texts == ["hai"]
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(1001, first.message_id)


# --- updates


async def test_start_command_is_parsed_by_ptb_as_a_command(emu: TelegramEmulator, bot: Bot) -> None:
    an = emu.person(1001, "An", language_code="vi")
    await an.send_command("/start", "TOKEN123")
    (update,) = await updates(bot)
    assert update.message is not None
    assert update.message.text == "/start TOKEN123"
    (entity,) = update.message.entities
    assert (entity.type, entity.offset, entity.length) == (MessageEntityType.BOT_COMMAND, 0, 6)
    assert update.message.from_user is not None
    assert update.message.from_user.language_code == "vi"
    handler: CommandHandler[Any, None] = CommandHandler("start", lambda u, c: asyncio.sleep(0))
    assert handler.check_update(update) == (["TOKEN123"], True)  # args for CommandHandler, filters passed
    assert an.started
    await bot.send_message(1001, "Chào An")  # now the bot may write


async def test_offsets_drop_confirmed_updates(emu: TelegramEmulator, bot: Bot) -> None:
    an = emu.person(1001)
    for text in ("một", "hai", "ba"):
        await an.send_text(text)
    first = await updates(bot)
    assert [u.message.text for u in first if u.message] == ["một", "hai", "ba"]
    assert [u.update_id for u in await updates(bot)] == [u.update_id for u in first]  # nothing confirmed yet
    assert len(await updates(bot, limit=2)) == 2
    rest = await updates(bot, offset=first[1].update_id)  # confirms the first
    assert [u.update_id for u in rest] == [first[1].update_id, first[2].update_id]
    assert await updates(bot, offset=first[2].update_id + 1) == ()
    assert emu.pending_updates == []
    await an.send_text("bốn")
    (latest,) = await updates(bot, offset=first[0].update_id)  # an old offset brings nothing back
    assert latest.update_id == first[2].update_id + 1


async def test_long_poll_returns_as_soon_as_a_person_writes(emu: TelegramEmulator, bot: Bot) -> None:
    an = emu.person(1001)
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await emu.wait_for(lambda e: e.waiting_polls == 1)  # the request is parked on the emulator
    await an.send_text("Xin chào")
    (update,) = await poll
    assert loop.time() - started < 1.0  # far from the 5 s timeout
    assert update.message is not None
    assert update.message.text == "Xin chào"
    started = loop.time()
    assert await bot.get_updates(offset=update.update_id + 1, timeout=timedelta(seconds=0.2)) == ()
    assert 0.15 < loop.time() - started < 1.0  # an empty answer after the timeout


async def test_overlapping_long_polls_conflict(emu: TelegramEmulator, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await emu.wait_for(lambda e: e.waiting_polls == 1)
    async with make_bot(emu) as second_instance:
        assert await second_instance.get_updates() == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


async def test_pressed_button_arrives_as_callback_query_and_the_answer_is_seen(emu: TelegramEmulator, bot: Bot) -> None:
    an = emu.person(1001, "An", started=True)
    sent = await bot.send_message(1001, "Câu 1/33: Thái độ của cán bộ?", reply_markup=KEYBOARD)
    assert an.last.buttons == [[("Rất hài lòng", "a:12:TC1:5")], [("Không hài lòng", "a:12:TC1:1")]]
    query_id = await an.press("Rất hài lòng")
    assert an.callback_answer(query_id).answered is False
    (update,) = await updates(bot)
    query = update.callback_query
    assert query is not None
    assert query.id == query_id
    assert query.data == "a:12:TC1:5"
    assert query.from_user.id == 1001
    assert query.chat_instance
    assert query.message is not None
    assert query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query.id, text="Đã ghi nhận")
    answer = an.callback_answer(query_id)
    assert answer.answered
    assert answer.text == "Đã ghi nhận"
    assert not answer.show_alert
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id, text="again")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("123", text="unknown")
    forged = await an.press_data("a:99:TC9:5")  # data no keyboard shows
    (update,) = await updates(bot, offset=update.update_id + 1)
    assert update.callback_query is not None
    assert update.callback_query.data == "a:99:TC9:5"
    with pytest.raises(BadRequest, match=r"(?i)message_too_long"):
        await bot.answer_callback_query(forged, text="x" * 201)
    with pytest.raises(LookupError):
        await an.press("Không có nút này")


async def test_late_callback_answer_is_too_old() -> None:
    async with TelegramEmulator(token=TOKEN, callback_max_age=0.0) as emu, make_bot(emu) as bot:
        an = emu.person(1001, started=True)
        await bot.send_message(1001, "Câu 1", reply_markup=KEYBOARD)
        query_id = await an.press("Rất hài lòng")
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query(query_id)
        assert not an.callback_answer(query_id).answered


async def test_edit_message_text_and_not_modified(emu: TelegramEmulator, bot: Bot) -> None:
    an = emu.person(1001, started=True)
    sent = await bot.send_message(1001, "Câu 1/33", reply_markup=KEYBOARD)
    edited = await bot.edit_message_text(
        "<b>Câu 2/33</b>", chat_id=1001, message_id=sent.message_id, parse_mode=ParseMode.HTML, reply_markup=KEYBOARD
    )
    assert not isinstance(edited, bool)
    assert leftovers(edited) == []
    assert edited.edit_date is not None
    assert edited.text == "Câu 2/33"
    assert an.last.text == "Câu 2/33"
    assert an.last.versions == ["Câu 1/33"]
    assert len(an.messages) == 1
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "<b>Câu 2/33</b>", chat_id=1001, message_id=sent.message_id, parse_mode="HTML", reply_markup=KEYBOARD
        )
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=1001, message_id=999)
    # the keyboard goes when an edit does not repeat it, as in Telegram
    await bot.edit_message_text("<b>Câu 2/33</b>", chat_id=1001, message_id=sent.message_id, parse_mode="HTML")
    assert an.last.buttons == []
    await bot.edit_message_reply_markup(chat_id=1001, message_id=sent.message_id, reply_markup=KEYBOARD)
    assert an.last.button_texts == ["Rất hài lòng", "Không hài lòng"]
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(chat_id=1001, message_id=sent.message_id, reply_markup=KEYBOARD)
    await bot.edit_message_reply_markup(chat_id=1001, message_id=sent.message_id)  # None removes it
    assert an.last.inline_keyboard is None
    assert emu.stats.edits == 4
    assert emu.stats.messages_sent == 1


async def test_blocked_person_is_forbidden_and_the_block_is_an_update(emu: TelegramEmulator, bot: Bot) -> None:
    an = emu.person(1001, "An", started=True)
    await an.block()
    with pytest.raises(Forbidden) as blocked:
        await bot.send_message(1001, "Câu 1")
    assert str(blocked.value) == "Forbidden: bot was blocked by the user"
    (update,) = await updates(bot)
    member = update.my_chat_member
    assert member is not None
    assert member.chat.id == 1001
    assert member.from_user.id == 1001
    assert member.old_chat_member.status == ChatMemberStatus.MEMBER
    assert member.new_chat_member.status == ChatMemberStatus.BANNED  # "kicked"
    assert member.new_chat_member.user.id == 123456
    await an.send_text("Tôi quay lại")  # writing again unblocks ("Restart")
    unblocked, text = await updates(bot, offset=update.update_id + 1)
    assert unblocked.my_chat_member is not None
    assert unblocked.my_chat_member.new_chat_member.status == ChatMemberStatus.MEMBER
    assert text.message is not None
    assert text.message.text == "Tôi quay lại"
    await bot.send_message(1001, "Chào mừng trở lại")


async def test_allowed_updates_filter_new_updates(emu: TelegramEmulator, bot: Bot) -> None:
    an = emu.person(1001, started=True)
    await updates(bot, allowed_updates=["message"])
    await an.block()
    await an.unblock()
    await an.send_text("chỉ tin nhắn")
    (update,) = await updates(bot)
    assert update.message is not None
    assert len(emu.dropped_updates) == 2


# --- waiting


async def test_wait_for_wakes_on_bot_calls(emu: TelegramEmulator, bot: Bot) -> None:
    an = emu.person(1001, started=True)
    waiter = asyncio.create_task(an.wait_for(lambda p: "Câu 3/33" in p.last.text, timeout=5))
    await bot.send_message(1001, "Câu 1/33")
    sent = await bot.send_message(1001, "Câu 2/33")
    assert not waiter.done()
    await bot.edit_message_text("Câu 3/33", chat_id=1001, message_id=sent.message_id)
    await asyncio.wait_for(waiter, 1)
    with pytest.raises(TimeoutError, match="Câu 3/33"):
        await an.wait_for(lambda p: p.messages[5].text == "never", timeout=0.05)


# --- rate limits


async def test_per_chat_limit_gives_retry_after_and_waiting_it_out_works() -> None:
    async with TelegramEmulator(token=TOKEN) as emu, make_bot(emu) as bot:  # defaults: 1/s per chat, no burst
        an = emu.person(1001, started=True)
        binh = emu.person(1002, started=True)
        await bot.send_message(1001, "một")
        with pytest.raises(RetryAfter) as refused:
            await bot.send_message(1001, "hai")
        assert isinstance(refused.value.retry_after, timedelta)
        assert refused.value.retry_after == timedelta(seconds=1)
        with pytest.raises(RetryAfter):
            await bot.edit_message_text("một!", chat_id=1001, message_id=an.last.message_id)  # edits count too
        await bot.send_message(1002, "một")  # another chat is not limited
        assert emu.stats.too_many_requests == 2
        assert emu.stats.too_many_requests_by_chat == {1001: 2}
        assert emu.stats.errors[429] == 2
        assert an.texts == ["một"]  # the refused calls had no effect
        await asyncio.sleep(refused.value.retry_after.total_seconds())
        await bot.send_message(1001, "hai")
        assert an.texts == ["một", "hai"]
        assert binh.texts == ["một"]


async def test_global_limit_gives_retry_after() -> None:
    async with TelegramEmulator(token=TOKEN, per_chat=None, global_rate=3) as emu, make_bot(emu) as bot:
        for user_id in range(1001, 1005):
            emu.person(user_id, started=True)
        for user_id in range(1001, 1004):
            await bot.send_message(user_id, "Báo cáo")
        with pytest.raises(RetryAfter) as refused:
            await bot.send_message(1004, "Báo cáo")
        wait = refused.value.retry_after
        assert isinstance(wait, timedelta)
        assert wait == timedelta(seconds=1)
        assert emu.stats.too_many_requests_by_chat == {1004: 1}
        await asyncio.sleep(wait.total_seconds())
        await bot.send_message(1004, "Báo cáo")
        assert emu.stats.messages_sent == 4


async def test_limits_can_be_turned_off() -> None:
    async with TelegramEmulator(token=TOKEN, enforce_limits=False) as emu, make_bot(emu) as bot:
        emu.person(1001, started=True)
        for n in range(40):
            await bot.send_message(1001, f"tin {n}")
        assert emu.stats.too_many_requests == 0


# --- faults


async def test_injected_faults(emu: TelegramEmulator, bot: Bot) -> None:
    an = emu.person(1001, started=True)
    emu.fail_next(1, status=500)
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(1001, "một")
    emu.fail_next(1, status=502, applied=True)  # done, but the answer is lost
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(1001, "hai")
    assert an.texts == ["hai"]
    emu.flood(retry_after=7)
    with pytest.raises(RetryAfter) as flooded:
        await bot.send_message(1001, "ba")
    assert flooded.value.retry_after == timedelta(seconds=7)
    assert await bot.get_me()  # other methods still answer
    emu.clear_flood()
    await bot.send_message(1001, "ba")
    assert emu.stats.faults_injected == 2
    assert emu.stats.too_many_requests == 1


async def test_hanging_method_times_out_then_takes_effect() -> None:
    async with TelegramEmulator(token=TOKEN, per_chat=20) as emu, make_bot(emu, read_timeout=0.2) as bot:
        an = emu.person(1001, started=True)
        emu.hang("sendMessage")
        with pytest.raises(TimedOut):
            await bot.send_message(1001, "chậm")
        assert an.messages == []
        emu.release("sendMessage")  # the server goes on: the message arrives although the client gave up
        await an.wait_for(lambda p: p.last.text == "chậm", timeout=2)


# --- webhook


async def webhook_receiver(fail_first: int) -> tuple[web.AppRunner, str, list[tuple[dict[str, str], Any]]]:
    received: list[tuple[dict[str, str], Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.json()))
        return web.Response(status=500 if len(received) <= fail_first else 200)

    app = web.Application()
    app.router.add_post("/webhooks/telegram", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    return runner, f"http://127.0.0.1:{port}/webhooks/telegram", received


async def test_webhook_delivery_with_secret_and_retry(emu: TelegramEmulator, bot: Bot) -> None:
    runner, url, received = await webhook_receiver(fail_first=1)
    try:
        an = emu.person(1001, "An")
        assert await bot.set_webhook(url, secret_token="s3cr3t_Token-1", allowed_updates=["message", "callback_query"])
        with pytest.raises(Conflict, match=r"(?i)webhook is active"):
            await bot.get_updates()
        sent = await an.send_command("/start", "TOKEN123")
        await emu.wait_for(lambda e: any(d.ok for d in e.webhook_deliveries), timeout=5)
        assert [(d.attempt, d.status) for d in emu.webhook_deliveries] == [(1, 500), (2, 200)]
        assert len(received) == 2
        for headers, body in received:
            assert headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cr3t_Token-1"
            assert body == sent
            update = Update.de_json(body, bot)
            assert leftovers(update) == []
            assert update.message is not None
        assert emu.pending_updates == []
        info = await bot.get_webhook_info()
        assert info.url == url
        assert info.pending_update_count == 0
        assert info.last_error_message
        assert await bot.delete_webhook()
        assert await bot.get_updates() == ()
    finally:
        await runner.cleanup()


async def test_webhook_keeps_order_and_retries_connection_errors() -> None:
    async with TelegramEmulator(token=TOKEN, webhook_retry_base=0.01) as emu, make_bot(emu) as bot:
        an = emu.person(1001)
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
        await bot.set_webhook(dead)
        await an.send_text("một")
        await emu.wait_for(lambda e: len(e.webhook_deliveries) >= 2, timeout=5)
        assert all(d.status is None and d.error for d in emu.webhook_deliveries)
        await bot.delete_webhook()  # the undelivered update stays pending, for getUpdates
        await an.send_text("hai")
        assert [u.message.text for u in await updates(bot) if u.message] == ["một", "hai"]
        runner, url, received = await webhook_receiver(fail_first=0)
        try:
            await bot.set_webhook(url, drop_pending_updates=True)
            for text in ("ba", "bốn", "năm"):
                await an.send_text(text)
            await emu.wait_for(lambda e: len(received) == 3, timeout=5)
            assert [body["message"]["text"] for _, body in received] == ["ba", "bốn", "năm"]
            assert "X-Telegram-Bot-Api-Secret-Token" not in received[0][0]
        finally:
            await runner.cleanup()
