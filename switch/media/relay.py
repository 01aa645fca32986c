"""The embedded media relay's forwarding rules, without sockets.

A relayed call has two parties; the switch gives each one a port of its own (named in the
SDP the switch sends that party) and forwards what arrives on one party's port to the
other party. Where to send a party's media is learnt from where its packets come from,
not from its SDP, because a phone behind a NAT router names its private address there
(symmetric RTP, RFC 4961: "the address and port a UA sends from are those it receives
on"; "latching" in SBC terms).

The latching rule of each party:
- before its first packet, media for it goes to the address its SDP names;
- a packet from the party's signalling address (the IP its SIP came from) latches it
  there and locks it: packets from anywhere else are then ignored and counted;
- a packet from elsewhere, when none has come from the signalling address yet, latches
  it provisionally (a phone whose media leaves by another router than its SIP); a later
  packet from the signalling address still takes over and locks;
- a new offer or answer from the party (re-INVITE, UPDATE) unlocks it: the phone may
  have moved or changed its port.

`RelayedStream` is one media stream (RTP and RTCP share the rule, each on its own port).
The shell owns the sockets and calls `packet_from(side, source, data, now)`, which says
where to send the packet, or None to drop it.
"""

from __future__ import annotations

from enum import Enum

Address = tuple[str, int]

# RFC 3550 §6.4.2: the smallest RTCP packet (a receiver report with no blocks) is 8
# octets; RTP's fixed header (§5.1) is 12. Both begin with version 2.
MIN_PACKET = 8


class Side(Enum):
    CALLER = "caller"
    CALLEE = "callee"

    @property
    def other(self) -> Side:
        return Side.CALLEE if self is Side.CALLER else Side.CALLER


class _Party:
    """What the relay knows of one party's media."""

    __slots__ = (
        "signalling_ip",
        "sdp_address",
        "latched",
        "locked",
        "last_packet",
        "packets",
        "ignored",
        "malformed",
    )

    def __init__(self, signalling_ip: str, sdp_address: Address | None) -> None:
        self.signalling_ip = signalling_ip
        self.sdp_address = sdp_address
        self.latched: Address | None = None
        self.locked = False
        self.last_packet: float | None = None
        self.packets = 0
        self.ignored = 0
        self.malformed = 0

    @property
    def destination(self) -> Address | None:
        """Where media for this party goes now."""
        return self.latched or self.sdp_address


class RelayedStream:
    """One relayed media stream between the caller and the callee."""

    def __init__(self, caller_ip: str, callee_ip: str) -> None:
        self._parties = {
            Side.CALLER: _Party(caller_ip, None),
            Side.CALLEE: _Party(callee_ip, None),
        }

    def described(self, side: Side, sdp_address: Address | None) -> None:
        """The party sent SDP (offer or answer) naming `sdp_address` (None: on hold with
        c=0.0.0.0 or port 0). It may have moved, so its latch is released."""
        party = self._parties[side]
        party.sdp_address = sdp_address
        party.latched = None
        party.locked = False

    def packet_from(self, side: Side, source: Address, data: bytes, now: float) -> Address | None:
        """A packet arrived on `side`'s port from `source`: where it goes, or None."""
        party = self._parties[side]
        if not _looks_like_rtp(data):
            # not RTP or RTCP (RFC 3550 §5.1, §6.4): dropped, never forwarded
            party.malformed += 1
            return None
        if not self._accept(party, source):
            party.ignored += 1
            return None
        party.packets += 1
        party.last_packet = now
        return self._parties[side.other].destination

    def _accept(self, party: _Party, source: Address) -> bool:
        if party.locked:
            return source == party.latched
        if source[0] == party.signalling_ip:
            party.latched = source
            party.locked = True
            return True
        if party.latched is None:
            party.latched = source
            return True
        return source == party.latched

    def destination(self, side: Side) -> Address | None:
        """Where media for `side` goes now (its latched address, else its SDP's)."""
        return self._parties[side].destination

    def silent_since(self, side: Side) -> float | None:
        """When `side` last sent a packet (None: never)."""
        return self._parties[side].last_packet

    def counts(self, side: Side) -> dict[str, int]:
        """Packets relayed from `side`, and those ignored (wrong source) or malformed."""
        party = self._parties[side]
        return {"relayed": party.packets, "ignored": party.ignored, "malformed": party.malformed}


def _looks_like_rtp(data: bytes) -> bool:
    return len(data) >= MIN_PACKET and data[0] >> 6 == 2
