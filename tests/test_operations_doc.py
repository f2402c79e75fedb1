"""docs/OPERATIONS.md: every shell command in it runs, as written, against a scratch installation."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "OPERATIONS.md"
# run by .ci/run itself (a fresh virtualenv and the project installed into it), not again here
INSTALLS = ("python3 -m venv .venv && .venv/bin/pip install --quiet -e .", ".venv/bin/pip install --quiet -e .")

pytestmark = pytest.mark.slow


def commands() -> list[str]:
    """The shell commands of the guide's ``sh`` blocks, in order."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.DOTALL):
        found += [line.strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]
    return found


def test_the_guide_has_commands_and_the_installs_are_what_ci_runs() -> None:
    assert len(commands()) >= 12
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 -m venv .venv" in ci
    assert ".venv/bin/pip install --quiet -e '.[test]'" in ci


def test_every_command_of_the_guide_runs(tmp_path: Path) -> None:
    if not POSTGRES_URL:
        pytest.fail("the guide's PostgreSQL commands need SIPAS_TEST_POSTGRES_URL (CI sets it)")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    pg_dsn = re.sub(r"^postgresql\+asyncpg://", "postgresql://", POSTGRES_URL)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    env.update(
        SIPAS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}",
        PG_URL=POSTGRES_URL,
        PG_DSN=pg_dsn,
        NEW_ACCESS="AT-new",
        NEW_REFRESH="RT-new",
    )
    ran = 0
    for command in commands():
        if command in INSTALLS:
            continue
        result = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        ran += 1
    assert ran == len(commands()) - 2
    assert (tmp_path / "backup-sipasbot.db").stat().st_size > 0
    assert (tmp_path / "sipas.dump").stat().st_size > 0
