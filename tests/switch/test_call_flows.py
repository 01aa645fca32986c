"""B2BUA call flows in process (no sockets): the races and corner cases of RFC 3261.

Scripted phones exchange messages with the real Endpoint + Switch on a fake clock
(`tests/support/inproc.py`), so each test reads as a sequence diagram and runs in
milliseconds: re-INVITE with 100 Trying, delayed-offer 2xx retransmissions, BYE before
ACK, crossed BYEs, requests to an ended call, a coverage step failing after a cancelled
fork, and an MWI subscription that is not refreshed.
"""

from __future__ import annotations

from sipstack.message import Request, Response, make_response
from tests.support.inproc import (
    SDP,
    DialledCall,
    InProcessSwitch,
    Subscriber,
    answer,
    callee_request,
)

CONFIG = """
server: {listen: ["udp:127.0.0.1:5060"], state_dir: /tmp/call-flows-state}
customers:
  - name: bench
    domain: bench.test
    user_groups: [{name: users}]
    extensions:
      - {number: "100", name: Caller, password: pw100, user_group: users}
      - {number: "200", name: Callee, password: pw200, user_group: users}
"""
CALLER = ("127.0.0.1", 7000)
CALLEE = ("127.0.0.1", 7001)
COVER = ("127.0.0.1", 7002)


def answered_call(sw: InProcessSwitch, offer: bool = True) -> tuple[DialledCall, Request, Response]:
    """100 calls 200, 200 rings and answers: (the caller's call, the B-leg INVITE, its 200)."""
    call = sw.dial(CALLER, "100", "pw100", "200", call_id="c1", offer=SDP if offer else b"")
    b_invite = sw.requests(CALLEE, "INVITE")[0]
    sw.send(make_response(b_invite, 180, to_tag="tb"), CALLEE)
    b_ok = answer(sw, b_invite, CALLEE, "tb")
    call.answered()
    return call, b_invite, b_ok


def test_reinvite_with_100_trying_is_answered() -> None:
    sw = InProcessSwitch(CONFIG, registered={"200": CALLEE})
    call, _, _ = answered_call(sw)
    call.ack()
    sw.take(CALLEE)
    sw.send(call.request("INVITE", 3, SDP), CALLER)  # caller puts the call on hold
    reinvite = sw.requests(CALLEE, "INVITE")[0]
    sw.send(make_response(reinvite, 100), CALLEE)  # callee: 100 Trying (every real phone)
    answer(sw, reinvite, CALLEE, "tb")
    finals = sw.finals(CALLER)
    assert finals and finals[0].status == 200, "caller never gets the 200 for its re-INVITE"
    assert sw.requests(CALLEE, "ACK"), "callee's 200 to the re-INVITE is never ACKed"


def test_delayed_offer_2xx_retransmission_does_not_hang_up_callee() -> None:
    sw = InProcessSwitch(CONFIG, registered={"200": CALLEE})
    _, _, b_ok = answered_call(sw, offer=False)
    sw.take(CALLEE)
    sw.send(b_ok, CALLEE)  # callee retransmits its 200 (T1) before the caller's ACK
    assert not sw.requests(CALLEE, "BYE"), "2xx retransmission makes the switch BYE the callee"


def test_bye_before_ack_no_second_bye_after_ack_timeout() -> None:
    sw = InProcessSwitch(CONFIG, registered={"200": CALLEE})
    call, _, _ = answered_call(sw)
    sw.take(CALLEE)
    call.bye()  # caller hangs up; its ACK was lost
    bye = sw.requests(CALLEE, "BYE")[0]
    sw.take(CALLER)
    sw.send(make_response(bye, 200), CALLEE)
    sw.advance(35)
    byes = sw.requests(CALLEE, "BYE")
    assert not byes, f"a second BYE (CSeq {byes[0].cseq.seq if byes else ''}) for an ended dialog"
    assert not sw.requests(CALLER, "BYE"), "BYE to the caller who already hung up"


def test_bye_glare_no_bye_back_to_caller() -> None:
    sw = InProcessSwitch(CONFIG, registered={"200": CALLEE})
    call, b_invite, _ = answered_call(sw)
    call.ack()
    sw.take(CALLEE)
    call.bye()
    sw.send(callee_request(b_invite, "BYE", 1, CALLEE, "tb"), CALLEE)  # crossed BYE
    assert not sw.requests(CALLER, "BYE")


def test_reinvite_after_call_ended_gets_481() -> None:
    sw = InProcessSwitch(CONFIG, registered={"200": CALLEE})
    call, b_invite, _ = answered_call(sw)
    call.ack()
    sw.take(CALLEE)
    sw.send(callee_request(b_invite, "BYE", 1, CALLEE, "tb"), CALLEE)
    sw.take(CALLER)
    sw.take(CALLEE)
    sw.send(call.request("INVITE", 3, SDP), CALLER)
    assert not sw.requests(CALLEE, "INVITE"), "re-INVITE relayed into a dead dialog"
    finals = sw.finals(CALLER)
    assert finals and finals[0].status == 481


def test_status_after_coverage_from_an_offline_phone() -> None:
    config = CONFIG.replace(
        '      - {number: "200", name: Callee, password: pw200, user_group: users}\n',
        '      - {number: "200", name: Callee, password: pw200, user_group: users,\n'
        '         coverage: {no_answer_seconds: 5, no_answer: "201"}}\n'
        '      - {number: "201", name: Cover, password: pw201, user_group: users}\n',
    )
    sw = InProcessSwitch(config, registered={"200": CALLEE, "201": COVER})
    sw.dial(CALLER, "100", "pw100", "200")
    sw.advance(5.5)  # 200 never answered: coverage to 201
    invite = sw.requests(COVER, "INVITE")[0]
    sw.send(make_response(invite, 480, to_tag="tc"), COVER)
    finals = sw.finals(CALLER)
    assert finals and finals[-1].status == 480, [f"{m.status} {m.reason}" for m in finals]


def test_mwi_subscription_that_is_not_refreshed_ends_with_terminated_notify() -> None:
    # RFC 6665 §4.2.2: the notifier ends an expired subscription with a NOTIFY
    sw = InProcessSwitch(CONFIG)
    got = Subscriber(sw, CALLER, "100", "pw100").subscribe(expires=10)
    first = [m for m in got if isinstance(m, Request) and m.method == "NOTIFY"]
    assert first and (first[0].get("subscription-state") or "").startswith("active")
    sw.send(make_response(first[0], 200), CALLER)
    sw.advance(11)
    last = sw.requests(CALLER, "NOTIFY")
    assert last and (last[-1].get("subscription-state") or "").startswith("terminated")
