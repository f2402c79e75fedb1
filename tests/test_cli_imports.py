"""The command line loads only what the command it runs uses.

Building the parser, and so ``sipasbot --help``, loads no command's code: not the channels' libraries
(python-telegram-bot, aiohttp), not the workbook's, chart's or slip's (openpyxl, matplotlib, fpdf2), not the
database's (SQLAlchemy, Alembic). ``sipasbot units list`` on a database whose schema is current loads the
database but not Alembic, nor any of those, nor the application (bot/app.py), its handlers or the forms
(bot/cli_slim.py). Each case runs in a fresh interpreter and reads its
``sys.modules`` at the end; nothing here is timed (bench/cli_start.py measures the time).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from storage import migrate
from storage.db import Database
from storage.schema_state import newest_revision
from survey_forms.yaml_text import load_shipped

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
# the libraries of the service, the workbooks, the chart, the slip and the migrations
HEAVY = ("telegram", "aiohttp", "openpyxl", "matplotlib", "fpdf", "PIL", "numpy", "alembic")
# what units list does without: the application, the handlers it wires, the forms' code (which reads every form)
APPLICATION = (
    "bot.app",
    "bot.cli_commands",
    "handlers.context",
    "handlers.chat.dispatcher",
    "handlers.leader.desk",
    "handlers.staff.desk",
    "survey_forms.catalog",
    "survey_forms.schema",
)
RUN_MAIN = """
import json, sys
from bot.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # argparse's --help
    code = exc.code
sys.stdout.flush()
print("EXIT", code)
print("MODULES", json.dumps(sorted(sys.modules)))
"""


def _environment(tmp_path: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    environment["SIPAS_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}"
    return environment


def _run_main(tmp_path: Path, *args: str, **settings: str) -> tuple[int, str, str, set[str]]:
    """``bot.cli.main(args)`` in a fresh interpreter (``settings``: more environment variables).

    Its exit status, what it printed on stdout and on stderr, the modules it loaded.
    """
    done = subprocess.run(
        [sys.executable, "-c", RUN_MAIN, *args],
        capture_output=True,
        text=True,
        env={**_environment(tmp_path), **settings},
        cwd=tmp_path,
        timeout=120,
        check=True,
    )
    printed, _, modules = done.stdout.rpartition("\nMODULES ")
    printed, _, code = printed.rpartition("EXIT ")
    return int(code), printed, done.stderr, set(json.loads(modules))


def _main(tmp_path: Path, *args: str) -> tuple[int, str, set[str]]:
    """As :func:`_run_main`, for a run that writes nothing on stderr."""
    code, printed, errors, modules = _run_main(tmp_path, *args)
    assert errors == ""
    return code, printed, modules


def _revisions(tmp_path: Path) -> list[tuple[str]]:
    database = sqlite3.connect(tmp_path / "sipasbot.db")
    try:
        return database.execute("SELECT version_num FROM alembic_version").fetchall()
    finally:
        database.close()


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in names)


def test_importing_the_command_line_loads_no_command_code() -> None:
    shown = subprocess.run(
        [sys.executable, "-c", "import bot.cli, json, sys; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    modules = set(json.loads(shown.stdout))
    assert "bot.cli" in modules
    assert _loaded(modules, (*HEAVY, "sqlalchemy", "pydantic")) == []
    assert not {"bot.app", "bot.cli_commands", "bot.service", "storage.db", "storage.migrate"} & modules


def test_help_is_printed_from_the_parser_alone(tmp_path: Path) -> None:
    code, printed, modules = _main(tmp_path, "--help")
    assert code == 0
    assert printed.startswith("cách dùng: sipasbot")
    assert "units" in printed
    assert "report" in printed
    assert _loaded(modules, (*HEAVY, "sqlalchemy")) == []
    assert "bot.app" not in modules
    code, printed, modules = _main(tmp_path, "--lang", "en", "units", "--help")
    assert code == 0
    assert printed.startswith("usage: sipasbot units")
    assert _loaded(modules, (*HEAVY, "sqlalchemy")) == []


def test_units_list_on_a_current_schema_loads_neither_alembic_nor_the_channels(tmp_path: Path) -> None:
    code, printed, modules = _main(tmp_path, "units", "list")  # a new file: its schema is created
    assert (code, printed) == (0, "")
    assert "alembic" in modules
    assert _revisions(tmp_path) == [(migrate.head_revision(),)]

    code, printed, modules = _main(tmp_path, "units", "list")
    assert (code, printed) == (0, "")
    assert "storage.db" in modules
    assert _loaded(modules, HEAVY) == []
    assert sorted(set(APPLICATION) & modules) == []


def test_units_list_prints_the_units_without_the_application(tmp_path: Path) -> None:
    assert _main(tmp_path, "units", "add", "Q3", "Quận 3")[0] == 0
    assert _main(tmp_path, "units", "add", "P8", "Phường 8", "--parent", "Q3", "--form", "sipas-nhanh")[0] == 0
    code, printed, modules = _main(tmp_path, "units", "list")
    assert code == 0
    assert printed == (
        "P8\tPhường 8\t(cấp trên: Q3; mẫu phiếu: sipas-nhanh)\tphát hành văn bản; địa danh: Phường 8\n"
        "Q3\tQuận 3\t(cấp trên: -; mẫu phiếu: sipas-2022)\tphát hành văn bản; địa danh: Quận 3\n"
    )
    assert _loaded(modules, HEAVY) == []
    assert sorted(set(APPLICATION) & modules) == []
    # the default form is the setting's, printed as set (a built-in form: no form file is read to check it)
    code, printed, errors, modules = _run_main(tmp_path, "units", "list", SIPAS_SURVEY_FORM="danh-gia-ho-so")
    assert (code, errors) == (0, "")
    assert "Q3\tQuận 3\t(cấp trên: -; mẫu phiếu: danh-gia-ho-so)" in printed
    assert "survey_forms.catalog" not in modules


def _one_line_refusal(tmp_path: Path, *args: str, **settings: str) -> str:
    code, printed, errors, _ = _run_main(tmp_path, *args, **settings)
    assert (code, printed) == (2, "")
    assert "Traceback" not in errors
    assert len(errors.splitlines()) == 1, errors
    return errors.strip()


def test_units_list_refuses_an_unknown_survey_form_as_every_command_does(tmp_path: Path) -> None:
    assert _main(tmp_path, "units", "list")[0] == 0
    refused = _one_line_refusal(tmp_path, "units", "list", SIPAS_SURVEY_FORM="khong-co")
    assert refused == (
        "sipasbot: lỗi: cấu hình không dùng được (biến môi trường hoặc tệp .env): SIPAS_SURVEY_FORM: unknown form "
        "'khong-co' (known: danh-gia-ho-so, sipas-2017, sipas-2022, sipas-nhanh)"
    )
    assert _one_line_refusal(tmp_path, "db", "upgrade", SIPAS_SURVEY_FORM="khong-co") == refused
    # a forms folder is read as the application reads it: a broken form file is refused in the same words
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "hong.v1.yaml").write_text("title: {vi: Chọn?}\n", encoding="utf-8")
    refused = _one_line_refusal(tmp_path, "units", "list", SIPAS_FORMS_DIR=str(forms))
    assert "hong.v1.yaml: cannot read" in refused
    assert _one_line_refusal(tmp_path, "db", "upgrade", SIPAS_FORMS_DIR=str(forms)) == refused


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("nonsense", "sipasbot: lỗi: không phải URL cơ sở dữ liệu: 'nonsense'"),
        ("mysql+aiomysql://x/y", "không hỗ trợ cơ sở dữ liệu 'mysql'"),
        ("sqlite+aiosqlite:////no/such/dir/x.db", "không mở được tệp cơ sở dữ liệu"),
    ],
)
def test_units_list_refuses_an_unusable_database_url_in_one_line(tmp_path: Path, url: str, reason: str) -> None:
    refused = _one_line_refusal(tmp_path, "units", "list", SIPAS_DATABASE_URL=url)
    assert refused.startswith("sipasbot: lỗi: ")
    assert reason in refused
    assert _one_line_refusal(tmp_path, "db", "upgrade", SIPAS_DATABASE_URL=url) == refused  # the application's words


async def test_a_database_behind_the_newest_migration_is_still_migrated(tmp_path: Path) -> None:
    database = Database(_environment(tmp_path)["SIPAS_DATABASE_URL"])
    await migrate.upgrade(database, "0017")
    await database.close()
    code, printed, modules = await asyncio.to_thread(_main, tmp_path, "units", "list")
    assert (code, printed) == (0, "")
    assert "alembic" in modules
    assert _revisions(tmp_path) == [(migrate.head_revision(),)]


def test_the_newest_revision_read_from_the_files_is_alembics_head() -> None:
    assert newest_revision() == migrate.head_revision()


def test_libyaml_reads_every_yaml_file_we_ship_as_pyyaml_does() -> None:
    files = [*(ROOT / "survey_forms/forms").glob("*.yaml"), *ROOT.glob("*/texts/*.yaml")]
    assert len(files) >= 14
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert load_shipped(text) == yaml.safe_load(text), path
    broken = "id: x\nquestions: [1, 2\n"
    with pytest.raises(yaml.YAMLError) as ours:
        load_shipped(broken)
    with pytest.raises(yaml.YAMLError) as theirs:
        yaml.safe_load(broken)
    assert str(ours.value) == str(theirs.value)  # the message a person reads is PyYAML's, as before
