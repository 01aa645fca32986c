"""Session timers on the wire (RFC 4028; docs/BEHAVIOUR.md, "Dead calls and session
timers"): the switch refreshes each leg of a call at half the interval, and a party that
answers its refresh with 481 has lost the call, which ends with BYE both ways."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import PASSWORDS, start_switch
from nated import (
    DOMAIN,
    NatedCall,
    answer_with_sdp,
    bye_answered,
    media_address,
    nated_sdp,
    next_of,
)
from rawsip import RawPhone

from sipstack.message import Request, Response, make_response
from sipstack.serialize import serialize

pytestmark = pytest.mark.integration

INTERVAL = 90  # the smallest RFC 4028 allows: refreshes come after 45 s


def _refresh(phone: RawPhone, within: float) -> Request:
    refresh = phone.next_message(within, lambda m: isinstance(m, Request) and m.method == "INVITE")
    assert isinstance(refresh, Request), f"{phone.user} got no refresh re-INVITE"
    return refresh


def test_switch_refreshes_both_legs_and_a_lost_dialog_ends_the_call(tmp_path: Path) -> None:
    switch = start_switch(tmp_path / "switch", server_extra={"session_expires": INTERVAL})
    call = NatedCall(switch)
    try:
        assert call.invite.get("session-expires") == str(INTERVAL)
        assert call.answer.get("session-expires") == f"{INTERVAL};refresher=uas"
        to_caller = _refresh(call.caller, INTERVAL / 2 + 3)
        to_callee = _refresh(call.callee, 2)
        for refresh, told in ((to_caller, call.answer.body), (to_callee, call.callee_offer)):
            assert refresh.get("session-expires") == f"{INTERVAL};refresher=uac"
            assert media_address(refresh.body) == media_address(told)  # the same SDP
        answer_with_sdp(call.caller, to_caller, to_caller.body)
        # the callee's phone rebooted: the dialog is gone there (RFC 4028 §10: BYE)
        call.callee.sock.sendto(serialize(make_response(to_callee, 481)), call.callee.target)
        assert bye_answered(call.caller, 2.0) is not None, "the caller was not hung up"
        events = [e for e in switch.events() if e.get("event") == "call.ended"]
        assert events and events[-1]["reason"] == "session refresh failed"
    finally:
        call.close()
        switch.stop()


def test_a_carriers_422_is_retried_with_its_min_se(tmp_path: Path) -> None:
    # a callee that wants at least 3600 s: 422 Min-SE: 3600; the switch asks again with
    # 3600 and the call goes through (RFC 4028 §7.4)
    switch = start_switch(tmp_path / "switch")
    caller = RawPhone(switch.host, switch.port, "201", DOMAIN)
    callee = RawPhone(switch.host, switch.port, "202", DOMAIN)
    try:
        registered = callee.register(PASSWORDS["202"])
        assert registered is not None and registered.status == 200
        ringing = caller.authenticated(
            "INVITE", f"sip:202@{DOMAIN}", PASSWORDS["201"], ["Content-Type: application/sdp"],
            to=f"<sip:202@{DOMAIN}>", body=nated_sdp("127.0.0.77", 40000),
        )  # fmt: skip
        assert ringing is None
        first = next_of(callee, "INVITE")
        assert isinstance(first, Request)
        too_short = make_response(first, 422, to_tag="t202")
        too_short.add("min-se", "3600")
        callee.sock.sendto(serialize(too_short), callee.target)
        retry = callee.next_message(  # past retransmissions of the first INVITE
            3.0,
            lambda m: (
                isinstance(m, Request) and m.method == "INVITE" and m.cseq.seq > first.cseq.seq
            ),
        )
        assert isinstance(retry, Request), "no retry after the 422"
        assert retry.get("session-expires") == "3600"
        answer_with_sdp(callee, retry, nated_sdp("127.0.0.78", 40002), "t202")
        answered = next_of(caller, 200)
        assert isinstance(answered, Response)
    finally:
        caller.close()
        callee.close()
        switch.stop()
