"""How a command's run ends: its exit status, and the one line a person reads when it failed.

Every command, whether it opens the whole application (bot/cli_commands.py) or only the settings and the database
(bot/cli_slim.py), ends here: 0 ok, 2 user error, 3 import rows refused, 1 internal error, 130 interrupted. Loaded
once the command line is parsed; the exceptions it names are those of the layers every command loads anyway.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from bot.cli_errors import RowsRejected, UsageError, unexpected
from bot.config import SettingsError
from bot.keyboard import Left
from bot.logs import scrub
from bot.texts import current_locale, say
from handlers.calendar import CalendarError
from handlers.errors import HandlerError
from storage.db import DatabaseError
from survey_forms.errors import FormError


def finish(work: Callable[[], Coroutine[Any, Any, None]], debug: bool) -> int:
    """Run ``work()`` to its end; the exit status, with a failure said in one line (a traceback only with --debug)."""
    try:
        asyncio.run(work())
    except RowsRejected as exc:
        print(scrub(say("cli.error", message=say("cli.dossiers.rows_rejected", count=exc.count))), file=sys.stderr)
        return 3
    except HandlerError as exc:
        print(scrub(say("cli.error", message=exc.text(current_locale()))), file=sys.stderr)
        return 2
    except (DatabaseError, CalendarError) as exc:
        message = say(f"cli.{exc.key}", **exc.values) if exc.key else str(exc)
        print(scrub(say("cli.error", message=message)), file=sys.stderr)
        return 2
    except SettingsError as exc:
        print(scrub(say("cli.error", message=say("cli.settings", problems=exc))), file=sys.stderr)
        return 2
    except (UsageError, FormError) as exc:
        print(scrub(say("cli.error", message=exc)), file=sys.stderr)
        return 2
    except OperationalError as exc:
        reason = say("cli.database_unusable", reason=str(exc.orig).splitlines()[0])
        print(scrub(say("cli.error", message=reason)), file=sys.stderr)
        return 2
    except (OSError, SQLAlchemyError) as exc:
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        print(scrub(say("cli.error", message=reason)), file=sys.stderr)
        return 2
    except Left:  # a second Ctrl-C in the shell or the demo: it said goodbye
        return 130
    except (KeyboardInterrupt, Exception) as exc:  # noqa: BLE001 - reported in one line by unexpected()
        return unexpected(exc, debug)
    return 0
