"""SDP as the relay presents it (switch/media/anchor.py): the switch's address, the rest intact."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switch.media.anchor import AnchoredCall, describe, rewrite
from switch.media.relay import Side
from switch.media.sdp import SdpError, parse_sdp

NATED_OFFER = (
    b"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=call\r\n"
    b"c=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    b"m=audio 49170 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
    b"a=rtcp:49171 IN IP4 192.0.2.10\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdef0123\r\n"
    b"a=candidate:1 1 UDP 2130706431 192.0.2.10 49170 typ host\r\na=sendrecv\r\n"
    b"m=video 51372 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n"
)


def test_rewrite_names_the_relay_and_keeps_codecs_dtmf_and_ptime() -> None:
    out = rewrite(NATED_OFFER, "127.0.0.1", 20000, (7, 1)).decode()
    assert "192.0.2.10" not in out, out
    assert "o=- 7 1 IN IP4 127.0.0.1" in out
    assert "c=IN IP4 127.0.0.1" in out
    assert "m=audio 20000 RTP/AVP 8 0 101" in out
    for kept in ("a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=ptime:20"):
        assert kept in out
    assert "a=rtcp:" not in out and "ice-" not in out and "candidate" not in out
    assert "m=video 0 RTP/AVP 96" in out  # one audio stream is relayed, video refused
    parse_sdp(out.encode())  # still SDP


def test_hold_with_the_unspecified_address_stays_a_hold() -> None:
    held = NATED_OFFER.replace(b"c=IN IP4 192.0.2.10", b"c=IN IP4 0.0.0.0")
    out = rewrite(held, "127.0.0.1", 20000, (7, 2)).decode()
    assert "c=IN IP4 0.0.0.0" in out
    assert describe(held).address is None and describe(held).holding


@pytest.mark.parametrize("direction", ["sendonly", "recvonly", "inactive"])
def test_a_direction_other_than_sendrecv_is_a_hold_and_passes_through(direction: str) -> None:
    sdp = NATED_OFFER.replace(b"a=sendrecv", f"a={direction}".encode())
    assert describe(sdp).holding
    assert f"a={direction}" in rewrite(sdp, "127.0.0.1", 20000, (1, 1)).decode()


def test_sdp_without_audio_is_refused_with_488() -> None:
    with pytest.raises(SdpError) as refused:
        describe(b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=video 5 RTP/AVP 96\r\n")
    assert refused.value.status_hint == 488


def test_each_party_sees_its_own_origin_whose_version_rises_only_on_change() -> None:
    call = AnchoredCall("127.0.0.1", {Side.CALLER: 20000, Side.CALLEE: 20002}, 500)
    to_callee = call.described(Side.CALLER, NATED_OFFER, "203.0.113.5")
    assert b"o=- 501 0 IN IP4" in to_callee and b"m=audio 20002 " in to_callee
    again = call.described(Side.CALLER, NATED_OFFER, "203.0.113.5")
    assert again == to_callee  # the same offer again (a session refresh): same version
    moved = call.described(Side.CALLER, NATED_OFFER.replace(b"49170", b"50000"), "203.0.113.5")
    assert b"o=- 501 0 IN IP4" in moved  # only the port the relay hides changed
    held = call.described(Side.CALLER, NATED_OFFER.replace(b"a=sendrecv", b"a=sendonly"), "x")
    assert b"o=- 501 1 IN IP4" in held and call.holding()
    answer = NATED_OFFER.replace(b"192.0.2.10", b"198.51.100.7")
    to_caller = call.described(Side.CALLEE, answer, "198.51.100.7")
    assert b"o=- 500 0 IN IP4" in to_caller and b"m=audio 20000 " in to_caller
    assert call.rtp_stream.destination(Side.CALLEE) == ("198.51.100.7", 49170)
    assert call.rtcp_stream.destination(Side.CALLEE) == ("198.51.100.7", 49171)


lines = st.sampled_from(
    [
        "a=rtpmap:0 PCMU/8000",
        "a=sendonly",
        "a=rtcp:9 IN IP4 10.0.0.1",
        "a=candidate:1 1 UDP 1 10.0.0.1 9 typ host",
        "c=IN IP4 10.0.0.1",
        "m=audio 9 RTP/AVP 0",
        "m=video 9 RTP/AVP 96",
        "b=AS:64",
    ]
)


@given(st.lists(lines, max_size=12))
def test_no_address_of_the_party_survives_the_rewrite(body: list[str]) -> None:
    sdp = "\r\n".join(
        ["v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0", *body, ""]
    ).encode()
    out = rewrite(sdp, "127.0.0.1", 30000, (1, 1))
    assert b"10.0.0.1" not in out
    assert out.count(b"\r\nm=") == sdp.count(b"\r\nm=")  # no stream lost or added


def _answered_call() -> AnchoredCall:
    call = AnchoredCall("127.0.0.1", {Side.CALLER: 20000, Side.CALLEE: 20002}, 7)
    call.described(Side.CALLER, NATED_OFFER, "203.0.113.5", now=100.0)
    call.described(Side.CALLEE, NATED_OFFER.replace(b"192.0.2.10", b"192.0.2.20"), "x", 100.0)
    return call


def test_a_party_silent_for_the_timeout_is_named() -> None:
    call = _answered_call()
    rtp = b"\x80" + bytes(20)
    assert call.silent_side(159.0, 60.0) is None  # counted from the last SDP
    call.rtp_stream.packet_from(Side.CALLER, ("203.0.113.5", 4000), rtp, 150.0)
    assert call.silent_side(160.0, 60.0) is Side.CALLEE  # the caller was heard at 150
    call.rtp_stream.packet_from(Side.CALLEE, ("198.51.100.1", 4000), rtp, 155.0)
    assert call.silent_side(209.0, 60.0) is None
    assert call.silent_side(210.0, 60.0) is Side.CALLER


def test_silence_on_hold_or_before_both_described_is_not_reported() -> None:
    call = AnchoredCall("127.0.0.1", {Side.CALLER: 20000, Side.CALLEE: 20002}, 7)
    call.described(Side.CALLER, NATED_OFFER, "203.0.113.5", now=0.0)
    assert call.silent_side(1000.0, 60.0) is None  # nobody answered yet
    call = _answered_call()
    call.described(Side.CALLER, NATED_OFFER.replace(b"a=sendrecv", b"a=sendonly"), "x", 100.0)
    assert call.silent_side(1000.0, 60.0) is None
    call.described(Side.CALLER, NATED_OFFER, "x", 500.0)  # resumed: counted from here
    assert call.silent_side(559.0, 60.0) is None
    assert call.silent_side(560.0, 60.0) is Side.CALLER
