"""`ports.MailboxFiles` on a worker thread: mailbox files read and written off the loop.

A greeting WAV, a message's audio, the message list of a box and every JSON record write
go to one single-threaded executor, so the SIP pump never waits for the disk and the
writes of one mailbox happen in the order they were asked for. Results come back through
`Pumped`, inside the pump with its time, as socket input does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import structlog

from ..media.voicemail import Mailbox, Message, VoicemailStore
from ..media.wav import WavFormatError, read_wav
from .media_adapter import Pumped

log = structlog.get_logger("switch.mailbox_files")

T = TypeVar("T")


class ThreadedMailboxFiles:
    def __init__(self, store: VoicemailStore, pumped: Pumped) -> None:
        self._store = store
        self._pumped = pumped
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailbox")

    def _run(self, work: Callable[[], T], done: Callable[[T, float], None] | None) -> None:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, work)

        def finished(fut: asyncio.Future[T]) -> None:
            try:
                result = fut.result()
            except (OSError, ValueError, WavFormatError) as exc:
                log.error("mailbox.io_failed", error=str(exc))
                return
            if done is not None:
                self._pumped(lambda now: done(result, now))

        future.add_done_callback(finished)

    def begin(self, box: Mailbox, message: Message, done: Callable[[Path, float], None]) -> None:
        self._run(lambda: self._store.begin(box, message), done)

    def finish(self, box: Mailbox, msg_id: str, duration: float) -> None:
        self._run(lambda: self._store.finish(box, msg_id, duration), None)

    def messages(self, box: Mailbox, done: Callable[[list[Message], float], None]) -> None:
        self._run(lambda: self._store.messages(box), done)

    def greeting(self, box: Mailbox, done: Callable[[bytes | None, float], None]) -> None:
        def read() -> bytes | None:
            path = self._store.greeting_path(box)
            try:
                return read_wav(path) if path is not None else None
            except (OSError, WavFormatError) as exc:
                # A broken greeting file: the caller hears the shipped greeting instead.
                log.error("mailbox.bad_greeting", path=str(path), error=str(exc))
                return None

        self._run(read, done)

    def audio(self, box: Mailbox, msg_id: str, done: Callable[[bytes, float], None]) -> None:
        def read() -> bytes:
            try:
                return read_wav(self._store.wav_path(box, msg_id))
            except (OSError, WavFormatError) as exc:
                # Deleted by hand, or cut short: the menu still follows, so 7/9/# work.
                log.error("mailbox.bad_message", message=msg_id, error=str(exc))
                return b""

        self._run(read, done)

    def mark_heard(self, box: Mailbox, msg_id: str) -> None:
        self._run(lambda: self._store.mark_heard(box, msg_id), None)

    def delete(self, box: Mailbox, msg_id: str) -> None:
        self._run(lambda: self._store.delete(box, msg_id), None)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
