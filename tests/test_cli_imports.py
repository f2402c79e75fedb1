"""The command line loads only what the command it runs uses.

Building the parser, and so ``sipasbot --help``, loads no command's code: not the channels' libraries
(python-telegram-bot, aiohttp), not the workbook's, chart's or slip's (openpyxl, matplotlib, fpdf2), not the
database's (SQLAlchemy, Alembic). ``sipasbot units list`` on a database whose schema is current loads the
database but not Alembic, nor any of those. Each case runs in a fresh interpreter and reads its
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


def _main(tmp_path: Path, *args: str) -> tuple[int, str, set[str]]:
    """``bot.cli.main(args)`` in a fresh interpreter: its exit status, what it printed, the modules it loaded."""
    done = subprocess.run(
        [sys.executable, "-c", RUN_MAIN, *args],
        capture_output=True,
        text=True,
        env=_environment(tmp_path),
        cwd=tmp_path,
        timeout=120,
        check=True,
    )
    printed, _, modules = done.stdout.rpartition("\nMODULES ")
    printed, _, code = printed.rpartition("EXIT ")
    assert done.stderr == ""
    return int(code), printed, set(json.loads(modules))


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
    assert "bot.app" in modules
    assert "storage.db" in modules
    assert _loaded(modules, HEAVY) == []


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
