"""RTP (RFC 3550) packets, a receive-side jitter buffer and RFC 4733 DTMF detection.

Pure: datagrams in, ordered audio and digits out; no sockets, no clock. The buffer orders
packets by extended sequence number (16-bit wrap handled as in RFC 3550 Appendix A.1),
drops duplicates and packets that come after their slot was given up, and reports for each
released packet how many samples of silence stand in for what was lost before it, measured
from RTP timestamps so that loss, silence suppression and packets of any ptime all keep the
recording's timeline right.
"""

from __future__ import annotations

import struct
from typing import Final

import msgspec

__all__ = [
    "DtmfDetector",
    "JitterBuffer",
    "Released",
    "RtpError",
    "RtpPacket",
    "build_rtp",
    "parse_rtp",
]

RTP_VERSION: Final = 2
_HEADER: Final = struct.Struct("!BBHII")
_SEQ_MOD: Final = 1 << 16
_TS_MOD: Final = 1 << 32
# RFC 3550 Appendix A.1 constants: a jump ahead by more than MAX_DROPOUT or back by more
# than MAX_MISORDER is not taken as part of the stream until it is confirmed.
MAX_DROPOUT: Final = 3000
MAX_MISORDER: Final = 100
# A timestamp gap above this is a discontinuity (a new talk spurt after a long hold, a
# sender restart), not loss; filling it with silence would pad the file with minutes.
MAX_GAP_SAMPLES: Final = 8000 * 10


class RtpError(ValueError):
    """A datagram that is not an RTP packet we can use."""


class RtpPacket(msgspec.Struct, frozen=True, gc=False):
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    marker: bool
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket:
    """Parse one RTP datagram (RFC 3550 §5.1). Raises RtpError only."""
    if len(data) < 12:
        raise RtpError("shorter than the 12-byte RTP header")
    b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
    if b0 >> 6 != RTP_VERSION:
        raise RtpError("RTP version is not 2")
    offset = 12 + 4 * (b0 & 0x0F)  # CSRC list
    if b0 & 0x10:
        # RFC 3550 §5.3.1: a header extension is a 4-byte header then `length` words.
        if len(data) < offset + 4:
            raise RtpError("truncated header extension")
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
    end = len(data)
    if b0 & 0x20:
        # RFC 3550 §5.1: "The last octet of the padding contains a count of how many
        # padding octets should be ignored, including itself."
        pad = data[-1]
        if pad == 0 or pad > end - offset:
            raise RtpError("bad padding count")
        end -= pad
    if offset > end:
        raise RtpError("header longer than the datagram")
    return RtpPacket(
        payload_type=b1 & 0x7F,
        sequence=seq,
        timestamp=ts,
        ssrc=ssrc,
        marker=bool(b1 & 0x80),
        payload=data[offset:end],
    )


def build_rtp(
    payload_type: int, sequence: int, timestamp: int, ssrc: int, payload: bytes, marker: bool
) -> bytes:
    """One RTP datagram: version 2, no padding, no extension, no CSRC."""
    b1 = (0x80 if marker else 0) | (payload_type & 0x7F)
    return (
        _HEADER.pack(0x80, b1, sequence % _SEQ_MOD, timestamp % _TS_MOD, ssrc & 0xFFFFFFFF)
        + payload
    )


class Released(msgspec.Struct, frozen=True, gc=False):
    """A packet leaving the buffer in order. `gap_samples` of silence go before it."""

    sequence: int  # extended sequence number, strictly increasing across releases
    payload_type: int
    payload: bytes
    gap_samples: int


def _signed16(delta: int) -> int:
    delta %= _SEQ_MOD
    return delta - _SEQ_MOD if delta >= _SEQ_MOD // 2 else delta


def _at_or_after(floor: int, seq: int) -> int:
    """The smallest extended number >= floor whose low 16 bits are `seq`."""
    return floor + (seq - floor) % _SEQ_MOD


class JitterBuffer:
    """Reorders by sequence number; never releases a packet twice or out of order.

    While a gap is open, up to `depth` packets are held, so a packet that comes up to
    `depth` packets late still finds its slot (4 x 20 ms = 80 ms of reordering); one that
    comes later is dropped as late, since its slot has been given up to silence.
    Payload types in `audio_types` carry one sample per byte (G.711); any other packet
    (telephone-event, comfort noise) keeps its sequence slot but not the audio timeline.
    """

    def __init__(self, audio_types: frozenset[int], depth: int = 4) -> None:
        self.audio_types = audio_types
        self.depth = depth
        self.duplicates = 0
        self.late = 0
        self._pending: dict[int, RtpPacket] = {}
        self._ready: list[Released] = []
        self._ssrc: int | None = None
        self._highest = 0  # highest extended sequence accepted
        self._next = 0  # next extended sequence to release; everything below is done
        self._bad_seq = -1  # RFC 3550 A.1 probation after a big jump
        self._audio_end: int | None = None  # timestamp just after the last audio released
        # Raw sequence numbers released recently: whatever the numbering does (a resync
        # after a restart), a duplicate of something already written is never written again.
        self._recent: dict[int, None] = {}

    def push(self, packet: RtpPacket) -> None:
        if packet.ssrc != self._ssrc:
            self._new_source(packet)
        seq = packet.sequence
        if seq in self._recent:
            self.duplicates += 1
            return
        ext = self._highest + _signed16(seq - self._highest)
        if ext in self._pending:
            self.duplicates += 1
            return
        if ext - self._highest > MAX_DROPOUT or self._highest - ext > MAX_MISORDER:
            if seq != self._bad_seq:
                # RFC 3550 A.1: a huge jump is believed only when "the new packet is the
                # next in sequence after a huge jump"; until then it is dropped.
                self._bad_seq = (seq + 1) % _SEQ_MOD
                self.late += 1
                return
            self._resync(seq)  # the sender restarted its numbering without telling us
            ext = self._highest
        elif ext < self._next:
            self.late += 1
            return
        self._bad_seq = -1
        self._pending[ext] = packet
        if ext > self._highest:
            self._highest = ext

    def _new_source(self, packet: RtpPacket) -> None:
        # A new SSRC (phone restarted its stream, a re-INVITE): its sequence numbers and
        # timestamps bear no relation to the old ones. What was held is released first.
        if self._ssrc is not None:
            self._release(drain=True)
        self._ssrc = packet.ssrc
        self._audio_end = None
        self._recent.clear()
        self._resync(packet.sequence)

    def _resync(self, seq: int) -> None:
        self._release(drain=True)
        self._next = self._highest = _at_or_after(self._next, seq)
        self._bad_seq = -1

    def pop(self) -> list[Released]:
        """Packets now due, in order."""
        self._release(drain=False)
        out, self._ready = self._ready, []
        return out

    def drain(self) -> list[Released]:
        """Everything still held, in order (at the end of a recording)."""
        self._release(drain=True)
        out, self._ready = self._ready, []
        return out

    def _release(self, drain: bool) -> None:
        pending = self._pending
        while pending:
            if self._next not in pending:
                if not drain and len(pending) <= self.depth:
                    return
                # Give up on the missing packet(s): move on to the oldest one held.
                self._next = min(pending)
            packet = pending.pop(self._next)
            self._ready.append(self._emit(packet))
            self._next += 1

    def _emit(self, packet: RtpPacket) -> Released:
        recent = self._recent
        recent[packet.sequence] = None
        if len(recent) > 1024:
            del recent[next(iter(recent))]  # dicts keep insertion order: drop the oldest
        if packet.payload_type not in self.audio_types:
            return Released(self._next, packet.payload_type, packet.payload, 0)
        gap = 0
        if self._audio_end is not None:
            # Signed 32-bit difference: timestamps wrap (RFC 3550 §5.1).
            diff = (packet.timestamp - self._audio_end) % _TS_MOD
            if 0 < diff <= MAX_GAP_SAMPLES:
                gap = diff
        self._audio_end = (packet.timestamp + len(packet.payload)) % _TS_MOD
        return Released(self._next, packet.payload_type, packet.payload, gap)


# RFC 4733 §3.2: events 0-9 are the digits, 10 is *, 11 is #, 12-15 are A-D.
_EVENT_CHARS: Final = "0123456789*#ABCD"


class DtmfDetector:
    """Turns RFC 4733 telephone-event packets into one digit per key press.

    RFC 4733 §2.5.1.4: the end packet "SHOULD be sent a total of three times", all with the
    event's start timestamp, so an event is identified by (ssrc, timestamp) and reported
    once, on its first end packet. If every end packet is lost, the digit is reported when
    the next event (another timestamp) starts, so a press is never lost with them.
    """

    def __init__(self) -> None:
        self._reported: set[tuple[int, int]] = set()
        self._open: tuple[int, int, str] | None = None  # (ssrc, timestamp, digit) not ended

    def feed(self, packet: RtpPacket) -> list[str]:
        if len(packet.payload) < 4:
            return []
        event = packet.payload[0]
        end = bool(packet.payload[1] & 0x80)
        if event >= len(_EVENT_CHARS):
            return []  # flash hook and tones are not digits
        key = (packet.ssrc, packet.timestamp)
        if key in self._reported:
            return []
        digits: list[str] = []
        if self._open is not None and self._open[:2] != key:
            digits.append(self._open[2])
            self._remember((self._open[0], self._open[1]))
            self._open = None
        if end:
            digits.append(_EVENT_CHARS[event])
            self._remember(key)
            self._open = None
        else:
            self._open = (packet.ssrc, packet.timestamp, _EVENT_CHARS[event])
        return digits

    def _remember(self, key: tuple[int, int]) -> None:
        # Bound the memory: only recent events can still have repeats in flight.
        if len(self._reported) > 64:
            self._reported.clear()
        self._reported.add(key)
