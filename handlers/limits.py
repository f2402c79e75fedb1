"""Rate limits kept in this process's memory: token buckets (the API) and a guard on guesses typed in a chat.

Each instance of the service keeps its own counts: behind a load balancer with N instances a caller gets at most
N times the allowance, still far below what guessing needs. Counts are lost on restart, which only forgives.
Time is given by the caller (the services' clock), so tests move it instead of sleeping.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from handlers.context import Services
    from handlers.messages import Inbound

log = logging.getLogger(__name__)

MAX_KEYS = 10_000  # beyond this many tracked callers, those whose bucket has refilled are forgotten
LOG_EVERY = 60.0  # seconds: a caller refused again and again is logged once a minute at most


@dataclass
class _Bucket:
    tokens: float
    at: float
    logged_at: float = -LOG_EVERY


@dataclass
class Buckets:
    """Token buckets by caller: ``burst`` requests at once, then ``rate`` a second on average."""

    burst: int
    rate: float
    buckets: dict[Hashable, _Bucket] = field(default_factory=dict)

    def take(self, caller: Hashable, now: float) -> tuple[float, bool]:
        """Take one token for ``caller``: (0, False) when allowed, else (seconds until one is there, whether to log).

        A caller refused again and again is to be logged once a minute at most.
        """
        bucket = self.buckets.get(caller)
        if bucket is None:
            if len(self.buckets) >= MAX_KEYS:
                self._forget_full(now)
            bucket = self.buckets[caller] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + max(0.0, now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0, False
        log_it = now - bucket.logged_at >= LOG_EVERY
        if log_it:
            bucket.logged_at = now
        return (1.0 - bucket.tokens) / self.rate, log_it

    def _forget_full(self, now: float) -> None:
        for caller, bucket in list(self.buckets.items()):
            if bucket.tokens + (now - bucket.at) * self.rate >= self.burst:
                del self.buckets[caller]


def retry_after(seconds: float) -> int:
    """Whole seconds to wait, at least one (the value of a Retry-After header)."""
    return max(1, math.ceil(seconds))


@dataclass
class _Guesses:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0


@dataclass
class ChatGuard:
    """Guesses typed in one chat (an invite code, a receipt's token, a phone, a dossier code), counted by failure.

    The first ``free`` failures within ``lock_seconds`` cost nothing; after them one attempt every ``interval``
    seconds is allowed (slowed); at ``lock_after`` failures the chat is refused for ``lock_seconds`` (locked).
    A refused attempt is not checked at all. Successes cost nothing: an officer looking dossiers up is never slowed.
    """

    free: int = 5
    interval: float = 30.0
    lock_after: int = 10
    lock_seconds: float = 900.0
    chats: dict[Hashable, _Guesses] = field(default_factory=dict)

    def wait(self, chat: Hashable, moment: datetime) -> float:
        """Seconds ``chat`` must wait before its next guess of this kind is checked; 0 when it may guess now."""
        state = self.chats.get(chat)
        if state is None:
            return 0.0
        now = moment.timestamp()
        if state.locked_until > now:
            return state.locked_until - now
        state.failures = [at for at in state.failures if at > now - self.lock_seconds]
        if len(state.failures) >= self.free and now - state.failures[-1] < self.interval:
            return self.interval - (now - state.failures[-1])
        return 0.0

    def locked(self, chat: Hashable, moment: datetime) -> bool:
        """Whether ``chat`` is refused for a while (not merely slowed)."""
        state = self.chats.get(chat)
        return state is not None and state.locked_until > moment.timestamp()

    def failed(self, chat: Hashable, moment: datetime) -> None:
        """Count a wrong guess; at ``lock_after`` of them the chat is locked (and it is logged)."""
        now = moment.timestamp()
        if chat not in self.chats and len(self.chats) >= MAX_KEYS:
            horizon = now - self.lock_seconds
            for known, state in list(self.chats.items()):
                if state.locked_until <= now and all(at <= horizon for at in state.failures):
                    del self.chats[known]
        state = self.chats.setdefault(chat, _Guesses())
        state.failures = [at for at in state.failures if at > now - self.lock_seconds] + [now]
        if len(state.failures) == self.free:
            log.info(
                "chat guesses: %s slowed to one every %.0f s after %d failures", _name(chat), self.interval, self.free
            )
        if len(state.failures) >= self.lock_after:
            state.locked_until = now + self.lock_seconds
            state.failures = []
            log.warning(
                "chat guesses: %s refused for %.0f s after %d failures", _name(chat), self.lock_seconds, self.lock_after
            )


def _name(chat: Hashable) -> str:
    """A chat as logged: its channel, a digest of its platform id, the kind of guess (never what was typed)."""
    if isinstance(chat, tuple) and len(chat) == 3:
        channel, external_id, kind = chat
        digest = hashlib.sha256(f"{channel}:{external_id}".encode()).hexdigest()[:10]
        return f"{kind} in {channel} chat #{digest}"
    return str(chat)


class GuessingTurn(Protocol):
    """What the guard needs of a chat turn (see handlers.chat.turn and handlers.staff.desk)."""

    services: Services
    inbound: Inbound
    now: datetime

    def say(self, key: str, **values: object) -> None:
        """Queue a reply from the wording catalog."""


def _chat(turn: GuessingTurn, kind: str) -> tuple[str, str, str]:
    identity = turn.inbound.identity
    return (identity.channel, identity.external_id, kind)


def refuses(turn: GuessingTurn, kind: str) -> bool:
    """Whether this chat's guess of ``kind`` ("join", "link", "lookup") is refused unchecked (and say so)."""
    guard, chat = turn.services.guard, _chat(turn, kind)
    wait = guard.wait(chat, turn.now)
    if wait <= 0:
        return False
    if guard.locked(chat, turn.now):
        turn.say("limits.locked", minutes=max(1, math.ceil(wait / 60)))
    else:
        turn.say("limits.slowed", seconds=retry_after(wait))
    log.debug("chat guesses: %s refused unchecked for %.0f s more", _name(chat), wait)
    return True


def failed(turn: GuessingTurn, kind: str) -> None:
    """Count this chat's wrong guess of ``kind``."""
    turn.services.guard.failed(_chat(turn, kind), turn.now)
