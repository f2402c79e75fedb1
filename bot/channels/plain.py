"""Replies as plain text, for channels without buttons (the console, the Zalo Bot platform) or with few."""

from __future__ import annotations

import dataclasses

from handlers.messages import Reply


def with_links(reply: Reply) -> Reply:
    """The reply with its attachments as links (for channels that cannot send files)."""
    links = [str(a["link_text"]) for a in reply.attachments if a.get("link_text")]
    if not links:
        return reply
    return dataclasses.replace(reply, text="\n\n".join([reply.text, *links]), attachments=())


def render_plain(reply: Reply) -> str:
    """A reply as a channel without buttons shows it: text, numbered options, how to answer.

    An option with its own ``typed`` command shows that command beside its label (``Đóng: /dong 12``), so that
    several messages listed one after the other never offer the same number for different things; one the text
    already lists (``typed`` empty) is not repeated.
    """
    reply = with_links(reply)
    lines = [reply.text]
    plain = [o for o in reply.options if o.typed is None]
    numbered = sorted((o for o in plain if o.number is not None), key=lambda o: (o.number == 0, o.number))
    commands = [o for o in reply.options if o.typed]
    if numbered or commands:
        lines.append("")
        lines += [f"  {o.number}. {o.label}" for o in numbered]
        lines += [f"  {o.label}: {o.typed}" for o in commands]
    if reply.hint:
        lines += ["", reply.hint]
    return "\n".join(lines)


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, cut at paragraph, then line, then word breaks."""
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = max(window.rfind("\n\n"), 0)
        if cut < limit // 2:
            cut = max(window.rfind("\n"), window.rfind(" "))
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts
