"""Mailbox store: one folder per mailbox, a WAV and a JSON file per message.

Layout: `<state_dir>/voicemail/<customer>/<box>/` holds `greeting.wav` (optional, the
box's own greeting) and, per message, `<id>.wav` + `<id>.json`. Ids start with the
millisecond receive time, so that name order is age order. Plain files, not SQLite, because
the WAVs are files anyway and an administrator can copy, play or delete a message by hand.

Crash safety: the JSON is written (atomically, by rename) when recording *starts*, marked
`complete: false`; `finish` sets the duration and `complete: true`. A message whose
recording was cut by a crash or SIGTERM is still listed, its duration taken from its WAV.
Callers pass `now` (wall-clock epoch seconds); nothing here reads a clock.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Final

import msgspec

from switch.media.wav import WavFormatError, wav_duration

__all__ = ["Mailbox", "Message", "VoicemailStore", "new_message_id"]

# Customer names and box numbers become path components; anything that could climb out of
# the store ("..", "/", a leading dot) is refused rather than escaped.
_SAFE: Final = re.compile(r"[A-Za-z0-9_+@-][A-Za-z0-9_.+@-]{0,127}")
_ID: Final = re.compile(r"[0-9]{13}-[0-9a-f]{8}")


class Message(msgspec.Struct, kw_only=True):
    id: str
    caller: str
    called: str
    received_at: float  # epoch seconds
    duration: float = 0.0
    heard: bool = False
    complete: bool = False


class Mailbox(msgspec.Struct, frozen=True):
    customer: str
    box: str


def new_message_id(now: float, random_hex: str) -> str:
    """A message id: the millisecond receive time (name order is age order) and 8 hex
    digits from the caller's id source, so two messages in one millisecond differ."""
    return f"{int(now * 1000):013d}-{random_hex[:8]}"


_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(Message)


class VoicemailStore:
    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "voicemail"

    def folder(self, box: Mailbox) -> Path:
        for part in (box.customer, box.box):
            if not _SAFE.fullmatch(part):
                raise ValueError(f"unsafe mailbox name part {part!r}")
        return self.root / box.customer / box.box

    def greeting_path(self, box: Mailbox) -> Path | None:
        """The box's own greeting WAV, if one was put there."""
        path = self.folder(box) / "greeting.wav"
        return path if path.is_file() else None

    def begin(self, box: Mailbox, message: Message) -> Path:
        """Create a message record before recording; returns the WAV path to record to."""
        if not _ID.fullmatch(message.id):
            raise ValueError(f"bad message id {message.id!r}")
        folder = self.folder(box)
        folder.mkdir(parents=True, exist_ok=True)
        self._save(folder, message)
        return folder / f"{message.id}.wav"

    def finish(self, box: Mailbox, msg_id: str, duration: float) -> None:
        message = self.get(box, msg_id)
        if message is not None:
            message.duration = duration
            message.complete = True
            self._save(self.folder(box), message)

    def get(self, box: Mailbox, msg_id: str) -> Message | None:
        if not _ID.fullmatch(msg_id):
            return None
        return self._load(self.folder(box) / f"{msg_id}.json")

    def messages(self, box: Mailbox) -> list[Message]:
        """All messages, newest first."""
        folder = self.folder(box)
        if not folder.is_dir():
            return []
        found = (self._load(p) for p in sorted(folder.glob("*.json"), reverse=True))
        return [m for m in found if m is not None]

    def wav_path(self, box: Mailbox, msg_id: str) -> Path:
        if not _ID.fullmatch(msg_id):
            raise ValueError(f"bad message id {msg_id!r}")
        return self.folder(box) / f"{msg_id}.wav"

    def mark_heard(self, box: Mailbox, msg_id: str) -> None:
        message = self.get(box, msg_id)
        if message is not None and not message.heard:
            message.heard = True
            self._save(self.folder(box), message)

    def delete(self, box: Mailbox, msg_id: str) -> bool:
        if not _ID.fullmatch(msg_id):
            return False
        folder = self.folder(box)
        existed = (folder / f"{msg_id}.json").exists()
        # The JSON goes first: a WAV without JSON is invisible, a JSON without WAV is not.
        for suffix in (".json", ".wav"):
            with contextlib.suppress(FileNotFoundError):
                (folder / f"{msg_id}{suffix}").unlink()
        return existed

    def mailboxes(self) -> list[Mailbox]:
        """Every mailbox folder on disk (read once at start to count messages)."""
        if not self.root.is_dir():
            return []
        return [
            Mailbox(customer.name, box.name)
            for customer in sorted(self.root.iterdir())
            if customer.is_dir() and _SAFE.fullmatch(customer.name)
            for box in sorted(customer.iterdir())
            if box.is_dir() and _SAFE.fullmatch(box.name)
        ]

    def counts(self, box: Mailbox) -> tuple[int, int]:
        """(new, old) for RFC 3842 message-summary: new = not yet heard."""
        messages = self.messages(box)
        new = sum(1 for m in messages if not m.heard)
        return new, len(messages) - new

    def _save(self, folder: Path, message: Message) -> None:
        final = folder / f"{message.id}.json"
        tmp = folder / f".{message.id}.json.tmp"
        tmp.write_bytes(_encoder.encode(message))
        os.replace(tmp, final)  # atomic: readers see the old or the new record, never half

    def _load(self, path: Path) -> Message | None:
        try:
            message = _decoder.decode(path.read_bytes())
        except (OSError, msgspec.DecodeError):
            return None  # unreadable record: skip it rather than break the whole box
        if not message.complete:
            # Recording was cut short (crash, SIGTERM): the WAV says how much was kept.
            try:
                message.duration = wav_duration(path.with_suffix(".wav"))
            except (OSError, WavFormatError):
                message.duration = 0.0
        return message
