"""Session timers on the wire (RFC 4028; docs/BEHAVIOUR.md, "Dead calls and session
timers"): the switch refreshes each leg of a call at half the interval, and a party that
answers its refresh with 481 has lost the call, which ends with BYE both ways."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import start_switch
from nated import NatedCall, answer_with_sdp, bye_answered, media_address
from rawsip import RawPhone

from sipstack.message import Request, make_response
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
