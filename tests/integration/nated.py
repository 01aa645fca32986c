"""Phones behind NAT for the end-to-end tests: raw SIP phones whose SDP names an address
they are not at (127.0.0.77, .78, where nothing listens) while they really send and receive
RTP on 127.0.0.1, as a NATed phone looks from the switch."""

from __future__ import annotations

import socket
import struct
import time

import numpy as np
from harness import PASSWORDS, SwitchProcess
from rawsip import RawPhone

from sipstack.message import Request, Response, make_response
from sipstack.serialize import serialize
from switch.media.g711 import PCMU
from switch.media.prompts import tone
from switch.media.sdp import parse_sdp

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


def answer_with_sdp(
    phone: RawPhone, request: Request, sdp: bytes, to_tag: str | None = None
) -> None:
    """`phone` answers `request` 200 with `sdp`, its Contact where it is."""
    ok = make_response(request, 200, to_tag=to_tag)
    ok.add("contact", f"<sip:{phone.user}@{phone.local_host}:{phone.port}>")
    ok.add("content-type", "application/sdp")
    ok.body = sdp
    phone.sock.sendto(serialize(ok), phone.target)


def dominant_frequency(payloads: list[bytes]) -> float:
    if not payloads:
        return 0.0
    pcm = np.frombuffer(PCMU.decode(b"".join(payloads)), dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    return float(np.argmax(spectrum) * RATE / len(pcm))


class RtpPhone:
    """A phone's RTP socket on 127.0.0.1 that sends one tone to where its SDP says."""

    def __init__(self, frequency: float, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.setblocking(False)
        self.audio = PCMU.encode(tone(frequency, 1.0))
        self.seq = 0
        self.heard: list[bytes] = []

    def send_frame(self, to: tuple[str, int]) -> None:
        start = (self.seq * FRAME) % (len(self.audio) - FRAME)
        header = struct.pack("!BBHII", 0x80, 0, self.seq & 0xFFFF, self.seq * FRAME, 0x5EED)
        try:
            self.sock.sendto(header + self.audio[start : start + FRAME], to)
        except OSError:
            pass  # no route there (a private address seen from outside): heard by nobody
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


def talk_alone(phone: RtpPhone, to: tuple[str, int], seconds: float) -> None:
    """One phone's side of a conversation: 20 ms frames to `to`, listening between."""
    for _ in range(int(seconds / 0.02)):
        phone.send_frame(to)
        time.sleep(0.02)
        phone.listen()
    time.sleep(0.1)
    phone.listen()


def next_of(phone: RawPhone, want: str | int, within: float = 3.0) -> Request | Response:
    def wanted(m: Request | Response) -> bool:
        if isinstance(want, str):
            return isinstance(m, Request) and m.method == want
        return isinstance(m, Response) and m.status == want

    message = phone.next_message(within, wanted)
    assert message is not None, f"no {want} reached {phone.user}"
    return message


class NatedCall:
    """201 (SDP says 127.0.0.77) dials `dialled` (202 by default); each phone of `declining`
    gets the INVITE and answers 486 in turn; then `callee` (202, registered, by default;
    a trunk's socket, say) answers with SDP saying 127.0.0.78; 201 ACKs."""

    def __init__(
        self,
        switch: SwitchProcess,
        dialled: str = "202",
        callee: RawPhone | None = None,
        declining: tuple[RawPhone, ...] = (),
    ) -> None:
        self.caller = RawPhone(switch.host, switch.port, "201", DOMAIN)
        self.callee = callee or RawPhone(switch.host, switch.port, "202", DOMAIN)
        self.caller_rtp, self.callee_rtp = RtpPhone(440.0), RtpPhone(1000.0)
        if callee is None:
            registered = self.callee.register(PASSWORDS["202"])
            assert registered is not None and registered.status == 200
        to = f"<sip:{dialled}@{DOMAIN}>"
        sdp = ["Content-Type: application/sdp"]
        offer = nated_sdp("127.0.0.77", 40000)
        ringing = self.caller.authenticated(
            "INVITE", f"sip:{dialled}@{DOMAIN}", PASSWORDS["201"], sdp, to=to, body=offer
        )
        assert ringing is None, ringing
        self.declined: list[Request] = []
        for phone in declining:
            offered = next_of(phone, "INVITE")
            assert isinstance(offered, Request)
            self.declined.append(offered)
            busy = make_response(offered, 486, to_tag=f"busy{phone.port}")
            phone.sock.sendto(serialize(busy), phone.target)
        invite = next_of(self.callee, "INVITE")
        assert isinstance(invite, Request)
        self.invite = invite
        self.callee_offer = invite.body
        answer_with_sdp(self.callee, invite, nated_sdp("127.0.0.78", 40002), "t202")
        answer = next_of(self.caller, 200)
        assert isinstance(answer, Response)
        self.answer = answer
        self.caller.cseq = answer.cseq.seq - 1
        uri = str(answer.contacts[0].uri)
        ack = self.caller.request("ACK", uri, to=answer.get("to"))
        self.caller.sock.sendto(ack, self.caller.target)
        next_of(self.callee, "ACK")

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
        request = next_of(self.callee, "BYE")
        assert isinstance(request, Request)
        self.callee.sock.sendto(serialize(make_response(request, 200)), self.callee.target)
        return request

    def close(self) -> None:
        for closing in (self.caller, self.callee, self.caller_rtp, self.callee_rtp):
            closing.close()


def keep_sending(phone: RtpPhone, to: tuple[str, int], seconds: float) -> None:
    for _ in range(int(seconds / 0.02)):
        phone.send_frame(to)
        time.sleep(0.02)


def bye_answered(phone: RawPhone, within: float) -> Request | None:
    bye = phone.next_message(within, lambda m: isinstance(m, Request) and m.method == "BYE")
    if isinstance(bye, Request):
        phone.sock.sendto(serialize(make_response(bye, 200)), phone.target)
        return bye
    return None
