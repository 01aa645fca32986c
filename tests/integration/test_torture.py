"""No input stops the switch (docs/BEHAVIOUR.md#failure-table).

Every RFC 4475 torture message, valid or not, goes to a running switch over UDP
and over TCP, with a phone registered beforehand; malformed requests must get a
400-class answer naming the problem or nothing at all, and afterwards the switch
still answers and the registered phone still takes a call. Oversized and endless
input on TCP is cut off.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from harness import PASSWORDS, SwitchProcess, options_ping, start_phone
from test_sipp_core import caller, finish, only_sdp_invite

pytestmark = [pytest.mark.integration, pytest.mark.sipp]

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc4475"
ALL = sorted(VECTORS.glob("*/*.sip"))


def _answers_udp(switch: SwitchProcess, data: bytes) -> list[bytes]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((switch.host, 0))
        sock.settimeout(0.3)
        sock.sendto(data, (switch.host, switch.port))
        out = []
        try:
            while True:
                out.append(sock.recv(65535))
        except TimeoutError:
            return out


def test_torture_messages_over_udp_and_tcp(switch: SwitchProcess, sipp_dir: Path) -> None:
    assert ALL, "the RFC 4475 vectors are missing"
    phone = start_phone(switch, sipp_dir, "202", PASSWORDS["202"], timeout=60)
    for path in ALL:
        data = path.read_bytes()
        for answer in _answers_udp(switch, data):
            first = answer.split(b"\r\n", 1)[0]
            assert first.startswith(b"SIP/2.0 "), (path.name, first)
            if path.parent.name == "invalid":
                # a malformed request is refused (400 naming the problem, 505 for the
                # version) or, for a response or without a usable Via, dropped
                assert int(first.split()[1]) in (400, 505), (path.name, first)
        with socket.create_connection((switch.host, switch.port), timeout=2) as tcp:
            tcp.sendall(data)
            time.sleep(0.05)
        assert switch.proc is not None and switch.proc.poll() is None, f"died on {path.name}"
    assert options_ping(switch.host, switch.port, timeout=2.0) is not None
    call = caller(switch, sipp_dir, "uac_call.xml", "202")
    call.assert_ok("a call after the torture messages")
    only_sdp_invite(finish(phone, "the phone registered before the torture"))


def _with_rport(data: bytes) -> bytes:
    """Ask for the answer back at our socket (RFC 3581): the vectors' Vias name hosts of
    example.com, and responses follow the top Via (RFC 3261 §18.2.2)."""
    lines = data.split(b"\r\n")
    for i, line in enumerate(lines):
        name = line.split(b":", 1)[0].strip().lower()
        if name in (b"via", b"v"):
            head, comma, rest = line.partition(b",")
            lines[i] = head.rstrip() + b";rport" + comma + rest
            break
    return b"\r\n".join(lines)


def test_invalid_requests_get_400_naming_the_problem(switch: SwitchProcess) -> None:
    answered = 0
    for path in sorted((VECTORS / "invalid").glob("*.sip")):
        for answer in _answers_udp(switch, _with_rport(path.read_bytes())):
            status_line = answer.split(b"\r\n", 1)[0].decode()
            version, code, reason = status_line.split(" ", 2)
            assert version == "SIP/2.0" and code in ("400", "505"), (path.name, status_line)
            assert reason not in ("", "Bad Request"), f"{path.name}: reason names nothing"
            answered += 1
    assert answered >= 10


@pytest.mark.parametrize(
    ("name", "code"),
    [("badinv01", "400"), ("badvers", "505"), ("baddn", "400")],
)
def test_rfc_bytes_with_aligned_values_are_answered(
    switch: SwitchProcess, name: str, code: str
) -> None:
    """The RFC's own bytes put several spaces after the colon (and print §3.1.2.15
    without its empty line): each is still answered, with the status RFC 4475 names."""
    data = _with_rport((VECTORS / "invalid" / f"{name}.sip").read_bytes())
    answers = _answers_udp(switch, data)
    assert [a.split(b"\r\n", 1)[0].split(b" ")[1].decode() for a in answers] == [code]


def test_tcp_oversized_and_endless_input_is_cut_off(switch: SwitchProcess) -> None:
    endless = b"INVITE sip:202@acme.test SIP/2.0\r\nX-Filler: " + b"a" * 100_000
    with socket.create_connection((switch.host, switch.port), timeout=5) as tcp:
        # a header section far beyond any limit, with no CRLFCRLF: the switch must hang
        # up on it. A timeout here (socket.timeout) means it kept buffering: failure.
        try:
            tcp.sendall(endless)
            closed = tcp.recv(10) == b""
        except (ConnectionResetError, BrokenPipeError):
            closed = True
        assert closed, "the switch kept the connection open for an endless header"
    huge_body = (b"OPTIONS sip:acme.test SIP/2.0\r\n"
                 b"Via: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKx\r\n"
                 b"From: <sip:a@acme.test>;tag=1\r\nTo: <sip:acme.test>\r\nCall-ID: big\r\n"
                 b"CSeq: 1 OPTIONS\r\nContent-Length: 99999999\r\n\r\n")
    with socket.create_connection((switch.host, switch.port), timeout=5) as tcp:
        tcp.sendall(huge_body)
        tcp.settimeout(5)
        # a body larger than any message we accept: the connection is closed at once
        assert tcp.recv(100) == b""
    assert options_ping(switch.host, switch.port, timeout=2.0) is not None
