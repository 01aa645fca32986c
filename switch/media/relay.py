"""The embedded media relay's forwarding rules, without sockets.

A relayed call has two parties; the switch gives each one a port of its own (named in the
SDP the switch sends that party) and forwards what arrives on one party's port to the
other party. Where to send a party's media is learnt from where its packets come from,
not from its SDP, because a phone behind a NAT router names its private address there
(symmetric RTP, RFC 4961: "the address and port a UA sends from are those it receives
on"; "latching" in SBC terms).

The latching rule of each party, by how much a packet's source is to be trusted:
- before its first packet, media for it goes to the address its SDP names;
- a packet from exactly the address its SDP names, or from its signalling address (the IP
  its SIP came from: a phone behind a NAT router sends its media out of the same router),
  latches the party there and locks it: packets from anywhere else are then ignored and
  counted, except that a packet from the SDP's exact address takes over a lock made on the
  signalling IP (two forks of one call behind one router: the SDP tells them apart);
- a packet from elsewhere, when none has come from those yet, latches it provisionally (a
  phone whose media leaves by another router than its SIP); a later packet from the SDP
  address or the signalling address still takes over and locks;
- a new offer or answer from the party (re-INVITE, UPDATE, the winning fork's 2xx)
  that names another address unlocks it: the phone may have moved or changed its port.
  The same address again (a refresh, or a hold with `a=sendonly`) keeps the latch: a
  party on hold may send nothing to latch anew, and the music on hold must reach it.

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


# How far a packet's source is trusted to be the party (see the module docstring).
_ELSEWHERE = 1
_SIGNALLING_IP = 2
_SDP_ADDRESS = 3


class _Party:
    """What the relay knows of one party's media."""

    __slots__ = (
        "signalling_ip",
        "sdp_address",
        "latched",
        "trust",
        "last_packet",
        "packets",
        "ignored",
        "malformed",
    )

    def __init__(self, signalling_ip: str, sdp_address: Address | None) -> None:
        self.signalling_ip = signalling_ip
        self.sdp_address = sdp_address
        self.latched: Address | None = None
        self.trust = 0  # of the latched source; 0: nothing latched
        self.last_packet: float | None = None
        self.packets = 0
        self.ignored = 0
        self.malformed = 0

    @property
    def destination(self) -> Address | None:
        """Where media for this party goes now."""
        return self.latched or self.sdp_address

    def trust_in(self, source: Address) -> int:
        if source == self.sdp_address:
            return _SDP_ADDRESS
        if source[0] == self.signalling_ip:
            return _SIGNALLING_IP
        return _ELSEWHERE

    def accept(self, source: Address) -> bool:
        """Is a packet from `source` this party's (latching it when it is more trusted)?"""
        if source == self.latched:
            return True
        trust = self.trust_in(source)
        locked = self.trust >= _SIGNALLING_IP
        if trust > self.trust and (not locked or trust == _SDP_ADDRESS):
            self.latched, self.trust = source, trust
            return True
        return False


class RelayedStream:
    """One relayed media stream between the caller and the callee."""

    def __init__(self, caller_ip: str = "", callee_ip: str = "") -> None:
        self._parties = {
            Side.CALLER: _Party(caller_ip, None),
            Side.CALLEE: _Party(callee_ip, None),
        }

    def described(
        self, side: Side, sdp_address: Address | None, signalling_ip: str | None = None
    ) -> None:
        """The party sent SDP (offer or answer) naming `sdp_address` (None: on hold with
        c=0.0.0.0 or port 0), its SIP from `signalling_ip` when given. It may have moved,
        so its latch is released."""
        party = self._parties[side]
        moved_signalling = signalling_ip is not None and signalling_ip != party.signalling_ip
        if sdp_address == party.sdp_address and not moved_signalling:
            # the same description again (a session refresh, a hold whose c= stays): the
            # party has not moved, and one on hold may send nothing to latch anew
            return
        party.sdp_address = sdp_address
        if signalling_ip is not None:
            party.signalling_ip = signalling_ip
        party.latched = None
        party.trust = 0

    def packet_from(self, side: Side, source: Address, data: bytes, now: float) -> Address | None:
        """A packet arrived on `side`'s port from `source`: where it goes, or None."""
        party = self._parties[side]
        if not _looks_like_rtp(data):
            # not RTP or RTCP (RFC 3550 §5.1, §6.4): dropped, never forwarded
            party.malformed += 1
            return None
        if not party.accept(source):
            party.ignored += 1
            return None
        party.packets += 1
        party.last_packet = now
        return self._parties[side.other].destination

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
