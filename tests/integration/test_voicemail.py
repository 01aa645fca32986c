"""Voicemail over real sockets (docs/BEHAVIOUR.md#voicemail-and-message-waiting).

A Python phone (`sipua.SipPhone`: SIP over UDP, its own RTP socket) calls a mailbox by
each of the three ways a call ends up there: the extension's own coverage with nothing
registered, coverage of a busy phone (a SIPp phone answering 486), and a hunt group with
no free member. It hears the greeting's RTP, sends a known tone with packets dropped,
swapped and duplicated, and hangs up; the stored WAV has the tone's length (within
100 ms) and its dominant frequency. `*97` plays the messages back and DTMF sent as
RFC 4733 telephone-events deletes (7) and keeps (9) them. SIGTERM during a recording
keeps what was recorded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from harness import (
    HOST,
    SippResult,
    SwitchProcess,
    free_port,
    make_config,
    run_sipp,
    start_phone,
    start_switch,
)
from sipua import (
    SipPhone,
    dominant_frequency,
    leave_message,
    mailbox_customers,
    read_wav,
    received_audio,
    tone,
    write_greeting,
)

pytestmark = [pytest.mark.integration, pytest.mark.sipp]

DURATION_TOLERANCE = 0.1  # seconds: a message's length as recorded
# Packets the phone leaves out, sends in swapped pairs, and sends twice.
DROP = (7, 33, 61)
SWAP = (15, 48)
DUPLICATE = (24, 70)


@pytest.fixture
def switch(tmp_path: Path, sipp_required: None) -> Iterator[SwitchProcess]:
    port = free_port()
    config = make_config(port=port, state_dir=tmp_path / "switch" / "state",
                         customers=mailbox_customers())
    proc = start_switch(tmp_path / "switch", config=config)
    try:
        yield proc
    finally:
        proc.stop()
        (tmp_path / "switch" / "switch.log").write_text(proc.log_text() + "\n")


def box_dir(switch: SwitchProcess, box: str) -> Path:
    return switch.state_dir / "voicemail" / "acme" / box


def messages(switch: SwitchProcess, box: str) -> list[Path]:
    folder = box_dir(switch, box)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.wav") if p.name != "greeting.wav")


def wait_for(predicate: object, timeout: float = 3.0) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def check_message(switch: SwitchProcess, box: str, freq: float, seconds: float,
                  caller: str = "201") -> Path:
    wait_for(lambda: len(messages(switch, box)) == 1)
    wav = messages(switch, box)[0]
    samples = read_wav(wav)
    assert abs(len(samples) / 8000 - seconds) <= DURATION_TOLERANCE, len(samples) / 8000
    assert abs(dominant_frequency(samples) - freq) <= 5, dominant_frequency(samples)
    # a lost packet is a 20 ms gap of silence, not a shifted or doubled stretch
    wait_for(lambda: json.loads(wav.with_suffix(".json").read_text())["complete"])
    meta = json.loads(wav.with_suffix(".json").read_text())
    assert meta["caller"] == caller and meta["called"] == box
    assert meta["heard"] is False
    assert abs(meta["duration"] - seconds) <= DURATION_TOLERANCE
    return wav


def test_mailbox_reached_directly_with_default_greeting(switch: SwitchProcess) -> None:
    # 209 has nothing registered; its coverage sends the call to its own mailbox
    deposit = leave_message((HOST, switch.port), "209", tone(440, 2.0),
                            drop=DROP, swap=SWAP, duplicate=DUPLICATE)
    # the shipped prompt and the beep: well over a second of 20 ms packets
    assert deposit.greeting_packets >= 50
    assert deposit.sent == 100 - len(DROP)
    check_message(switch, "209", 440, 2.0)


def test_mailbox_reached_by_coverage_of_a_busy_phone(
    switch: SwitchProcess, sipp_dir: Path
) -> None:
    write_greeting(box_dir(switch, "202") / "greeting.wav", 1000, 0.6)
    phone = start_phone(switch, sipp_dir, "202", "bert-pw", behaviour="uas_busy.xml")
    deposit = leave_message((HOST, switch.port), "202", tone(700, 1.5),
                            drop=DROP, swap=SWAP, duplicate=DUPLICATE)
    phone.wait(20).assert_ok("the busy phone saw INVITE, sent 486, got ACK")
    # the mailbox's own greeting (a 1 kHz tone) is what the caller heard first
    assert deposit.greeting_packets >= 30
    heard = received_audio(deposit.stream, 0, 25)
    assert abs(dominant_frequency(heard) - 1000) <= 10
    check_message(switch, "202", 700, 1.5)


def test_mailbox_reached_by_hunt_group_with_no_free_member(switch: SwitchProcess) -> None:
    # 203 and 204 have nothing registered: no member is free, 209 (the default) answers
    write_greeting(box_dir(switch, "209") / "greeting.wav", 1000, 0.4)
    deposit = leave_message((HOST, switch.port), "600", tone(1200, 1.0),
                            drop=DROP[:2], swap=SWAP[:1], duplicate=DUPLICATE[:1],
                            hang_up=False)
    assert deposit.greeting_packets >= 20
    assert deposit.phone.bye() == 200
    check_message(switch, "209", 1200, 1.0)
    deposit.phone.close()


def test_star97_plays_back_and_dtmf_deletes_and_keeps(
    switch: SwitchProcess, sipp_dir: Path
) -> None:
    write_greeting(box_dir(switch, "209") / "greeting.wav", 1000, 0.2)
    target = (HOST, switch.port)
    leave_message(target, "600", tone(500, 1.0))  # older
    time.sleep(0.05)
    leave_message(target, "600", tone(900, 1.0))  # newer: played first
    wait_for(lambda: len(messages(switch, "209")) == 2)
    older, newer = messages(switch, "209")
    # 209's own phone, registered without subscribing: its lamp follows by NOTIFY
    lamp = run_sipp("register_listen.xml", switch.target, workdir=sipp_dir,
                    auth_user="209", auth_pass="support-pw", ooc="ooc_notify.xml",
                    pause_ms=15000, timeout=30, background=True)

    listener = SipPhone(target, "209", "support-pw")
    try:
        status, response = listener.call("*97")
        assert status == 200, response
        stream = listener.rtp
        assert stream is not None
        # "you have two new messages" (2.5 s), then the newest message (1 s), the menu
        wait_for(lambda: stream.count() >= 125 + 55, timeout=8)
        assert newest_tone_heard(received_audio(stream), 900)
        before = stream.count()
        stream.send_dtmf("7")
        wait_for(lambda: not newer.exists() and not newer.with_suffix(".json").exists())
        assert older.exists()
        # "deleted" (1.2 s), then the older message plays
        wait_for(lambda: stream.count() >= before + 61 + 55, timeout=6)
        assert newest_tone_heard(received_audio(stream, before), 500)
        stream.send_dtmf("9")
        wait_for(lambda: json.loads(older.with_suffix(".json").read_text())["heard"])
        assert older.exists()
        # nothing more: "no more messages, goodbye" and the switch hangs up
        listener.wait_request("BYE", timeout=10)
        total = stream.count()
        assert total >= 200, total
    finally:
        listener.close()
    lamp.kill()
    result = lamp.wait(1)
    assert isinstance(result, SippResult)
    bodies = [m.body for m in result.received_requests("NOTIFY")]
    summaries = [voice_message(b) for b in bodies]
    # after REGISTER: 2 new; after 7: 1 new; after 9: 0 new, 1 old
    assert summaries[0] == ("yes", "2/0"), bodies
    assert ("yes", "1/0") in summaries, bodies
    assert summaries[-1] == ("no", "0/1"), bodies


def voice_message(body: str) -> tuple[str, str]:
    waiting = next(ln.split(":", 1)[1].strip() for ln in body.splitlines()
                   if ln.lower().startswith("messages-waiting:"))
    counts = next(ln.split(":", 1)[1].split()[0] for ln in body.splitlines()
                  if ln.lower().startswith("voice-message:"))
    return waiting, counts


def newest_tone_heard(audio: np.ndarray, freq: float) -> bool:
    """Some 0.4 s stretch of what was played is dominated by `freq`."""
    window = 3200
    for start in range(0, max(len(audio) - window, 0), 800):
        if abs(dominant_frequency(audio[start:start + window]) - freq) <= 10:
            return True
    return False


def test_sigterm_during_recording_keeps_the_part_recorded(switch: SwitchProcess) -> None:
    write_greeting(box_dir(switch, "209") / "greeting.wav", 1000, 0.2)
    deposit = leave_message((HOST, switch.port), "209", tone(600, 1.5), hang_up=False)
    assert deposit.sent == 75
    time.sleep(0.1)
    assert switch.stop() == 0  # SIGTERM with the call still up
    deposit.phone.close()
    wavs = messages(switch, "209")
    assert len(wavs) == 1
    samples = read_wav(wavs[0])  # a readable WAV: header sizes match the data
    assert abs(len(samples) / 8000 - 1.5) <= DURATION_TOLERANCE, len(samples) / 8000
    assert abs(dominant_frequency(samples) - 600) <= 5
    meta = json.loads(wavs[0].with_suffix(".json").read_text())
    assert meta["caller"] == "201"
