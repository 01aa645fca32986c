"""Media anchoring end to end (docs/BEHAVIOUR.md, "Media anchoring"): two phones whose SDP
names an address they are not at (127.0.0.77 and .78, where nothing listens) call each
other through the switch; with the relay each hears the other's tone, without it neither
does. The phones really send and receive RTP on 127.0.0.1, as phones behind NAT routers
do from the relay's point of view.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from harness import PASSWORDS, SwitchProcess, customer, extension, start_switch
from rawsip import RawPhone

from sipstack.message import Request, Response, make_response
from sipstack.serialize import serialize
from switch.media.g711 import PCMU
from switch.media.prompts import tone
from switch.media.sdp import parse_sdp
from tests.support.rtpengine_daemon import rtpengine_daemon

pytestmark = pytest.mark.integration

DOMAIN = "acme.test"
RATE = 8000
FRAME = 160  # 20 ms of PCMU


def nated_sdp(private: str, port: int) -> bytes:
    """The SDP of a phone behind NAT: its private address, a port nothing listens on."""
    return (
        f"v=0\r\no=- 1 1 IN IP4 {private}\r\ns=-\r\nc=IN IP4 {private}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
    ).encode()


def media_address(body: bytes) -> tuple[str, int]:
    session = parse_sdp(body)
    audio = session.media[0]
    assert audio.connection is not None
    return audio.connection, audio.port


def dominant_frequency(payloads: list[bytes]) -> float:
    pcm = np.frombuffer(PCMU.decode(b"".join(payloads)), dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    return float(np.argmax(spectrum) * RATE / len(pcm))


class RtpPhone:
    """A phone's RTP socket on 127.0.0.1 that sends one tone to where its SDP says."""

    def __init__(self, frequency: float) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.audio = PCMU.encode(tone(frequency, 1.0))
        self.seq = 0
        self.heard: list[bytes] = []

    def send_frame(self, to: tuple[str, int]) -> None:
        start = (self.seq * FRAME) % (len(self.audio) - FRAME)
        header = struct.pack("!BBHII", 0x80, 0, self.seq & 0xFFFF, self.seq * FRAME, 0x5EED)
        self.sock.sendto(header + self.audio[start : start + FRAME], to)
        self.seq += 1

    def listen(self) -> None:
        while True:
            try:
                data = self.sock.recv(2048)
            except BlockingIOError:
                return
            if len(data) > 12:
                self.heard.append(data[12:])

    def close(self) -> None:
        self.sock.close()


def talk(a: RtpPhone, to_a: tuple[str, int], b: RtpPhone, to_b: tuple[str, int]) -> None:
    """One second of 20 ms frames both ways."""
    for _ in range(50):
        a.send_frame(to_a)
        b.send_frame(to_b)
        time.sleep(0.02)
        a.listen()
        b.listen()
    time.sleep(0.1)
    a.listen()
    b.listen()


def _next(phone: RawPhone, want: str | int, within: float = 3.0) -> Request | Response:
    def wanted(m: Request | Response) -> bool:
        if isinstance(want, str):
            return isinstance(m, Request) and m.method == want
        return isinstance(m, Response) and m.status == want

    message = phone.next_message(within, wanted)
    assert message is not None, f"no {want} reached {phone.user}"
    return message


class NatedCall:
    """201 (SDP says 127.0.0.77) calls 202 (SDP says 127.0.0.78); 202 answers; 201 ACKs."""

    def __init__(self, switch: SwitchProcess) -> None:
        self.caller = RawPhone(switch.host, switch.port, "201", DOMAIN)
        self.callee = RawPhone(switch.host, switch.port, "202", DOMAIN)
        self.caller_rtp, self.callee_rtp = RtpPhone(440.0), RtpPhone(1000.0)
        registered = self.callee.register(PASSWORDS["202"])
        assert registered is not None and registered.status == 200
        to = f"<sip:202@{DOMAIN}>"
        sdp = ["Content-Type: application/sdp"]
        offer = nated_sdp("127.0.0.77", 40000)
        ringing = self.caller.authenticated(
            "INVITE", f"sip:202@{DOMAIN}", PASSWORDS["201"], sdp, to=to, body=offer
        )
        assert ringing is None, ringing
        invite = _next(self.callee, "INVITE")
        assert isinstance(invite, Request)
        self.invite = invite
        self.callee_offer = invite.body
        ok = make_response(invite, 200, to_tag="t202")
        ok.add("contact", f"<sip:202@127.0.0.1:{self.callee.port}>")
        ok.add("content-type", "application/sdp")
        ok.body = nated_sdp("127.0.0.78", 40002)
        self.callee.sock.sendto(serialize(ok), self.callee.target)
        answer = _next(self.caller, 200)
        assert isinstance(answer, Response)
        self.answer = answer
        self.caller.cseq = answer.cseq.seq - 1
        uri = str(answer.contacts[0].uri)
        ack = self.caller.request("ACK", uri, to=answer.get("to"))
        self.caller.sock.sendto(ack, self.caller.target)
        _next(self.callee, "ACK")

    def from_callee(self, method: str, cseq: int, sdp: bytes) -> Request:
        """A request from 202 inside the dialog the switch's INVITE made."""
        port = self.callee.port
        headers = [
            ("via", f"SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{method}{cseq}t202;rport"),
            ("from", f"{self.invite.get('to')};tag=t202"),
            ("to", self.invite.get("from") or ""),
            ("call-id", self.invite.call_id),
            ("cseq", f"{cseq} {method}"),
            ("max-forwards", "70"),
            ("contact", f"<sip:202@127.0.0.1:{port}>"),
            ("content-type", "application/sdp"),
        ]
        return Request(method, self.invite.contacts[0].uri, headers, sdp)

    def hang_up(self) -> Request:
        uri = str(self.answer.contacts[0].uri)
        bye = self.caller.request("BYE", uri, to=self.answer.get("to"))
        self.caller.sock.sendto(bye, self.caller.target)
        request = _next(self.callee, "BYE")
        assert isinstance(request, Request)
        self.callee.sock.sendto(serialize(make_response(request, 200)), self.callee.target)
        return request

    def close(self) -> None:
        for closing in (self.caller, self.callee, self.caller_rtp, self.callee_rtp):
            closing.close()


@pytest.fixture
def relayed(tmp_path: Path) -> Iterator[SwitchProcess]:
    switch = start_switch(tmp_path / "switch")  # the default: server.media.relay: embedded
    try:
        yield switch
    finally:
        switch.stop()


def test_nated_phones_hear_each_others_tone_through_the_relay(relayed: SwitchProcess) -> None:
    call = NatedCall(relayed)
    try:
        to_callee = media_address(call.callee_offer)  # where the callee is told to send
        to_caller = media_address(call.answer.body)  # where the caller is told to send
        # each is told the switch's address and a port of its own, never the other's SDP
        assert to_callee[0] == relayed.host and to_caller[0] == relayed.host
        assert to_callee[1] != to_caller[1]
        for told in (call.callee_offer, call.answer.body):
            assert b"127.0.0.77" not in told and b"127.0.0.78" not in told
            assert b"a=rtpmap:101 telephone-event/8000" in told  # codecs untouched
        talk(call.caller_rtp, to_caller, call.callee_rtp, to_callee)
        assert len(call.callee_rtp.heard) >= 40 and len(call.caller_rtp.heard) >= 40
        assert abs(dominant_frequency(call.callee_rtp.heard) - 440.0) < 20
        assert abs(dominant_frequency(call.caller_rtp.heard) - 1000.0) < 20
        call.hang_up()
        time.sleep(0.2)
        closed = [e for e in relayed.events() if e.get("event") == "relay.closed"]
        assert [e["call_id"] for e in closed] == [call.caller.call_id]
    finally:
        call.close()


def test_reinvite_to_a_new_address_moves_the_media(relayed: SwitchProcess) -> None:
    # The callee moves its media to another socket (a re-INVITE): the relay forgets the
    # old latch, the caller's audio follows, and the caller is told the same relay port.
    call = NatedCall(relayed)
    moved = RtpPhone(1000.0)
    try:
        to_callee = media_address(call.callee_offer)
        to_caller = media_address(call.answer.body)
        talk(call.caller_rtp, to_caller, call.callee_rtp, to_callee)
        assert call.callee_rtp.heard
        reinvite = call.from_callee("INVITE", 2, nated_sdp("127.0.0.79", 40010))
        call.callee.sock.sendto(serialize(reinvite), call.callee.target)
        relayed_offer = _next(call.caller, "INVITE")
        assert isinstance(relayed_offer, Request)
        assert media_address(relayed_offer.body) == to_caller  # the same relay port
        ok = make_response(relayed_offer, 200)
        ok.add("contact", f"<sip:201@127.0.0.1:{call.caller.port}>")
        ok.add("content-type", "application/sdp")
        ok.body = nated_sdp("127.0.0.77", 40000)
        call.caller.sock.sendto(serialize(ok), call.caller.target)
        answered = _next(call.callee, 200)
        assert isinstance(answered, Response)
        assert media_address(answered.body) == to_callee
        call.callee_rtp.heard.clear()
        talk(call.caller_rtp, to_caller, moved, to_callee)
        assert abs(dominant_frequency(moved.heard) - 440.0) < 20
        assert not call.callee_rtp.heard, "media still goes to the old address"
    finally:
        moved.close()
        call.close()


def test_without_the_relay_the_nated_callee_hears_nothing(tmp_path: Path) -> None:
    # relay: off is part 1's behaviour: the caller's private address reaches the callee,
    # whose audio goes nowhere (what the relay is for)
    switch = start_switch(tmp_path / "switch", server_extra={"media": {"relay": "off"}})
    call = NatedCall(switch)
    try:
        assert media_address(call.callee_offer) == ("127.0.0.77", 40000)
        assert media_address(call.answer.body) == ("127.0.0.78", 40002)
    finally:
        call.close()
        switch.stop()


def test_nated_phones_hear_each_others_tone_through_rtpengine(tmp_path: Path) -> None:
    # server.media.relay: rtpengine: the same call, the media through a real rtpengine
    with rtpengine_daemon(tmp_path / "rtpengine") as daemon:
        media = {"relay": "rtpengine", "rtpengine": daemon.ng_address}
        switch = start_switch(tmp_path / "switch", server_extra={"media": media})
        call = NatedCall(switch)
        try:
            to_callee = media_address(call.callee_offer)
            to_caller = media_address(call.answer.body)
            for host, port in (to_callee, to_caller):
                assert host == "127.0.0.1" and daemon.port_min <= port <= daemon.port_max
            for told in (call.callee_offer, call.answer.body):
                assert b"127.0.0.77" not in told and b"127.0.0.78" not in told
                assert b"telephone-event/8000" in told
            talk(call.caller_rtp, to_caller, call.callee_rtp, to_callee)
            assert abs(dominant_frequency(call.callee_rtp.heard) - 440.0) < 20
            assert abs(dominant_frequency(call.caller_rtp.heard) - 1000.0) < 20
            call.hang_up()
        finally:
            call.close()
            switch.stop()


def test_silent_rtpengine_fails_relayed_calls_with_503_and_voicemail_still_answers(
    tmp_path: Path,
) -> None:
    box = extension("201", PASSWORDS["201"], voicemail=True)
    callee = extension("202", PASSWORDS["202"])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # bound, never answers: rtpengine is down
        media = {"relay": "rtpengine", "rtpengine": f"udp:127.0.0.1:{silent.getsockname()[1]}"}
        switch = start_switch(
            tmp_path / "switch",
            server_extra={"media": media},
            features={"voicemail": "#45"},
            customers=[customer("acme", DOMAIN, [box, callee])],
        )
        caller = RawPhone(switch.host, switch.port, "201", DOMAIN)
        phone = RawPhone(switch.host, switch.port, "202", DOMAIN)
        try:
            registered = phone.register(PASSWORDS["202"])
            assert registered is not None and registered.status == 200
            sdp = ["Content-Type: application/sdp"]
            offer = nated_sdp("127.0.0.77", 40000)
            refused = caller.authenticated(
                "INVITE", f"sip:202@{DOMAIN}", PASSWORDS["201"], sdp,
                to=f"<sip:202@{DOMAIN}>", body=offer,
            )  # fmt: skip
            assert refused is not None and refused.status == 503, refused
            caller.ack(refused)
            assert phone.next_message(0.3, lambda m: isinstance(m, Request)) is None
            assert any(e.get("event") == "rtpengine.failed" for e in switch.events())
            caller.call_id += "-2"
            answered = caller.authenticated(
                "INVITE", f"sip:#45@{DOMAIN}", PASSWORDS["201"], sdp,
                to=f"<sip:#45@{DOMAIN}>", body=offer,
            )  # fmt: skip
            assert answered is not None and answered.status == 200, answered
        finally:
            caller.close()
            phone.close()
            switch.stop()


def keep_sending(phone: RtpPhone, to: tuple[str, int], seconds: float) -> None:
    for _ in range(int(seconds / 0.02)):
        phone.send_frame(to)
        time.sleep(0.02)


def _bye_answered(phone: RawPhone, within: float) -> Request | None:
    bye = phone.next_message(within, lambda m: isinstance(m, Request) and m.method == "BYE")
    if isinstance(bye, Request):
        phone.sock.sendto(serialize(make_response(bye, 200)), phone.target)
        return bye
    return None


@pytest.mark.parametrize("relay", ["embedded", "rtpengine"])
def test_a_party_whose_media_stops_ends_the_call_for_both(tmp_path: Path, relay: str) -> None:
    # The callee's phone dies after a second of talk (no BYE: it lost power); the caller
    # keeps talking. After server.media.timeout_seconds both get BYE, and 202 is free.
    with contextlib.ExitStack() as stack:
        media: dict[str, object] = {"relay": relay, "timeout_seconds": 2}
        if relay == "rtpengine":
            daemon = stack.enter_context(rtpengine_daemon(tmp_path / "rtpengine"))
            media["rtpengine"] = daemon.ng_address
        switch = start_switch(tmp_path / "switch", server_extra={"media": media})
        stack.callback(switch.stop)
        call = NatedCall(switch)
        stack.callback(call.close)
        to_callee = media_address(call.callee_offer)
        to_caller = media_address(call.answer.body)
        talk(call.caller_rtp, to_caller, call.callee_rtp, to_callee)
        keep_sending(call.caller_rtp, to_caller, 4.0)
        assert _bye_answered(call.callee, 1.0) is not None, "the dead phone got no BYE"
        assert _bye_answered(call.caller, 1.0) is not None, "the caller got no BYE"
        [timeout] = [e for e in switch.events() if e.get("event") == "call.media_timeout"]
        assert timeout["silent"] == "callee" and timeout["extension"] == "202@acme"
        assert timeout["call_id"] == call.caller.call_id
        idle = [
            e
            for e in switch.events()
            if e.get("event") == "extension.state" and e.get("extension") == "202"
        ]
        assert idle[-1]["state"] == "idle"


def test_a_call_on_hold_is_not_ended_for_its_silence(tmp_path: Path) -> None:
    media = {"timeout_seconds": 1}
    switch = start_switch(tmp_path / "switch", server_extra={"media": media})
    call = NatedCall(switch)
    try:
        held = nated_sdp("127.0.0.77", 40000).replace(b"a=ptime:20", b"a=ptime:20\r\na=sendonly")
        uri = str(call.answer.contacts[0].uri)
        reinvite = call.caller.request(
            "INVITE", uri, ["Content-Type: application/sdp"], held, to=call.answer.get("to")
        )
        call.caller.sock.sendto(reinvite, call.caller.target)
        offered = _next(call.callee, "INVITE")
        assert isinstance(offered, Request) and b"a=sendonly" in offered.body
        ok = make_response(offered, 200)
        ok.add("contact", f"<sip:202@127.0.0.1:{call.callee.port}>")
        ok.add("content-type", "application/sdp")
        ok.body = nated_sdp("127.0.0.78", 40002).replace(b"a=ptime:20", b"a=ptime:20\r\na=recvonly")
        call.callee.sock.sendto(serialize(ok), call.callee.target)
        answered = _next(call.caller, 200)
        assert isinstance(answered, Response) and b"a=recvonly" in answered.body
        call.caller.cseq -= 1  # the ACK has its re-INVITE's CSeq number (RFC 3261 §13.2.2.4)
        ack = call.caller.request("ACK", uri, to=call.answer.get("to"))
        call.caller.sock.sendto(ack, call.caller.target)
        # three timeouts of silence on hold: nobody is hung up
        assert _bye_answered(call.callee, 3.0) is None
        assert not [e for e in switch.events() if e.get("event") == "call.media_timeout"]
    finally:
        call.close()
        switch.stop()
