"""Mailbox store: newest first, heard/new counts, delete, crash and restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from switch.media import prompts
from switch.media.voicemail import Mailbox, Message, VoicemailStore, new_message_id
from switch.media.wav import WavWriter

BOX = Mailbox("acme", "201")


def leave(store: VoicemailStore, now: float, seconds: float, finish: bool = True) -> str:
    msg_id = new_message_id(now, f"{int(now):08x}")
    message = Message(id=msg_id, caller="sip:202@acme", called="sip:201@acme", received_at=now)
    path = store.begin(BOX, message)
    w = WavWriter(path)
    w.write_silence(int(seconds * 8000))
    if finish:
        w.close()
        store.finish(BOX, msg_id, w.duration)
    else:
        w._patch()  # what is on disk when the process dies mid-recording
        assert w._file is not None
        w._file.close()  # drop the handle without the final patch, as a killed process would
    return msg_id


def test_list_newest_first_counts_and_heard(tmp_path: Path) -> None:
    store = VoicemailStore(tmp_path)
    a = leave(store, 1000.0, 1.0)
    b = leave(store, 2000.0, 2.0)
    assert [m.id for m in store.messages(BOX)] == [b, a]
    assert store.counts(BOX) == (2, 0)
    store.mark_heard(BOX, a)
    assert store.counts(BOX) == (1, 1)
    restarted = VoicemailStore(tmp_path)  # survives restart: it is all on disk
    assert restarted.counts(BOX) == (1, 1)
    assert restarted.get(BOX, b) is not None and restarted.get(BOX, b).duration == 2.0  # type: ignore[union-attr]


def test_delete(tmp_path: Path) -> None:
    store = VoicemailStore(tmp_path)
    a = leave(store, 1000.0, 1.0)
    assert store.delete(BOX, a)
    assert not store.wav_path(BOX, a).exists()
    assert store.messages(BOX) == [] and store.counts(BOX) == (0, 0)
    assert not store.delete(BOX, a)


def test_interrupted_recording_is_listed_with_its_length(tmp_path: Path) -> None:
    store = VoicemailStore(tmp_path)
    leave(store, 1000.0, 1.5, finish=False)
    [msg] = VoicemailStore(tmp_path).messages(BOX)
    assert not msg.complete and msg.duration == pytest.approx(1.5)
    assert store.counts(BOX) == (1, 0)


def test_empty_and_unsafe_boxes(tmp_path: Path) -> None:
    store = VoicemailStore(tmp_path)
    assert store.counts(Mailbox("acme", "999")) == (0, 0)
    assert store.greeting_path(BOX) is None
    for bad in ("..", "a/b", ".hidden", ""):
        with pytest.raises(ValueError):
            store.folder(Mailbox("acme", bad))
    assert store.get(BOX, "../../etc/passwd") is None


def test_greeting_file(tmp_path: Path) -> None:
    store = VoicemailStore(tmp_path)
    store.folder(BOX).mkdir(parents=True)
    (store.folder(BOX) / "greeting.wav").write_bytes(b"x")
    assert store.greeting_path(BOX) == store.folder(BOX) / "greeting.wav"


def test_prompts_load() -> None:
    for name in prompts.PROMPTS:
        pcm = prompts.prompt(name)
        assert 0.2 < len(pcm) / 16000 < 10, name
    assert len(prompts.beep()) == 2 * 2400
    assert len(prompts.message_count(3, 1)) > len(prompts.message_count(3, 0))
    assert prompts.message_count(0, 0) == prompts.prompt("no_messages")
    assert prompts.number(42) == prompts.prompt("n4") + prompts.prompt("n2")
