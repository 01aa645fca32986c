"""The embedded relay's latching rules (switch/media/relay.py), without sockets."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from switch.media.port_pool import PortPool, PortsExhausted
from switch.media.relay import RelayedStream, Side

RTP = bytes([0x80, 0]) + bytes(10) + b"payload"
CALLER_SIP_IP = "127.0.0.1"
CALLEE_SIP_IP = "127.0.0.2"


def stream() -> RelayedStream:
    relayed = RelayedStream(CALLER_SIP_IP, CALLEE_SIP_IP)
    relayed.described(Side.CALLER, ("127.0.0.77", 40000))  # a NATed phone's private SDP
    relayed.described(Side.CALLEE, ("127.0.0.78", 40002))
    return relayed


def test_media_goes_to_the_sdp_address_until_the_party_sends() -> None:
    relayed = stream()
    assert relayed.packet_from(Side.CALLER, ("127.0.0.1", 5004), RTP, 1.0) == ("127.0.0.78", 40002)
    # the callee has not sent yet; once it does, the caller's media goes where it came from
    assert relayed.packet_from(Side.CALLEE, ("127.0.0.2", 6004), RTP, 1.0) == ("127.0.0.1", 5004)
    assert relayed.destination(Side.CALLEE) == ("127.0.0.2", 6004)


def test_latched_on_the_signalling_address_ignores_other_sources() -> None:
    relayed = stream()
    relayed.packet_from(Side.CALLER, ("127.0.0.1", 5004), RTP, 1.0)
    assert relayed.packet_from(Side.CALLER, ("127.0.0.9", 5004), RTP, 1.1) is None
    assert relayed.packet_from(Side.CALLER, ("127.0.0.1", 5006), RTP, 1.2) is None
    assert relayed.counts(Side.CALLER) == {"relayed": 1, "ignored": 2, "malformed": 0}


def test_a_first_packet_from_elsewhere_latches_until_the_signalling_address_sends() -> None:
    relayed = stream()
    relayed.packet_from(Side.CALLEE, ("127.0.0.2", 6004), RTP, 0.5)
    relayed.packet_from(Side.CALLER, ("127.0.0.5", 7000), RTP, 1.0)  # media by another route
    assert relayed.destination(Side.CALLER) == ("127.0.0.5", 7000)
    assert relayed.packet_from(Side.CALLER, ("127.0.0.6", 7000), RTP, 1.1) is None
    relayed.packet_from(Side.CALLER, ("127.0.0.1", 5004), RTP, 1.2)  # takes over and locks
    assert relayed.destination(Side.CALLER) == ("127.0.0.1", 5004)
    assert relayed.packet_from(Side.CALLER, ("127.0.0.5", 7000), RTP, 1.3) is None


def test_new_sdp_from_the_party_releases_its_latch() -> None:
    relayed = stream()
    relayed.packet_from(Side.CALLER, ("127.0.0.1", 5004), RTP, 1.0)
    relayed.described(Side.CALLER, ("127.0.0.77", 41000))  # a re-INVITE from a new port
    assert relayed.destination(Side.CALLER) == ("127.0.0.77", 41000)
    relayed.packet_from(Side.CALLER, ("127.0.0.1", 5010), RTP, 2.0)
    assert relayed.destination(Side.CALLER) == ("127.0.0.1", 5010)


def test_malformed_packets_are_dropped_and_counted() -> None:
    relayed = stream()
    for junk in (b"", b"\x80\x00", b"\x40" + bytes(20), b"hello world!"):
        assert relayed.packet_from(Side.CALLER, ("127.0.0.1", 5004), junk, 1.0) is None
    assert relayed.counts(Side.CALLER)["malformed"] == 4
    assert relayed.silent_since(Side.CALLER) is None
    relayed.packet_from(Side.CALLER, ("127.0.0.1", 5004), RTP, 3.0)
    assert relayed.silent_since(Side.CALLER) == 3.0


addresses = st.tuples(st.sampled_from(["127.0.0.1", "127.0.0.5", "127.0.0.6"]), st.integers(1, 3))
packets = st.lists(st.tuples(st.sampled_from(list(Side)), addresses), max_size=40)


Sequence = list[tuple[Side, tuple[str, int]]]


@given(packets)
def test_once_locked_no_other_source_is_relayed(sequence: Sequence) -> None:
    # both parties signal from 127.0.0.1: the first packet from there locks each one
    relayed = RelayedStream(CALLER_SIP_IP, CALLER_SIP_IP)
    locked: dict[Side, tuple[str, int]] = {}
    for side, source in sequence:
        before = relayed.counts(side)["relayed"]
        relayed.packet_from(side, source, RTP, 1.0)
        accepted = relayed.counts(side)["relayed"] == before + 1
        if side in locked:
            assert accepted == (source == locked[side]), (side, source, locked)
        elif source[0] == CALLER_SIP_IP:
            assert accepted
            locked[side] = source
            assert relayed.destination(side) == source
    for side in Side:
        counts = relayed.counts(side)
        sent = sum(1 for s, _ in sequence if s is side)
        assert counts["relayed"] + counts["ignored"] + counts["malformed"] == sent


def test_port_pool_hands_out_even_ports_with_their_rtcp_port_inside_the_range() -> None:
    async def take_all() -> list[int]:
        pool = PortPool(41001, 41006)  # even ports 41002, 41004 (41006 has no 41007)
        taken = []

        async def bind(port: int) -> None:
            return None

        try:
            while True:
                port, _ = await pool.take(bind)
                taken.append(port)
        except PortsExhausted:
            pass
        pool.release(taken[0])
        again, _ = await pool.take(bind)
        assert again == taken[0] and pool.in_use == 2
        return taken

    assert asyncio.run(take_all()) == [41002, 41004]


def test_the_sdp_address_takes_over_a_lock_on_the_signalling_ip() -> None:
    # Two forks behind one router (same signalling IP): the loser's last packets latched
    # the callee side; the winner's answer names its own address, which takes over.
    relayed = RelayedStream(CALLER_SIP_IP, CALLEE_SIP_IP)
    relayed.described(Side.CALLEE, ("127.0.0.2", 6000), CALLEE_SIP_IP)
    relayed.packet_from(Side.CALLEE, ("127.0.0.2", 6100), RTP, 1.0)  # the loser
    assert relayed.destination(Side.CALLEE) == ("127.0.0.2", 6100)
    relayed.packet_from(Side.CALLEE, ("127.0.0.2", 6000), RTP, 1.1)  # the winner
    assert relayed.destination(Side.CALLEE) == ("127.0.0.2", 6000)
    assert relayed.packet_from(Side.CALLEE, ("127.0.0.2", 6100), RTP, 1.2) is None


def test_the_same_description_again_keeps_the_latch() -> None:
    # A refresh re-INVITE, or a hold (a=sendonly, same c=): a party on hold may send no
    # RTP to latch anew, and what is sent to it must still reach its real address.
    relayed = RelayedStream(CALLER_SIP_IP, CALLEE_SIP_IP)
    relayed.described(Side.CALLEE, ("127.0.0.78", 6000), CALLEE_SIP_IP)
    relayed.packet_from(Side.CALLEE, (CALLEE_SIP_IP, 6100), RTP, 1.0)
    assert relayed.destination(Side.CALLEE) == (CALLEE_SIP_IP, 6100)
    relayed.described(Side.CALLEE, ("127.0.0.78", 6000), CALLEE_SIP_IP)
    assert relayed.destination(Side.CALLEE) == (CALLEE_SIP_IP, 6100)
    relayed.described(Side.CALLEE, ("127.0.0.78", 6002), CALLEE_SIP_IP)  # moved
    assert relayed.destination(Side.CALLEE) == ("127.0.0.78", 6002)
