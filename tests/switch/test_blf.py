"""Busy lamps (RFC 4235 dialog package), in process: switch/features/blf.py;
docs/BEHAVIOUR.md, "BLF lamps"."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sipstack.message import Request, Response, make_response
from switch.features.blf import DialogView, dialog_info
from tests.support.inproc import (
    ANN,
    BOB,
    TWO_PHONES,
    InProcessSwitch,
    Subscriber,
    answer,
)

NS = {"d": "urn:ietf:params:xml:ns:dialog-info"}
CAROL = ("127.0.0.1", 7330)  # Ann's second phone, with the busy lamp of Bob


def _notifies(got: list[Request | Response]) -> list[Request]:
    return [m for m in got if isinstance(m, Request) and m.method == "NOTIFY"]


def _lamp(notify: Request) -> tuple[int, list[tuple[str, str | None]]]:
    """(version, [(state, direction)...]) of a dialog-info NOTIFY."""
    assert notify.get("content-type") == "application/dialog-info+xml"
    assert notify.get("event") == "dialog"
    root = ET.fromstring(notify.body)
    assert root.get("state") == "full" and root.get("entity") == "sip:320@tele.test"
    dialogs = root.findall("d:dialog", NS)
    states = [(d.findtext("d:state", namespaces=NS) or "", d.get("direction")) for d in dialogs]
    return int(root.get("version") or -1), states


def _watching(sw: InProcessSwitch) -> Subscriber:
    lamp = Subscriber(sw, CAROL, "310", "pw310", event="dialog", target="320")
    [first] = _notifies(lamp.subscribe())
    assert _lamp(first) == (0, [])  # Bob is idle
    _ok(sw, first)
    return lamp


def _ok(sw: InProcessSwitch, notify: Request) -> None:
    sw.send(make_response(notify, 200), CAROL)


def test_the_lamp_follows_ringing_answer_and_hang_up() -> None:
    sw = InProcessSwitch(TWO_PHONES, registered={"320": BOB})
    _watching(sw)
    call = sw.dial(ANN, "310", "pw310", "320")
    [ringing] = _notifies(sw.take(CAROL))
    version, states = _lamp(ringing)
    assert (version, states) == (1, [("early", "recipient")])
    dialog = ET.fromstring(ringing.body).find("d:dialog", NS)
    assert dialog is not None
    [invite] = sw.requests(BOB, "INVITE")
    # the early dialog names Bob's INVITE, for a key that picks up with Replaces
    assert dialog.get("call-id") == invite.call_id
    assert dialog.get("remote-tag") == invite.from_.tag
    assert dialog.findtext("d:remote/d:identity", namespaces=NS) == "sip:310@tele.test"
    _ok(sw, ringing)
    answer(sw, invite, BOB, "bob")
    [confirmed] = _notifies(sw.take(CAROL))
    assert _lamp(confirmed) == (2, [("confirmed", "recipient")])
    _ok(sw, confirmed)
    call.answered()
    call.ack()
    call.bye()
    [idle] = _notifies(sw.take(CAROL))
    assert _lamp(idle) == (3, [])


def test_the_watched_extension_calling_out_lights_as_initiator() -> None:
    sw = InProcessSwitch(TWO_PHONES, registered={"310": ANN})
    _watching(sw)
    call = sw.dial(BOB, "320", "pw320", "310")
    [ringing] = _notifies(sw.take(CAROL))
    assert _lamp(ringing)[1] == [("early", "initiator")]
    _ok(sw, ringing)
    [invite] = sw.requests(ANN, "INVITE")
    answer(sw, invite, ANN, "ann")
    [confirmed] = _notifies(sw.take(CAROL))  # Bob's line was busy already; his call is up
    assert _lamp(confirmed)[1] == [("confirmed", "initiator")]
    del call


def test_an_unknown_number_is_404_and_another_package_489() -> None:
    sw = InProcessSwitch(TWO_PHONES)
    lamp = Subscriber(sw, CAROL, "310", "pw310", event="dialog", target="399")
    sw.send(lamp._request(3600, None), CAROL)
    [final] = sw.finals(CAROL)
    assert final.status == 404
    other = Subscriber(sw, CAROL, "310", "pw310", event="presence", target="320")
    sw.send(other._request(3600, None), CAROL)
    [refused] = sw.finals(CAROL)
    assert refused.status == 489 and "dialog" in (refused.get("allow-events") or "")


def test_a_notify_answered_481_ends_the_lamps_subscription() -> None:
    sw = InProcessSwitch(TWO_PHONES, registered={"320": BOB})
    _watching(sw)
    sw.dial(ANN, "310", "pw310", "320")
    [ringing] = _notifies(sw.take(CAROL))
    sw.send(make_response(ringing, 481), CAROL)  # the phone rebooted (RFC 6665 §4.2.2)
    assert not sw.sw.blf.notifier.subscriptions


def test_dialog_info_escapes_what_it_quotes() -> None:
    body = dialog_info(
        'sip:"x"@t.test',
        4,
        [DialogView("c&1", "a<", None, "recipient", "early", "sip:<evil>@t.test")],
    ).decode()
    root = ET.fromstring(body)  # still well-formed XML
    assert root.get("entity") == 'sip:"x"@t.test' and root.get("version") == "4"
    dialog = root.find("d:dialog", NS)
    assert dialog is not None and dialog.get("call-id") == "c&1"
    assert dialog.findtext("d:remote/d:identity", namespaces=NS) == "sip:<evil>@t.test"


def test_a_phone_over_its_subscription_limit_gets_503_with_retry_after() -> None:
    sw = InProcessSwitch(TWO_PHONES)
    sw.sw.blf.max_per_phone = 2  # server.blf.max_subscriptions
    for target in ("320", "310"):
        assert _notifies(Subscriber(sw, CAROL, "310", "pw310", event="dialog", target=target)
                         .subscribe())  # fmt: skip
    third = Subscriber(sw, CAROL, "320", "pw320", event="dialog", target="310")
    sw.send(third._request(3600, None), CAROL)
    [refused] = sw.finals(CAROL)
    assert refused.status == 503 and refused.get("retry-after") == "60"
    another_phone = Subscriber(sw, BOB, "320", "pw320", event="dialog", target="320")
    assert _notifies(another_phone.subscribe())  # the limit is per phone


def test_after_a_restart_each_lamp_is_told_the_state_and_to_subscribe_again() -> None:
    # Bob's phone rings, Carol's lamp blinks; the switch restarts (the call is gone): the
    # lamp's subscription, kept in the store, ends at once with the state now and
    # reason=deactivated, which asks the phone to subscribe again (RFC 6665 §4.1.3)
    sw = InProcessSwitch(TWO_PHONES, registered={"320": BOB})
    _watching(sw)
    sw.dial(ANN, "310", "pw310", "320")
    [ringing] = _notifies(sw.take(CAROL))
    assert _lamp(ringing)[1] == [("early", "recipient")]
    restarted = InProcessSwitch(TWO_PHONES, store=sw.store)
    restarted.pump()
    [last] = _notifies(restarted.take(CAROL))
    assert last.get("subscription-state") == "terminated;reason=deactivated"
    assert _lamp(last)[1] == []  # idle: the restart ended the call
    assert last.cseq.seq > ringing.cseq.seq  # the dialog's CSeq still grows
    assert last.call_id == ringing.call_id and last.from_.tag == ringing.from_.tag
    again = InProcessSwitch(TWO_PHONES, store=sw.store)  # nothing left to deactivate
    again.pump()
    assert not _notifies(again.take(CAROL))
