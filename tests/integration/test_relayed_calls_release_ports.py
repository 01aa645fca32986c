"""Every way a relayed call ends gives its relay ports back (docs/BEHAVIOUR.md, "Media
anchoring"): 10,000 calls through the real call engine and the real embedded relay's
sockets, answered and hung up from either side, cancelled while ringing, refused by the
callee, picked up by nobody and sent to voicemail; afterwards no port is held."""

from __future__ import annotations

import asyncio

import pytest

from sipstack.message import Request, make_response
from switch.media.port_pool import PortPool
from switch.shell.relay_sockets import EmbeddedRelay
from tests.support.inproc import ANN, BOB, TWO_PHONES, InProcessSwitch, answer, callee_request

pytestmark = pytest.mark.integration

CONFIG = TWO_PHONES
CALLS = 10_000


def one_call(sw: InProcessSwitch, n: int) -> None:
    call = sw.dial(ANN, "310", "pw310", "320", call_id=f"relayed-{n}")
    [invite] = sw.requests(BOB, "INVITE")
    assert b"c=IN IP4 127.0.0.1" in invite.body
    sw.send(make_response(invite, 180, to_tag=f"b{n}"), BOB)  # CANCEL waits for it (§9.1)
    ending = n % 4
    if ending == 0 or ending == 1:  # answered; the caller or the callee hangs up
        answer(sw, invite, BOB, f"b{n}")
        call.answered()
        call.ack()
        sw.take(BOB)
        if ending == 0:
            call.bye()
            [bye] = sw.requests(BOB, "BYE")
            sw.send(make_response(bye, 200), BOB)
        else:
            sw.send(callee_request(invite, "BYE", 2, BOB, f"b{n}"), BOB)
            [bye] = sw.requests(ANN, "BYE")
            sw.send(make_response(bye, 200), ANN)
    elif ending == 2:  # the caller gives up while it rings
        sw.send(_cancel(call.invite(2, None)), ANN)
        [cancel] = sw.requests(BOB, "CANCEL")
        sw.send(make_response(cancel, 200), BOB)
        sw.send(make_response(invite, 487, to_tag=f"b{n}"), BOB)
    else:  # the callee is busy
        sw.send(make_response(invite, 486, to_tag=f"b{n}"), BOB)
    for final in sw.finals(ANN):
        if final.status >= 300:
            sw.send(call.ack_for(final), ANN)
    sw.take(BOB)
    sw.advance(40.0, step=20.0)  # transactions and the ended call are forgotten


def _cancel(invite: Request) -> Request:
    headers = [(k, v) for k, v in invite.headers if k in ("via", "from", "to", "call-id")]
    headers += [("cseq", f"{invite.cseq.seq} CANCEL"), ("max-forwards", "70")]
    return Request("CANCEL", invite.uri, headers)


def test_ten_thousand_relayed_calls_leave_no_port_held() -> None:
    async def run() -> None:
        pool = PortPool(34000, 34099)
        relay = EmbeddedRelay("127.0.0.1", pool)
        sw = InProcessSwitch(CONFIG, relay=relay)
        sw.register("320", BOB)
        for n in range(CALLS):
            one_call(sw, n)
            if n % 500 == 0:
                await asyncio.sleep(0)  # let the loop take over (and close) the sockets
            assert pool.in_use == 0, f"call {n} left {pool.in_use} ports held"
        assert not relay.calls
        assert not sw.sw.calls

    asyncio.run(run())


def test_a_relayed_call_is_offered_and_answered_with_the_relays_ports() -> None:
    async def run() -> None:
        pool = PortPool(34100, 34199)
        relay = EmbeddedRelay("127.0.0.1", pool)
        sw = InProcessSwitch(CONFIG, relay=relay)
        sw.register("320", BOB)
        call = sw.dial(ANN, "310", "pw310", "320")
        [invite] = sw.requests(BOB, "INVITE")
        answer(sw, invite, BOB, "b1")
        ok = call.answered()
        relayed = relay.calls[call.call_id]
        caller_port, callee_port = (relayed.port_for(s) for s in relayed.anchored.ports)
        assert f"m=audio {callee_port} ".encode() in invite.body
        assert f"m=audio {caller_port} ".encode() in ok.body
        assert pool.in_use == 2
        call.ack()
        call.bye()
        assert pool.in_use == 0

    asyncio.run(run())


def test_sdp_without_audio_is_refused_488_and_holds_no_port() -> None:
    video_only = (
        b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        b"m=video 5000 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n"
    )

    async def run() -> None:
        pool = PortPool(34200, 34299)
        relay = EmbeddedRelay("127.0.0.1", pool)
        sw = InProcessSwitch(CONFIG, relay=relay)
        sw.register("320", BOB)
        call = sw.dial(ANN, "310", "pw310", "320", offer=video_only)
        [refused] = [m for m in sw.finals(ANN) if m.status >= 300]
        assert refused.status == 488, refused
        assert "relay" in refused.reason
        assert not sw.requests(BOB, "INVITE"), "Bob rang for a call that cannot have media"
        sw.send(call.ack_for(refused), ANN)
        assert pool.in_use == 0 and not relay.calls

    asyncio.run(run())
