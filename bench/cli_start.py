"""How long the `sipasbot` command takes to start: ``--help`` and ``units list`` on an empty database.

Each command runs as a fresh process (the installed ``sipasbot`` script next to this Python), in rounds that
alternate with the bare baseline ``python -c pass``, so that the load of the machine falls on all three alike;
medians are compared. ``units list`` runs on a SQLite file in a new temporary folder, with no ``SIPAS_``
setting but the database URL: its first run creates the schema (timed apart, for information), the measured
runs find the schema current and no unit. Two baselines for it: the bare one runs SQLAlchemy's async engine on
aiosqlite and one query; the fair one does by hand the irreducible work of the command with the libraries the
project must use: reads SIPAS_DATABASE_URL with pydantic-settings (prefix SIPAS_, a .env file), then the same
engine and query. A third run of the fair one freezes its modules once loaded (``gc.freeze``), as the command
does, for information. The modules' bytecode is cached in the temporary folder by the first runs, as an
installed package has it (``--cold``: as this environment says, which may be never). Each process's CPU time
(user + system) and peak resident memory are its own (``wait4``): on a busy machine the CPU time says more
than the wall time.

    python -m bench.cli_start [--runs 5] [--sipasbot PATH] [--cold]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 0.50
# what any command that reads the database cannot do without: SQLAlchemy's async engine on aiosqlite, one query
BARE_QUERY = """
import asyncio, sys
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

async def main():
    engine = create_async_engine(sys.argv[1])
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT code, name FROM units ORDER BY code"))).all()
    await engine.dispose()
    print(len(rows))

asyncio.run(main())
"""
# the irreducible work of units list with the parts the project must use: the setting read by pydantic-settings
# (the SIPAS_ prefix, a .env file), SQLAlchemy's async engine on aiosqlite, one query
FAIR_QUERY = """
import asyncio
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIPAS_", env_file=".env", extra="ignore")
    database_url: str = "sqlite+aiosqlite:///sipasbot.db"

async def main():
    engine = create_async_engine(Settings().database_url)
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT code, name FROM units ORDER BY code"))).all()
    await engine.dispose()
    print(len(rows))

asyncio.run(main())
"""
# the fair baseline with its modules frozen once loaded (gc.freeze), as bot/cli.py freezes the command's: no
# collection scans them again, nor the one at exit; for information, to show what is left above the floor
FAIR_FROZEN = FAIR_QUERY.replace("\nclass Settings", "\nimport gc\ngc.freeze()\n\nclass Settings", 1)


def _run(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, float]:
    """Wall time and CPU time in seconds, and peak RSS in MiB, of one run of ``command``; it must exit with 0."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.stderr is not None
    errors = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited with {process.returncode}: {errors}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux counts in KiB


def _line(name: str, runs: list[tuple[float, float, float]]) -> str:
    times = [wall for wall, _, _ in runs]
    return (
        f"{name}: median {statistics.median(times):.3f} s, CPU {statistics.median(c for _, c, _ in runs):.3f} s, "
        f"peak RSS {max(m for _, _, m in runs):.0f} MiB (runs: {', '.join(f'{t:.3f}' for t in times)})"
    )


def measure(runs: int, sipasbot: str, cold: bool) -> None:
    """Alternate the baseline, ``--help`` and ``units list`` ``runs`` times; print medians, memory and ratios."""
    with tempfile.TemporaryDirectory(prefix="sipas-cli-") as folder:
        cwd = Path(folder)  # no .env file is read from here
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
        env["SIPAS_DATABASE_URL"] = f"sqlite+aiosqlite:///{cwd / 'sipasbot.db'}"
        if not cold:  # the bytecode an installed package has, written by the first runs into the temporary folder
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(cwd / "pycache")
        first, _, first_rss = _run([sipasbot, "units", "list"], env, cwd)
        print(f"cli units list, first run on a new file (creates the schema): {first:.3f} s, {first_rss:.0f} MiB")
        _run([sipasbot, "--help"], env, cwd)
        bare: list[tuple[float, float, float]] = []
        helped: list[tuple[float, float, float]] = []
        listed: list[tuple[float, float, float]] = []
        queried: list[tuple[float, float, float]] = []
        fair: list[tuple[float, float, float]] = []
        frozen: list[tuple[float, float, float]] = []
        for _ in range(runs):
            bare.append(_run([sys.executable, "-c", "pass"], env, cwd))
            queried.append(_run([sys.executable, "-c", BARE_QUERY, env["SIPAS_DATABASE_URL"]], env, cwd))
            fair.append(_run([sys.executable, "-c", FAIR_QUERY], env, cwd))
            frozen.append(_run([sys.executable, "-c", FAIR_FROZEN], env, cwd))
            helped.append(_run([sipasbot, "--help"], env, cwd))
            listed.append(_run([sipasbot, "units", "list"], env, cwd))
    print(_line("python -c pass", bare))
    print(_line("bare SQLAlchemy query", queried))
    print(_line("fair baseline of units list (pydantic-settings + SQLAlchemy query)", fair))
    print(_line("fair baseline, its modules frozen as the command's are (gc.freeze)", frozen))
    print(_line("cli --help", helped))
    print(_line("cli units list", listed))
    base, base_cpu = statistics.median(t for t, _, _ in bare), statistics.median(c for _, c, _ in bare)
    for name, runs_of in (("cli --help", helped), ("cli units list", listed)):
        wall, cpu = statistics.median(t for t, _, _ in runs_of), statistics.median(c for _, c, _ in runs_of)
        print(f"ratio {name} / python -c pass = {wall / base:.1f} (CPU {cpu / base_cpu:.1f})  (for information)")
    floor, floor_cpu = statistics.median(t for t, _, _ in queried), statistics.median(c for _, c, _ in queried)
    wall, cpu = statistics.median(t for t, _, _ in listed), statistics.median(c for _, c, _ in listed)
    print(
        f"ratio cli units list / bare SQLAlchemy query = {wall / floor:.2f} (CPU {cpu / floor_cpu:.2f})"
        "  (for information)"
    )
    fair_wall, fair_cpu = statistics.median(t for t, _, _ in fair), statistics.median(c for _, c, _ in fair)
    print(
        f"ratio cli units list / fair = {wall / fair_wall:.2f} (CPU {cpu / fair_cpu:.2f})"
        f"  (above the fair baseline: {wall - fair_wall:.3f} s, CPU {cpu - fair_cpu:.3f} s)"
    )
    frozen_wall, frozen_cpu = statistics.median(t for t, _, _ in frozen), statistics.median(c for _, c, _ in frozen)
    print(
        f"ratio cli units list / fair frozen = {wall / frozen_wall:.2f} (CPU {cpu / frozen_cpu:.2f})"
        f"  (above it: {wall - frozen_wall:.3f} s, CPU {cpu - frozen_cpu:.3f} s; for information)"
    )
    for name, runs_of in (("cli --help", helped), ("cli units list", listed)):
        print(f"{name}: median {statistics.median(t for t, _, _ in runs_of):.2f} s (target <= {TARGET_SECONDS:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (default 5)")
    parser.add_argument(
        "--sipasbot", default=str(Path(sys.executable).parent / "sipasbot"), help="the sipasbot script to time"
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="this environment's bytecode settings (with PYTHONDONTWRITEBYTECODE, every run compiles our modules)",
    )
    args = parser.parse_args()
    measure(args.runs, args.sipasbot, args.cold)


if __name__ == "__main__":
    main()
