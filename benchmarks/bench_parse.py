"""Parse and serialize throughput on realistic messages (after h11's bench and pjsip's
msg_benchmark). Run: .venv/bin/python benchmarks/bench_parse.py [seconds-per-case]

Prints messages/s for parse_message and serialize on an INVITE with SDP, its 200 OK
and a REGISTER, plus parse followed by the accessors a B2BUA touches on every message.
"""

from __future__ import annotations

import sys
import timeit

from sipstack.framing import StreamFramer
from sipstack.message import Message
from sipstack.parse import parse_message
from sipstack.serialize import serialize

SDP = (
    b"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\n"
    b"c=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\na=sendrecv\r\n"
)


def _msg(lines: list[str], body: bytes = b"") -> bytes:
    head = "\r\n".join([*lines, f"Content-Length: {len(body)}"]) + "\r\n\r\n"
    return head.encode() + body


INVITE = _msg(
    [
        "INVITE sip:2001@pbx.example.com;transport=udp SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport",
        "Max-Forwards: 70",
        'From: "Alice Smith" <sip:1001@pbx.example.com>;tag=1928301774',
        "To: <sip:2001@pbx.example.com>",
        "Call-ID: a84b4c76e66710@pc33.example.com",
        "CSeq: 314159 INVITE",
        "Contact: <sip:1001@192.0.2.10:5060;transport=udp>",
        "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO",
        "Supported: replaces, timer",
        "User-Agent: Yealink SIP-T46S 66.86.0.15",
        "Content-Type: application/sdp",
    ],
    SDP,
)

OK = _msg(
    [
        "SIP/2.0 200 OK",
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.10",
        'From: "Alice Smith" <sip:1001@pbx.example.com>;tag=1928301774',
        "To: <sip:2001@pbx.example.com>;tag=a6c85cf",
        "Call-ID: a84b4c76e66710@pc33.example.com",
        "CSeq: 314159 INVITE",
        "Contact: <sip:2001@192.0.2.20:5060>",
        "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE",
        "Content-Type: application/sdp",
    ],
    SDP,
)

REGISTER = _msg(
    [
        "REGISTER sip:pbx.example.com SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKnashds7;rport",
        "Max-Forwards: 70",
        "From: <sip:1001@pbx.example.com>;tag=456248",
        "To: <sip:1001@pbx.example.com>",
        "Call-ID: 843817637684230@998sdasdh09",
        "CSeq: 1826 REGISTER",
        "Contact: <sip:1001@192.0.2.10:5060>;expires=3600;+sip.instance="
        '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"',
        "Expires: 3600",
        'Authorization: Digest username="1001", realm="pbx.example.com", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:pbx.example.com", '
        'response="e6f99bb11db4e1bef4e4e4d4f1e4a0c3", algorithm=MD5',
        "User-Agent: Yealink SIP-T46S 66.86.0.15",
    ]
)


def _touch(message: Message) -> object:
    return (
        message.top_via.branch,
        message.call_id,
        message.cseq,
        message.from_.tag,
        message.to.tag,
        message.contacts,
    )


def _rate(stmt: object, seconds: float) -> float:
    timer = timeit.Timer(stmt)  # type: ignore[arg-type]
    number, elapsed = timer.autorange()
    runs = max(1, int(number * seconds / max(elapsed, 1e-9)))
    best = min(timer.repeat(repeat=3, number=runs))
    return runs / best


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
    cases = {"INVITE": INVITE, "200 OK": OK, "REGISTER": REGISTER}
    print(f"{'case':<10} {'bytes':>6} {'parse/s':>10} {'parse+touch/s':>14} {'serialize/s':>12}")
    for name, data in cases.items():
        parsed = parse_message(data)
        parse_rate = _rate(lambda d=data: parse_message(d), seconds)
        touch_rate = _rate(lambda d=data: _touch(parse_message(d)), seconds)
        ser_rate = _rate(lambda m=parsed: serialize(m), seconds)
        print(
            f"{name:<10} {len(data):>6} {parse_rate:>10,.0f} {touch_rate:>14,.0f} "
            f"{ser_rate:>12,.0f}"
        )
    stream = (INVITE + OK + REGISTER) * 20

    def frame() -> None:
        StreamFramer().feed(stream)

    rate = _rate(frame, seconds) * 60
    print(f"StreamFramer: {rate:,.0f} messages/s (60 messages per feed)")


if __name__ == "__main__":
    main()
