"""What real peers send, in process: each protocol defect found and fixed, pinned.

Every test here failed before its fix (the end-to-end twins over sockets are in
tests/integration/test_protocol_defects.py).
"""

from __future__ import annotations

import pytest

from sipstack.header_values import parse_auth
from sipstack.message import Request, Response, make_response
from sipstack.serialize import serialize
from sipstack.uri import parse_uri
from switch.auth import answer_challenge
from switch.media.voicemail import Mailbox
from tests.support.inproc import (
    ANN,
    BOB,
    SDP,
    TWO_PHONES,
    DialledCall,
    InProcessSwitch,
    Subscriber,
    answer,
    callee_request,
    with_sdp,
)

CONFIG = TWO_PHONES


def out_of_dialog(method: str, to: str, extra: list[tuple[str, str]]) -> Request:
    headers = [
        ("via", f"SIP/2.0/UDP 127.0.0.1:7310;branch=z9hG4bK{method}{len(extra)};rport"),
        ("from", "<sip:310@tele.test>;tag=ann1"),
        ("to", f"<sip:{to}@tele.test>"),
        ("call-id", f"{method}-call"),
        ("cseq", f"1 {method}"),
        ("max-forwards", "70"),
        ("contact", "<sip:310@127.0.0.1:7310>"),
        *extra,
    ]
    return Request(method, parse_uri(f"sip:{to}@tele.test"), headers)


@pytest.mark.parametrize(
    ("method", "tag"),
    [("REGISTER", "path"), ("INVITE", "replaces"), ("SUBSCRIBE", "outbound"), ("OPTIONS", "gruu")],
)
def test_require_of_what_is_not_built_gets_420_with_unsupported(method: str, tag: str) -> None:
    # RFC 3261 §8.2.2.3: 420 Bad Extension listing the tag in Unsupported.
    sw = InProcessSwitch(CONFIG)
    extra = [("require", tag), ("event", "message-summary")]
    sw.send(out_of_dialog(method, "320" if method == "INVITE" else "310", extra), ANN)
    [final] = sw.finals(ANN)
    assert final.status == 420, f"{final.status} {final.reason}"
    assert final.get("unsupported") == tag


def test_options_advertises_no_extension_it_does_not_build() -> None:
    sw = InProcessSwitch(CONFIG)
    sw.send(out_of_dialog("OPTIONS", "310", []), ANN)
    [final] = sw.finals(ANN)
    assert isinstance(final, Response) and final.status == 200
    supported = final.get("supported") or ""
    assert "path" not in supported and "outbound" not in supported


RECORD_ROUTE = [
    ("record-route", "<sip:edge1.tele.test;lr>"),
    ("record-route", "<sip:sbc.tele.test;lr>"),
]


def test_record_route_is_copied_into_18x_and_200_to_invite() -> None:
    # RFC 3261 §12.1.1: the caller's ACK, BYE and re-INVITE must go back through the proxy.
    sw = InProcessSwitch(CONFIG, registered={"320": BOB})
    sw.dial(ANN, "310", "pw310", "320", extra=RECORD_ROUTE)
    invite = sw.requests(BOB, "INVITE")[0]
    assert not invite.get_all("record-route"), "a B2BUA starts a new dialog towards the callee"
    sw.send(make_response(invite, 180, to_tag="bob"), BOB)
    answer(sw, invite, BOB, "bob")
    got = [m for m in sw.take(ANN) if isinstance(m, Response) and m.status > 100]
    assert [m.status for m in got] == [180, 200]
    for response in got:
        assert response.get_all("record-route") == [v for _, v in RECORD_ROUTE]


def test_record_route_is_copied_into_the_200_to_subscribe() -> None:
    sw = InProcessSwitch(CONFIG)
    extra = [("event", "message-summary"), *RECORD_ROUTE]
    sw.send(out_of_dialog("SUBSCRIBE", "310", extra), ANN)
    challenge = sw.finals(ANN)[0]
    assert challenge.status == 401
    assert not challenge.get_all("record-route"), "a 401 creates no dialog"
    auth = answer_challenge(
        parse_auth(challenge.get("www-authenticate") or ""),
        method="SUBSCRIBE",
        uri="sip:310@tele.test",
        username="310",
        password="pw310",
        cnonce="c",
    )
    request = out_of_dialog("SUBSCRIBE", "310", [*extra, ("authorization", auth)])
    request.set("cseq", "2 SUBSCRIBE")
    request.set("via", "SIP/2.0/UDP 127.0.0.1:7310;branch=z9hG4bKsub2;rport")
    sw.send(request, ANN)
    ok = next(m for m in sw.take(ANN) if isinstance(m, Response) and m.status == 200)
    assert ok.get_all("record-route") == [v for _, v in RECORD_ROUTE]


def test_bye_on_the_early_dialog_stops_the_ringing() -> None:
    # RFC 3261 §15: a caller may BYE an early dialog; before, it got 481 and Bob kept ringing.
    sw = InProcessSwitch(CONFIG, registered={"320": BOB})
    call = sw.dial(ANN, "310", "pw310", "320")
    invite = sw.requests(BOB, "INVITE")[0]
    sw.send(make_response(invite, 180, to_tag="bob"), BOB)
    ringing = next(m for m in sw.take(ANN) if isinstance(m, Response) and m.status == 180)
    call.answer = ringing  # the early dialog: its To tag and Contact
    call.bye(cseq=3)
    statuses = sorted(m.status for m in sw.take(ANN) if isinstance(m, Response))
    assert statuses == [200, 487], statuses  # 200 to the BYE, 487 to the INVITE
    assert [m.method for m in sw.requests(BOB)] == ["CANCEL"]
    assert sw.sw.lines.snapshot() == {}, "extensions left ringing or busy"


VOICEMAIL_CONFIG = """
server: {listen: ["udp:127.0.0.1:5060"], state_dir: /tmp/protocol-defects}
features: {voicemail: "#45"}
customers:
  - name: tele
    domain: tele.test
    user_groups: [{name: staff}]
    extensions:
      - {number: "310", name: Ann, password: pw310, user_group: staff, voicemail: true}
"""


def _voicemail_call(offer: bytes) -> tuple[InProcessSwitch, DialledCall]:
    sw = InProcessSwitch(VOICEMAIL_CONFIG)
    call = sw.dial(ANN, "310", "pw310", "#45", offer=offer)
    sw.pump()  # the media session opens
    call.answered()
    return sw, call


def test_delayed_offer_to_the_switchs_own_media_applies_the_answer_in_the_ack() -> None:
    # A late-offer phone: our 200 carries the offer, its ACK the answer (RFC 3264 §4).
    sw, call = _voicemail_call(offer=b"")
    assert call.answer is not None and call.answer.body, "200 without our offer"
    ack = call.request("ACK", 2, SDP, branch="ack-answer")
    sw.send(ack, ANN)
    assert sw.media.answers == [SDP], "the answer in the ACK was thrown away"


def test_reinvite_without_sdp_to_the_switch_gets_an_offer_and_contact() -> None:
    # RFC 3261 §14.2: the 200 to an offerless re-INVITE must carry an offer.
    sw, call = _voicemail_call(offer=SDP)
    call.ack()
    sw.send(call.request("INVITE", 3), ANN)
    [ok] = sw.finals(ANN)
    assert ok.status == 200 and ok.body, "200 without an offer"
    assert ok.get("contact"), "200 to INVITE without Contact"
    sw.send(call.request("ACK", 3, SDP, branch="ack-reinvite"), ANN)
    assert sw.media.answers == [SDP]


@pytest.mark.parametrize("method", ["MESSAGE", "REFER", "NOTIFY", "PUBLISH"])
def test_405_does_not_allow_the_method_it_refuses(method: str) -> None:
    sw = InProcessSwitch(CONFIG)
    sw.send(out_of_dialog(method, "310", []), ANN)
    [final] = sw.finals(ANN)
    assert final.status == 405
    allowed = {m.strip() for m in (final.get("allow") or "").split(",")}
    assert method not in allowed and "INVITE" in allowed


def test_200_to_invite_lists_allow() -> None:
    sw = InProcessSwitch(CONFIG, registered={"320": BOB})
    call = sw.dial(ANN, "310", "pw310", "320")
    answer(sw, sw.requests(BOB, "INVITE")[0], BOB, "bob")
    assert "BYE" in (call.answered().get("allow") or "")


def _notifies(got: list[Request | Response]) -> list[Request]:
    return [m for m in got if isinstance(m, Request) and m.method == "NOTIFY"]


def test_notify_answered_481_ends_the_subscription_and_unsolicited_resumes() -> None:
    # RFC 6665 §4.2.2: a phone that rebooted answers 481; its lamp must not stay wrong.
    sw = InProcessSwitch(VOICEMAIL_CONFIG, registered={"310": ANN})
    subscriber = Subscriber(sw, ANN, "310", "pw310")
    [first] = _notifies(subscriber.subscribe())
    sw.send(make_response(first, 481), ANN)
    sw.sw.mwi.mailbox_changed(Mailbox("tele", "310"), sw.now)  # a message arrives
    sw.pump()
    [notify] = sw.requests(ANN, "NOTIFY")
    assert notify.call_id != first.call_id, "NOTIFY into the dialog the phone forgot"
    assert notify.to.tag is None and notify.get("contact"), "unsolicited NOTIFY without Contact"


def test_unsubscribe_ends_cleanly_without_reason_timeout() -> None:
    sw = InProcessSwitch(VOICEMAIL_CONFIG)
    subscriber = Subscriber(sw, ANN, "310", "pw310")
    subscriber.subscribe()
    [last] = _notifies(subscriber.refresh(0))
    assert last.get("subscription-state") == "terminated"


def test_callee_200_with_a_latin1_display_name_still_connects() -> None:
    sw = InProcessSwitch(CONFIG, registered={"320": BOB})
    call = sw.dial(ANN, "310", "pw310", "320")
    invite = sw.requests(BOB, "INVITE")[0]
    ok = make_response(invite, 200, to_tag="bob")
    ok.add("contact", '"Jos\xe9" <sip:320@127.0.0.1:7320>')
    ok.add("content-type", "application/sdp")
    ok.body = SDP
    sw.send(serialize(ok).replace("Jos\xe9".encode(), b"Jos\xe9"), BOB)
    assert call.answered().status == 200, "the callee's 200 was dropped"


def _bridged(sw: InProcessSwitch) -> tuple[DialledCall, Request]:
    """Ann calls Bob, Bob answers, Ann ACKs: (Ann's call, the INVITE Bob got)."""
    call = sw.dial(ANN, "310", "pw310", "320")
    invite = sw.requests(BOB, "INVITE")[0]
    answer(sw, invite, BOB, "bob")
    call.answered()
    call.ack()
    sw.take(BOB)
    return call, invite


@pytest.mark.parametrize(
    ("status", "name", "value"),
    [
        (420, "unsupported", "timer"),
        (491, "retry-after", "3"),
        (503, "retry-after", "120"),
        (302, "contact", "<sip:320@127.0.0.1:7999>"),
        (488, "warning", '304 bob "Media type not available"'),
    ],
)
def test_relayed_response_keeps_its_end_to_end_headers(status: int, name: str, value: str) -> None:
    # A 420 without Unsupported, a 491 without Retry-After, a 3xx without the redirect
    # target say nothing to the phone that gets them (switch/calls/relay_headers.py).
    sw = InProcessSwitch(CONFIG, registered={"320": BOB})
    call, _ = _bridged(sw)
    sw.send(call.request("INVITE", 3, SDP), ANN)
    [reinvite] = sw.requests(BOB, "INVITE")
    refusal = make_response(reinvite, status)
    refusal.add(name, value)
    refusal.add("www-authenticate", 'Digest realm="bob", nonce="n"')
    sw.send(refusal, BOB)
    [final] = sw.finals(ANN)
    assert final.status == status
    assert final.get_all(name) == [value], final.get_all(name)
    assert not final.get("www-authenticate"), "Bob's challenge is no business of Ann's"


def test_relayed_request_keeps_its_end_to_end_headers_and_no_hop_headers() -> None:
    sw = InProcessSwitch(CONFIG, registered={"320": BOB})
    call, _ = _bridged(sw)
    reinvite = call.request("INVITE", 3, SDP)
    passed = [
        ("supported", "100rel"),
        ("content-disposition", "session"),
        ("subject", "on hold"),
    ]
    # each leg negotiates its own session timer (RFC 4028): never copied across
    per_leg = [("session-expires", "1800;refresher=uac"), ("min-se", "90")]
    reinvite.add("supported", "timer, 100rel")
    for name, value in [*passed[1:], *per_leg, ("route", "<sip:edge.tele.test;lr>")]:
        reinvite.add(name, value)
    reinvite.add("proxy-authorization", 'Digest username="310"')
    sw.send(reinvite, ANN)
    [relayed] = sw.requests(BOB, "INVITE")
    for name, value in passed:
        assert relayed.get_all(name) == [value], name
    assert not relayed.get("route") and not relayed.get("proxy-authorization")
    assert not relayed.get("session-expires") and not relayed.get("min-se")
    assert relayed.get("contact") != reinvite.get("contact"), "Ann's Contact leaked to Bob"


def test_update_with_a_contact_refreshes_the_remote_target() -> None:
    # RFC 3311 §5.1: "UPDATE is a target refresh request"; its 2xx's Contact too.
    sw = InProcessSwitch(CONFIG, registered={"320": BOB})
    call, invite = _bridged(sw)
    update = call.request("UPDATE", 3)
    update.set("contact", "<sip:310@127.0.0.1:7311>")
    sw.send(update, ANN)
    [relayed] = sw.requests(BOB, "UPDATE")
    ok = make_response(relayed, 200)
    ok.add("contact", "<sip:bob2@127.0.0.1:7320>")
    sw.send(ok, BOB)
    assert [m.status for m in sw.finals(ANN)] == [200]
    sw.send(callee_request(invite, "INFO", 1, BOB, "bob"), BOB)
    [info] = sw.requests(ANN, "INFO")
    assert str(info.uri) == "sip:310@127.0.0.1:7311", "UPDATE's Contact ignored"
    sw.send(call.request("INFO", 4), ANN)
    [info] = sw.requests(BOB, "INFO")
    assert str(info.uri) == "sip:bob2@127.0.0.1:7320", "the 2xx to UPDATE's Contact ignored"


@pytest.mark.parametrize("from_caller", [True, False])
def test_relayed_reinvite_2xx_never_acked_ends_the_call_with_bye_on_both_legs(
    from_caller: bool,
) -> None:
    # RFC 3261 §13.3.1.4: "If the server retransmits the 2xx response for 64*T1 seconds
    # without receiving an ACK, the dialog is confirmed, but the session SHOULD be
    # terminated. This is accomplished with a BYE."
    sw = InProcessSwitch(CONFIG, registered={"320": BOB})
    call, invite = _bridged(sw)
    sw.take(ANN)
    if from_caller:
        sw.send(call.request("INVITE", 3, SDP), ANN)
        [reinvite] = sw.requests(BOB, "INVITE")
        answer(sw, reinvite, BOB, "bob")
        assert sw.requests(BOB, "ACK"), "Bob's 200 is ACKed by the switch at once"
    else:
        sw.send(callee_request(invite, "INVITE", 1, BOB, "bob", SDP), BOB)
        [reinvite] = sw.requests(ANN, "INVITE")
        answer(sw, reinvite, ANN, call.tag)
        assert sw.requests(ANN, "ACK")
    sw.advance(40)  # the phone that re-INVITEd never ACKs our relayed 200
    for phone in (ANN, BOB):  # one BYE each (and its retransmissions: nobody answers)
        byes = {bye.cseq.seq for bye in sw.requests(phone, "BYE")}
        assert len(byes) == 1, f"BYEs to {phone}: {byes}"
    assert sw.sw.lines.snapshot() == {}, "extensions left busy"
    assert not sw.sw.active_calls()


# RFC 3261 §18.1.1: a request over 1300 bytes must go by TCP; this switch listens on UDP only.
BIG_SDP = SDP + b"".join(b"a=fmtp:%d mode=%s\r\n" % (i, b"x" * 40) for i in range(60))


def test_invite_too_large_for_udp_without_tcp_gets_513_and_is_not_sent() -> None:
    sw = InProcessSwitch(CONFIG, registered={"320": BOB})
    sw.dial(ANN, "310", "pw310", "320", offer=BIG_SDP)
    assert sw.requests(BOB) == [], "a request over 1300 bytes went out over UDP"
    finals = sw.finals(ANN)
    assert [f.status for f in finals] == [513], [f"{f.status} {f.reason}" for f in finals]
    assert sw.sw.lines.snapshot() == {}, "extensions left ringing or busy"


def test_invite_within_1300_bytes_still_goes_over_udp() -> None:
    sw = InProcessSwitch(CONFIG, registered={"320": BOB})
    sw.dial(ANN, "310", "pw310", "320")
    [invite] = sw.requests(BOB, "INVITE")
    assert invite.top_via.transport == "UDP"


def _sdp(host: str, port: int, codec: int) -> bytes:
    return (
        f"v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP {codec}\r\n"
    ).encode()


BOB_SOFT = ("127.0.0.1", 7321)


def _bob_on_two_phones() -> tuple[InProcessSwitch, Request, Request]:
    """Ann calls Bob, who has a desk phone and a softphone: the INVITE each got."""
    sw = InProcessSwitch(CONFIG)
    sw.register("320", BOB)
    sw.register("320", BOB_SOFT)
    sw.dial(ANN, "310", "pw310", "320")
    return sw, sw.requests(BOB, "INVITE")[0], sw.requests(BOB_SOFT, "INVITE")[0]


def test_forked_early_answers_reach_the_caller_on_an_early_dialog_each() -> None:
    # RFC 3261 §13.2.1 / §12.1: each fork's 183 is an early dialog of its own; the 2xx of
    # the winner confirms the dialog on which its early answer came. Before, both forks'
    # SDP went out on one To tag and the 2xx of the second followed on it.
    sw, desk_invite, soft_invite = _bob_on_two_phones()
    for invite, phone, tag, codec in (
        (desk_invite, BOB, "desk", 0),
        (soft_invite, BOB_SOFT, "soft", 8),
    ):
        sw.send(with_sdp(invite, 183, tag, phone, _sdp("127.0.0.1", phone[1] + 1000, codec)), phone)
    sw.send(with_sdp(soft_invite, 200, "soft", BOB_SOFT, _sdp("127.0.0.1", 8321, 8)), BOB_SOFT)
    got = [m for m in sw.take(ANN) if isinstance(m, Response) and m.status in (183, 200)]
    assert [m.status for m in got] == [183, 183, 200]
    desk_tag, soft_tag, answer_tag = (m.to.tag for m in got)
    assert desk_tag != soft_tag, "two forks' early answers on one early dialog"
    assert answer_tag == soft_tag, "the 2xx is not on the winner's early dialog"
    assert got[1].body == got[2].body  # the winner's early answer is its answer
    # the caller's dialog is the winner's: a BYE on it ends the call at the soft phone
    call = DialledCall(sw, ANN, "310", "320", got[2].call_id)
    call.tag = got[2].from_.tag or ""
    call.answer = got[2]
    call.ack()
    call.bye()
    assert [m.method for m in sw.requests(BOB_SOFT)] == ["ACK", "BYE"]


def test_ringing_shares_the_callers_dialog_and_a_second_answer_gets_its_own() -> None:
    # Plain 180s of two phones reach the caller on its one dialog (one tag, as one phone
    # ringing would: callers that expect a single early dialog keep working). The soft
    # phone's early media takes that dialog; the desk phone's 2xx then comes on a dialog
    # of its own, never after another phone's early answer on the same one (§13.2.1).
    sw, desk_invite, soft_invite = _bob_on_two_phones()
    for invite, phone, tag in ((desk_invite, BOB, "desk"), (soft_invite, BOB_SOFT, "soft")):
        ringing = make_response(invite, 180, to_tag=tag)
        ringing.add("contact", f"<sip:{tag}@{phone[0]}:{phone[1]}>")
        sw.send(ringing, phone)
    sw.send(with_sdp(soft_invite, 183, "soft", BOB_SOFT, _sdp("127.0.0.1", 8321, 8)), BOB_SOFT)
    sw.send(with_sdp(desk_invite, 200, "desk", BOB, _sdp("127.0.0.1", 8320, 0)), BOB)
    got = [m for m in sw.take(ANN) if isinstance(m, Response) and m.status >= 180]
    assert [m.status for m in got] == [180, 180, 183, 200]
    ring_a, ring_b, early_tag, answer_tag = (m.to.tag for m in got)
    assert ring_a == ring_b == early_tag, "ringing and the first early answer share one dialog"
    assert answer_tag != early_tag, "the desk's 2xx followed the soft phone's early answer"
