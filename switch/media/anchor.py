"""Media anchoring in SDP: what the relay tells each party, and what it learns from each.

With a relay, every SDP the switch sends to a party names the relay's address and the port
that party must send to, never the other party's own address (which may be a private one
behind a NAT router). The rest of the description passes through untouched: codecs,
`telephone-event`, `ptime`, the direction of a hold. What is rewritten, line by line:

- `o=`: the switch's own origin towards each party, one session id per party and a version
  that goes up whenever what that party is told changes (RFC 3264 §8: "the version in the
  origin field MUST increment by one ... if the session description is different"), even
  when the other party behind the relay was replaced;
- `c=`: the relay's address; `c=IN IP4 0.0.0.0` (the RFC 2543 hold) stays as it is, so the
  other party still knows it is on hold;
- the first `m=audio` line: the relay's port (port 0, a refused stream, stays 0); every
  other stream is refused with port 0, because the relay carries one audio stream;
- `a=rtcp:` is dropped (RTCP goes to the port above, RFC 3550 §11), and ICE attributes are
  dropped (their candidates name the party's own addresses, which the relay replaces).

`AnchoredCall` is the pure half of one relayed call: given a party's SDP it returns the SDP
for the other party and updates the `RelayedStream`s that forward the packets.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Final

import msgspec

from .relay import Address, RelayedStream, Side
from .sdp import SdpError, parse_sdp

_ICE: Final = frozenset(
    {
        "candidate",
        "ice-ufrag",
        "ice-pwd",
        "ice-options",
        "ice-lite",
        "ice-mismatch",
        "remote-candidates",
        "end-of-candidates",
    }
)
_DIRECTIONS: Final = frozenset({"sendrecv", "sendonly", "recvonly", "inactive"})
_UNSPECIFIED: Final = frozenset({"0.0.0.0", "::"})


class Described(msgspec.Struct, frozen=True):
    """What one party's SDP says of its audio stream."""

    address: Address | None  # where it receives RTP; None: on hold (c=0.0.0.0) or port 0
    direction: str  # sendrecv, sendonly, recvonly or inactive (RFC 3264 §5.1)

    @property
    def holding(self) -> bool:
        """The party does not expect to send and receive media now (a hold, RFC 3264 §8.4)."""
        return self.address is None or self.direction != "sendrecv"


def describe(sdp: bytes) -> Described:
    """The party's audio address and direction. Raises SdpError (488) when there is none."""
    session = parse_sdp(sdp)
    for media in session.media:
        if media.media != "audio":
            continue
        host = media.connection
        if media.port == 0 or host is None or host in _UNSPECIFIED:
            return Described(None, media.direction)
        return Described((host, media.port), media.direction)
    raise SdpError("no audio stream in the SDP for the relay to carry")


def rewrite(sdp: bytes, host: str, port: int, origin: tuple[int, int]) -> bytes:
    """`sdp` as the relay presents it: `host`/`port` for the first audio stream, the
    switch's origin (session id, version); see the module docstring for every rule."""
    text = sdp.decode("utf-8")  # parse_sdp already refused what is not UTF-8
    addr_type = "IP6" if ipaddress.ip_address(host.strip("[]")).version == 6 else "IP4"
    out: list[str] = []
    section = "session"  # "session", "relayed" (the audio stream), or "refused"
    relayed_seen = False
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        kind, value = line[0], line[2:].strip()
        if kind == "o":
            out.append(f"o=- {origin[0]} {origin[1]} IN {addr_type} {host}")
        elif kind == "m":
            parts = value.split()
            if parts[0] == "audio" and not relayed_seen:
                relayed_seen = True
                section = "relayed"
                if parts[1] != "0":
                    parts[1] = str(port)
            else:
                section = "refused"
                parts[1] = "0"
            out.append("m=" + " ".join(parts))
        elif kind == "c":
            held = value.split()[-1] in _UNSPECIFIED and section != "refused"
            out.append(line if held else f"c=IN {addr_type} {host}")
        elif kind == "a" and _dropped(value):
            continue
        else:
            out.append(line)
    return ("\r\n".join(out) + "\r\n").encode()


def _dropped(attribute: str) -> bool:
    name = attribute.partition(":")[0]
    return name == "rtcp" or name in _ICE


def check_interval(timeout: float) -> float:
    """How often a relay looks for silent parties: a quarter of the timeout (a silent
    party is found at most 25% late), between 0.25 s and 5 s."""
    return min(max(timeout / 4, 0.25), 5.0)


class MediaWatch:
    """What the media timeout knows of one call: each party's last description and when
    the last SDP came (media may pause around a renegotiation)."""

    __slots__ = ("_described", "described_at")

    def __init__(self) -> None:
        self._described: dict[Side, Described] = {}
        self.described_at = 0.0

    def described(self, side: Side, description: Described, now: float) -> None:
        self._described[side] = description
        self.described_at = now

    def holding(self) -> bool:
        """Is either party on hold (so silence from it is expected)?"""
        return any(d.holding for d in self._described.values())

    def silent_side(
        self, now: float, timeout: float, last_packet: Callable[[Side], float | None]
    ) -> Side | None:
        """The party whose RTP has not come for `timeout` seconds (counted from its last
        packet, or from the last SDP of either party), while both have described their
        media and neither is on hold; None when both are heard."""
        if len(self._described) < 2 or self.holding():
            return None
        for side in Side:
            heard = max(last_packet(side) or 0.0, self.described_at)
            if now - heard >= timeout:
                return side
        return None


class _Origin:
    __slots__ = ("session_id", "version", "last")

    def __init__(self, session_id: int) -> None:
        self.session_id = session_id
        self.version = 0
        self.last: bytes | None = None


class AnchoredCall:
    """One relayed call's SDP side: each party's relay port and what each was told.

    `ports[side]` is the relay's RTP port that `side` sends to (RTCP on the one above).
    """

    def __init__(self, host: str, ports: dict[Side, int], session_id: int) -> None:
        self.host = host
        self.ports = ports
        self.streams = (RelayedStream(), RelayedStream())  # RTP, RTCP
        self._origins = {Side.CALLER: _Origin(session_id), Side.CALLEE: _Origin(session_id + 1)}
        self.watch = MediaWatch()

    @property
    def rtp_stream(self) -> RelayedStream:
        return self.streams[0]

    @property
    def rtcp_stream(self) -> RelayedStream:
        return self.streams[1]

    def described(self, side: Side, sdp: bytes, signalling_ip: str, now: float = 0.0) -> bytes:
        """`side` sent `sdp` (an offer or an answer) at `now`: the SDP to send the other
        party.

        The party may have moved (a re-INVITE, a new fork answering): its latch is
        released and media for it goes to its SDP's address until its packets come."""
        description = describe(sdp)
        self.watch.described(side, description, now)
        rtp = description.address
        rtcp = (rtp[0], rtp[1] + 1) if rtp is not None else None
        self.rtp_stream.described(side, rtp, signalling_ip)
        self.rtcp_stream.described(side, rtcp, signalling_ip)
        towards = side.other
        origin = self._origins[towards]
        body = rewrite(sdp, self.host, self.ports[towards], (origin.session_id, origin.version))
        if origin.last is not None and body != origin.last:
            origin.version += 1
            body = rewrite(sdp, self.host, self.ports[towards], (origin.session_id, origin.version))
        origin.last = body
        return body

    def holding(self) -> bool:
        return self.watch.holding()

    def silent_side(self, now: float, timeout: float) -> Side | None:
        """`MediaWatch.silent_side`, heard by this relay's RTP stream."""
        return self.watch.silent_side(now, timeout, self.rtp_stream.silent_since)
