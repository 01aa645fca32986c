"""Media anchoring end to end (docs/BEHAVIOUR.md, "Media anchoring"): two phones whose SDP
names an address they are not at (127.0.0.77 and .78, where nothing listens) call each
other through the switch; with the relay each hears the other's tone, without it neither
does. The phones really send and receive RTP on 127.0.0.1, as phones behind NAT routers
do from the relay's point of view.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import PASSWORDS, SwitchProcess, customer, extension, start_switch
from nated import (
    DOMAIN,
    NatedCall,
    RtpPhone,
    answer_with_sdp,
    bye_answered,
    dominant_frequency,
    keep_sending,
    media_address,
    nated_sdp,
    next_of,
    talk,
)
from rawsip import RawPhone

from sipstack.message import Request, Response
from sipstack.serialize import serialize
from tests.support.rtpengine_daemon import rtpengine_daemon

pytestmark = pytest.mark.integration


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
        relayed_offer = next_of(call.caller, "INVITE")
        assert isinstance(relayed_offer, Request)
        assert media_address(relayed_offer.body) == to_caller  # the same relay port
        answer_with_sdp(call.caller, relayed_offer, nated_sdp("127.0.0.77", 40000))
        answered = next_of(call.callee, 200)
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


@pytest.mark.parametrize("relay", ["embedded", "process", "rtpengine"])
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
        assert bye_answered(call.callee, 1.0) is not None, "the dead phone got no BYE"
        assert bye_answered(call.caller, 1.0) is not None, "the caller got no BYE"
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
        offered = next_of(call.callee, "INVITE")
        assert isinstance(offered, Request) and b"a=sendonly" in offered.body
        recvonly = nated_sdp("127.0.0.78", 40002).replace(
            b"a=ptime:20", b"a=ptime:20\r\na=recvonly"
        )
        answer_with_sdp(call.callee, offered, recvonly)
        answered = next_of(call.caller, 200)
        assert isinstance(answered, Response) and b"a=recvonly" in answered.body
        call.caller.cseq -= 1  # the ACK has its re-INVITE's CSeq number (RFC 3261 §13.2.2.4)
        ack = call.caller.request("ACK", uri, to=call.answer.get("to"))
        call.caller.sock.sendto(ack, call.caller.target)
        # three timeouts of silence on hold: nobody is hung up
        assert bye_answered(call.callee, 3.0) is None
        assert not [e for e in switch.events() if e.get("event") == "call.media_timeout"]
    finally:
        call.close()
        switch.stop()


def test_nated_phones_hear_each_other_through_the_relay_process(tmp_path: Path) -> None:
    # server.media.relay: process: the embedded relay in a child process, driven over ng
    switch = start_switch(tmp_path / "switch", server_extra={"media": {"relay": "process"}})
    call = NatedCall(switch)
    try:
        to_callee = media_address(call.callee_offer)
        to_caller = media_address(call.answer.body)
        # the upper half of server.rtp_ports (10000-20000) is the relay process's
        assert to_callee[0] == switch.host and 15000 <= to_callee[1] <= 20000, to_callee
        assert to_caller[0] == switch.host and 15000 <= to_caller[1] <= 20000, to_caller
        talk(call.caller_rtp, to_caller, call.callee_rtp, to_callee)
        assert abs(dominant_frequency(call.callee_rtp.heard) - 440.0) < 20
        assert abs(dominant_frequency(call.caller_rtp.heard) - 1000.0) < 20
        call.hang_up()
        started = [e for e in switch.events() if e.get("event") == "relayd.started"]
        assert started, "no relay process was started"
    finally:
        call.close()
        switch.stop()


def test_a_hunt_groups_second_member_and_a_trunk_are_heard_through_the_relay(
    tmp_path: Path,
) -> None:
    # The relay's SDP is made once, before the first member rings: the member who answers
    # after another declined, and a carrier reached by a trunk prefix, get the same
    # treatment as a direct call (NATed parties hear each other's tone).
    carrier = RawPhone("127.0.0.1", 9, "carrier", DOMAIN)  # a trunk's socket
    numbers = ("201", "202", "203")
    acme = customer(
        "acme",
        DOMAIN,
        [extension(n, PASSWORDS[n]) for n in numbers],
        hunt_groups=[{"name": "desk", "number": "300", "strategy": "sequential",
                      "members": ["203", "202"], "ring_seconds": 10}],
        trunks=[{"name": "carrier", "uri": f"sip:127.0.0.1:{carrier.port}",
                 "outbound_prefix": "9"}],
    )  # fmt: skip
    switch = start_switch(tmp_path / "switch", customers=[acme])
    first = RawPhone(switch.host, switch.port, "203", DOMAIN)
    carrier.target = (switch.host, switch.port)
    try:
        registered = first.register(PASSWORDS["203"])
        assert registered is not None and registered.status == 200
        for call in (
            NatedCall(switch, "300", declining=(first,)),
            NatedCall(switch, "90301234567", callee=carrier),
        ):
            try:
                to_callee = media_address(call.callee_offer)
                to_caller = media_address(call.answer.body)
                assert to_callee[0] == to_caller[0] == switch.host
                for offered in call.declined:  # the declining member was offered the same
                    assert media_address(offered.body) == to_callee
                talk(call.caller_rtp, to_caller, call.callee_rtp, to_callee)
                assert abs(dominant_frequency(call.callee_rtp.heard) - 440.0) < 20
                assert abs(dominant_frequency(call.caller_rtp.heard) - 1000.0) < 20
                call.hang_up()
            finally:
                call.caller.close()
                call.caller_rtp.close()
                call.callee_rtp.close()
    finally:
        for phone in (carrier, first):
            phone.close()
        switch.stop()
