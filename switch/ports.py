"""The ports features are given: narrow Protocols, each implemented once elsewhere.

A feature (hunt groups, pickup, voicemail, MWI...) never sees the `Switch`; it is
built with the few of these it needs, so a reader sees at its constructor what it
may touch, and a test can hand it fakes. Every method that acts takes `now`: no port
holds a clock (aioquic's `handle_timer(now)` convention, as in `sipstack`).

The call engine's own ports (`CallBook`, `RingControl`) are in `switch/calls/ports.py`.

Implemented by:
- `SipOut`: `sipstack.Endpoint` itself;
- `Replies`, `Gate`: `switch.gate` (stateless answers, digest auth with the throttle);
- `Timers`: `switch.timers.TimerHeap`;
- `Registrations`: the location store (`switch.registration.location`);
- `Contacts`: `switch.core.Switch` (the Contact of each transport);
- `MediaPort`, `MediaRelay`, `MailboxFiles`: the shell (`switch.shell.media_adapter`,
  `switch.shell.relay_sockets` or `switch.shell.rtpengine`, `switch.shell.mailbox_files`),
  which runs every callback inside the SIP pump with the time of that pump;
- `MailboxCounts`: `switch.features.voicemail.MailboxIndex`;
- `MailboxWatch`: `switch.features.mwi.MessageWaiting`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, Protocol

from sipstack.events import RequestReceived
from sipstack.message import Request, Response
from sipstack.transport import Address, Transport

from .directory import Directory
from .media.relay import Side
from .media.voicemail import Mailbox, Message
from .registration.location import Binding
from .timers import Timer

# -- SIP ------------------------------------------------------------------------------


class SipOut(Protocol):
    """Requests and responses handed to the transaction layer."""

    def send_request(
        self, request: Request, destination: Address, transport: Transport, now: float
    ) -> str: ...
    def send_response(self, response: Response, now: float) -> None: ...


class Replies(Protocol):
    """A final answer to a request outside any call: 4xx/5xx, or 200 to OPTIONS."""

    def reply(
        self,
        request: Request,
        status: int,
        now: float,
        reason: str | None = None,
        *,
        allow: bool = False,
        headers: list[tuple[str, str]] | None = None,
    ) -> None: ...


PasswordOf = Callable[[str], str | None]


class Gate(Protocol):
    """Digest authentication with the failure throttle; answers 401/407/403 itself."""

    def authenticate(
        self,
        event: RequestReceived,
        realm: str,
        header: str,
        password_of: PasswordOf,
        now: float,
    ) -> str | None: ...


class Contacts(Protocol):
    def contact_for(self, transport: Transport) -> str: ...


class Timers(Protocol):
    def call_at(self, deadline: float, callback: Callable[[float], None]) -> Timer: ...


class Registrations(Protocol):
    """Who is registered where (read only for features)."""

    def bindings(self, aor: str, now: float) -> list[Binding]: ...


class AllBindings(Protocol):
    """Every registered contact (the throttle spares registered flows)."""

    def all_bindings(self, now: float) -> list[Binding]: ...


class DirectoryRef:
    """The directory in force. SIGHUP swaps `current`; features read it per decision."""

    __slots__ = ("current",)

    def __init__(self, directory: Directory) -> None:
        self.current = directory


# -- media ----------------------------------------------------------------------------

Done = Callable[[float], None]


class MediaSessionPort(Protocol):
    """One RTP session the switch itself terminates (voicemail, prompts)."""

    on_dtmf: Callable[[str, float], None] | None

    def play(self, pcm: bytes, then: Done | None = None) -> None: ...
    def stop_playback(self) -> None: ...
    def record(
        self,
        path: Path,
        *,
        max_seconds: float,
        silence_seconds: float,
        on_stop: Callable[[float, float], None],
    ) -> None: ...
    def stop_recording(self) -> None: ...
    def apply_answer(self, answer: bytes) -> None: ...
    def renegotiate(self, offer: bytes) -> bytes: ...
    def offer(self) -> bytes: ...
    def close(self) -> None: ...


# opened(session, sdp, status, now): status 200 with our SDP, or the failure (488, 503)
MediaOpened = Callable[[MediaSessionPort | None, bytes, int, float], None]


class MediaPort(Protocol):
    def open(self, call_id: str, offer: bytes | None, opened: MediaOpened) -> None: ...


class RelayParty(NamedTuple):
    """One party of a relayed call, as the relay must know it.

    `tag` names the party's dialog towards the switch (the caller's From tag; a fork's
    to-tag towards the caller), `other_tag` the other party's once known: rtpengine keys
    its call legs by them (its ng protocol's from-tag/to-tag). `signalling` is where the
    party's SIP comes from, which its RTP is expected from too (latching)."""

    side: Side
    tag: str
    other_tag: str | None
    signalling: Address


# anchored(sdp, status, now): status 200 with the SDP for the other party, or the failure:
# 488 for SDP the relay cannot carry, 503 for a relay that failed or did not answer
Anchored = Callable[[bytes, int, float], None]
# silent(side, now): that party's media stopped (the media timeout)
Silent = Callable[[Side, float], None]


class MediaRelay(Protocol):
    """The media relay a call's SDP passes through (`server.media.relay`); every result
    comes back inside the pump, in the order asked for each call."""

    def anchor(
        self,
        call_id: str,
        party: RelayParty,
        sdp: bytes,
        offer: bool,
        done: Anchored,
        now: float,
    ) -> None:
        """`party` sent `sdp` (an offer, or else an answer): `done` gets the SDP to send
        the other party, at once (`now`) or later from the pump."""

    def watch(self, call_id: str, silent: Silent) -> None:
        """The call is answered: `silent(side, now)` once, from the pump, when that
        party's RTP stops for `server.media.timeout_seconds` while nobody is on hold."""

    def release(self, call_id: str) -> None:
        """The call is over: its ports are free again."""


# -- mailboxes ------------------------------------------------------------------------


class MailboxFiles(Protocol):
    """The mailbox files, read and written off the pump; each result comes back with `now`."""

    def begin(self, box: Mailbox, message: Message, done: Callable[[Path, float], None]) -> None:
        """Write the message's record (before recording starts); `done` gets the WAV path."""

    def finish(self, box: Mailbox, msg_id: str, duration: float) -> None: ...
    def messages(self, box: Mailbox, done: Callable[[list[Message], float], None]) -> None: ...
    def greeting(self, box: Mailbox, done: Callable[[bytes | None, float], None]) -> None: ...
    def audio(self, box: Mailbox, msg_id: str, done: Callable[[bytes, float], None]) -> None: ...
    def mark_heard(self, box: Mailbox, msg_id: str) -> None: ...
    def delete(self, box: Mailbox, msg_id: str) -> None: ...


class MailboxCounts(Protocol):
    def counts(self, box: Mailbox) -> tuple[int, int]:
        """(new, old) messages of the box, from memory."""
        ...


class MailboxWatch(Protocol):
    """Told when a mailbox's counts changed, so lamps follow (MWI)."""

    def mailbox_changed(self, box: Mailbox, now: float) -> None: ...
