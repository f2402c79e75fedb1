"""README.md as a newcomer uses it: its quick start and its API example run as pasted; its tables are complete.

The quick start's and the REST API section's ``sh`` blocks are run verbatim by bash (``bash -e``: a failing
command fails the block) in a fresh folder, on a fresh SQLite database, with the API example against a real
`sipasbot run` started there beforehand on a free port (the block reads the port from SIPAS_HTTP_PORT, as the
README says; 8080 when unset). One thing is not run as written: the install, ``python3 -m venv .venv &&
.venv/bin/pip install -e .``, which `.ci/run` has just done for this very checkout. The folder's ``.venv`` is this
test's own virtual environment, linked in, and the install prefix is cut from the block (the test checks that it
is there, word for word), so that everything after it runs exactly as pasted.

Then every command of the command line (the argparse parser of bot/cli.py, walked down its subcommands) must be
named in a row of README's tables as ``sipasbot <command> …``, and every setting (each field of the Settings of
bot/config.py) as its ``SIPAS_…`` variable, written out in full.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.cli import _parser
from bot.config import Settings
from tests.telegram_service import free_port

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
INSTALL = "python3 -m venv .venv && .venv/bin/pip install -e . && "
SIPASBOT = str(Path(sys.executable).parent / "sipasbot")


def section(title: str) -> str:
    """The README's text under the heading ``title`` (any level), up to the next heading of that level or above."""
    lines = README.read_text(encoding="utf-8").splitlines(keepends=True)
    fenced, level, found = False, 0, []
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        heading = re.match(r"(#+) (.*)", line) if not fenced else None
        if level and heading and len(heading.group(1)) <= level:
            break
        if level:
            found.append(line)
        elif heading and heading.group(2).strip() == title:
            level = len(heading.group(1))
    assert level, f"README has no heading {title!r}"
    return "".join(found)


def sh_blocks(title: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", section(title), flags=re.DOTALL)


def scratch(tmp_path: Path) -> dict[str, str]:
    """A fresh folder with this test's virtual environment as its ``.venv``; an environment without SIPAS_."""
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def bash(block: str, cwd: Path, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-c", block], cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=300
    )


# --- verbatim


@pytest.mark.slow
def test_the_quick_start_runs_as_pasted(tmp_path: Path) -> None:
    env = scratch(tmp_path)
    blocks = sh_blocks("Quick start")
    assert len(blocks) >= 2, blocks
    assert blocks[0].startswith(INSTALL), blocks[0]
    first = bash(blocks[0].removeprefix(INSTALL), tmp_path, env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Phường Mẫu" in first.stdout
    for block in blocks[1:]:
        done = bash(block, tmp_path, env)
        assert done.returncode == 0, block + done.stdout + done.stderr
    assert "> 4\n" in done.stdout  # the scripted answers were read
    assert "sipasbot shell --as citizen --user demo-" in done.stdout  # and the rest of the form waits, as said
    assert (tmp_path / "sipasbot-demo.db").exists()  # the demo's own database, as the quick start says


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """`sipasbot run` in a fresh folder on a free port, answering /healthz; stopped with SIGTERM afterwards."""
    env = scratch(tmp_path)
    port = free_port()
    env["SIPAS_HTTP_PORT"] = str(port)
    log = tmp_path / "service.log"
    with log.open("ab") as sink:
        process = subprocess.Popen([SIPASBOT, "run"], cwd=tmp_path, env=env, stdout=sink, stderr=sink)

    async def healthy() -> None:
        async with aiohttp.ClientSession() as session, asyncio.timeout(90):
            while True:
                assert process.poll() is None, log.read_text(encoding="utf-8")
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        if response.status in (200, 503):
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)

    try:
        asyncio.run(healthy())
        yield tmp_path, env
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


@pytest.mark.slow
def test_the_api_example_runs_as_pasted_on_a_fresh_database(running: tuple[Path, dict[str, str]]) -> None:
    folder, env = running
    blocks = sh_blocks("The REST API (for the one-stop-shop software)")
    assert len(blocks) == 1, blocks
    done = bash(blocks[0], folder, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"code": "P8-261118-0001"' in done.stdout or '"code":"P8-261118-0001"' in done.stdout, done.stdout
    assert '"kind":"error"' in done.stdout.replace(" ", ""), done.stdout  # the apology the example documents
    assert '"received":1' in done.stdout.replace(" ", ""), done.stdout  # the report counts the dossier
    assert not re.search(r"[^\x00-\x7f]", "".join(re.findall(r"-H '([^']*)'", blocks[0]))), "headers are ASCII"


# --- the tables


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> Iterator[str]:
    """Every command the parser takes, as typed after ``sipasbot`` (``units add``, ``db backup``…)."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        yield prefix.strip()
        return
    for name, sub in groups[0].choices.items():
        yield from commands(sub, f"{prefix} {name}")


def table_rows() -> str:
    return "\n".join(line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("|"))


def test_every_command_is_in_a_table_of_the_readme() -> None:
    found = list(commands(_parser()))
    assert {"db backup", "apikey revoke", "dossiers import", "demo"} <= set(found), found
    rows = table_rows()
    missing = [c for c in found if not re.search(rf"`sipasbot {re.escape(c)}[ `]", rows)]
    assert not missing, f"README's tables do not name: {missing}"


def test_every_setting_is_in_a_table_of_the_readme() -> None:
    names = sorted("SIPAS_" + name.upper() for name in Settings.model_fields)
    assert "SIPAS_LOG_FORMAT" in names
    rows = table_rows()
    missing = [n for n in names if f"`{n}`" not in rows]
    assert not missing, f"README's tables do not name (in full): {missing}"
