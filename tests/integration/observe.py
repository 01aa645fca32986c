"""What the phones saw and what the switch logged: small readers shared by the group tests
(test_groups.py, test_pickup.py, test_customers.py), plus a raw-UDP RTP probe."""

from __future__ import annotations

import re
import socket
import struct
import time
from typing import Any

from harness import HOST, SippMessage, SippResult, SwitchProcess

REASON_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"'


def invites(messages: list[SippMessage]) -> list[SippMessage]:
    """INVITE requests a phone received."""
    return [
        m for m in messages if m.direction == "received" and m.is_request and m.method == "INVITE"
    ]


def cancels(messages: list[SippMessage]) -> list[SippMessage]:
    return [
        m for m in messages if m.direction == "received" and m.is_request and m.method == "CANCEL"
    ]


def reasons(message: SippMessage) -> list[str]:
    """Reason header values, with the blanks around ';' and '=' taken out."""
    return [re.sub(r"\s*([;=])\s*", r"\1", r) for r in message.headers("Reason")]


def sent_invite_time(result: SippResult) -> float:
    """When the caller sent its last (authenticated) INVITE."""
    sent = [m for m in result.sent("INVITE") if m.is_request]
    t = sent[-1].time
    assert t is not None
    return t


def events(switch: SwitchProcess, name: str) -> list[dict[str, Any]]:
    return [e for e in switch.events() if e.get("event") == name]


def wait_event(
    switch: SwitchProcess, name: str, timeout: float = 5.0, **match: Any
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in events(switch, name):
            if all(str(e.get(k)) == str(v) for k, v in match.items()):
                return e
        time.sleep(0.05)
    raise AssertionError(f"no {name} {match} in the switch log")


def mailboxes(switch: SwitchProcess) -> list[str]:
    """The mailboxes calls went to, in order (route log `call.coverage` to voicemail)."""
    out = []
    for e in events(switch, "call.coverage"):
        if e.get("decision") == "Voicemail":
            found = re.search(r"box='?(\d+)", str(e.get("target")))
            out.append(found[1] if found else str(e.get("target")))
    return out


def sdp_media(body: str) -> tuple[str, int]:
    """(connection address, audio port) of an SDP body."""
    host = re.search(r"^c=IN IP4 (\S+)", body, re.MULTILINE)
    port = re.search(r"^m=audio (\d+) ", body, re.MULTILINE)
    assert host and port, body
    return host[1], int(port[1])


class RtpProbe:
    """A UDP socket on a port of our own, advertised in a SIPp phone's SDP: it sends
    PCMU RTP packets to where the phone was told to send media and collects what arrives."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.settimeout(0.05)
        self.port = int(self.sock.getsockname()[1])
        self.ssrc = self.port * 7919 & 0xFFFFFFFF
        self.seq = 0

    def send(self, dest: tuple[str, int], count: int = 10) -> None:
        for _ in range(count):
            self.seq += 1
            header = struct.pack("!BBHII", 0x80, 0, self.seq, self.seq * 160, self.ssrc)
            self.sock.sendto(header + bytes([0xFF]) * 160, dest)
            time.sleep(0.002)

    def receive(self, timeout: float = 2.0, want: int = 1) -> list[tuple[int, int]]:
        """(ssrc, sequence number) of the RTP packets that arrived."""
        got: list[tuple[int, int]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(got) < want:
            try:
                data, _ = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            if len(data) >= 12 and data[0] >> 6 == 2:
                _, _, seq, _, ssrc = struct.unpack("!BBHII", data[:12])
                got.append((ssrc, seq))
        return got

    def close(self) -> None:
        self.sock.close()
