"""Staff and leaders act by typing where a channel has no buttons (the console shell, the Zalo Bot platform).

Every action offered as a button can be typed, unambiguously when several messages are listed:

- a complaint's "Trả lời" and "Đóng" are ``/traloi <n> [nội dung]`` and ``/dong <n>``, n the complaint's own
  number (the one after its "#"): the same in the list, in the notice of a new complaint, in any later message;
- an at-risk warning's "Lập phiếu xin lỗi" is ``/xinloi <mã hồ sơ>``, the offer of an error apology
  ``/xinloi <mã hồ sơ> saisot``;
- the steps of an apology and of ``/thuhoi`` take the numbers shown (one flow is open at a time, so a number
  means one thing).

Such options carry their command (``Option.typed``), which a channel without buttons shows beside the label.
A bare number typed by an officer with nothing open is answered with what to type instead.
"""

from __future__ import annotations

import re

from storage.values import Chat

_NUMBER = re.compile(r"[0-9]{1,3}")


def stray_number(text: str, chat: Chat | None) -> bool:
    """Whether ``text`` is a bare number typed in a chat that no citizen's step is waiting on.

    Only a chat linked to no citizen (an officer's own) and with no citizen step pending (a consent, an
    erasure) qualifies: anywhere else a number is a citizen's answer.
    """
    return (
        chat is not None
        and chat.person_id is None
        and chat.pending is None
        and _NUMBER.fullmatch(text.strip()) is not None
    )
