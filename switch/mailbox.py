"""Voicemail on the wire: leaving a message, listening (*97), and message waiting (RFC 3842).

Every fallback of the seed documents ends in a mailbox. The switch answers the
call itself through a media session (RTP in the shell, `local_media.MediaPort`):
greeting, beep, record until hang-up, silence or the length limit; the message
and its metadata land under state_dir (media.voicemail.VoicemailStore). Phones
learn about it by NOTIFY: to subscribers of the mailbox, and unsolicited to the
mailbox owner's registered contacts on every change and after each REGISTER.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sipstack.dialog import Dialog
from sipstack.message import Request

from .call import Call, CallPhase
from .local_media import MediaSessionPort
from .media import prompts
from .media.voicemail import Mailbox, Message, VoicemailStore
from .media.wav import read_wav

if TYPE_CHECKING:
    from .core import Switch

MAX_MESSAGE_SECONDS = 180.0
SILENCE_SECONDS = 8.0


class SessionApp:
    """A call's media session, closed when the call ends."""

    __slots__ = ("session",)

    def __init__(self, session: MediaSessionPort) -> None:
        self.session = session

    def renegotiate(self, offer: bytes) -> bytes:
        return self.session.renegotiate(offer)

    def close(self) -> None:
        self.session.close()


class MailboxService:
    def __init__(self, switch: Switch, store: VoicemailStore) -> None:
        self.switch = switch
        self.store = store

    # -- answering with media ----------------------------------------------------------
    def answer(self, call: Call, then: Callable[[SessionApp], None]) -> None:
        sw = self.switch
        media = sw.media
        if media is None:
            call.reject(503, sw.now, "Service Unavailable (no media)")
            return

        def opened(session: MediaSessionPort | None, sdp: bytes, status: int) -> None:
            if call.phase not in (CallPhase.ROUTING, CallPhase.ALERTING) or call.a.final_sent:
                # the caller hung up, or a callee's answer crossed our move to voicemail
                if session is not None:
                    session.close()
                return
            if session is None:
                call.reject(status, sw.now)
                return
            app = SessionApp(session)
            call.app = app
            call.answer_locally(sdp, "application/sdp")
            then(app)

        media.open(call.call_id, call.a.invite.body or None, opened)

    def hang_up_after(self, call: Call) -> Callable[[], None]:
        def done() -> None:
            if call.phase is CallPhase.ANSWERED:
                call.hang_up(self.switch.now, from_caller=False)

        return done

    def confirm(self, call: Call) -> None:
        """A feature code succeeded: 200 OK, a confirmation, then BYE."""
        def play(app: SessionApp) -> None:
            app.session.play(prompts.beep() + prompts.prompt("done"), then=self.hang_up_after(call))

        self.answer(call, play)

    # -- leaving a message ---------------------------------------------------------------------
    def start(self, call: Call, customer: str, box: str, mode: str) -> None:
        if mode == "retrieve":
            self._retrieve(call, Mailbox(customer, box))
        else:
            self._deposit(call, Mailbox(customer, box))

    def _deposit(self, call: Call, box: Mailbox) -> None:
        sw = self.switch
        caller = call.a.caller[1] if call.a.caller else (call.a.invite.from_.uri.user or "")

        def greet(app: SessionApp) -> None:
            greeting = self.store.greeting_path(box)
            audio = read_wav(greeting) if greeting else prompts.prompt("greeting")
            app.session.play(audio + prompts.beep(), then=lambda: record(app))

        def record(app: SessionApp) -> None:
            msg_id, path = self.store.begin(box, caller=caller, called=box.box, now=sw.now)
            call.log.info("voicemail.recording", box=box.box, message=msg_id)
            finished = False

            def stopped(duration: float) -> None:
                nonlocal finished
                if finished:
                    return
                finished = True
                self.store.finish(box, msg_id, duration)
                call.log.info("voicemail.stored", box=box.box, message=msg_id,
                              duration=round(duration, 3))
                self.notify(box)
                self.hang_up_after(call)()

            app.session.record(path, max_seconds=MAX_MESSAGE_SECONDS,
                               silence_seconds=SILENCE_SECONDS, on_stop=stopped)

        self.answer(call, greet)

    # -- listening -------------------------------------------------------------------------
    def _retrieve(self, call: Call, box: Mailbox) -> None:
        def begin(app: SessionApp) -> None:
            new, old = self.store.counts(box)
            queue = self.store.messages(box)  # newest first
            app.session.play(prompts.message_count(new, old),
                             then=lambda: Playback(self, call, app, box, queue).next())

        self.answer(call, begin)

    # -- message waiting (RFC 3842) -----------------------------------------------------------
    def summary(self, box: Mailbox) -> bytes:
        new, old = self.store.counts(box)
        customer = self.switch.directory.customer(box.customer)
        domain = customer.domain if customer else ""
        return (f"Messages-Waiting: {'yes' if new else 'no'}\r\n"
                f"Message-Account: sip:{box.box}@{domain}\r\n"
                f"Voice-Message: {new}/{old} (0/0)\r\n").encode()

    def notify(self, box: Mailbox) -> None:
        """The mailbox changed: tell its subscribers and the owner's phones."""
        self.switch.mwi.mailbox_changed(box)


class Playback:
    """*97: each message newest first; 7 deletes, 9 keeps, # skips to the next."""

    def __init__(self, service: MailboxService, call: Call, app: SessionApp, box: Mailbox,
                 queue: list[Message]) -> None:
        self.service = service
        self.call = call
        self.app = app
        self.box = box
        self.queue = queue
        self.current: Message | None = None
        app.session.on_dtmf = self.on_dtmf

    def next(self) -> None:
        session = self.app.session
        if not self.queue:
            session.play(prompts.prompt("no_more") + prompts.prompt("goodbye"),
                         then=self.service.hang_up_after(self.call))
            self.current = None
            return
        self.current = self.queue.pop(0)
        store = self.service.store
        audio = read_wav(store.wav_path(self.box, self.current.id))
        session.play(audio + prompts.prompt("menu"))

    def on_dtmf(self, digit: str) -> None:
        current = self.current
        if current is None:
            return
        store = self.service.store
        session = self.app.session
        if digit == "7":
            store.delete(self.box, current.id)
            feedback = prompts.prompt("deleted")
        elif digit == "9":
            store.mark_heard(self.box, current.id)
            feedback = prompts.prompt("saved")
        elif digit == "#":
            feedback = b""
        else:
            return
        self.current = None
        self.service.notify(self.box)
        session.stop_playback()
        session.play(feedback, then=self.next)


def mwi_notify(dialog: Dialog, body: bytes, state: str) -> Request:
    """A message-summary NOTIFY inside a subscription dialog (RFC 3265 §3.2, RFC 3842)."""
    notify = dialog.create_request("NOTIFY", body, "application/simple-message-summary")
    notify.add("event", "message-summary")
    notify.add("subscription-state", state)
    return notify
