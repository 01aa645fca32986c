"""`ports.MediaPort` over the asyncio MediaServer: RTP sessions whose callbacks run in the pump.

The core is sans-IO; the media shell (`switch/media/session.py`) owns the RTP sockets and
the 20 ms pacing. Every callback the core gives a session (playback done, a DTMF digit,
a recording stopped, a session opened) is run through `Pumped`, i.e. inside the SIP pump
with that pump's time, so whatever the callback sends goes out at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from ..media import MediaServer, MediaSession, MediaUnavailable, SdpError
from ..ports import Done, MediaOpened

Pumped = Callable[[Callable[[float], None]], None]


class PumpedSession:
    """A MediaSession whose callbacks run inside the switch's pump (`ports.MediaSessionPort`)."""

    def __init__(self, session: MediaSession, pumped: Pumped) -> None:
        self._session = session
        self._pumped = pumped
        self.on_dtmf: Callable[[str, float], None] | None = None
        session.on_dtmf = self._dtmf

    def _dtmf(self, digit: str) -> None:
        callback = self.on_dtmf
        if callback is not None:
            self._pumped(lambda now: callback(digit, now))

    def play(self, pcm: bytes, then: Done | None = None) -> None:
        if then is None:
            self._session.play(pcm)
            return
        done = then
        self._session.play(pcm, lambda: self._pumped(done))

    def stop_playback(self) -> None:
        self._session.stop_playback()

    def record(
        self,
        path: Path,
        *,
        max_seconds: float,
        silence_seconds: float,
        on_stop: Callable[[float, float], None],
    ) -> None:
        def stopped(duration: float) -> None:
            self._pumped(lambda now: on_stop(duration, now))

        self._session.record(
            path, max_seconds=max_seconds, silence_seconds=silence_seconds, on_stop=stopped
        )

    def stop_recording(self) -> None:
        self._session.stop_recording()

    def apply_answer(self, answer: bytes) -> None:
        self._session.apply_answer(answer)

    def renegotiate(self, offer: bytes) -> bytes:
        return self._session.renegotiate(offer)

    def offer(self) -> bytes:
        return self._session.offer()

    def close(self) -> None:
        self._session.close()


class RuntimeMedia:
    """`ports.MediaPort`: opens sessions on the MediaServer, answers through the pump."""

    def __init__(self, server: MediaServer, pumped: Pumped) -> None:
        self._server = server
        self._pumped = pumped
        self._tasks: set[asyncio.Task[None]] = set()

    def open(self, call_id: str, offer: bytes | None, opened: MediaOpened) -> None:
        async def opening() -> None:
            try:
                session, sdp = await self._server.open(call_id, offer)
            except SdpError as exc:
                status = exc.status_hint
                self._pumped(lambda now: opened(None, b"", status, now))
                return
            except MediaUnavailable:
                self._pumped(lambda now: opened(None, b"", 503, now))
                return
            pumped = PumpedSession(session, self._pumped)
            self._pumped(lambda now: opened(pumped, sdp, 200, now))

        task = asyncio.get_running_loop().create_task(opening())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
