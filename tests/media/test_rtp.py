"""RTP packets, the jitter buffer and RFC 4733 DTMF.

Requirements covered: parse/build round trip; any reorder, duplication or loss never
raises, releases in increasing sequence order and never releases the same audio twice;
16-bit sequence wrap; lost packets become silence measured by timestamps; DTMF reported
once per key press even with the three repeated end packets or with them all lost.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switch.media.rtp import (
    DtmfDetector,
    JitterBuffer,
    RtpError,
    RtpPacket,
    build_rtp,
    parse_rtp,
)

PT = 0


def packet(i: int, *, seq0: int = 0, ts0: int = 0, ssrc: int = 1) -> RtpPacket:
    # The payload names the packet, so the tests can see which audio came out.
    return RtpPacket(
        payload_type=PT,
        sequence=(seq0 + i) % 65536,
        timestamp=(ts0 + 160 * i) % 2**32,
        ssrc=ssrc,
        marker=False,
        payload=struct.pack("<I", i) * 40,
    )


def ident(payload: bytes) -> int:
    return int(struct.unpack_from("<I", payload)[0])


def run(order: list[int], **kw: int) -> tuple[list[int], int]:
    buf = JitterBuffer(frozenset({PT}))
    out = []
    for i in order:
        buf.push(packet(i, **kw))
        out += buf.pop()
    out += buf.drain()
    seqs = [r.sequence for r in out]
    assert seqs == sorted(set(seqs)), "released out of order or twice"
    return [ident(r.payload) for r in out], sum(r.gap_samples for r in out)


def test_parse_build_round_trip() -> None:
    data = build_rtp(8, 65535, 2**32 - 1, 0xDEADBEEF, b"abc", True)
    p = parse_rtp(data)
    assert (p.payload_type, p.sequence, p.timestamp, p.ssrc, p.marker, p.payload) == (
        8,
        65535,
        2**32 - 1,
        0xDEADBEEF,
        True,
        b"abc",
    )


def test_parse_csrc_extension_padding() -> None:
    head = bytes([0x80 | 0x20 | 0x10 | 1, 0]) + struct.pack("!HII", 1, 2, 3)
    data = head + b"CSRC" + struct.pack("!HH", 0xBEDE, 1) + b"EXT!" + b"pay" + b"\x00\x00\x03"
    assert parse_rtp(data).payload == b"pay"


@pytest.mark.parametrize("data", [b"", b"\x80" * 11, b"\x00" * 12, b"\xa0" + b"\x00" * 11])
def test_parse_rejects(data: bytes) -> None:
    with pytest.raises(RtpError):
        parse_rtp(data)


@given(st.binary(max_size=64))
def test_parse_raises_only_rtp_error(data: bytes) -> None:
    try:
        parse_rtp(data)
    except RtpError:
        pass


def test_in_order_with_wrap() -> None:
    ids, gap = run(list(range(100)), seq0=65500, ts0=2**32 - 3000)
    assert ids == list(range(100)) and gap == 0


def test_loss_becomes_timestamp_silence() -> None:
    ids, gap = run([0, 1, 2, 5, 6, 7, 8, 9, 10, 11, 12])
    assert ids == [0, 1, 2, 5, 6, 7, 8, 9, 10, 11, 12]
    assert gap == 2 * 160


def test_reorder_within_depth_is_repaired() -> None:
    ids, gap = run([0, 2, 1, 4, 3, 6, 5, 7])
    assert ids == list(range(8)) and gap == 0


def test_late_packet_after_giving_up_is_dropped() -> None:
    order = [0, *range(2, 10), 1]
    ids, gap = run(order)
    assert ids == [0, *range(2, 10)] and gap == 160


@st.composite
def jittered(draw: st.DrawFn) -> tuple[list[int], int]:
    """A stream of n packets with drops, duplicates and displacement up to 30 packets."""
    n = draw(st.integers(1, 300))
    keyed = []
    for i in range(n):
        copies = draw(st.sampled_from([0, 1, 1, 1, 1, 2, 3]))
        for _ in range(copies):
            keyed.append((i + draw(st.integers(0, 30)), i))
    keyed.sort()
    return [i for _, i in keyed], draw(st.integers(0, 65535))


@given(jittered())
def test_jitter_property(case: tuple[list[int], int]) -> None:
    order, seq0 = case
    ids, _ = run(order, seq0=seq0)
    assert ids == sorted(ids), "audio out of order"
    assert len(ids) == len(set(ids)), "duplicated audio"
    assert set(ids) <= set(order)


@given(st.lists(st.integers(0, 2000), max_size=400), st.integers(0, 65535))
def test_any_sequence_never_raises_or_duplicates(order: list[int], seq0: int) -> None:
    # Arbitrary orders include jumps the buffer takes as a sender restart (RFC 3550 A.1);
    # then order by original index is not promised, but no audio is ever written twice.
    buf = JitterBuffer(frozenset({PT}))
    out = []
    for i in order:
        buf.push(packet(i, seq0=seq0))
        out += buf.pop()
    out += buf.drain()
    ids = [ident(r.payload) for r in out]
    seqs = [r.sequence for r in out]
    assert len(ids) == len(set(ids))
    assert seqs == sorted(set(seqs))


def test_new_ssrc_restarts_numbering() -> None:
    buf = JitterBuffer(frozenset({PT}))
    for i in range(5):
        buf.push(packet(i, seq0=1000))
    for i in range(5):
        buf.push(packet(100 + i, seq0=40000, ssrc=2))
    out = buf.pop() + buf.drain()
    assert [ident(r.payload) for r in out] == [0, 1, 2, 3, 4, 100, 101, 102, 103, 104]


def dtmf(event: int, ts: int, end: bool, duration: int, seq: int = 0) -> RtpPacket:
    payload = bytes([event, (0x80 if end else 0) | 10]) + struct.pack("!H", duration)
    return RtpPacket(
        payload_type=101, sequence=seq, timestamp=ts, ssrc=9, marker=False, payload=payload
    )


def test_dtmf_once_per_press_with_repeated_end() -> None:
    det = DtmfDetector()
    digits = []
    for d in range(0, 800, 160):
        digits += det.feed(dtmf(7, 1000, False, d))
    for _ in range(3):
        digits += det.feed(dtmf(7, 1000, True, 960))
    digits += det.feed(dtmf(11, 5000, True, 960))
    digits += det.feed(dtmf(11, 5000, True, 960))
    assert digits == ["7", "#"]


def test_dtmf_reported_when_end_packets_lost() -> None:
    det = DtmfDetector()
    digits = det.feed(dtmf(1, 1000, False, 160)) + det.feed(dtmf(2, 3000, False, 160))
    digits += det.feed(dtmf(2, 3000, True, 800))
    assert digits == ["1", "2"]
