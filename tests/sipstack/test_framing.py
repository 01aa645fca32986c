"""StreamFramer: Content-Length framing over streams (RFC 3261 §18.3), CRLF keep-alives
(RFC 5626 §3.5.1, §4.4.1), and bounded buffering."""

from __future__ import annotations

import pytest

from sipstack.errors import ParseError
from sipstack.framing import StreamFramer


def _message(
    body: bytes = b"", *, length: str | None = None, name: str = "Content-Length"
) -> bytes:
    value = str(len(body)) if length is None else length
    return (
        b"OPTIONS sip:bob@example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1\r\n"
        + f"{name}: {value}\r\n\r\n".encode()
        + body
    )


def test_splits_back_to_back_messages() -> None:
    a, b = _message(b"hello"), _message(b"")
    framer = StreamFramer()
    assert framer.feed(a + b + a[:10]) == [a, b]
    assert framer.buffered == 10
    assert framer.feed(a[10:]) == [a]
    assert framer.buffered == 0


def test_byte_at_a_time() -> None:
    stream = _message(b"x" * 50) + _message(b"\r\n\r\n", name="l")
    framer = StreamFramer()
    out: list[bytes] = []
    for i in range(len(stream)):
        out.extend(framer.feed(stream[i : i + 1]))
    assert b"".join(out) == stream and len(out) == 2


def test_body_containing_blank_lines_and_folded_length() -> None:
    body = b"\r\n\r\nv=0\r\n\r\n"
    folded = (
        b"INVITE sip:a@b SIP/2.0\r\nContent-Length:\r\n  "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    assert StreamFramer().feed(folded) == [folded]


def test_keepalive_ping_is_counted_and_pong_absorbed() -> None:
    framer = StreamFramer()
    m = _message()
    # RFC 5626 §4.4.1: CRLFCRLF is a ping (answer with CRLF); a lone CRLF is a pong
    assert framer.feed(b"\r\n\r\n") == []
    assert framer.pong_needed == 1
    assert framer.feed(b"\r\n" + m + b"\r\n\r\n\r\n") == [m]
    assert framer.pong_needed == 2
    assert framer.pongs_due() == 2 and framer.pong_needed == 0
    # a ping split across reads still counts once
    assert framer.feed(b"\r") == [] and framer.feed(b"\n\r") == [] and framer.feed(b"\n") == []
    assert framer.pongs_due() == 1
    assert framer.buffered == 0


def test_missing_content_length_is_a_framing_error() -> None:
    framer = StreamFramer()
    data = b"OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n"
    with pytest.raises(ParseError) as info:
        framer.feed(data)
    assert info.value.drop
    # the stream is dead from then on
    with pytest.raises(ParseError):
        framer.feed(_message())


@pytest.mark.parametrize("length", ["-1", "abc", "12345678901"])
def test_bad_content_length(length: str) -> None:
    with pytest.raises(ParseError) as info:
        StreamFramer().feed(_message(length=length))
    assert info.value.drop


def test_conflicting_content_length() -> None:
    data = _message(b"abc").replace(b"\r\n\r\n", b"\r\nl: 4\r\n\r\n", 1)
    with pytest.raises(ParseError):
        StreamFramer().feed(data)
    agreeing = _message(b"abc").replace(b"\r\n\r\n", b"\r\nl: 3\r\n\r\n", 1)
    assert StreamFramer().feed(agreeing) == [agreeing]


def test_header_section_limit() -> None:
    framer = StreamFramer(max_header=200)
    with pytest.raises(ParseError) as info:
        for _ in range(100):
            framer.feed(b"X-Junk: " + b"a" * 20 + b"\r\n")
    assert info.value.drop
    assert framer.buffered == 0  # nothing kept once broken
    whole = StreamFramer(max_header=100)
    with pytest.raises(ParseError):
        whole.feed(_message().replace(b"Via:", b"X-Pad: " + b"p" * 100 + b"\r\nVia:"))


def test_message_limit() -> None:
    framer = StreamFramer(max_message=1000)
    # rejected as soon as the head announces too much, before the body arrives
    with pytest.raises(ParseError) as info:
        framer.feed(_message(length="5000"))
    assert info.value.drop and info.value.status_hint == 513
    ok = _message(b"y" * 500)
    assert StreamFramer(max_message=1000).feed(ok) == [ok]
