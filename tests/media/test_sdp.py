"""SDP parsing and RFC 3264 offer/answer."""

from __future__ import annotations

import pytest

from switch.media.sdp import (
    SdpError,
    build_answer,
    build_offer,
    negotiate_answer,
    negotiate_offer,
    parse_sdp,
)

OFFER = (
    b"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\n"
    b"c=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 8 0 18 101\r\n"
    b"a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:18 G729/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
    b"m=video 51372 RTP/AVP 31\r\na=rtpmap:31 H261/90000\r\n"
)


def test_offer_order_is_honoured_and_dtmf_found() -> None:
    neg = negotiate_offer(parse_sdp(OFFER))
    assert (neg.codec, neg.payload_type, neg.dtmf_payload_type) == ("PCMA", 8, 101)
    assert (neg.remote_host, neg.remote_port, neg.direction) == ("192.0.2.10", 49170, "sendrecv")


def test_answer_keeps_m_lines_and_rejects_video() -> None:
    offer = parse_sdp(OFFER)
    neg = negotiate_offer(offer)
    answer = build_answer(offer, neg, host="198.51.100.1", port=20000, session_id=7)
    parsed = parse_sdp(answer)
    assert [m.media for m in parsed.media] == ["audio", "video"]
    assert parsed.media[0].port == 20000 and parsed.media[0].formats == ("8", "101")
    assert parsed.media[1].port == 0
    assert b"c=IN IP4 198.51.100.1" in answer
    assert negotiate_answer(parsed).codec == "PCMA"


@pytest.mark.parametrize(
    ("offered", "answered"),
    [
        ("sendrecv", "sendrecv"),
        ("sendonly", "recvonly"),
        ("recvonly", "sendonly"),
        ("inactive", "inactive"),
    ],
)
def test_direction_mirrors(offered: str, answered: str) -> None:
    offer = OFFER.replace(b"a=sendrecv", f"a={offered}".encode())
    neg = negotiate_offer(parse_sdp(offer))
    assert neg.direction == answered
    answer = build_answer(parse_sdp(offer), neg, host="198.51.100.1", port=2, session_id=1)
    assert f"a={answered}".encode() in answer


def test_static_types_without_rtpmap_and_hold_address() -> None:
    offer = (
        b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 0\r\n"
    )
    neg = negotiate_offer(parse_sdp(offer))
    assert neg.codec == "PCMU" and neg.dtmf_payload_type is None
    assert neg.remote_host is None and not neg.we_send


def test_no_common_codec_is_488() -> None:
    offer = OFFER.replace(b"RTP/AVP 8 0 18 101", b"RTP/AVP 18").replace(b"a=rtpmap:8", b"a=x:")
    offer = offer.replace(b"a=rtpmap:0", b"a=x:")
    with pytest.raises(SdpError) as err:
        negotiate_offer(parse_sdp(offer))
    assert err.value.status_hint == 488


@pytest.mark.parametrize("body", [b"", b"hello", b"v=0\r\nbogus\r\n", b"\xff\xfe", b"v=0\r\n"])
def test_garbage_is_400(body: bytes) -> None:
    with pytest.raises(SdpError) as err:
        parse_sdp(body)
    assert err.value.status_hint == 400


def test_our_offer_and_their_answer() -> None:
    offer = parse_sdp(build_offer(host="198.51.100.1", port=20002, session_id=3))
    assert offer.media[0].formats == ("0", "8", "101")
    answer = (
        b"v=0\r\no=bob 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n"
        b"m=audio 30000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=recvonly\r\n"
    )
    neg = negotiate_answer(parse_sdp(answer))
    assert (neg.codec, neg.dtmf_payload_type, neg.direction) == ("PCMA", 101, "sendonly")
