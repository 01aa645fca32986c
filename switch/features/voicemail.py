"""Voicemail on the wire: leaving a message, and listening to them (`*97` by default).

Every fallback of the dial plan can end in a mailbox (docs/PRODUCT.md, "Voicemail").
The switch answers the call itself (`local_answer`): greeting (the box's own
`greeting.wav` or the shipped prompt), beep, then it records until hang-up, silence or
the length limit. Listening plays each message newest first: 7 deletes, 9 keeps, #
skips. Files are read and written by the shell (`ports.MailboxFiles`); the counts that
lamps show are kept here in memory (`MailboxIndex`), loaded once at start and changed
on every deposit, hearing and deletion, and every change is told to `ports.MailboxWatch`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sipstack.ids import IdSource

from ..calls.call import Call, CallPhase
from ..media import prompts
from ..media.voicemail import Mailbox, Message, new_message_id
from ..ports import MailboxFiles, MailboxWatch, MediaSessionPort
from ..routing import Voicemail
from .local_answer import LocalAnswer

MAX_MESSAGE_SECONDS = 180.0
SILENCE_SECONDS = 8.0


class MailboxIndex:
    """Which messages each mailbox holds and whether they were heard (`ports.MailboxCounts`)."""

    __slots__ = ("_heard",)

    def __init__(self, boxes: Iterable[tuple[Mailbox, list[Message]]] = ()) -> None:
        self._heard: dict[Mailbox, dict[str, bool]] = {
            box: {m.id: m.heard for m in messages} for box, messages in boxes
        }

    def counts(self, box: Mailbox) -> tuple[int, int]:
        """(new, old) for RFC 3842 message-summary: new = not yet heard."""
        heard = self._heard.get(box, {})
        old = sum(heard.values())
        return len(heard) - old, old

    def added(self, box: Mailbox, msg_id: str) -> None:
        self._heard.setdefault(box, {})[msg_id] = False

    def heard(self, box: Mailbox, msg_id: str) -> None:
        messages = self._heard.get(box)
        if messages is not None and msg_id in messages:
            messages[msg_id] = True

    def removed(self, box: Mailbox, msg_id: str) -> None:
        self._heard.get(box, {}).pop(msg_id, None)


class VoicemailService:
    def __init__(
        self,
        *,
        local: LocalAnswer,
        files: MailboxFiles,
        index: MailboxIndex,
        watch: MailboxWatch,
        ids: IdSource,
    ) -> None:
        self._local = local
        self.files = files
        self.index = index
        self.watch = watch
        self._ids = ids

    def start(self, call: Call, decision: Voicemail, now: float) -> None:
        box = Mailbox(decision.customer, decision.box)
        if decision.mode == "retrieve":
            self._local.answer(call, lambda s, at: self._listen(call, s, box), now)
        else:
            self._local.answer(call, lambda s, at: self._greet(call, s, box), now)

    def changed(self, box: Mailbox, now: float) -> None:
        self.watch.mailbox_changed(box, now)

    # -- leaving a message -----------------------------------------------------------------
    def _greet(self, call: Call, session: MediaSessionPort, box: Mailbox) -> None:
        def greeting(own: bytes | None, _at: float) -> None:
            audio = own if own is not None else prompts.prompt("greeting")
            session.play(
                audio + prompts.beep(), then=lambda at: self._record(call, session, box, at)
            )

        self.files.greeting(box, greeting)

    def _record(self, call: Call, session: MediaSessionPort, box: Mailbox, now: float) -> None:
        if call.phase is not CallPhase.ANSWERED:
            return
        a = call.a
        caller = a.caller[1] if a.caller else (a.invite.from_.uri.user or "")
        msg_id = new_message_id(now, self._ids.tag())
        message = Message(id=msg_id, caller=caller, called=box.box, received_at=now)
        finished = False

        def stopped(duration: float, at: float) -> None:
            nonlocal finished
            if finished:
                return
            finished = True
            self.files.finish(box, msg_id, duration)
            self.index.added(box, msg_id)
            call.log.info(
                "voicemail.stored", box=box.box, message=msg_id, duration=round(duration, 3)
            )
            self.changed(box, at)
            self._local.hang_up_after(call)(at)

        def ready(path: Path, _at: float) -> None:
            if call.phase is not CallPhase.ANSWERED:
                return
            call.log.info("voicemail.recording", box=box.box, message=msg_id)
            session.record(
                path,
                max_seconds=MAX_MESSAGE_SECONDS,
                silence_seconds=SILENCE_SECONDS,
                on_stop=stopped,
            )

        self.files.begin(box, message, ready)

    # -- listening ---------------------------------------------------------------------------
    def _listen(self, call: Call, session: MediaSessionPort, box: Mailbox) -> None:
        new, old = self.index.counts(box)

        def listed(queue: list[Message], _at: float) -> None:
            playback = Playback(self, call, session, box, queue)
            session.play(prompts.message_count(new, old), then=playback.next)

        self.files.messages(box, listed)


class Playback:
    """Listening: each message newest first; 7 deletes, 9 keeps, # skips to the next."""

    def __init__(
        self,
        service: VoicemailService,
        call: Call,
        session: MediaSessionPort,
        box: Mailbox,
        queue: list[Message],
    ) -> None:
        self.service = service
        self.call = call
        self.session = session
        self.box = box
        self.queue = queue
        self.current: Message | None = None
        session.on_dtmf = self.on_dtmf

    def next(self, now: float) -> None:
        if self.call.phase is not CallPhase.ANSWERED:
            return
        if not self.queue:
            self.current = None
            goodbye = prompts.prompt("no_more") + prompts.prompt("goodbye")
            self.session.play(goodbye, then=LocalAnswer.hang_up_after(self.call))
            return
        current = self.current = self.queue.pop(0)

        def loaded(audio: bytes, _at: float) -> None:
            if self.current is current:
                self.session.play(audio + prompts.prompt("menu"))

        self.service.files.audio(self.box, current.id, loaded)

    def on_dtmf(self, digit: str, now: float) -> None:
        current = self.current
        if current is None:
            return
        service, box = self.service, self.box
        if digit == "7":
            service.files.delete(box, current.id)
            service.index.removed(box, current.id)
            feedback = prompts.prompt("deleted")
        elif digit == "9":
            service.files.mark_heard(box, current.id)
            service.index.heard(box, current.id)
            feedback = prompts.prompt("saved")
        elif digit == "#":
            feedback = b""
        else:
            return
        self.current = None
        service.changed(box, now)
        self.session.stop_playback()
        self.session.play(feedback, then=self.next)
