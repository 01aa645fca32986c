"""What the switch core needs from a media endpoint, as Protocols.

The core is sans-IO; RTP sockets live in the shell (`switch/media/session.py`,
bound by `switch/runtime.py`). The runtime's adapter runs every callback given
here inside the switch's pump, so what a callback sends goes out at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol


class MediaSessionPort(Protocol):
    on_dtmf: Callable[[str], None] | None

    def play(self, pcm: bytes, then: Callable[[], None] | None = None) -> None: ...
    def stop_playback(self) -> None: ...
    def record(self, path: Path, *, max_seconds: float, silence_seconds: float,
               on_stop: Callable[[float], None]) -> None: ...
    def stop_recording(self) -> None: ...
    def renegotiate(self, offer: bytes) -> bytes: ...
    def close(self) -> None: ...


# done(session, sdp, status): status 200 with our SDP, or the failure to answer (488, 503)
MediaOpened = Callable[[MediaSessionPort | None, bytes, int], None]


class MediaPort(Protocol):
    def open(self, call_id: str, offer: bytes | None, done: MediaOpened) -> None: ...
    def guard(self, callback: Callable[[], None]) -> Callable[[], None]: ...
