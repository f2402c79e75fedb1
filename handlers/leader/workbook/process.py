"""Where a workbook is built: a small one in a thread, a big one in a worker process, so the bot keeps answering."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING

from handlers.texts import DEFAULT_LOCALE

if TYPE_CHECKING:
    from handlers.leader.workbook.book import WorkbookData

PROCESS_ROWS = 2000  # answers from which a workbook (seconds of pure-Python work) goes to the worker process


class WorkbookBuilder:
    """Builds the leaders' workbooks; owned by the application, which closes it (its worker process) at the end."""

    def __init__(self, process_rows: int = PROCESS_ROWS) -> None:
        self.process_rows = process_rows
        self._processes: ProcessPoolExecutor | None = None  # one worker, spawned on first use (no inherited threads)

    async def build(self, data: WorkbookData, locale: str = DEFAULT_LOCALE) -> bytes:
        """The workbook's bytes, its own words in ``locale``."""
        from handlers.leader.workbook.book import build_workbook  # openpyxl loads with the first workbook

        if len(data.answers) < self.process_rows:
            return await asyncio.to_thread(build_workbook, data, locale)
        if self._processes is None:
            self._processes = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return await asyncio.get_running_loop().run_in_executor(self._processes, build_workbook, data, locale)

    def close(self) -> None:
        """Stop the worker process, if one was started."""
        if self._processes is not None:
            self._processes.shutdown(wait=False, cancel_futures=True)
            self._processes = None
