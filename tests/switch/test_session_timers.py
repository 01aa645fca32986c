"""Session timers (RFC 4028) on each leg, in process: switch/calls/session_timer.py and
refresher.py; docs/BEHAVIOUR.md, "Dead calls and session timers"."""

from __future__ import annotations

from sipstack.message import Request, Response, make_response
from tests.support.inproc import (
    ANN,
    BOB,
    SDP,
    TWO_PHONES,
    DialledCall,
    InProcessSwitch,
    with_sdp,
)


def _switch() -> InProcessSwitch:
    return InProcessSwitch(TWO_PHONES, registered={"320": BOB}, session_expires=1800)


def _bridged(
    sw: InProcessSwitch,
    extra: list[tuple[str, str]] | None = None,
    bob_extra: tuple[str, ...] = (),
) -> tuple[DialledCall, Request, Response]:
    call = sw.dial(ANN, "310", "pw310", "320", extra=extra)
    [invite] = sw.requests(BOB, "INVITE")
    ok = with_sdp(invite, 200, "bob", BOB, SDP)
    for header in bob_extra:
        name, _, value = header.partition(":")
        ok.add(name.strip().lower(), value.strip())
    sw.send(ok, BOB)
    answered = call.answered()
    call.ack()
    sw.take(BOB)
    return call, invite, answered


def test_an_interval_below_min_se_is_refused_with_422() -> None:
    sw = _switch()
    call = DialledCall(sw, ANN, "310", "320", "short-se")
    call.extra = [("supported", "timer"), ("session-expires", "60")]
    sw.send(call.invite(1, None), ANN)
    [refused] = sw.finals(ANN)
    assert refused.status == 422 and refused.get("min-se") == "90"


def test_a_short_interval_from_a_phone_without_timers_is_raised_to_min_se() -> None:
    # it could not retry after a 422 (RFC 4028 erratum 1687): the switch answers 90
    sw = _switch()
    _, _, answered = _bridged(sw, [("session-expires", "60")])
    assert answered.get("session-expires") == "90;refresher=uas"


def test_the_callee_is_asked_for_the_interval_and_the_caller_told_who_refreshes() -> None:
    sw = _switch()
    call, invite, answered = _bridged(sw)
    assert invite.get("session-expires") == "1800" and invite.get("min-se") == "90"
    assert "timer" in invite.values("supported")
    # Ann's phone does not know session timers: the switch refreshes her leg (§9)
    assert answered.get("session-expires") == "1800;refresher=uas"
    assert "timer" not in answered.values("require")
    del call


def test_the_switch_refreshes_both_legs_at_half_the_interval() -> None:
    sw = _switch()
    _, invite, answered = _bridged(sw)
    sw.advance(899, step=30)
    assert not sw.requests(ANN, "INVITE") and not sw.requests(BOB, "INVITE")
    sw.advance(2, step=1)
    to_ann = sw.requests(ANN, "INVITE")[0]  # (and its retransmissions, Timer A)
    to_bob = sw.requests(BOB, "INVITE")[0]
    for refresh in (to_ann, to_bob):
        assert refresh.get("session-expires") == "1800;refresher=uac"
    # each repeats the SDP that party was last sent, unchanged (RFC 3264 §8)
    assert to_ann.body == answered.body and to_bob.body == invite.body
    for refresh, phone in ((to_ann, ANN), (to_bob, BOB)):
        ok = make_response(refresh, 200)
        ok.add("contact", f"<sip:x@{phone[0]}:{phone[1]}>")
        ok.add("content-type", "application/sdp")
        ok.body = SDP
        sw.send(ok, phone)
        assert [m.method for m in sw.requests(phone)] == ["ACK"]
    sw.advance(898, step=1)  # refreshed: the next round comes another half later
    assert not sw.requests(ANN, "INVITE")
    sw.advance(3, step=1)
    assert sw.requests(ANN, "INVITE")


def test_a_refresh_answered_481_ends_the_call_for_both() -> None:
    sw = _switch()
    _bridged(sw)
    sw.advance(901, step=30)
    to_bob = sw.requests(BOB, "INVITE")[0]
    sw.requests(ANN)
    sw.send(make_response(to_bob, 481), BOB)
    assert [m.method for m in sw.requests(BOB)] == ["ACK", "BYE"]
    assert [m.method for m in sw.requests(ANN)] == ["BYE"]
    assert not sw.sw.calls


def test_a_party_that_refreshes_but_does_not_is_hung_up() -> None:
    # Ann's phone supports timers and asks to refresh every 300 s itself: it must, or the
    # switch gives the session up at 300 - min(32, 100) = 268 s (§10)
    sw = _switch()
    extra = [("supported", "timer"), ("session-expires", "300;refresher=uac")]
    _, _, answered = _bridged(sw, extra)
    assert answered.get("session-expires") == "300;refresher=uac"
    assert "timer" in answered.values("require")
    sw.advance(267, step=1)
    assert not sw.requests(ANN, "BYE")
    sw.advance(2, step=1)
    assert sw.requests(ANN, "BYE") and sw.requests(BOB, "BYE")


def test_a_refresh_by_the_party_keeps_the_call_up() -> None:
    sw = _switch()
    extra = [("supported", "timer"), ("session-expires", "300;refresher=uac")]
    call, _, _ = _bridged(sw, extra, ("Supported: timer", "Session-Expires: 1800;refresher=uac"))
    sw.advance(150, step=10)
    call.extra = []
    update = call.request("UPDATE", 3)
    update.add("session-expires", "300;refresher=uac")
    update.add("supported", "timer")
    sw.send(update, ANN)
    # an UPDATE without SDP changes no media: the switch answers it for Ann's leg
    assert not sw.requests(BOB, "UPDATE")
    [ok] = sw.finals(ANN)
    assert ok.status == 200 and ok.get("session-expires") == "300;refresher=uac"
    sw.advance(200, step=10)  # 350 s after the answer, 200 after the refresh
    assert not sw.requests(ANN, "BYE") and not sw.requests(BOB, "BYE")


def test_a_callee_refreshing_its_own_leg_is_not_refreshed_by_the_switch() -> None:
    sw = _switch()
    _bridged(sw, bob_extra=("Supported: timer", "Session-Expires: 1800;refresher=uas"))
    sw.advance(1000, step=50)
    assert not sw.requests(BOB, "INVITE") and not sw.requests(BOB, "UPDATE")


def test_a_callees_422_is_retried_once_with_its_min_se() -> None:
    # RFC 4028 §7.4: a carrier wanting at least 3600 s answers 422 Min-SE: 3600; the
    # switch asks again with 3600 (next CSeq); the caller never sees the 422
    sw = _switch()
    sw.dial(ANN, "310", "pw310", "320")
    [first] = sw.requests(BOB, "INVITE")
    too_short = make_response(first, 422, to_tag="b422")
    too_short.add("min-se", "3600")
    sw.send(too_short, BOB)
    retries = [m for m in sw.requests(BOB) if m.method == "INVITE"]
    assert len(retries) == 1, "no retry after the 422"
    [retry] = retries
    assert retry.get("session-expires") == "3600" and retry.cseq.seq == first.cseq.seq + 1
    assert retry.call_id == first.call_id and retry.top_via.branch != first.top_via.branch
    assert not [m for m in sw.take(ANN) if isinstance(m, Response) and m.status == 422]
    again = make_response(retry, 422, to_tag="b422")
    again.add("min-se", "3600")
    sw.send(again, BOB)  # the same Min-SE again: no loop, the call fails
    assert not [m for m in sw.requests(BOB) if m.method == "INVITE"]
    assert [m.status for m in sw.finals(ANN)] == [480]  # not a 422 without Min-SE
