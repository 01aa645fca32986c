"""The switch answering a call itself: a media session of its own, prompts, then BYE.

Voicemail deposit and retrieval and the confirmation of a feature code all answer the
caller from the switch. The RTP session lives in the shell (`ports.MediaPort`); here the
caller's INVITE is answered with the session's SDP once it is open, and the call hangs
up when the feature says so. A session that opens after the caller gave up, or after a
callee's answer crossed the move to voicemail, is closed unused.
"""

from __future__ import annotations

from collections.abc import Callable

from ..calls.call import Call, CallPhase
from ..media import prompts
from ..ports import Done, MediaPort, MediaSessionPort

Answered = Callable[[MediaSessionPort, float], None]


class SessionApp:
    """A call's media session as the call's other party, closed when the call ends."""

    __slots__ = ("session",)

    def __init__(self, session: MediaSessionPort) -> None:
        self.session = session

    def renegotiate(self, offer: bytes) -> bytes:
        return self.session.renegotiate(offer)

    def offer(self) -> bytes:
        return self.session.offer()

    def apply_answer(self, answer: bytes) -> None:
        self.session.apply_answer(answer)

    def close(self) -> None:
        self.session.close()


class LocalAnswer:
    def __init__(self, *, media: MediaPort | None) -> None:
        self._media = media

    def answer(self, call: Call, then: Answered, now: float) -> None:
        """Open a media session, answer the caller with it, then run `then`."""
        media = self._media
        if media is None:
            call.reject(503, now, "Service Unavailable (no media)")
            return

        def opened(session: MediaSessionPort | None, sdp: bytes, status: int, at: float) -> None:
            if call.phase not in (CallPhase.ROUTING, CallPhase.ALERTING) or call.a.final_sent:
                if session is not None:
                    session.close()
                return
            if session is None:
                call.reject(status, at)
                return
            call.answer_locally(sdp, "application/sdp", at, SessionApp(session))
            then(session, at)

        media.open(call.call_id, call.a.invite.body or None, opened)

    @staticmethod
    def hang_up_after(call: Call) -> Done:
        """A callback that ends the call from the switch's side, if it is still up."""

        def done(now: float) -> None:
            if call.phase is CallPhase.ANSWERED:
                call.hang_up(now, from_caller=False)

        return done

    def confirm(self, call: Call, now: float) -> None:
        """A feature code succeeded: 200 OK, a beep and "done", then BYE."""

        def play(session: MediaSessionPort, at: float) -> None:
            audio = prompts.beep() + prompts.prompt("done")
            session.play(audio, then=self.hang_up_after(call))

        self.answer(call, play, now)
