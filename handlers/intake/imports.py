"""Dossiers imported from a one-stop-shop export (.xlsx or .csv), through the lifecycle the REST API applies.

Columns are found by their headers (Vietnamese, with or without accents, any case), in the first of the
first ten rows that holds every required header. Each row becomes an upsert and the events its status and
dates imply (docs/METHOD.md); a bad row spoils only itself and is reported as ``row N: …``. Rows whose dossier
is new are checked first and written a run at a time, one statement per table (handlers/intake/batches.py);
a row for a dossier already stored is applied in a savepoint of its own. Rows are committed in transactions
of ``BATCH_ROWS``. An event seen before and an upsert of the same data change nothing: importing the same
file twice changes nothing the second time. A dossier code given by an earlier row of the file makes a later
row an error of its own (the first row wins).
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

from handlers.citizen.survey import fold
from handlers.contacts import normalize_phone
from handlers.context import Services
from handlers.errors import HandlerError, InvalidInput
from handlers.intake.batches import NewDossierWriter, Plan, RowFault, conflict, last_step_at, moves, step
from handlers.intake.dossiers import (
    CLOCK_SKEW,
    CODE_RE,
    ContactInput,
    DossierHandler,
    DossierInput,
    local_moment,
)
from handlers.messages import nfc, storable
from storage.repositories.dossiers import DossierRepository
from storage.repositories.invitations import InvitationRepository
from storage.repositories.people import PersonRepository
from storage.repositories.units import FieldRepository, UnitRepository
from storage.uow import UnitOfWork
from storage.values import Dossier, Invitation, Person, Unit

BATCH_ROWS = 200  # rows per transaction
PROGRESS_EVERY = 1000  # rows between two progress reports
HEADER_SEARCH_ROWS = 10  # the header row is one of the first rows (exports put a title above it)
ERRORS_LISTED = 200  # row errors the summary lists one by one
YEARS = range(1900, 3000)  # as the REST API: far enough either way, and clear of what a database can store

Cell = object
Moment = date | datetime  # a date alone, or a date and time (naive: local time)
ProgressCallback = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Column:
    """A column the importer knows: its key, its name in messages, the headers (folded) that mean it."""

    key: str
    label: str
    headers: tuple[str, ...]
    required: bool = False


COLUMNS = (
    Column("code", "Mã hồ sơ", ("ma ho so", "so ho so", "ma so ho so"), required=True),
    Column(
        "procedure",
        "Thủ tục",
        ("thu tuc", "ten thu tuc", "thu tuc hanh chinh", "ten thu tuc hanh chinh", "ten tthc"),
        required=True,
    ),
    Column("procedure_code", "Mã thủ tục", ("ma thu tuc", "ma tthc", "ma thu tuc hanh chinh")),
    Column("field", "Lĩnh vực", ("linh vuc", "ten linh vuc"), required=True),
    Column("received", "Ngày tiếp nhận", ("ngay tiep nhan", "ngay nhan ho so", "thoi gian tiep nhan"), required=True),
    Column("due", "Ngày hẹn trả", ("ngay hen tra", "ngay hen tra ket qua", "ngay hen"), required=True),
    Column("returned", "Ngày trả kết quả", ("ngay tra ket qua", "ngay tra", "thoi gian tra ket qua")),
    Column("finished", "Ngày xử lý xong", ("ngay xu ly xong", "ngay hoan thanh", "ngay hoan thanh xu ly")),
    Column("status", "Trạng thái", ("trang thai", "tinh trang", "trang thai ho so", "ma trang thai")),
    Column(
        "applicant",
        "Chủ hồ sơ",
        ("chu ho so", "nguoi nop", "nguoi nop ho so", "ten chu ho so", "ho ten chu ho so", "ten nguoi nop"),
        required=True,
    ),
    Column("phone", "Số điện thoại", ("so dien thoai", "dien thoai", "sdt", "so dt", "so dien thoai lien he")),
    Column("email", "Email", ("email", "e-mail", "thu dien tu", "dia chi email")),
    Column("handler", "Cán bộ xử lý", ("can bo xu ly", "nguoi xu ly", "chuyen vien xu ly", "can bo thu ly")),
    Column(
        "receiver",
        "Cán bộ tiếp nhận",
        (
            "can bo tiep nhan",
            "can bo tiep nhan ho so",
            "nguoi tiep nhan",
            "nguoi tiep nhan ho so",
            "cong chuc tiep nhan",
            "chuyen vien tiep nhan",
            "can bo mot cua",
        ),
    ),
    Column("unit", "Đơn vị", ("don vi", "ma don vi", "don vi tiep nhan")),
    Column("channel", "Hình thức nộp", ("hinh thuc nop", "kenh", "kenh nop", "hinh thuc nop ho so")),
    Column(
        "applicant_kind",
        "Loại chủ hồ sơ",
        ("loai chu ho so", "loai nguoi nop", "doi tuong", "loai doi tuong", "doi tuong nop", "ca nhan/to chuc"),
    ),
)
_BY_HEADER = {header: column for column in COLUMNS for header in column.headers}
_LABEL = {column.key: column.label for column in COLUMNS}

# the national status codes (docs/METHOD.md, the dossier) -> what the importer makes of them
STATUS_NAMES = {
    1: "Mới đăng ký",
    2: "Được tiếp nhận",
    3: "Không được tiếp nhận",
    4: "Đang xử lý",
    5: "Yêu cầu bổ sung giấy tờ",
    6: "Yêu cầu thực hiện nghĩa vụ tài chính",
    7: "Công dân yêu cầu rút hồ sơ",
    8: "Dừng xử lý",
    9: "Đã xử lý xong",
    10: "Đã trả kết quả",
}
STATUS_STATES = {
    1: "received",
    2: "received",
    3: "cancelled",
    4: "received",
    5: "supplement_requested",
    6: "received",
    7: "cancelled",
    8: "cancelled",
    9: "result_ready",
    10: "returned",
}
# status text, folded, first match wins: "chờ trả kết quả" is resolved (9) before "trả kết quả" (10) is tried
_STATUS_WORDS: tuple[tuple[re.Pattern[str], int], ...] = tuple(
    (re.compile(pattern), code)
    for pattern, code in (
        (r"khong (duoc )?tiep nhan|tu choi", 3),
        (r"\brut\b", 7),
        (r"dung xu ly|tam dung|\bhuy\b|cancelled", 8),
        (r"bo sung|supplement", 5),
        (r"nghia vu tai chinh", 6),
        (r"cho tra|xu ly xong|\bda xu ly\b|hoan thanh|result.ready", 9),
        (r"tra ket qua|\bda tra\b|returned", 10),
        (r"xu ly", 4),
        (r"tiep nhan|received", 2),
        (r"dang ky|\bmoi\b", 1),
    )
)
_CHANNEL_WORDS = (
    (re.compile(r"truc.tiep|tai quay|\bquay\b"), "truc_tiep"),
    (re.compile(r"truc.tuyen|online|qua mang|dich vu cong|\bdvc"), "truc_tuyen"),
    (re.compile(r"buu.chinh|buu dien"), "buu_chinh"),
)
_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T,]+(\d{1,2})[:hg](\d{2})(?::(\d{2}))?)?")
_TIME_DMY = re.compile(r"(\d{1,2})[:hg](\d{2})(?::(\d{2}))?[ ,]+(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PARENTHESES = re.compile(r"\([^)]*\)|\*")
_COLUMN_NUMBER = re.compile(r"\(?\d{1,2}\)?")


class ImportFileError(InvalidInput):
    """The file cannot be imported at all: missing, unreadable, of an unknown type, or without the headers."""

    code = "import_file"


@dataclass(frozen=True)
class RowError:
    """A row that was not imported: its number as the spreadsheet shows it, and why."""

    row: int
    message: str

    def __str__(self) -> str:
        return f"dòng {self.row}: {self.message}"


@dataclass(frozen=True)
class ImportReport:
    """What an import did: rows read, dossiers created, updated or left as they were, and the rows refused."""

    rows: int
    created: int
    updated: int
    unchanged: int
    errors: tuple[RowError, ...]

    @property
    def imported(self) -> int:
        """Rows applied (whether or not they changed anything)."""
        return self.created + self.updated + self.unchanged

    def summary(self, limit: int = ERRORS_LISTED) -> str:
        """The report as the command prints it: one line of figures, then at most ``limit`` row errors."""
        figures = f"mới {self.created}, cập nhật {self.updated}, không đổi {self.unchanged}"
        head = f"Đã nhập {self.imported} hồ sơ ({figures}); "
        if not self.errors:
            return nfc(head + "không có dòng lỗi.")
        lines = [head + f"{len(self.errors)} dòng lỗi:"]
        lines.extend(str(error) for error in self.errors[:limit])
        if len(self.errors) > limit:
            lines.append(f"… và {len(self.errors) - limit} dòng lỗi khác")
        return nfc("\n".join(lines))


def fold_header(text: str) -> str:
    """A header reduced for matching: no accents, case, parentheses, stars or repeated spaces (đ → d)."""
    return fold(_PARENTHESES.sub(" ", text))


def cell_text(value: Cell) -> str | None:
    """A cell as text (NFC, trimmed); None when it is empty. A whole number typed as 12.0 reads as 12."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = nfc(storable(str(value))).strip()  # a stray NUL (a database refuses it) is dropped
    return text or None


def _date_parts(numbers: Sequence[str | None], order: tuple[int, int, int, int, int, int]) -> Moment:
    day, month, year, hour, minute, second = (numbers[i] for i in order)
    day_ = date(int(year or 0), int(month or 0), int(day or 0))
    if hour is None:
        return day_
    return datetime.combine(day_, time(int(hour), int(minute or 0), int(second or 0)))


def parse_moment(value: Cell) -> Moment | None:
    """A date or a date and time from a cell; None when empty; ValueError when it is not one.

    Accepted: Excel date/datetime cells, dd/mm/yyyy and dd-mm-yyyy with an optional HH:MM[:SS] (after the date
    or before it), and ISO 8601 (yyyy-mm-dd[ HH:MM[:SS]], ``T`` too, an offset kept). A time of exactly
    midnight is read as the date alone: exports write a date as the midnight that starts it. Years 1900–2999.
    """
    if value is None:
        return None
    parsed: Moment
    if isinstance(value, datetime):
        parsed = value
        if value.tzinfo is None and value.microsecond:
            # Excel keeps times as fractions of a day: round to the second it means
            parsed = (value + timedelta(microseconds=500_000)).replace(microsecond=0)
    elif isinstance(value, date):
        parsed = value
    else:
        text = cell_text(value)
        if text is None:
            return None
        parsed = _parse_text_moment(text)
    if parsed.year not in YEARS:
        raise ValueError(f"{parsed.isoformat()}: the year must be between {YEARS.start} and {YEARS.stop - 1}")
    if isinstance(parsed, datetime) and parsed.tzinfo is None and parsed.time() == time(0):
        return parsed.date()
    return parsed


def _parse_text_moment(text: str) -> Moment:
    match = _DMY.fullmatch(text)
    if match:
        return _date_parts(match.groups(), (0, 1, 2, 3, 4, 5))
    match = _TIME_DMY.fullmatch(text)
    if match:
        return _date_parts(match.groups(), (3, 4, 5, 0, 1, 2))
    match = _ISO.fullmatch(text)
    if match:
        return _date_parts(match.groups(), (2, 1, 0, 3, 4, 5))
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))  # ISO with an offset; ValueError otherwise
    if moment.tzinfo is None:
        raise ValueError(text)  # a naive ISO form the patterns above refused (week dates and the like)
    return moment


def parse_status(value: Cell) -> int:
    """The national status code (1–10) a cell means, as a code or as text; ValueError when it means none."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not value.is_integer():  # nan and infinity too
            raise ValueError(str(value))
        code = int(value)
        if code in STATUS_NAMES:
            return code
        raise ValueError(str(value))
    text = cell_text(value) or ""
    leading = re.match(r"(\d{1,2})(?!\d)(?![.,]\d)", text)  # "10", "10 - Đã trả kết quả"
    if leading:
        code = int(leading.group(1))
        if code in STATUS_NAMES:
            return code
        raise ValueError(text)
    folded = fold(text).replace("_", " ")
    for pattern, code in _STATUS_WORDS:
        if pattern.search(folded):
            return code
    raise ValueError(text)


# what an export calls an applicant that is an organisation, or a person (folded); the slip addresses each its way
_APPLICANT_KIND_WORDS = {
    "to chuc": "organisation",
    "doanh nghiep": "organisation",
    "co quan": "organisation",
    "co quan, to chuc": "organisation",
    "hop tac xa": "organisation",
    "organisation": "organisation",
    "organization": "organisation",
    "ca nhan": "person",
    "cong dan": "person",
    "nguoi dan": "person",
    "person": "person",
}


def parse_applicant_kind(value: Cell) -> str | None:
    """The applicant's kind, organisation or person, as the export names it; empty: None (not said)."""
    text = cell_text(value)
    if text is None:
        return None
    kind = _APPLICANT_KIND_WORDS.get(fold(text))
    if kind is None:
        raise ValueError(text)
    return kind


def parse_channel(value: Cell) -> str:
    """truc_tiep, truc_tuyen or buu_chinh from how the export names the channel; empty: truc_tiep."""
    text = cell_text(value)
    if text is None:
        return "truc_tiep"
    folded = fold(text)
    for pattern, channel in _CHANNEL_WORDS:
        if pattern.search(folded):
            return channel
    raise ValueError(text)


def parse_phone(value: Cell) -> str | None:
    """The phone number of a cell as 84xxxxxxxxx; None when empty; ValueError when it is not a Vietnamese one.

    A number cell has lost its leading zero (Excel drops it): nine or ten digits get it back.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not value.is_integer():  # a fraction, nan or infinity is no number
            raise ValueError(str(value))
        digits = str(int(value))
        text: str | None = digits if digits.startswith("84") and len(digits) > 10 else "0" + digits
    else:
        text = cell_text(value)
    if text is None:
        return None
    return normalize_phone(text)


# optional columns whose absence from a file keeps what is stored (an empty cell in a present column clears it)
_KEPT = ("procedure_code", "handler", "channel", "receiver")


def _kept(existing: Dossier, plan: Plan) -> DossierInput:
    """The row's dossier with what the export does not carry kept as stored: its Zalo opt-in, absent columns."""
    kept: dict[str, Any] = {key: getattr(existing, key) for key in plan.absent}
    return replace(plan.data, zalo_optin=existing.zalo_optin, **kept)


def _reason(exc: BaseException) -> str:
    """Why reading failed, in one line."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    lines = text.strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class _Table:
    """The rows of one sheet of a workbook, or of a CSV file, read in batches: (row number, cells)."""

    def __init__(self, rows: Iterator[Sequence[Cell]], total: int | None, close: Callable[[], None]) -> None:
        self._rows = rows
        self.total = total
        self.read = 0
        self._close = close

    def take(self, count: int) -> list[tuple[int, Sequence[Cell]]]:
        """The next ``count`` rows (fewer at the end)."""
        batch = []
        with warnings.catch_warnings():
            # openpyxl warns about workbook features it does not read (styles, validation, …): none matter here
            warnings.simplefilter("ignore")
            try:
                for values in self._rows:
                    self.read += 1
                    batch.append((self.read, values))
                    if len(batch) >= count:
                        break
            except Exception as exc:  # noqa: BLE001 - as when opening: a broken part of the workbook
                raise ImportFileError(f"không đọc được tệp từ dòng {self.read + 1}: {_reason(exc)}") from None
        return batch

    def close(self) -> None:
        """Release the file."""
        self._close()


def _open_table(path: Path, sheet: str | None) -> _Table:
    """The rows of ``path`` (.xlsx: the first sheet or ``sheet``; .csv: utf-8, comma or semicolon)."""
    if not path.exists():
        raise ImportFileError(f"không có tệp {path}")
    if not path.is_file():
        raise ImportFileError(f"{path} không phải là một tệp")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _open_workbook(path, sheet)
    if suffix == ".csv":
        if sheet is not None:
            raise ImportFileError("tệp .csv không có trang tính (bỏ --sheet)")
        return _open_csv(path)
    if suffix == ".xls":
        raise ImportFileError(f"không đọc được tệp .xls cũ {path.name}: hãy lưu lại thành .xlsx hoặc .csv")
    raise ImportFileError(f"không nhận dạng được loại tệp {path.name}: cần .xlsx hoặc .csv")


def _open_workbook(path: Path, sheet: str | None) -> _Table:
    from openpyxl import load_workbook  # only an import of a workbook needs it

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - a broken workbook raises zipfile, XML, KeyError, openpyxl's own…
        raise ImportFileError(f"không đọc được tệp {path.name}: {_reason(exc)}") from None
    try:
        if sheet is None:
            if not workbook.worksheets:
                raise ImportFileError(f"tệp {path.name} không có trang tính nào")
            worksheet = workbook.worksheets[0]
        elif sheet in workbook.sheetnames:
            worksheet = workbook[sheet]
        else:
            names = ", ".join(workbook.sheetnames)
            raise ImportFileError(f"tệp {path.name} không có trang tính {sheet!r} (có: {names})")
        total = worksheet.max_row if isinstance(worksheet.max_row, int) else None
        rows = worksheet.iter_rows(values_only=True)
    except BaseException:
        workbook.close()
        raise
    return _Table(rows, total, workbook.close)


def _open_csv(path: Path) -> _Table:
    """The rows of a CSV file, read as they are taken: one pass first checks the encoding and counts them."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            sample = file.read(65536)
            file.seek(0)
            delimiter = _delimiter(sample)
            total = sum(1 for _ in csv.reader(file, delimiter=delimiter))
        file = path.open(encoding="utf-8-sig", newline="")
    except UnicodeDecodeError:
        raise ImportFileError(f"không đọc được tệp {path.name}: cần mã hóa UTF-8") from None
    except csv.Error as exc:
        raise ImportFileError(f"không đọc được tệp {path.name}: {_reason(exc)}") from None
    except OSError as exc:
        raise ImportFileError(f"không đọc được tệp {path.name}: {_reason(exc)}") from None
    rows: Iterator[Sequence[Cell]] = csv.reader(file, delimiter=delimiter)
    return _Table(rows, total, file.close)


def _delimiter(sample: str) -> str:
    """A CSV file's delimiter, comma or semicolon, from its first characters."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;").delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        return ";" if first.count(";") > first.count(",") else ","


def _header(rows: Sequence[tuple[int, Sequence[Cell]]]) -> tuple[int, dict[str, int], list[str]]:
    """The header row among ``rows``: its number, column key -> index, and the required headers it lacks."""
    best: tuple[int, dict[str, int]] = (0, {})
    for number, values in rows:
        found: dict[str, int] = {}
        for index, value in enumerate(values):
            text = cell_text(value)
            column = _BY_HEADER.get(fold_header(text)) if text else None
            if column is not None and column.key not in found:
                found[column.key] = index
        if all(column.key in found for column in COLUMNS if column.required):
            return number, found, []
        if len(found) > len(best[1]):
            best = (number, found)
    missing = [column.label for column in COLUMNS if column.required and column.key not in best[1]]
    return best[0], best[1], missing


def _column_numbers(values: Sequence[Cell]) -> bool:
    """Whether a row holds nothing but column numbers (1, 2, 3 or (1), (2), (3) and so on)."""
    texts = [text for text in map(cell_text, values) if text is not None]
    return len(texts) > 1 and all(_COLUMN_NUMBER.fullmatch(text) for text in texts)


def _repeated(number: int, values: Sequence[Cell], index: int, first_rows: dict[str, int]) -> RowError | None:
    """The error for a row whose dossier code an earlier row of the file gave (whatever became of that row).

    Applying both would let the later row silently overwrite the earlier one, and every import of the same
    file would report the dossier updated again: the first row wins and the file's author is told.
    """
    code = cell_text(values[index]) if index < len(values) else None
    if code is None:
        return None
    first = first_rows.setdefault(code, number)
    if first == number:
        return None
    return RowError(number, f"“{_LABEL['code']}” {code!r} đã có ở dòng {first}: chỉ dòng {first} được nhập")


def _one_person_per_phone(plan: Plan, contacts: dict[str, ContactInput]) -> Plan:
    """``plan`` with its applicant as the file's first row with the same phone named them.

    A phone number is one person (the dossier handler finds people by it). Two rows of a file that give one
    number under two names (a parent filing for a child, say) would otherwise rename the person back and forth,
    and every import of the same file would report both dossiers updated: the first row's name stands, and a
    later row only adds an e-mail address the first did not give.
    """
    if plan.phone is None:
        return plan
    first = contacts.get(plan.phone)
    if first is None:
        contacts[plan.phone] = plan.data.applicant
        return plan
    applicant = replace(first, email=first.email or plan.data.applicant.email)
    contacts[plan.phone] = applicant
    return replace(plan, data=replace(plan.data, applicant=applicant))


def _quoted(labels: Sequence[str]) -> str:
    return ", ".join(f"“{label}”" for label in labels)


class _Memory:
    """What this import has read or written, so that the handlers' look-ups need not ask the database again.

    Units are remembered for the whole import (an import adds none); field ids once the row that recorded
    them was kept. The dossiers of a batch, and their applicants, are read at once when the batch starts: a
    dossier is handed to the first row with its code (later rows ask again), a person is forgotten as soon as
    anyone changes them. Everything else only for the row being applied: it is forgotten when the next row
    starts, so a row rolled back to its savepoint never leaves anything behind. A dossier created by this row
    is known to have no events and no invitation but those this row adds.
    """

    def __init__(self, units: dict[str, Unit]) -> None:
        self.units = dict(units)
        self.unit_ids = {u.id: u for u in units.values()}
        self.fields: dict[str, int] = {}
        self.batch_dossiers: dict[str, Dossier | None] = {}
        self.batch_people: dict[int, Person] = {}
        self.start_row()

    async def start_batch(self, uow: UnitOfWork, codes: Sequence[str]) -> None:
        """Attach to the batch's unit of work and read the batch's dossiers and their applicants at once."""
        self.attach(uow)
        found = await uow.dossiers.by_codes(codes)
        self.batch_dossiers = {code: None for code in codes} | {d.code: d for d in found}
        applicants = {d.applicant_id for d in found if d.applicant_id is not None}
        self.batch_people = {p.id: p for p in await uow.people.by_ids(applicants)}

    def start_row(self) -> None:
        """Forget what the previous row saw."""
        self.new_fields: dict[str, int] = {}
        self.dossiers: dict[str, Dossier | None] = {}
        self.dossier_ids: dict[int, Dossier] = {}
        self.fresh: dict[int, set[tuple[str, datetime]]] = {}  # created by this row: its events
        self.invited: set[int] = set()
        self.people: dict[int, Person] = {}

    def keep_row(self) -> None:
        """The row was applied: the fields it recorded exist."""
        self.fields.update(self.new_fields)

    def remember(self, dossier: Dossier) -> Dossier:
        """Note ``dossier`` as it now is."""
        self.dossiers[dossier.code] = self.dossier_ids[dossier.id] = dossier
        return dossier

    def attach(self, uow: UnitOfWork) -> None:
        """Give ``uow`` repositories that consult this memory first."""
        connection = uow.connection
        uow.units = self._bind(_Units(connection))
        uow.fields = self._bind(_Fields(connection))
        uow.dossiers = self._bind(_Dossiers(connection))
        uow.people = self._bind(_People(connection))
        uow.invitations = self._bind(_Invitations(connection))

    def _bind(self, repository: _R) -> _R:
        repository.memory = self
        return repository


class _Remembering:
    """A repository that consults an import's memory before the database."""

    memory: _Memory


_R = TypeVar("_R", bound=_Remembering)


def _changed(value: Any, changes: dict[str, Any]) -> Any | None:
    """``value`` (a frozen dataclass) with plain ``changes`` applied as the database stores them; None if unsure."""
    names = {f.name for f in fields(value)}
    applied: dict[str, Any] = {}
    for name, new in changes.items():
        if name not in names:
            continue  # updated_at and the like: not part of the value
        if isinstance(new, datetime):
            new = new.astimezone(UTC)  # read back as UTC
        elif new is not None and not isinstance(new, str | int | float | bool):
            return None  # an SQL expression: only the database knows the outcome
        applied[name] = new
    return replace(value, **applied)


class _Units(_Remembering, UnitRepository):
    async def get_by_code(self, code: str) -> Unit | None:
        """The unit with ``code`` (remembered)."""
        if code in self.memory.units:
            return self.memory.units[code]
        return await super().get_by_code(code)

    async def get(self, unit_id: int) -> Unit:
        """The unit with id ``unit_id`` (remembered)."""
        if unit_id in self.memory.unit_ids:
            return self.memory.unit_ids[unit_id]
        return await super().get(unit_id)


class _Fields(_Remembering, FieldRepository):
    async def ensure(self, name: str) -> int:
        """The id of the field ``name`` (remembered once its row was kept)."""
        known = self.memory.fields.get(name) or self.memory.new_fields.get(name)
        if known is None:
            known = self.memory.new_fields[name] = await super().ensure(name)
        return known


class _Dossiers(_Remembering, DossierRepository):
    async def get_by_code(self, code: str) -> Dossier | None:
        """The dossier with ``code`` (remembered for the row, or read with its batch)."""
        if code in self.memory.dossiers:
            return self.memory.dossiers[code]
        if code in self.memory.batch_dossiers:
            dossier = self.memory.batch_dossiers.pop(code)
        else:
            dossier = await super().get_by_code(code)
        if dossier is None:
            self.memory.dossiers[code] = None
            return None
        return self.memory.remember(dossier)

    async def get(self, dossier_id: int) -> Dossier:
        """The dossier with id ``dossier_id`` (remembered for the row)."""
        known = self.memory.dossier_ids.get(dossier_id)
        return known if known is not None else self.memory.remember(await super().get(dossier_id))

    async def add(self, now: datetime, **values: Any) -> Dossier:
        """Record a dossier; it has no events yet."""
        dossier = self.memory.remember(await super().add(now, **values))
        self.memory.fresh[dossier.id] = set()
        return dossier

    async def update(self, dossier_id: int, now: datetime, **values: Any) -> None:
        """Change a dossier, and what is remembered of it."""
        await super().update(dossier_id, now, **values)
        known = self.memory.dossier_ids.pop(dossier_id, None)
        if known is not None:
            self.memory.dossiers.pop(known.code, None)
            changed = _changed(known, values)
            if changed is not None:
                self.memory.remember(changed)

    async def has_event(self, dossier_id: int, type_: str, at: datetime) -> bool:
        """Whether exactly this event was stored (known without asking for a dossier this row created)."""
        events = self.memory.fresh.get(dossier_id)
        if events is not None:
            return (type_, at) in events
        return await super().has_event(dossier_id, type_, at)

    async def add_event(self, dossier_id: int, type_: str, at: datetime, note: str | None, now: datetime) -> bool:
        """Store an event."""
        added = await super().add_event(dossier_id, type_, at, note, now)
        events = self.memory.fresh.get(dossier_id)
        if events is not None:
            events.add((type_, at))
        return added


class _People(_Remembering, PersonRepository):
    async def get(self, person_id: int) -> Person:
        """The person with id ``person_id`` (remembered for the row, or read with the batch)."""
        known = self.memory.people.get(person_id) or self.memory.batch_people.get(person_id)
        if known is None:
            known = self.memory.people[person_id] = await super().get(person_id)
        return known

    async def add(
        self, name: str | None, phone: str | None, email: str | None, zalo_user_id: str | None, now: datetime
    ) -> Person:
        """Record a person."""
        person = await super().add(name, phone, email, zalo_user_id, now)
        self.memory.people[person.id] = person
        return person

    async def update(self, person_id: int, **values: Any) -> None:
        """Change a person, and what is remembered of them."""
        await super().update(person_id, **values)
        self.memory.batch_people.pop(person_id, None)
        known = self.memory.people.pop(person_id, None)
        if known is not None:
            changed = _changed(known, values)
            if changed is not None:
                self.memory.people[person_id] = changed


class _Invitations(_Remembering, InvitationRepository):
    async def for_dossier(self, dossier_id: int) -> Invitation | None:
        """The dossier's invitation (known to be none for a dossier this row created and has not invited)."""
        if dossier_id in self.memory.fresh and dossier_id not in self.memory.invited:
            return None
        return await super().for_dossier(dossier_id)

    async def add(self, now: datetime, **values: Any) -> Invitation | None:
        """Create the dossier's invitation."""
        self.memory.invited.add(int(values["dossier_id"]))
        return await super().add(now, **values)


class _UnitCodes:
    """The code of the unit a cell names: its code, or its code or name without accents or case, if only one."""

    def __init__(self, units: dict[str, Unit]) -> None:
        self.codes: dict[str, str | None] = {code: code for code in units}
        named: dict[str, set[str]] = {}
        for unit in units.values():
            for text in (unit.code, unit.name):
                named.setdefault(fold(text), set()).add(unit.code)
        self.named = {text: next(iter(codes)) if len(codes) == 1 else None for text, codes in named.items()}

    def __call__(self, text: str) -> str | None:
        if text not in self.codes:
            self.codes[text] = self.named.get(fold(text))
        return self.codes[text]


class DossierImporter:
    """Reads a one-stop-shop export and applies every row as an upsert and its events (README, the commands)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.dossiers = DossierHandler(services)
        self._new = NewDossierWriter(services, self.dossiers)

    async def run(
        self,
        path: Path | str,
        unit: str | None = None,
        on_progress: ProgressCallback | None = None,
        *,
        sheet: str | None = None,
    ) -> ImportReport:
        """Import ``path``; ``unit`` for rows (or files) without a unit column; ImportFileError when unreadable."""
        table = _open_table(Path(path), sheet)
        try:
            return await self._run(table, unit, on_progress)
        finally:
            table.close()

    async def _run(self, table: _Table, unit: str | None, on_progress: ProgressCallback | None) -> ImportReport:
        head = table.take(HEADER_SEARCH_ROWS)
        header_row, columns, missing = _header(head)
        if missing:
            where = f"dòng {header_row}" if header_row else f"{HEADER_SEARCH_ROWS} dòng đầu"
            raise ImportFileError(f"tệp thiếu cột bắt buộc {_quoted(missing)} (tìm trong {where})")
        units = await self._units()
        memory = _Memory(units)
        unit_code = _UnitCodes(units)
        default_unit = None
        if unit is not None:
            default_unit = unit_code(unit)
            if default_unit is None:
                raise ImportFileError(f"không có đơn vị {unit!r}")
        if "unit" not in columns and default_unit is None:
            raise ImportFileError(f"tệp không có cột “{_LABEL['unit']}”: cần chỉ rõ đơn vị (--unit MÃ)")
        total = table.total - header_row if table.total is not None else None
        pending = [(number, values) for number, values in head if number > header_row]
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        errors: list[RowError] = []
        first_rows: dict[str, int] = {}  # dossier code -> the row that brought it first: a later one is refused
        contacts: dict[str, ContactInput] = {}  # phone -> the applicant as the file first gives them
        done = reported = 0
        while True:
            batch = pending + table.take(BATCH_ROWS - len(pending))
            pending = []
            if not batch:
                break
            plans: list[Plan] = []
            for number, values in batch:
                if all(cell_text(value) is None for value in values):
                    continue
                if number == header_row + 1 and _column_numbers(values):
                    continue  # the row of column numbers, (1) (2) (3) …, that official forms put under the headers
                repeated = _repeated(number, values, columns["code"], first_rows)
                if repeated is not None:
                    errors.append(repeated)
                    continue
                try:
                    plans.append(
                        _one_person_per_phone(self._plan(number, values, columns, unit_code, default_unit), contacts)
                    )
                except RowFault as fault:
                    errors.append(RowError(number, str(fault)))
            await self._apply_batch(plans, memory, counts, errors)
            done += len(batch)
            if on_progress is not None and done // PROGRESS_EVERY > reported // PROGRESS_EVERY:
                on_progress(done, max(total, done) if total is not None else None)
                reported = done
        if on_progress is not None and reported != done:
            on_progress(done, done)
        errors.sort(key=lambda error: error.row)
        return ImportReport(done, counts["created"], counts["updated"], counts["unchanged"], tuple(errors))

    async def _units(self) -> dict[str, Unit]:
        async with self.services.uow(read_only=True) as uow:
            return {u.code: u for u in await uow.units.all()}

    # -- reading a row ---------------------------------------------------------------------------------------

    def _plan(
        self,
        number: int,
        values: Sequence[Cell],
        columns: dict[str, int],
        unit_code: Callable[[str], str | None],
        default_unit: str | None,
    ) -> Plan:
        def cell(key: str) -> Cell:
            index = columns.get(key)
            return values[index] if index is not None and index < len(values) else None

        def text(key: str, required: bool = False) -> str | None:
            value = cell_text(cell(key))
            if value is None and required:
                raise RowFault(f"thiếu “{_LABEL[key]}”")
            return value

        def moment(key: str, required: bool = False) -> Moment | None:
            try:
                value = parse_moment(cell(key))
            except (ValueError, OverflowError):
                raise RowFault(f"“{_LABEL[key]}” không phải là ngày: {cell_text(cell(key))!r}") from None
            if value is None and required:
                raise RowFault(f"thiếu “{_LABEL[key]}”")
            return value

        code = text("code", required=True)
        assert code is not None
        if not CODE_RE.fullmatch(code):
            raise RowFault(f"“{_LABEL['code']}” không hợp lệ: {code!r} (1–50 chữ cái, chữ số hoặc . _ / -)")
        procedure, field = text("procedure", required=True), text("field", required=True)
        name = text("applicant", required=True)
        assert procedure is not None
        assert field is not None
        assert name is not None
        unit_text = text("unit") or default_unit
        if unit_text is None:
            raise RowFault(f"thiếu “{_LABEL['unit']}”")
        unit = unit_code(unit_text)
        if unit is None:
            raise RowFault(f"không có đơn vị {unit_text!r}")
        try:
            phone = parse_phone(cell("phone"))
        except ValueError:
            raise RowFault(f"“{_LABEL['phone']}” không phải số điện thoại Việt Nam") from None
        email = text("email")
        if email is not None and not _EMAIL.fullmatch(email):
            raise RowFault(f"“{_LABEL['email']}” không phải địa chỉ thư điện tử")
        try:
            channel = parse_channel(cell("channel"))
        except ValueError:
            raise RowFault(
                f"“{_LABEL['channel']}” không rõ: {text('channel')!r} (trực tiếp, trực tuyến hoặc bưu chính)"
            ) from None
        try:
            kind = parse_applicant_kind(cell("applicant_kind"))
        except ValueError:
            raise RowFault(
                f"“{_LABEL['applicant_kind']}” không rõ: {text('applicant_kind')!r} (cá nhân hoặc tổ chức)"
            ) from None
        status = None
        if cell_text(cell("status")) is not None:
            try:
                status = parse_status(cell("status"))
            except ValueError:
                raise RowFault(f"“{_LABEL['status']}” không rõ: {text('status')!r}") from None

        zone = self.services.policy.timezone
        received_value, due_value = moment("received", required=True), moment("due", required=True)
        finished_value, returned_value = moment("finished"), moment("returned")
        assert received_value is not None
        assert due_value is not None
        received_at = local_moment(received_value, zone)
        self._not_future(received_at, "received")
        due_at = local_moment(due_value, zone, end_of_day=True)
        if due_at < received_at:
            raise RowFault(f"“{_LABEL['due']}” trước “{_LABEL['received']}”")
        finished_at = self._after(finished_value, received_at, "finished", "received")
        returned_at = self._after(
            returned_value, finished_at or received_at, "returned", "finished" if finished_at else "received"
        )
        self._not_future(finished_at, "finished")
        self._not_future(returned_at, "returned")

        events = self._events(status, received_at, finished_at, returned_at)
        data = DossierInput(
            code=code,
            unit=unit,
            procedure=procedure,
            procedure_code=text("procedure_code"),
            field=field,
            applicant=ContactInput(name=name, phone=phone, email=email, kind=kind),
            received_at=received_at,
            due_at=due_at,
            channel=channel,
            handler=text("handler"),
            receiver=text("receiver"),
        )
        return Plan(number, data, phone, events, frozenset(key for key in _KEPT if key not in columns))

    def _not_future(self, at: datetime | None, key: str) -> None:
        """A reception, a result or a return dated after now is refused, its column named (a due date may be)."""
        now = self.services.clock()
        if at is not None and at > now + CLOCK_SKEW:
            show = self.services.policy.show
            raise RowFault(f"“{_LABEL[key]}” ở tương lai: {show(at)} (bây giờ là {show(now)})")

    def _after(self, value: Moment | None, bound: datetime, key: str, bound_key: str) -> datetime | None:
        """``value`` as a moment no earlier than ``bound``; a date alone on the bound's own day is the bound."""
        if value is None:
            return None
        at = local_moment(value, self.services.policy.timezone)
        if at >= bound:
            return at
        policy = self.services.policy
        if not isinstance(value, datetime) and value == policy.local_date(bound):
            return bound  # a date without a time, on the day the earlier step happened: right after it
        raise RowFault(f"“{_LABEL[key]}” trước “{_LABEL[bound_key]}”")

    @staticmethod
    def _events(
        status: int | None, received_at: datetime, finished_at: datetime | None, returned_at: datetime | None
    ) -> tuple[tuple[str, datetime], ...]:
        """The events a row's status (or, without one, its dates) implies, in order."""
        if status is None:
            state = "returned" if returned_at else "result_ready" if finished_at else "received"
        else:
            state = STATUS_STATES[status]
        if state == "returned":
            if returned_at is None:
                raise RowFault(f"trạng thái “{STATUS_NAMES[10]}” cần “{_LABEL['returned']}”")
            ready = (("result_ready", finished_at),) if finished_at else ()
            return (*ready, ("returned", returned_at))
        if state == "result_ready":
            at = finished_at or returned_at
            if at is None:
                raise RowFault(
                    f"trạng thái “{STATUS_NAMES[9]}” cần “{_LABEL['finished']}” (hoặc “{_LABEL['returned']}”)"
                )
            return (("result_ready", at),)
        if state in ("supplement_requested", "cancelled"):
            # the export gives no date of its own for these: the latest date the row gives
            return ((state, max(d for d in (received_at, finished_at, returned_at) if d is not None)),)
        return ()

    # -- applying rows ---------------------------------------------------------------------------------------

    async def _apply_batch(
        self, plans: list[Plan], memory: _Memory, counts: dict[str, int], errors: list[RowError]
    ) -> None:
        """Apply a batch of rows in one transaction: runs of new dossiers at once, each other row in a savepoint."""
        if not plans:
            return
        async with self.services.uow() as uow:
            await memory.start_batch(uow, [plan.data.code for plan in plans])
            new: list[Plan] = []
            for plan in plans:
                if memory.batch_dossiers.get(plan.data.code, False) is None and plan.data.representative is None:
                    new.append(plan)  # not in the database: written with the run it belongs to
                    continue
                await self._apply_new(uow, new, memory, counts, errors)
                new = []
                memory.start_row()
                try:
                    outcome = await self._apply(uow, plan)
                except (RowFault, HandlerError) as exc:
                    errors.append(RowError(plan.row, str(exc)))
                    continue
                memory.keep_row()
                counts[outcome] += 1
            await self._apply_new(uow, new, memory, counts, errors)
            await uow.commit()

    async def _apply_new(
        self, uow: UnitOfWork, plans: list[Plan], memory: _Memory, counts: dict[str, int], errors: list[RowError]
    ) -> None:
        """Write a run of rows whose dossiers are new (handlers/intake/batches.py)."""
        if not plans:
            return
        memory.start_row()
        written = await self._new.write(uow, plans, memory.units)
        memory.keep_row()
        for person_id in written.people_changed:
            memory.batch_people.pop(person_id, None)
        counts["created"] += written.created
        errors.extend(RowError(row, message) for row, message in written.refused)

    async def _apply(self, uow: UnitOfWork, plan: Plan) -> str:
        """Apply one row (in a savepoint of its own when it changes anything): created, updated or unchanged."""
        existing = await uow.dossiers.get_by_code(plan.data.code)
        data = plan.data if existing is None else _kept(existing, plan)
        same = existing is not None and await self._same(uow, existing, data, plan.phone)
        if existing is not None and same and not moves(existing, plan.events):
            return "unchanged"  # nothing to write: no savepoint either
        async with uow.connection.begin_nested():
            changed = False
            if existing is None or not same:
                if existing is not None:
                    data = await self._with_representative(uow, existing, data)
                dossier = (await self.dossiers.upsert_in(uow, data)).dossier
                changed = True
            else:
                dossier = existing
            for type_, at in plan.events:
                dossier, applied = await self._event(uow, dossier, type_, at)
                changed = changed or applied
        if existing is None:
            return "created"
        return "updated" if changed else "unchanged"

    async def _with_representative(self, uow: UnitOfWork, existing: Dossier, data: DossierInput) -> DossierInput:
        """``data`` with the dossier's authorised representative kept (an export does not name one)."""
        representative = None
        if existing.representative_id is not None:
            person = await uow.people.get(existing.representative_id)
            if person.erased_at is None and person.name:
                representative = ContactInput(person.name, person.phone, person.email, person.zalo_user_id)
        return replace(data, representative=representative)

    async def _same(self, uow: UnitOfWork, existing: Dossier, data: DossierInput, phone: str | None) -> bool:
        """Whether the upsert of ``data`` would store what is stored already."""
        if data.applicant.kind is not None and data.applicant.kind != existing.applicant_kind:
            return False
        unit = await uow.units.get_by_code(data.unit)
        if unit is None or (
            existing.unit_id,
            existing.procedure_name,
            existing.procedure_code,
            existing.field,
            existing.channel,
            existing.handler,
            existing.receiver,
            existing.received_at,
            existing.due_at,
        ) != (
            unit.id,
            data.procedure,
            data.procedure_code,
            data.field,
            data.channel,
            data.handler,
            data.receiver,
            data.received_at,
            data.due_at,
        ):
            return False
        if existing.applicant_id is None:
            return False
        person = await uow.people.get(existing.applicant_id)
        if person.erased_at is not None:
            return True  # the person asked to be forgotten: an old export does not bring them back
        contact = data.applicant
        return (
            person.name == contact.name
            and (phone is None or phone == person.phone)
            and (contact.email is None or contact.email == person.email)
        )

    async def _event(self, uow: UnitOfWork, dossier: Dossier, type_: str, at: datetime) -> tuple[Dossier, bool]:
        """Apply one event the row implies, unless the dossier is already there or further along."""
        what = step(dossier.state, last_step_at(dossier), type_, at)
        if what == "skip":
            return dossier, False
        if what == "conflict":
            if await uow.dossiers.has_event(dossier.id, type_, at):
                return dossier, False  # it happened before the dossier was cancelled
            raise conflict(type_)
        changed = False
        if what == "resume":
            result = await self.dossiers.add_event_in(uow, dossier.code, "supplement_received", at, None)
            changed = result.changed
        result = await self.dossiers.add_event_in(uow, dossier.code, type_, at, None)
        return result.dossier, changed or result.changed
